/* tests/analyzer/tracegen.c - the test-only trace writer (tracegen.h) and
 * its scenarios. Scenario figures come from Go's rules through
 * gomap_sizing.h, exactly as gomap would allocate; tests assert the
 * resulting numbers as literals computed from the rules by hand. */
#include "tracegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "tidemark/annotate.h"
#include "tidemark/gomap_sizing.h"
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

static uint8_t *put_str(uint8_t *p, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    p = tmk_put_u(p, n);
    memcpy(p, s, n);
    return p + n;
}

void tg_module(struct tg *g, uint32_t th, uint64_t id, uint64_t bias, uint64_t start,
               uint64_t end, const char *path)
{
    uint8_t *p = untimed(g, th, 64 + strlen(path));
    *p++ = TMK_REC_MODULE;
    p = tmk_put_u(p, id);
    p = tmk_put_u(p, bias);
    p = tmk_put_u(p, start);
    p = tmk_put_u(p, end);
    p = put_str(p, "");
    p = put_str(p, path);
    done(g, th, p);
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

/* ---- scenarios ------------------------------------------------------------ */

#define ARRAY_BASE 0x7f0000000000ull
#define VALUE_BASE 0x10000000ull

static uint64_t array_bytes(uint8_t B, uint32_t bucket)
{
    return B == 0 ? bucket : gomap_array_for_b(B, bucket).bytes;
}

/* The seed program as gomap runs it: 1,000,000 inserts of int64 -> value,
 * then every key deleted. Arrays as makeBucketArray allocates them; the old
 * array is released when its evacuation is done (2^B_old / 2 writes later,
 * as each write evacuates two old buckets). Values over 128 bytes are
 * separate allocations freed on delete. */
/* buckets as the TABLE_ARRAY record gives them: 2^B, or with overflow set
 * 2^B plus the preallocated overflow buckets (what gomap itself records). */
static uint64_t array_buckets(uint8_t B, uint32_t bucket, int overflow)
{
    struct gomap_array a = gomap_array_for_b(B, bucket);
    return overflow ? a.buckets + a.overflow : 1ull << B;
}

static struct tg *seed(uint32_t value_size, uint64_t hint, int overflow)
{
    const uint64_t N = 1000000, T0 = 1000, DT = 100;
    struct gomap_layout l = gomap_layout_for(8, value_size);
    struct tg *g = tg_new(0);
    uint64_t frames_table[] = {0x401234, 0x401500, 0x7f1000020000};
    uint64_t frames_value[] = {0x401300, 0x401500};
    uint64_t frames_other[] = {0x401400};
    tg_stack(g, 1, 1, 3, frames_table);
    tg_stack(g, 1, 2, 2, frames_value);
    tg_stack(g, 1, 3, 1, frames_other);
    tg_alloc(g, 1, 500, 0x5000, 4096, 3); /* an ordinary buffer, freed at the end */
    tg_alloc(g, 1, 600, 0x6000, 1000, 3); /* and one never freed */
    tg_table_new(g, 1, T0, 1, TMK_KIND_GOMAP, l.value_indirect ? TMK_TABLE_VALUE_INDIRECT : 0, 8,
                 value_size, l.bucket_size, 8, hint, 1, "seed");
    uint8_t B = gomap_b_for_hint(hint);
    uint64_t narr = 0, cur = 0, old = 0, old_free_at = 0, t = T0;
    if (B > 0) { /* makemap allocates at once when B > 0 */
        cur = ARRAY_BASE + (narr++ << 32);
        tg_alloc(g, 1, t, cur, array_bytes(B, l.bucket_size), 1);
        tg_table_array(g, 1, t, 1, cur, array_bytes(B, l.bucket_size),
                       array_buckets(B, l.bucket_size, overflow), TMK_ARRAY_INITIAL, 0, 1);
    }
    for (uint64_t count = 0; count < N; count++) {
        t = T0 + (count + 1) * DT;
        if (!cur) { /* first insert allocates the single bucket */
            cur = ARRAY_BASE + (narr++ << 32);
            tg_alloc(g, 1, t, cur, l.bucket_size, 1);
            tg_table_array(g, 1, t, 1, cur, l.bucket_size, 1, TMK_ARRAY_INITIAL, 0, 1);
        } else if (!old && gomap_over_load_factor(count + 1, B)) {
            B++;
            old = cur;
            old_free_at = count + ((1ull << (B - 1)) + 1) / 2;
            cur = ARRAY_BASE + (narr++ << 32);
            tg_alloc(g, 1, t, cur, array_bytes(B, l.bucket_size), 1);
            tg_table_array(g, 1, t, 1, cur, array_bytes(B, l.bucket_size),
                           array_buckets(B, l.bucket_size, overflow), TMK_ARRAY_GROW, count, 1);
        }
        if (old && count >= old_free_at) {
            tg_free(g, 1, t, old);
            old = 0;
        }
        if (l.value_indirect) tg_alloc(g, 1, t, VALUE_BASE + count * 256, value_size, 2);
        if ((count + 1) % 65536 == 0) tg_table_count(g, 1, t, 1, count + 1);
    }
    if (old) tg_free(g, 1, t, old);
    tg_table_count(g, 1, t, 1, N);
    tg_table_peak(g, 1, 1, N); /* gomap's high-water count, as the shim writes it */
    for (uint64_t k = 0; k < N; k++) {
        t += DT;
        if (l.value_indirect) tg_free(g, 1, t, VALUE_BASE + k * 256);
        if ((k + 1) % 65536 == 0) tg_table_count(g, 1, t, 1, N - k - 1);
    }
    tg_table_count(g, 1, t + DT, 1, 0);
    tg_memory(g, 1, t + DT, 400ull << 20, 0);
    tg_free(g, 1, t + 2 * DT, 0x5000);
    tg_end(g, 1, t + 3 * DT, TMK_END_EXIT, 0);
    return g;
}

struct tg *tg_scenario_seed(uint32_t value_size, uint64_t hint, int fix)
{
    (void)fix;
    return seed(value_size, hint, 0);
}

struct tg *tg_scenario_seed_overflow(uint32_t value_size)
{
    return seed(value_size, 0, 1);
}

/* Two gomap tables emptied after their arrays were made (all retained):
 * "big" (B=12, site 0x402000) and "small" (B=8, site 0x403000). With
 * --top 1 a report lists only "big". */
struct tg *tg_scenario_two_tables(void)
{
    struct tg *g = tg_new(0);
    uint64_t fa[] = {0x402000}, fb[] = {0x403000};
    struct gomap_layout l = gomap_layout_for(8, 8);
    static const uint8_t Bs[2] = {12, 8};
    static const char *const labels[2] = {"big", "small"};
    tg_stack(g, 1, 1, 1, fa);
    tg_stack(g, 1, 2, 1, fb);
    for (uint64_t k = 0; k < 2; k++) {
        uint64_t ptr = ARRAY_BASE + (k << 32), bytes = array_bytes(Bs[k], l.bucket_size);
        tg_table_new(g, 1, 100, k + 1, TMK_KIND_GOMAP, 0, 8, 8, l.bucket_size, 8, 0, k + 1,
                     labels[k]);
        tg_alloc(g, 1, 200, ptr, bytes, k + 1);
        tg_table_array(g, 1, 200, k + 1, ptr, bytes, array_buckets(Bs[k], l.bucket_size, 1),
                       TMK_ARRAY_INITIAL, 0, k + 1);
        tg_table_count(g, 1, 300, k + 1, 0);
    }
    tg_end(g, 1, 400, TMK_END_EXIT, 0);
    return g;
}

/* Three threads: thread 2 frees what thread 1 allocated, thread 3 reuses an
 * address after thread 2 freed it; blocks are flushed out of thread order. */
struct tg *tg_scenario_threads(void)
{
    struct tg *g = tg_new(0);
    tg_alloc(g, 1, 100, 0xa000, 10, 0);
    tg_alloc(g, 1, 200, 0xb000, 20, 0);
    tg_flush(g, 1);
    tg_free(g, 2, 150, 0xa000);
    tg_free(g, 2, 250, 0xb000);
    tg_alloc(g, 3, 160, 0xa000, 30, 0); /* reuse after thread 2's free at 150 */
    tg_flush(g, 3);
    tg_flush(g, 2);
    tg_alloc(g, 1, 300, 0xc000, 40, 0);
    tg_free(g, 3, 310, 0xa000);
    tg_flush(g, 3);
    tg_end(g, 1, 400, TMK_END_EXIT, 0);
    return g;
}

/* ---- 3.0: the heap by info ------------------------------------------------- */

#define INFO_ARRAY 0x7f0000010000ull
#define SLOT(n) ((uint64_t)(n) << 16) /* 65.5 us slots, narrower than TMK_TICK_NS */

static struct tg *info_prologue(int v3)
{
    struct tg *g = tg_new(0);
    if (v3) tg_set_version(g, 3, 0);
    uint64_t f1[] = {0x401000}, f2[] = {0x402000};
    tg_module(g, 1, 1, 0, 0x400000, 0x500000, "/usr/bin/info");
    tg_stack(g, 1, 1, 1, f1);
    tg_stack(g, 1, 2, 1, f2);
    return g;
}

/* The table's life, by address in both versions. */
static void info_table_end(struct tg *g)
{
    tg_free(g, 1, SLOT(3), INFO_ARRAY);
    tg_table_end(g, 1, SLOT(3) + 92, 1, 0);
    tg_end(g, 1, SLOT(4), TMK_END_EXIT, 0);
}

struct tg *tg_scenario_info(void)
{
    struct tg *g = info_prologue(1);
    tg_tick(g, 2, SLOT(2));
    tg_free_info(g, 2, 4096, 1); /* at 131072: read before b3's ALLOC_INFO (131372) */
    tg_flush(g, 2);
    tg_set_zstd(g, 1);          /* thread 1's block, with the END, comes last */
    tg_tick(g, 1, SLOT(1));
    tg_alloc_info(g, 1, 4096, 1);                      /* b1 at 65536 */
    tg_table_new(g, 1, SLOT(1) + 64, 1, TMK_KIND_GENERIC, 0, 8, 8, 256, 0, 0, 2, "info");
    tg_alloc_info(g, 1, 4096, 1);                      /* the array at 65600 */
    tg_table_array_info(g, 1, SLOT(1) + 74, 1, INFO_ARRAY, 4096, 16, TMK_ARRAY_INITIAL, 0, 2,
                        4096, 1);
    tg_tick(g, 1, SLOT(2));
    tg_free_info(g, 1, 4096, 1);                       /* b1 */
    tg_memory(g, 1, SLOT(2) + 300, 1 << 20, 0);
    tg_alloc_info(g, 1, 4096, 1);                      /* b3, freed by thread 2 */
    tg_alloc_info(g, 1, 4096, 1);                      /* b4 (after b3's free), live */
    tg_tick(g, 1, SLOT(3));
    info_table_end(g);
    tg_flush(g, 1);
    tg_set_zstd(g, 0);
    return g;
}

struct tg *tg_scenario_info_v1(void)
{
    struct tg *g = info_prologue(0);
    tg_alloc(g, 1, SLOT(1), 0x5000, 4096, 1);
    tg_table_new(g, 1, SLOT(1) + 64, 1, TMK_KIND_GENERIC, 0, 8, 8, 256, 0, 0, 2, "info");
    tg_alloc(g, 1, SLOT(1) + 64, INFO_ARRAY, 4096, 1);
    tg_table_array(g, 1, SLOT(1) + 74, 1, INFO_ARRAY, 4096, 16, TMK_ARRAY_INITIAL, 0, 2);
    tg_free(g, 1, SLOT(2), 0x5000);
    tg_memory(g, 1, SLOT(2) + 300, 1 << 20, 0);
    tg_alloc(g, 1, SLOT(2) + 300, 0x6000, 4096, 1);
    tg_free(g, 2, SLOT(2) + 350, 0x6000);
    tg_alloc(g, 1, SLOT(2) + 400, 0x7000, 4096, 1);
    info_table_end(g);
    return g;
}

struct tg *tg_scenario_info_late(void)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, 0);
    /* in units of TMK_TICK_NS, the widest slot a writer may use */
    tg_tick(g, 1, 3 * TMK_TICK_NS);
    tg_alloc_info(g, 1, 100, 0);
    tg_end(g, 1, 4 * TMK_TICK_NS, TMK_END_EXIT, 0);
    tg_tick(g, 2, 2 * TMK_TICK_NS);
    tg_free_info(g, 2, 100, 0); /* a whole slot before its block was allocated */
    return g;
}

