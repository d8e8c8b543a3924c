/* tests/format/tracegen.c - the tests' one trace writer (tracegen.h): every
 * record of the format, encoded with trace_format.h's helpers, into
 * per-thread blocks. The scenarios built with it are in scenarios.c. */
#include "tracegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "tidemark/trace_check.h"
#include "tidemark/trace_format.h"

#define BLOCK_LIMIT (64u << 10) /* by default, flush a thread's block past this */

struct tblock {
    uint8_t *buf;
    size_t n, cap;
    uint64_t seq, time_base, last_t, ptr;
    int open;
};

struct tg {
    uint8_t *file;
    size_t n, cap;
    struct tblock th[TG_MAX_THREADS + 1];
    uint16_t major, minor;
    uint32_t flags;
    int zstd;
    size_t block_limit;
};

static void grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    uint8_t *b = realloc(*buf, c);
    if (!b) abort();
    *buf = b;
    *cap = c;
}

struct tg *tg_new(uint32_t flags)
{
    struct tg *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->major = TG_V1_MAJOR;
    g->minor = TG_V1_MINOR;
    g->flags = flags;
    g->block_limit = BLOCK_LIMIT;
    grow(&g->file, &g->cap, TMK_FILE_HEADER_SIZE);
    g->n = TMK_FILE_HEADER_SIZE; /* header written by tg_bytes */
    return g;
}

void tg_set_version(struct tg *g, uint16_t major, uint16_t minor)
{
    g->major = major;
    g->minor = minor;
}

void tg_set_zstd(struct tg *g, int on)
{
    g->zstd = on;
}

void tg_set_block_limit(struct tg *g, size_t bytes)
{
    g->block_limit = bytes;
}

static int checksummed(const struct tg *g)
{
    return tmk_trace_checksummed(g->major, g->minor);
}

/* Appends block number seq of th (the next one) to the file: these stored
 * bytes, sealed with TMK_BLOCK_CHECKSUM and its trailer in a 3.1 trace. */
static void append_block(struct tg *g, uint32_t th, uint32_t flags, uint64_t time_base,
                         const void *payload, size_t n)
{
    struct tblock *b = &g->th[th];
    size_t trailer = checksummed(g) ? TMK_BLOCK_CHECK_SIZE : 0;
    if (trailer) flags |= TMK_BLOCK_CHECKSUM;
    struct tmk_block_header h = {TMK_BLOCK_MAGIC, (uint32_t)(n + trailer), th, flags, b->seq++,
                                 time_base};
    grow(&g->file, &g->cap, g->n + TMK_BLOCK_HEADER_SIZE + n + trailer);
    uint8_t *at = g->file + g->n;
    tmk_block_header_encode(at, &h);
    if (n) memcpy(at + TMK_BLOCK_HEADER_SIZE, payload, n);
    if (trailer) tmk_put_le64(at + TMK_BLOCK_HEADER_SIZE + n, tmk_block_check(at, payload, n));
    g->n += TMK_BLOCK_HEADER_SIZE + n + trailer;
}

uint8_t *tg_zstd_frame(const void *src, size_t n, int level, unsigned flags, size_t *zn)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *z = malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!z || !cc) abort();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, (flags & TG_ZSTD_CHECKSUM) != 0);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, !(flags & TG_ZSTD_NO_SIZE));
    /* a frame of more than 1 MiB of records may need no wider window */
    ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, flags & TG_ZSTD_WINDOW_2M ? 21 : 20);
    *zn = ZSTD_compress2(cc, z, cap, src, n);
    ZSTD_freeCCtx(cc);
    if (ZSTD_isError(*zn)) abort();
    return z;
}

