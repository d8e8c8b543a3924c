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
 * Records reach the caller as the file has them: 3.x's heap by info as
 * ALLOC_INFO and FREE_INFO (u.by_info: size and stack, no address) and a
 * TABLE_ARRAY with its info (by_info). At equal times a FREE_INFO may come
 * before the ALLOC_INFO it ends (trace_format.h's contract): model/heap.c
 * counts per info and settles that.
 *
 * Bad bytes never crash or hang the reader: a bad header is an error (open
 * fails with one line); a cut or corrupt block ends that block's records
 * there, sets `truncated` and adds a warning; a missing END record does too
 * (END or BOUND(STOP), unless the trace is live: see below).
 * A 3.1 block whose checksum fails (or a 3.0 zstd frame that is not
 * whole) is skipped whole, with a warning naming its thread, number and
 * file offset, and read for no figure.
 * A caller that finds the records inconsistent (a free whose allocation
 * never came) adds its own warnings (tm_reader_warn) before the reading
 * ends (tm_reader_end).
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
        struct { uint64_t size, stack; } by_info; /* ALLOC_INFO, FREE_INFO (3.x) */
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

/* Streams all records once, then ends the reading (tm_reader_end) unless
 * the callback stopped it. Returns 0 when it ran to the end (or the
 * callback stopped it), -1 when out of memory (err says so). */
int tm_reader_run(struct tm_reader *r, tm_record_fn fn, void *ctx, char *err, size_t errlen);
/* The reading is over: the warnings about the trace's end (no END record,
 * unless the trace is live; how many problems were not listed). Once. */
void tm_reader_end(struct tm_reader *r);
/* A problem the caller found in the records (one line, no newline): listed
 * with the reader's own (the same cap), and the trace counts as truncated.
 * Before tm_reader_end, to come before the lines about the trace's end. */
void tm_reader_warn(struct tm_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- live traces: a process that still writes the file ----
 * tm_reader_open notes whether the trace's process is running
 * (liveness.h). A live trace's file normally ends inside a block being
 * written, without END, and its last second of records may be on their
 * way: none of that is warned about or counts as truncation. */
int tm_reader_live(const struct tm_reader *r);
/* Merges records up to time `until` (the first later record of each thread
 * waits for the next call); call again, after tm_reader_follow, to go on. A
 * trace read this way is not finished until tm_reader_end. 0, or -1 when
 * out of memory (err says so). */
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

/* Name of a record type for dumps ("ALLOC", ..., "FREE_INFO", "TABLE_PEAK", "BOUND", else
 * "EXTENDED" for extended types; "?" otherwise). */
const char *tm_record_type_name(uint8_t type);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_READER_H */
