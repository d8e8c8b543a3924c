/* analyzer/read/reader_int.h - what the reader's files share (not for other
 * folders): the reader's state, one cursor per thread, and the functions
 * reader.c (inputs, header, index), reader_warn.c (errors and warnings),
 * reader_cursor.c (one thread's records) and reader_merge.c (the merge by
 * time) give each other. The decoders the merge loop inlines are in
 * reader_decode.h.
 */
#ifndef TIDEMARK_ANALYZER_READER_INT_H
#define TIDEMARK_ANALYZER_READER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"
#include "reader_block.h"

#define MAX_WARNINGS 20
/* The type of a parked cursor's key (never a record's: 0x00 is no type). */
#define REC_PENDING 0x00

struct cursor {
    size_t first, n, next; /* blocks index[first .. first+n), next to load */
    uint32_t thread;
    struct blk blk;        /* the block being decoded: p .. end lie in its window */
    const uint8_t *p, *end;
    uint64_t seq;          /* of the block being decoded */
    uint64_t off;          /* of its header in the file, for warnings */
    uint64_t t, ptr;       /* running time and pointer of the block */
    uint64_t *frames;
    size_t frames_cap;
    int v3;                /* major >= 3: TICK, ALLOC_INFO, FREE_INFO, TABLE_ARRAY's info */
    int has;               /* rec holds the next record, or the key of a parked cursor */
    int parked;            /* its next block is not loaded: rec.t is that block's time_base */
    struct tm_record rec;
};

struct tm_reader {
    int fd;                /* -1 for memory input */
    const uint8_t *mem;
    uint64_t size;
    struct tmk_file_header hdr;
    struct block_ix *ix;
    size_t nix;
    struct cursor *cur;
    size_t ncur;
    size_t *heap;
    size_t nheap;
    int truncated, saw_end;
    uint32_t end_thread;   /* the thread whose END (or stop) saw_end is */
    int live;              /* the process is still writing the file (liveness.c) */
    uint64_t indexed_end;  /* where indexing stopped: the next block's offset */
    int index_stuck;       /* a bad block header: nothing after it is read */
    char **warn;
    size_t nwarn;
    uint64_t suppressed;
    struct blk_shared blk; /* what the cursors' blocks share */
    int ran;               /* tm_reader_run or _run_until read to the end */
};

/* ---- reader_warn.c ---- */

/* One line into err (when err and len), printf-style. */
void reader_set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a problem with the input: the trace counts as truncated. */
void reader_warn(struct tm_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The file ends inside a block: the normal state of a live trace (the
 * block is being written), damage otherwise. */
void reader_cut_at_end(struct tm_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- reader_cursor.c ---- */

/* The cursor's block is done: it parks at its next block's time_base, or
 * (no block left) its buffers go and it has no record. */
void reader_park(struct tm_reader *r, struct cursor *c);
/* Loads the cursor's next block (there is one). 0 = loaded (or skipped as
 * damaged, with a warning: no records), -1 = OOM. */
int reader_load_block(struct tm_reader *r, struct cursor *c);
/* Puts the cursor's next record in c->rec, or parks it at its block's end
 * (c->has = 0 at its last block's end). 0, or -1 when out of memory. */
int reader_advance(struct tm_reader *r, struct cursor *c);

#endif /* TIDEMARK_ANALYZER_READER_INT_H */