void tg_flush(struct tg *g, uint32_t th)
{
    struct tblock *b = &g->th[th];
    if (!b->open) return;
    b->open = 0;
    if (!g->zstd) {
        append_block(g, th, 0, b->time_base, b->buf, b->n);
        b->n = 0;
        return;
    }
    size_t zn;
    uint8_t *z = tg_zstd_frame(b->buf, b->n, 3, checksummed(g) ? TG_ZSTD_CHECKSUM : 0, &zn);
    append_block(g, th, TMK_BLOCK_ZSTD, b->time_base, z, zn);
    free(z);
    b->n = 0;
}

void tg_block(struct tg *g, uint32_t th, uint32_t flags, const void *payload, size_t n)
{
    tg_flush(g, th);
    append_block(g, th, flags, g->th[th].last_t, payload, n);
}

/* Room for a record on thread th at time t; returns the write pointer. */
static uint8_t *begin(struct tg *g, uint32_t th, uint64_t t, size_t max)
{
    if (th == 0 || th > TG_MAX_THREADS) abort();
    struct tblock *b = &g->th[th];
    if (b->open && b->n > g->block_limit) tg_flush(g, th);
    if (!b->open) {
        b->open = 1;
        b->time_base = t;
        b->last_t = t;
        b->ptr = 0;
    }
    grow(&b->buf, &b->cap, b->n + max);
    return b->buf + b->n;
}

static uint8_t *timed(struct tg *g, uint32_t th, uint64_t t, uint8_t type, size_t max)
{
    uint8_t *p = begin(g, th, t, max + 16);
    struct tblock *b = &g->th[th];
    if (t < b->last_t) t = b->last_t; /* times never go back within a thread */
    *p++ = type;
    p = tmk_put_u(p, t - b->last_t);
    b->last_t = t;
    return p;
}

static void done(struct tg *g, uint32_t th, uint8_t *end)
{
    struct tblock *b = &g->th[th];
    b->n = (size_t)(end - b->buf);
}

/* Room for an untimed record (at th's current time) of up to max bytes. */
static uint8_t *untimed(struct tg *g, uint32_t th, size_t max)
{
    return begin(g, th, g->th[th].open ? g->th[th].last_t : 0, max);
}

void tg_alloc(struct tg *g, uint32_t th, uint64_t t, uint64_t ptr, uint64_t size, uint64_t stack)
{
    uint8_t *p = timed(g, th, t, TMK_REC_ALLOC, 40);
    p = tmk_put_s(p, (int64_t)(ptr - g->th[th].ptr));
    g->th[th].ptr = ptr;
    p = tmk_put_u(p, size);
    p = tmk_put_u(p, stack);
    done(g, th, p);
}

void tg_free(struct tg *g, uint32_t th, uint64_t t, uint64_t ptr)
{
    uint8_t *p = timed(g, th, t, TMK_REC_FREE, 20);
    p = tmk_put_s(p, (int64_t)(ptr - g->th[th].ptr));
    g->th[th].ptr = ptr;
    done(g, th, p);
}

void tg_stack(struct tg *g, uint32_t th, uint64_t id, uint32_t depth, const uint64_t *frames)
{
    uint8_t *p = untimed(g, th, 24 + 10 * (size_t)depth);
    *p++ = TMK_REC_STACK;
    p = tmk_put_u(p, id);
    p = tmk_put_u(p, depth);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < depth; i++) {
        p = tmk_put_s(p, (int64_t)(frames[i] - prev));
        prev = frames[i];
    }
    done(g, th, p);
}

static uint8_t *put_bytes(uint8_t *p, const void *bytes, size_t n)
{
    p = tmk_put_u(p, n);
    if (n) memcpy(p, bytes, n);
    return p + n;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    return put_bytes(p, s, s ? strlen(s) : 0);
}

void tg_module_build_id(struct tg *g, uint32_t th, uint64_t id, uint64_t bias, uint64_t start,
                        uint64_t end, const void *build_id, size_t n, const char *path)
{
    uint8_t *p = untimed(g, th, 64 + n + strlen(path));
    *p++ = TMK_REC_MODULE;
    p = tmk_put_u(p, id);
    p = tmk_put_u(p, bias);
    p = tmk_put_u(p, start);
    p = tmk_put_u(p, end);
    p = put_bytes(p, build_id, n);
    p = put_str(p, path);
    done(g, th, p);
}

