/* preload/compress.c - the trace blocks' compression (TIDEMARK_COMPRESS=1,
 * full mode's default): one zstd frame per block, at level 1 with zstd's
 * content checksum, kept only when smaller than the records.
 *
 * The context is static, in memory taken once from arena.c: compressing a
 * block never allocates, so the final flush from a fatal signal's handler
 * can compress too. Callers hold the writer lock.
 *
 * Two setups. The usual one (matches of 7 bytes or more) suits records
 * that repeat: stacks, tables, runs of equal heap records. Heap records of
 * sizes at random (W4: 3 bytes an event) hold no match worth the search:
 * zstd then spends most of its time looking for them, and Huffman-coding
 * the bytes alone ("literals", the search sampling one position in 200)
 * stores them in 10% more bytes for 57% fewer instructions. Every
 * RECHECK_BLOCKS blocks of a thread (thread number mod CHOICES) the first
 * SAMPLE_BYTES of its block are compressed both ways, and the literal
 * setup is kept for the next blocks when it stored the sample in at most
 * LITERAL_SLACK_PERCENT % more bytes. Measured on 256 KiB blocks
 * (bench/workloads, bytes against the usual setup): W4 +10.6%, W1 +0.0%;
 * W2 +107% and W3 +73%, which keep the usual one.
 */
/* ZSTD_initStaticCCtx, ZSTD_estimateCCtxSize and ZSTD_c_literalCompressionMode
 * are in zstd's "static linking" section; Debian's libzstd.so.1 exports them. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "internal.h"

#define SAMPLE_BYTES (32u << 10)
#define RECHECK_BLOCKS 8
#define CHOICES 64
#define LITERAL_SLACK_PERCENT 115
#define LITERAL_SAMPLING 200 /* zstd's targetLength for its fast strategy */

static ZSTD_CCtx *zctx; /* static context; NULL = blocks are written raw */
static uint8_t *zbuf;   /* a compressed block */
static size_t zbuf_size;
static int zctx_literal; /* the setup zctx has now */

struct choice {
    uint8_t literal; /* the literal setup for this thread's blocks */
    uint8_t left;    /* blocks until the next sample */
};
static struct choice choices[CHOICES];

/* Level 1, frames that state their content size (a static context starts
 * with every parameter 0, not with zstd's defaults) and carry zstd's
 * checksum of their content (3.1); matches of 7 bytes at least (on W4's
 * records 9% fewer instructions than 6 for 0.2% more bytes; the other
 * workloads' the same or smaller); for the literal setup, positions
 * sampled 1 in LITERAL_SAMPLING and literals Huffman-coded whatever zstd's
 * default for that (raw). 0, or -1. */
static int set_up(ZSTD_CCtx *z, int literal)
{
    int bad = ZSTD_isError(ZSTD_CCtx_reset(z, ZSTD_reset_parameters)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_minMatch, 7)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1));
    if (!bad && literal)
        bad = ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_strategy, ZSTD_fast)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_targetLength, LITERAL_SAMPLING)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_literalCompressionMode,
                                                  ZSTD_ps_enable));
    zctx_literal = literal;
    return bad ? -1 : 0;
}

void tmk_compress_init(void)
{
    if (!tmk_opt.compress || zctx) return;
    size_t ws = ZSTD_estimateCCtxSize(1);
    void *work = tmk_arena_alloc(ws);
    zbuf_size = ZSTD_compressBound(TMK_BUFFER_BYTES);
    zbuf = tmk_arena_alloc(zbuf_size);
    if (work && zbuf) zctx = ZSTD_initStaticCCtx(work, ws);
    if (zctx && set_up(zctx, 0)) zctx = NULL;
    if (!zctx) { /* no memory: raw blocks, as with TIDEMARK_COMPRESS=0 */
        tmk_arena_free(work);
        tmk_arena_free(zbuf);
        zbuf = NULL;
    }
}

/* n bytes of src into zbuf with the given setup: the frame's size, or 0. */
static size_t compress_with(int literal, const uint8_t *src, size_t n)
{
    if (literal != zctx_literal && set_up(zctx, literal) != 0) {
        set_up(zctx, 0);
        if (literal) return 0;
    }
    size_t out = ZSTD_compress2(zctx, zbuf, zbuf_size, src, n);
    return ZSTD_isError(out) ? 0 : out;
}

/* Does the literal setup store this sample in at most LITERAL_SLACK_PERCENT
 * % of the usual setup's bytes? */
static int literal_pays(const uint8_t *sample)
{
    size_t usual = compress_with(0, sample, SAMPLE_BYTES);
    size_t literal = compress_with(1, sample, SAMPLE_BYTES);
    return usual && literal && literal * 100 <= usual * LITERAL_SLACK_PERCENT;
}

const uint8_t *tmk_compress_block(uint32_t thread, const uint8_t *payload, size_t *size,
                                  uint32_t *flags)
{
    *flags = 0;
    if (!zctx || *size < 64) return payload;
    struct choice *c = &choices[thread % CHOICES];
    if (*size >= 2 * SAMPLE_BYTES) {
        if (!c->left) {
            c->literal = (uint8_t)literal_pays(payload);
            c->left = RECHECK_BLOCKS;
        }
        c->left--;
    }
    size_t n = compress_with(c->literal, payload, *size);
    if (!n || n >= *size) return payload;
    *size = n;
    *flags = TMK_BLOCK_ZSTD;
    return zbuf;
}

int tmk_compress_literal_choice(uint32_t thread)
{
    return choices[thread % CHOICES].literal;
}
