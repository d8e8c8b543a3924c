/* analyzer/read/reader.h - streams a .tmk trace's records in global time order.
 *
 * Two passes, memory independent of the trace's length:
 *  1. index: walk the block headers (O(blocks) memory: offset, thread, seq,
 *     time_base), stop at the first block that is cut off or malformed;
 *  2. merge: one cursor per thread reads that thread's blocks in seq order
 *     and a min-heap on (time, then non-FREE before FREE, then thread)
 *     merges the cursors. Records of one thread keep their order. A block
 *     is loaded only when the merge reaches its time_base (a cursor waits
 *     in the heap under that key: no record of the block is earlier), so
 *     only threads whose blocks the merge is in hold memory, each one
 *     block (pread) or a window of it.
 * Untimed records (STACK, MODULE, MODULE_GONE, and 3.0's ALLOC_INFO,
 * FREE_INFO) carry the time of the previous timed record of their block.
 * Majors TMK_TRACE_VERSION_MAJOR_OLDEST..TMK_TRACE_VERSION_MAJOR are read
 * (but TMK_TRACE_VERSION_MAJOR_DROPPED); 3.0 blocks may be zstd frames
 * (TMK_BLOCK_ZSTD); 3.1's header and blocks carry checksums. A block is
 * held whole up to TMK_RECORD_LIMIT bytes of records, a larger one is
 * streamed through a bounded window (reader_block.h): memory does not
 * depend on the sizes a block claims.
 *
 * Heap by info (3.0 full mode): callers never see ALLOC_INFO or FREE_INFO.
 * The reader keeps a pool per info (size, stack) - its live count - and
 * turns them into ALLOC and FREE records of synthetic
 * addresses (tm_synthetic_ptr: bit 63 set, never a user-space address): an
 * ALLOC_INFO allocates slot `live`, a free ends slot `live - 1` (blocks of
 * one info are interchangeable: no figure depends on which one ends). A free
 * met before any block of its info is live (allowed at equal times) is kept
 * as a debt and paid, as a FREE right after the ALLOC, by the next
 * ALLOC_INFO of that info. A TABLE_ARRAY naming an info turns one live slot
 * into its real address: a TM_REC_RENAME record comes just before it. Memory:
 * O(infos), whatever the number of events.
 *
 * Bad bytes never crash or hang the reader: a bad header is an error (open
 * fails with one line); a cut or corrupt block ends that block's records
 * there, sets `truncated` and adds a warning; a missing END record does too
 * (END or BOUND(STOP), unless the trace is live: see below).
 * A 3.1 block whose checksum fails (or a 3.0 zstd frame that is not
 * whole) is skipped whole, with a warning naming its thread, number and
 * file offset, and read for no figure.
 * Frees left unpaid at the end (they reach the caller as FREEs of a
 * synthetic address never allocated) and table arrays whose allocation never
 * came: a warning each, the record skipped.
 */
#ifndef TIDEMARK_ANALYZER_READER_H
#define TIDEMARK_ANALYZER_READER_H

#include <stddef.h>
#include <stdint.h>

#include "tidemark/trace_format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A record type of the reader's own, never in a file (below
 * TMK_REC_EXTENDED, and no file type is 0x7f): block `from` (a synthetic
 * address) is known as `to` from here on. Same size, same site, no
 * allocation or free counted. */
#define TM_REC_RENAME 0x7f

/* Synthetic addresses of blocks allocated by info: bit 63, the pool (one per
 * info (size, stack), numbered in the order the reader met them) in bits 36-62,
 * the slot in bits 4-35 (above the 4 bits the live map's hash drops). */
#define TM_SYNTHETIC_BIT (1ull << 63)
#define TM_SYNTHETIC_POOLS (1u << 27)
#define TM_SYNTHETIC_NONE UINT32_MAX /* the slot of a free whose block never came */

static inline uint64_t tm_synthetic_ptr(uint32_t pool, uint32_t slot)
{
    return TM_SYNTHETIC_BIT | (uint64_t)pool << 36 | (uint64_t)slot << 4;
}

/* One decoded record. Pointers (frames, strings) are valid only during the
 * callback. Strings are not NUL-terminated: use the _len fields. */