void tg_module(struct tg *g, uint32_t th, uint64_t id, uint64_t bias, uint64_t start,
               uint64_t end, const char *path)
{
    tg_module_build_id(g, th, id, bias, start, end, "", 0, path);
}

void tg_module_gone(struct tg *g, uint32_t th, uint64_t id)
{
    uint8_t *p = untimed(g, th, 1 + TMK_VARINT_MAX);
    *p++ = TMK_REC_MODULE_GONE;
    done(g, th, tmk_put_u(p, id));
}

void tg_thread(struct tg *g, uint32_t th, uint64_t t, uint64_t tid, const char *name)
{
    uint8_t *p = timed(g, th, t, TMK_REC_THREAD, 2 * TMK_VARINT_MAX + strlen(name));
    p = tmk_put_u(p, tid);
    done(g, th, put_str(p, name));
}

void tg_lost(struct tg *g, uint32_t th, uint64_t t, uint64_t count)
{
    uint8_t *p = timed(g, th, t, TMK_REC_LOST, TMK_VARINT_MAX);
    done(g, th, tmk_put_u(p, count));
}

void tg_table_new(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint32_t kind,
                  uint32_t flags, uint32_t key, uint32_t value, uint32_t bucket, uint32_t slots,
                  uint64_t hint, uint64_t stack, const char *label)
{
    uint8_t *p = timed(g, th, t, TMK_REC_TABLE_NEW, 100 + strlen(label));
    uint64_t f[] = {table, kind, flags, key, value, bucket, slots, hint, stack};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) p = tmk_put_u(p, f[i]);
    p = put_str(p, label);
    done(g, th, p);
}

static void table_array(struct tg *g, uint32_t th, uint64_t t, const uint64_t *f)
{
    uint8_t *p = timed(g, th, t, TMK_REC_TABLE_ARRAY, 120);
    size_t n = g->major < 3 ? 7 : 10;
    for (size_t i = 0; i < n; i++) p = tmk_put_u(p, f[i]);
    done(g, th, p);
}

void tg_table_array_info(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t ptr,
                         uint64_t bytes, uint64_t buckets, uint32_t reason, uint64_t live,
                         uint64_t stack, uint64_t info_size, uint64_t info_stack)
{
    if (g->major < 3) abort(); /* 1.x has no such fields */
    table_array(g, th, t,
                (uint64_t[]){table, ptr, bytes, buckets, reason, live, stack, 1, info_size,
                             info_stack});
}

void tg_table_array(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t ptr,
                    uint64_t bytes, uint64_t buckets, uint32_t reason, uint64_t live,
                    uint64_t stack)
{
    table_array(g, th, t,
                (uint64_t[]){table, ptr, bytes, buckets, reason, live, stack, 0, 0, 0});
}

static void table_live(struct tg *g, uint32_t th, uint64_t t, uint8_t type, uint64_t table,
                       uint64_t live)
{
    uint8_t *p = timed(g, th, t, type, 30);
    p = tmk_put_u(p, table);
    p = tmk_put_u(p, live);
    done(g, th, p);
}

void tg_table_count(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t live)
{
    table_live(g, th, t, TMK_REC_TABLE_COUNT, table, live);
}

void tg_table_end(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t live)
{
    table_live(g, th, t, TMK_REC_TABLE_END, table, live);
}

