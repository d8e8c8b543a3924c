/* analyzer/read/reader_block.c - one thread's current block as decoded records
 * (reader_block.h): reading its stored bytes, the 3.1 checksum, zstd frames
 * whole or streamed through a bounded window.
 *
 * Nothing here believes a size before the bytes are there: a whole block's
 * stored bytes are at most TMK_RECORD_LIMIT (+ header and trailer); a frame is
 * decompressed at once only when it says it holds at most TMK_RECORD_LIMIT
 * bytes, and single-shot decompression fails rather than write past that;
 * a larger frame is streamed, its window (zstd's) capped by
 * ZSTD_d_windowLogMax, ours grown only while one record does not fit.
 */
#include "reader_block.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "tidemark/trace_check.h"

#define IN_CHUNK (64u << 10) /* stored bytes read at a time for a streamed block */
#define ZSTD_WINDOW_LOG_MAX 20 /* log2(TMK_RECORD_LIMIT) */
#define ZSTD_CHECKSUM_BIT 0x04 /* Frame_Header_Descriptor's Content_Checksum_flag (RFC 8878) */
#define FRAME_HEADER_MAX 18 /* bytes of the longest frame header (RFC 8878) */

_Static_assert(1u << ZSTD_WINDOW_LOG_MAX == TMK_RECORD_LIMIT, "zstd window = TMK_RECORD_LIMIT");

/* Says why a block is damaged; returns `rc`. */
static int damaged(int rc, char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return rc;
}

/* Grows *buf to at least n bytes (at least 1). 0, or -1 when out of memory. */
static int reserve(uint8_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap && *buf) return 0;
    uint8_t *nb = realloc(*buf, n ? n : 1);
    if (!nb) return -1;
    *buf = nb;
    *cap = n ? n : 1;
    return 0;
}