/* A small 3.minor trace of what a report shows, in blocks of about 100
 * bytes: a gomap table (8 -> 128) grown to B=3 by info, then emptied (its
 * last array retained); heap by info allocated on thread 1, partly freed
 * on thread 2; memory samples; END. */
struct tg *tg_scenario_mixed(uint16_t minor, int zstd)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, minor);
    tg_set_block_limit(g, 100);
    tg_set_zstd(g, zstd);
    struct gomap_layout l = gomap_layout_for(8, 128);
    uint64_t f1[] = {0x401000, 0x401800}, f2[] = {0x402000}, f3[] = {0x403000, 0x401800};
    tg_module(g, 1, 1, 0, 0x400000, 0x500000, "/usr/bin/mixed");
    tg_stack(g, 1, 1, 2, f1);
    tg_stack(g, 1, 2, 1, f2);
    tg_stack(g, 1, 3, 2, f3);
    tg_table_new(g, 1, SLOT(1), 1, TMK_KIND_GOMAP, 0, 8, 128, l.bucket_size, 8, 0, 1, "mixed");
    uint64_t prev = 0;
    for (uint8_t B = 0; B <= 3; B++) {
        uint64_t t = SLOT(2 + 3 * B), bytes = array_bytes(B, l.bucket_size);
        uint64_t ptr = INFO_ARRAY + ((uint64_t)B << 20);
        tg_tick(g, 1, t);
        tg_alloc_info(g, 1, bytes, 1);
        tg_table_array_info(g, 1, t + 10, 1, ptr, bytes, array_buckets(B, l.bucket_size, 1),
                            B ? TMK_ARRAY_GROW : TMK_ARRAY_INITIAL, B ? 6u << B : 0, 1, bytes, 1);
        if (prev) tg_free(g, 1, t + 20, prev);
        prev = ptr;
        for (uint64_t k = 0; k < 8; k++) { /* values and buffers of other sites */
            tg_alloc_info(g, 1, 48 + 16 * k, 2 + k % 2);
            if (k % 3 == 0) tg_free_info(g, 2, 48 + 16 * k, 2 + k % 2);
        }
        tg_table_count(g, 1, t + 30, 1, 7u << B);
        tg_memory(g, 2, t + 40, (10u + B) << 20, 0);
    }
    tg_table_peak(g, 1, 1, 56);
    tg_table_count(g, 1, SLOT(20), 1, 0);
    tg_tick(g, 2, SLOT(21));
    tg_free_info(g, 2, 64, 3);
    tg_end(g, 1, SLOT(22), TMK_END_EXIT, 0);
    return g;
}