void tg_table_peak(struct tg *g, uint32_t th, uint64_t table, uint64_t peak)
{
    uint8_t body[2 * TMK_VARINT_MAX];
    uint8_t *e = tmk_put_u(tmk_put_u(body, table), peak);
    uint8_t rec[3 * TMK_VARINT_MAX];
    uint8_t *p = rec;
    *p++ = TMK_REC_TABLE_PEAK;
    p = tmk_put_u(p, (uint64_t)(e - body));
    memcpy(p, body, (size_t)(e - body));
    tg_raw(g, th, rec, (size_t)(p - rec) + (size_t)(e - body));
}

void tg_table_growth(struct tg *g, uint32_t th, uint64_t table, uint32_t load_num,
                     uint32_t load_den, uint32_t factor, uint32_t min_buckets)
{
    uint8_t body[5 * TMK_VARINT_MAX];
    uint8_t *e = tmk_put_u(body, table);
    e = tmk_put_u(e, load_num);
    e = tmk_put_u(e, load_den);
    e = tmk_put_u(e, factor);
    e = tmk_put_u(e, min_buckets);
    uint8_t rec[7 * TMK_VARINT_MAX];
    uint8_t *p = rec;
    *p++ = TMK_REC_TABLE_GROWTH;
    p = tmk_put_u(p, (uint64_t)(e - body));
    memcpy(p, body, (size_t)(e - body));
    tg_raw(g, th, rec, (size_t)(p - rec) + (size_t)(e - body));
}

void tg_memory(struct tg *g, uint32_t th, uint64_t t, uint64_t rss, uint64_t heap)
{
    uint8_t *p = timed(g, th, t, TMK_REC_MEMORY, 30);
    p = tmk_put_u(p, rss);
    p = tmk_put_u(p, heap);
    done(g, th, p);
}

void tg_end(struct tg *g, uint32_t th, uint64_t t, uint32_t why, uint32_t status)
{
    uint8_t *p = timed(g, th, t, TMK_REC_END, 30);
    p = tmk_put_u(p, why);
    p = tmk_put_u(p, status);
    done(g, th, p);
}

void tg_tick(struct tg *g, uint32_t th, uint64_t t)
{
    done(g, th, timed(g, th, t, TMK_REC_TICK, 0));
}

void tg_alloc_info(struct tg *g, uint32_t th, uint64_t size, uint64_t stack)
{
    uint8_t *p = untimed(g, th, 1 + 2 * TMK_VARINT_MAX);
    done(g, th, tmk_put_by_info(p, TMK_REC_ALLOC_INFO, size, stack));
}

void tg_free_info(struct tg *g, uint32_t th, uint64_t size, uint64_t stack)
{
    uint8_t *p = untimed(g, th, 1 + 2 * TMK_VARINT_MAX);
    done(g, th, tmk_put_by_info(p, TMK_REC_FREE_INFO, size, stack));
}

void tg_raw(struct tg *g, uint32_t th, const void *bytes, size_t n)
{
    if (n == 0) return; /* nothing to write (and no memcpy to a buffer not yet made) */
    uint8_t *p = untimed(g, th, n);
    memcpy(p, bytes, n);
    done(g, th, p + n);
}

const uint8_t *tg_bytes(struct tg *g, size_t *size)
{
    for (uint32_t th = 1; th <= TG_MAX_THREADS; th++) tg_flush(g, th);
    struct tmk_file_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN);
    h.version_major = g->major;
    h.version_minor = g->minor;
    h.header_size = TMK_FILE_HEADER_SIZE;
    h.flags = g->flags;
    h.pid = 4242;
    h.ppid = 1;
    h.max_depth = 64;
    h.start_realtime_ns = 1700000000000000000ull;
    h.start_monotonic_ns = 1000000000ull;
    tmk_file_header_encode(g->file, &h);
    tmk_header_seal(g->file);
    *size = g->n;
    return g->file;
}

int tg_write(struct tg *g, const char *path)
{
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(b, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

void tg_destroy(struct tg *g)
{
    if (!g) return;
    for (int i = 0; i <= TG_MAX_THREADS; i++) free(g->th[i].buf);
    free(g->file);
    free(g);
}
