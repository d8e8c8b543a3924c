/* analyzer/read/reader_block.h - one thread's current block as decoded records,
 * in memory bounded whatever the block claims (used by reader_cursor.c and reader.c).
 *
 * A block of at most TMK_RECORD_LIMIT bytes of records (every block the shim
 * writes) is held whole: its stored bytes read, its zstd frame decompressed
 * at once. A larger one (a raw block read from a file, or a zstd frame that
 * says it holds more) is streamed through a window of BLK_WINDOW bytes,
 * grown up to TMK_RECORD_LIMIT while one record does not fit, with a zstd
 * stream context of its own whose window is at most TMK_RECORD_LIMIT. So a
 * cursor holds at most about 2 * TMK_RECORD_LIMIT bytes, and only while its
 * block needs them.
 *
 * 3.1: the block's checksum is verified before any record is handed out
 * (for a streamed block in a first pass over its stored bytes, which costs
 * a read, not a decompression); a block that fails it is damaged and none
 * of its records is read. A 3.1 zstd frame must carry zstd's own checksum,
 * which zstd verifies at the frame's end.
 */
#ifndef TIDEMARK_ANALYZER_READER_BLOCK_H
#define TIDEMARK_ANALYZER_READER_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "tidemark/trace_format.h"

/* The first window of a streamed block. */
#define BLK_WINDOW (64u << 10)

/* A block as the index found it. */
struct block_ix {
    uint64_t off;     /* of the block header */
    uint64_t seq;
    uint64_t time_base;
    uint32_t thread;
    uint32_t payload; /* stored bytes, trailer included */
    uint32_t flags;   /* TMK_BLOCK_* */
};

struct ZSTD_DCtx_s;

/* What every cursor's block shares: the input and the version's rules,
 * and the buffers of whole zstd frames. */
struct blk_shared {
    int fd;              /* -1: memory input */
    const uint8_t *mem;
    int v3;              /* major 3: block flags are read */
    int checked;         /* 3.1: every block carries a checksum */
    struct ZSTD_DCtx_s *zstd; /* whole frames; made at the first one */
    uint8_t *zin;        /* a whole zstd block's stored bytes (file input) */
    size_t zin_cap;
};

/* One cursor's block. data[0 .. len) are records at offset `base` of the
 * block's records; `more` when the block goes on past them (streamed). */
struct blk {
    const uint8_t *data;
    size_t len;
    uint64_t base;
    int more;
    /* inside reader_block.c */
    uint8_t *buf;        /* records (whole or window) or, raw from a file, the block */
    size_t cap;
    int zstd;
    uint64_t in_off, in_end; /* stored bytes not read yet (streamed) */
    struct ZSTD_DCtx_s *dctx;
    uint8_t *in;         /* stored bytes read ahead (streamed, file input) */
    const uint8_t *in_p; /* next stored bytes for zstd: in_p[in_pos .. in_len) */
    size_t in_pos, in_len;
};

/* Reads len bytes of the input at off (inside the file: the index checked)
 * into dst; returns the bytes read. */
size_t blk_read(const struct blk_shared *sh, uint64_t off, void *dst, size_t len);

/* Loads block b into k. 0: k->data holds its first records (maybe none);
 * 1: the block is damaged or unreadable, `why` says how, no records;
 * -1: out of memory. */
int blk_load(struct blk_shared *sh, struct blk *k, const struct block_ix *b, char *why,
             size_t whylen);

/* When k->more: moves k->data[keep .. len) to the window's start (k->data,
 * base and len change whatever the result) and adds the block's next
 * records after them. 0: bytes were added; 1: none can be (the block ends,
 * or a record would be longer than TMK_RECORD_LIMIT); 2: the rest of the
 * block is damaged (`why`); -1: out of memory. Without k->more: 1, and
 * nothing changes. */
int blk_more(struct blk_shared *sh, struct blk *k, size_t keep, char *why, size_t whylen);

/* The block is done (read or skipped): drops its stream. */
void blk_end(struct blk *k);
/* The cursor is done: frees all. */
void blk_free(struct blk *k);
void blk_shared_free(struct blk_shared *sh);

#endif /* TIDEMARK_ANALYZER_READER_BLOCK_H */
