/* analyzer/reader.h - streams a .tmk trace's records in global time order.
 *
 * Two passes, memory independent of the trace's length:
 *  1. index: walk the block headers (O(blocks) memory: offset, thread, seq,
 *     time_base), stop at the first block that is cut off or malformed;
 *  2. merge: one cursor per thread reads that thread's blocks in seq order
 *     (pread, one block buffered per thread) and a min-heap on (time, then
 *     non-FREE before FREE, then thread) merges the cursors. Records of one
 *     thread keep their order.
 * Untimed records (STACK, MODULE, MODULE_GONE) carry the time of the
 * previous timed record of their block.
 *
 * Bad bytes never crash or hang the reader: a bad header is an error (open
 * fails with one line); a cut or corrupt block ends that block's records
 * there, sets `truncated` and adds a warning; a missing END record does too.
 */
#ifndef TIDEMARK_ANALYZER_READER_H
#define TIDEMARK_ANALYZER_READER_H

#include <stddef.h>
#include <stdint.h>

#include "tidemark/trace_format.h"

#ifdef __cplusplus
extern "C" {
#endif

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
        struct { uint64_t table, ptr, bytes, buckets, reason, live, stack; } table_array;
        struct { uint64_t table, live; } table_count; /* also TABLE_END, TABLE_PEAK (live = peak) */
        struct { uint64_t rss, heap; } memory;
        struct { uint64_t tid; const char *name; size_t name_len; } thread;
        struct { uint64_t count; } lost;
        struct { uint64_t why, status; } end;
        struct { uint64_t len; const uint8_t *data; } extended;
    } u;
};

struct tm_reader;

/* Opens and validates the file header, then indexes the blocks. Returns
 * NULL with one line in err (no newline, without the path: callers prefix
 * it): cannot open, empty, not a trace,
 * "trace version X.Y is newer than this tidemark (1.0)", ... */
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

/* Facts known after tm_reader_run. */
int tm_reader_truncated(const struct tm_reader *r);
size_t tm_reader_warnings(const struct tm_reader *r, const char *const **out);
uint64_t tm_reader_blocks(const struct tm_reader *r);
uint64_t tm_reader_threads(const struct tm_reader *r);

/* Name of a record type for dumps ("ALLOC", ...; "EXT_0x81" style for
 * extended, "?" otherwise). */
const char *tm_record_type_name(uint8_t type);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_READER_H */