size_t blk_read(const struct blk_shared *sh, uint64_t off, void *dst, size_t len)
{
    if (sh->fd < 0) {
        memcpy(dst, sh->mem + off, len);
        return len;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(sh->fd, (uint8_t *)dst + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got;
}

/* ---- the checksum -------------------------------------------------------- */

/* n bytes (header and stored bytes) followed by their trailer: 0 when it
 * matches, 1 when not. */
static int check_bytes(const uint8_t *bytes, size_t n)
{
    return XXH3_64bits(bytes, n) != tmk_get_le64(bytes + n);
}

/* The same over the file, through k->in: 0, 1 (mismatch or unreadable), -1 OOM. */
static int check_streamed(const struct blk_shared *sh, struct blk *k, uint64_t off, uint64_t n)
{
    if (!k->in && !(k->in = malloc(IN_CHUNK))) return -1;
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset(&st);
    for (uint64_t done = 0; done < n;) {
        size_t step = n - done < IN_CHUNK ? (size_t)(n - done) : IN_CHUNK;
        if (blk_read(sh, off + done, k->in, step) < step) return 1;
        XXH3_64bits_update(&st, k->in, step);
        done += step;
    }
    uint8_t trailer[TMK_BLOCK_CHECK_SIZE];
    if (blk_read(sh, off + n, trailer, sizeof trailer) < sizeof trailer) return 1;
    return XXH3_64bits_digest(&st) != tmk_get_le64(trailer);
}

/* ---- streamed blocks ------------------------------------------------------ */

/* Adds raw stored bytes to the window. 0, or 2 (unreadable). */
static int fill_raw(const struct blk_shared *sh, struct blk *k, char *why, size_t wl)
{
    size_t n = k->cap - k->len;
    if (n > k->in_end - k->in_off) n = (size_t)(k->in_end - k->in_off);
    if (blk_read(sh, k->in_off, k->buf + k->len, n) < n)
        return damaged(2, why, wl, "read failed");
    k->in_off += n;
    k->len += n;
    if (k->in_off == k->in_end) k->more = 0;
    return 0;
}

/* Decompresses what the window has room for (one step). 0, 2 (damaged), -1. */
static int fill_zstd(const struct blk_shared *sh, struct blk *k, char *why, size_t wl)
{
    if (k->in_pos == k->in_len) {
        if (k->in_off == k->in_end) return damaged(2, why, wl, "payload is not one whole zstd frame");
        size_t n = k->in_end - k->in_off < IN_CHUNK ? (size_t)(k->in_end - k->in_off) : IN_CHUNK;
        if (!k->in && !(k->in = malloc(IN_CHUNK))) return -1;
        if (blk_read(sh, k->in_off, k->in, n) < n) return damaged(2, why, wl, "read failed");
        k->in_p = k->in;
        k->in_pos = 0;
        k->in_len = n;
        k->in_off += n;
    }
    ZSTD_outBuffer out = {k->buf, k->cap, k->len};
    ZSTD_inBuffer in = {k->in_p, k->in_len, k->in_pos};
    size_t left = ZSTD_decompressStream(k->dctx, &out, &in);
    if (ZSTD_isError(left))
        return damaged(2, why, wl, "payload is a zstd frame %s",
                       ZSTD_getErrorCode(left) == ZSTD_error_frameParameter_windowTooLarge
                           ? "whose window is over 1 MiB"
                           : "that does not decompress");
    int moved = out.pos != k->len || in.pos != k->in_pos;
    k->len = out.pos;
    k->in_pos = in.pos;
    if (left == 0) { /* the frame is complete: it must be all the stored bytes */
        if (k->in_pos < k->in_len || k->in_off < k->in_end)
            return damaged(2, why, wl, "payload is not one whole zstd frame");
        k->more = 0;
    } else if (!moved) { /* never with room on both sides; never loop on it */
        return damaged(2, why, wl, "payload is a zstd frame that does not decompress");
    }
    return 0;
}

int blk_more(struct blk_shared *sh, struct blk *k, size_t keep, char *why, size_t whylen)
{
    if (!k->more) return 1;
    size_t rest = k->len - keep;
    if (keep) memmove(k->buf, k->data + keep, rest);
    k->base += keep;
    k->len = rest;
    if (rest >= TMK_RECORD_LIMIT) return 1;
    if (k->cap - rest < k->cap / 2) { /* a long record: a wider window */
        size_t cap = k->cap * 2 < TMK_RECORD_LIMIT ? k->cap * 2 : TMK_RECORD_LIMIT;
        if (reserve(&k->buf, &k->cap, cap)) return -1;
        k->data = k->buf;
    }
    while (k->len < k->cap && k->more) {
        int rc = k->zstd ? fill_zstd(sh, k, why, whylen) : fill_raw(sh, k, why, whylen);
        if (rc) {
            k->more = 0;
            return rc;
        }
    }
    return k->len > rest ? 0 : 1;
}

/* Starts streaming k's block (k->in_off .. in_end, or k->in_p for a frame
 * in memory): the first window. 0, 1 (damaged at once), -1. */
static int start_stream(struct blk_shared *sh, struct blk *k, char *why, size_t wl)
{
    if (reserve(&k->buf, &k->cap, BLK_WINDOW)) return -1;
    if (k->zstd) {
        if (!(k->dctx = ZSTD_createDCtx())) return -1;
        if (ZSTD_isError(ZSTD_DCtx_setParameter(k->dctx, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
            return -1;
    }
    k->data = k->buf;
    k->more = 1;
    int rc = blk_more(sh, k, 0, why, wl);
    return rc == 2 ? 1 : rc < 0 ? -1 : 0;
}

/* ---- loading ------------------------------------------------------------ */

/* A frame's header as 3.1 wants it: zstd's magic and a content checksum. */
static int frame_has_checksum(const uint8_t *h, size_t n)
{
    return n > 4 && tmk_get_le32(h) == ZSTD_MAGICNUMBER && (h[4] & ZSTD_CHECKSUM_BIT);
}

/* k's zstd frame: `z` (zn stored bytes) when in memory, else NULL (read
 * from the file as it streams). 0, 1 (damaged), -1. */
static int load_frame(struct blk_shared *sh, struct blk *k, const uint8_t *z, size_t zn,
                      char *why, size_t wl)
{
    uint8_t head[FRAME_HEADER_MAX];
    const uint8_t *h = z;
    size_t hn = zn;
    if (!z) {
        hn = zn < sizeof head ? zn : sizeof head;
        if (blk_read(sh, k->in_off, head, hn) < hn) return damaged(1, why, wl, "read failed");
        h = head;
    }
    unsigned long long n = ZSTD_getFrameContentSize(h, hn);
    const char *bad = NULL;
    if (n == ZSTD_CONTENTSIZE_ERROR) bad = "not a zstd frame";
    else if (n == ZSTD_CONTENTSIZE_UNKNOWN) bad = "a zstd frame without its content size";
    else if (n > TMK_BLOCK_MAX_PAYLOAD) bad = "a zstd frame of more than 64 MiB";
    else if (sh->checked && !frame_has_checksum(h, hn)) bad = "a zstd frame without its checksum";
    if (!bad && z) {
        size_t whole = ZSTD_findFrameCompressedSize(z, zn);
        if (ZSTD_isError(whole) || whole != zn) bad = "not one whole zstd frame";
    }
    if (bad) return damaged(1, why, wl, "payload is %s", bad);
    if (z && n <= TMK_RECORD_LIMIT) {
        if (reserve(&k->buf, &k->cap, (size_t)n) || (!sh->zstd && !(sh->zstd = ZSTD_createDCtx())))
            return -1;
        size_t got = ZSTD_decompressDCtx(sh->zstd, k->buf, (size_t)n, z, zn);
        if (ZSTD_isError(got) || got != n)
            return damaged(1, why, wl, "payload is a zstd frame that does not decompress");
        k->data = k->buf;
        k->len = (size_t)n;
        return 0;
    }
    if (z && sh->fd < 0) { /* memory input: the whole frame is there */
        k->in_p = z;
        k->in_pos = 0;
        k->in_len = zn;
        k->in_off = k->in_end;
    }
    return start_stream(sh, k, why, wl);
}

int blk_load(struct blk_shared *sh, struct blk *k, const struct block_ix *b, char *why,
             size_t whylen)
{
    blk_end(k);
    k->data = NULL;
    k->len = 0;
    k->base = 0;
    why[0] = 0;
    uint32_t flags = sh->v3 ? b->flags : 0; /* 1.x: reserved, not read */
    uint32_t known = TMK_BLOCK_ZSTD | (sh->checked ? TMK_BLOCK_CHECKSUM : 0);
    if (flags & ~known) return damaged(1, why, whylen, "unknown block flags 0x%x", flags);
    size_t stored = b->payload;
    if (sh->checked) {
        if (!(flags & TMK_BLOCK_CHECKSUM))
            return damaged(1, why, whylen, "no checksum, which every 3.1 block has");
        if (stored < TMK_BLOCK_CHECK_SIZE)
            return damaged(1, why, whylen, "payload shorter than its checksum");
        stored -= TMK_BLOCK_CHECK_SIZE;
    }
    k->zstd = (flags & TMK_BLOCK_ZSTD) != 0;
    k->in_off = b->off + TMK_BLOCK_HEADER_SIZE;
    k->in_end = k->in_off + stored;
    /* the block's bytes, header to trailer, when held whole */
    const uint8_t *bytes = NULL;
    if (sh->fd < 0) {
        bytes = sh->mem + b->off;
    } else if (stored <= TMK_RECORD_LIMIT) {
        size_t n = TMK_BLOCK_HEADER_SIZE + (size_t)b->payload;
        uint8_t **buf = k->zstd ? &sh->zin : &k->buf;
        if (reserve(buf, k->zstd ? &sh->zin_cap : &k->cap, n)) return -1;
        if (blk_read(sh, b->off, *buf, n) < n) return damaged(1, why, whylen, "read failed");
        bytes = *buf;
    }
    if (sh->checked) {
        int bad = bytes ? check_bytes(bytes, TMK_BLOCK_HEADER_SIZE + stored)
                        : check_streamed(sh, k, b->off, TMK_BLOCK_HEADER_SIZE + (uint64_t)stored);
        if (bad < 0) return -1;
        if (bad) return damaged(1, why, whylen, "checksum mismatch: the block is damaged");
    }
    if (k->zstd) return load_frame(sh, k, bytes ? bytes + TMK_BLOCK_HEADER_SIZE : NULL, stored,
                                   why, whylen);
    if (!bytes) return start_stream(sh, k, why, whylen);
    k->data = bytes + TMK_BLOCK_HEADER_SIZE;
    k->len = stored;
    return 0;
}

void blk_end(struct blk *k)
{
    ZSTD_freeDCtx(k->dctx);
    k->dctx = NULL;
    free(k->in);
    k->in = NULL;
    k->in_p = NULL;
    k->in_pos = k->in_len = 0;
    k->more = 0;
}

void blk_free(struct blk *k)
{
    blk_end(k);
    free(k->buf);
    k->buf = NULL;
    k->cap = 0;
    k->data = NULL;
    k->len = 0;
}

void blk_shared_free(struct blk_shared *sh)
{
    ZSTD_freeDCtx(sh->zstd);
    sh->zstd = NULL;
    free(sh->zin);
    sh->zin = NULL;
    sh->zin_cap = 0;
}
