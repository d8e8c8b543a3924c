/* preload/options.h - options.c's interface: the settings (TIDEMARK_*) as
 * read at start (tmk_opt), and what the shim may say on stderr (tmk_warn,
 * the settings lines, errno texts without strerror).
 */
#ifndef TIDEMARK_PRELOAD_OPTIONS_H
#define TIDEMARK_PRELOAD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

enum tmk_mode { TMK_MODE_FULL = 0, TMK_MODE_TABLES = 1 };
enum tmk_unwinder { TMK_UNWIND_LIBUNWIND = 0, TMK_UNWIND_FP = 1, TMK_UNWIND_CFI = 2 };

#define TMK_DEPTH_DEFAULT 32
#define TMK_DEPTH_MAX 128

struct tmk_options {
    char output[4096];          /* TIDEMARK_OUTPUT template */
    enum tmk_mode mode;         /* TIDEMARK_MODE */
    enum tmk_unwinder unwinder; /* TIDEMARK_UNWIND */
    int unwind_verify;          /* TIDEMARK_UNWIND_VERIFY: cfi stacks compared with libunwind's */
    unsigned depth;             /* TIDEMARK_DEPTH, 1..TMK_DEPTH_MAX */
    unsigned interval_ms;       /* TIDEMARK_SAMPLE_INTERVAL */
    uint64_t sample_bytes;      /* TIDEMARK_SAMPLE_BYTES, 0 = record everything */
    int quiet;                  /* TIDEMARK_QUIET */
    int compress;               /* TIDEMARK_COMPRESS: zstd blocks (default: full mode) */
    int stack_cache;            /* TIDEMARK_STACK_CACHE: 0 off, 1 on (default), 2 on + counts */
    uint64_t probe_min;         /* TIDEMARK_PROBE_MIN: blocks probed from this size; 0 = none */
    uint64_t probe_bytes;       /* TIDEMARK_PROBE_BYTES: bytes probed a second at most */
    uint64_t max_bytes;         /* TIDEMARK_MAX_BYTES: 0 none, else >= TMK_MAX_BYTES_MIN */
    uint64_t block_map_bytes;   /* TIDEMARK_BLOCK_MAP_MIB: full mode's block map's fixed budget */
};

#define TMK_MAX_BYTES_MIN (1ull << 20)

extern struct tmk_options tmk_opt TMK_HIDDEN;

/* Full mode without sampling: the heap is written by info (ALLOC_INFO,
 * FREE_INFO) and blocks are tracked in ptrmap.c. */
static inline int tmk_heap_by_info(void)
{
    return tmk_opt.mode == TMK_MODE_FULL && !tmk_opt.sample_bytes;
}

void tmk_options_read(void) TMK_HIDDEN;
/* One line on stderr ("tidemark: " + msg + "\n") unless quiet, or unless
 * this process is a descendant of a traced one (see trace_name.c). */
void tmk_warn(const char *msg, const char *arg1, const char *arg2) TMK_HIDDEN;
/* Who this process is, once known: a descendant says nothing; a later image
 * (after exec) does not repeat the settings lines; the process the user
 * started says the settings lines held until now. */
void tmk_speech_settle(int descendant, int later_image) TMK_HIDDEN;
/* Appends strerror's C-locale text for err (allocation-free); returns new n. */
size_t tmk_errno_append(char *out, size_t n, size_t cap, int err) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_OPTIONS_H */