struct tm_record {
    uint8_t type;     /* enum tmk_record_type, or an extended type >= 0x80 */
    uint32_t thread;  /* block's thread number */
    uint64_t t;       /* ns since trace start */
    union {
        struct { uint64_t ptr, size, stack; } alloc;
        struct { uint64_t ptr; } free;
        struct { uint64_t id; uint32_t depth; const uint64_t *frames; } stack;
        struct {
            uint64_t id, bias, start, end;
            const uint8_t *build_id; size_t build_id_len;
            const char *path; size_t path_len;
        } module;
        struct { uint64_t id; } module_gone;
        struct {
            uint64_t table, kind, flags, key_size, value_size, bucket_size,
                slots, hint, stack;
            const char *label; size_t label_len;
        } table_new;
        /* by_info, info_size, info_stack: 3.0 (0, 0, 0 in 1.x traces and for
         * arrays recorded by address) */
        struct {
            uint64_t table, ptr, bytes, buckets, reason, live, stack, by_info, info_size,
                info_stack;
        } table_array;
        struct { uint64_t table, live; } table_count; /* also TABLE_END, TABLE_PEAK (live = peak) */
        struct { uint64_t rss, heap; } memory;
        struct { uint64_t tid; const char *name; size_t name_len; } thread;
        struct { uint64_t count; } lost;
        struct { uint64_t why, status; } end;
        struct { uint64_t len; const uint8_t *data; } extended;
        /* ALLOC_INFO, FREE_INFO; inside the reader only */
        struct { uint64_t size, stack; } by_info;
        struct { uint64_t from, to; } rename;             /* TM_REC_RENAME */
    } u;
};

struct tm_reader;

/* Opens an input file for reading, refusing what is not a regular file
 * (a FIFO, a device, a directory) before any open that could block: one
 * line in err ("not a regular file (a FIFO)", "cannot open: ...").
 * Returns the descriptor (O_CLOEXEC, blocking), or -1. */
int tm_open_input(const char *path, char *err, size_t errlen);

/* Opens (tm_open_input) and validates the file header, then indexes the
 * blocks. Returns NULL with one line in err (no newline, without the path:
 * callers prefix it): cannot open, not a regular file, empty, not a trace,
 * "trace header damaged (...)",
 * "trace version X.Y is newer than this tidemark (3.0)",
 * "trace version 2.Y is a development format that this tidemark (3.0) does
 * not read; ...",
 * "trace version X.Y is not supported by this tidemark (3.0)" (older than
 * TMK_TRACE_VERSION_MAJOR_OLDEST), ... */
struct tm_reader *tm_reader_open(const char *path, char *err, size_t errlen);
/* The same over bytes in memory; the caller keeps them alive until close. */
struct tm_reader *tm_reader_open_mem(const void *data, size_t size, char *err, size_t errlen);
void tm_reader_close(struct tm_reader *r);

const struct tmk_file_header *tm_reader_header(const struct tm_reader *r);

/* Called for every record in merged order; return nonzero to stop early. */
typedef int (*tm_record_fn)(void *ctx, const struct tm_record *rec);

/* Streams all records once. Returns 0 when it ran to the end (or the
 * callback stopped it), -1 when out of memory (err says so). */
int tm_reader_run(struct tm_reader *r, tm_record_fn fn, void *ctx, char *err, size_t errlen);

/* ---- live traces: a process that still writes the file ----
 * tm_reader_open notes whether the trace's process is running
 * (liveness.h). A live trace's file normally ends inside a block being
 * written, without END, and its last second of records may be on their
 * way: none of that is warned about or counts as truncation. */
int tm_reader_live(const struct tm_reader *r);
/* Merges records up to time `until` (the first later record of each thread
 * waits for the next call); call again, after tm_reader_follow, to go on. A
 * trace read this way is not finished: no END or leftover warnings. 0, or
 * -1 when out of memory (err says so). */
int tm_reader_run_until(struct tm_reader *r, uint64_t until, tm_record_fn fn, void *ctx,
                        char *err, size_t errlen);
/* Indexes the blocks written since the last look (file input only). 0, or
 * -1 when out of memory. */
int tm_reader_follow(struct tm_reader *r, char *err, size_t errlen);
/* An END record (or BOUND(STOP): the writer stopped) was read. */
int tm_reader_ended(const struct tm_reader *r);

/* Facts known after tm_reader_run. */
int tm_reader_truncated(const struct tm_reader *r);
size_t tm_reader_warnings(const struct tm_reader *r, const char *const **out);
uint64_t tm_reader_blocks(const struct tm_reader *r);
uint64_t tm_reader_threads(const struct tm_reader *r);

/* During or after tm_reader_run: 1 when ptr is a synthetic address of this
 * trace, with the info (size, stack) of its pool and its slot
 * (TM_SYNTHETIC_NONE for the FREE of an unpaid debt); else 0. */
int tm_reader_synthetic(const struct tm_reader *r, uint64_t ptr, uint64_t *size,
                        uint64_t *stack, uint32_t *slot);

/* Name of a record type for dumps ("ALLOC", ..., "RENAME"; "TABLE_PEAK", "BOUND", else
 * "EXTENDED" for extended types; "?" otherwise). */
const char *tm_record_type_name(uint8_t type);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_READER_H */
