/* tests/fuzz/seedgen.c - writes the fuzz target's seed corpus: small valid
 * traces that together use every record type, both table kinds, two threads,
 * the tables mode, an extended record, and one cut short; 1.1 traces and
 * 3.x ones (heap by info, TICK, a TABLE_ARRAY by info, zstd blocks), in 3.1
 * (checksums) and in 3.0 (none: mutations there reach the decoders); and
 * hostile ones: a decompression bomb (8 threads of a 2 KB frame of 64 MiB
 * of zeros) and a 3.1 trace with a flipped byte (a damaged block).
 *
 *   seedgen DIR     writes DIR/<name>.tmk
 *
 * The traces are built with trace_format.h's encoders, independently of the
 * analyzer's reader, so the fuzzer starts from what the shim writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "tidemark/annotate.h"
#include "tidemark/trace_check.h"
#include "tidemark/trace_format.h"

/* ---- a tiny trace writer ------------------------------------------------ */

struct block {
    uint8_t buf[16384];
    size_t n;
    uint32_t thread;
    uint64_t seq, time_base, last_t, last_ptr;
};

struct trace {
    uint8_t buf[1 << 17];
    size_t n;
    int v3;
    int checked; /* 3.1: checksums */
};

static void put_u(struct block *b, uint64_t v) { b->n = (size_t)(tmk_put_u(b->buf + b->n, v) - b->buf); }
static void put_s(struct block *b, int64_t v) { b->n = (size_t)(tmk_put_s(b->buf + b->n, v) - b->buf); }
static void put_str(struct block *b, const char *s)
{
    size_t len = strlen(s);
    put_u(b, len);
    memcpy(b->buf + b->n, s, len);
    b->n += len;
}

/* Starts a timed record: type byte and dt from the block's previous time. */
static void timed(struct block *b, uint8_t type, uint64_t t)
{
    b->buf[b->n++] = type;
    put_u(b, t - b->last_t);
    b->last_t = t;
}

static void block_begin(struct block *b, uint32_t thread, uint64_t seq, uint64_t time_base)
{
    memset(b, 0, sizeof *b);
    b->thread = thread;
    b->seq = seq;
    b->time_base = b->last_t = time_base;
}

/* A 1.1 trace, or a 3.minor one when v3. */
static void trace_begin_v(struct trace *t, uint32_t flags, int v3, uint16_t minor)
{
    struct tmk_file_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN);
    h.version_major = v3 ? 3 : 1;
    h.version_minor = v3 ? minor : 1;
    t->v3 = v3;
    t->checked = tmk_trace_checksummed(h.version_major, h.version_minor);
    h.header_size = TMK_FILE_HEADER_SIZE;
    h.flags = flags;
    h.pid = 1234;
    h.ppid = 1;
    h.max_depth = 64;
    h.start_realtime_ns = 1700000000000000000ull;
    h.start_monotonic_ns = 5000000000ull;
    tmk_file_header_encode(t->buf, &h);
    tmk_header_seal(t->buf);
    t->n = TMK_FILE_HEADER_SIZE;
}

static void trace_begin(struct trace *t, uint32_t flags)
{
    trace_begin_v(t, flags, 0, 0);
}

/* Appends a block of thread `thread` with these stored bytes (a zstd frame
 * when zstd), sealed with its trailer in 3.1. */
static void trace_add_stored(struct trace *t, uint32_t thread, uint64_t seq, uint64_t time_base,
                             const uint8_t *stored, size_t n, int zstd)
{
    size_t trailer = t->checked ? TMK_BLOCK_CHECK_SIZE : 0;
    uint32_t flags = (zstd ? TMK_BLOCK_ZSTD : 0) | (trailer ? TMK_BLOCK_CHECKSUM : 0);
    struct tmk_block_header h = {TMK_BLOCK_MAGIC, (uint32_t)(n + trailer), thread, flags, seq,
                                 time_base};
    uint8_t *at = t->buf + t->n;
    if (t->n + TMK_BLOCK_HEADER_SIZE + n + trailer > sizeof t->buf) abort();
    tmk_block_header_encode(at, &h);
    memmove(at + TMK_BLOCK_HEADER_SIZE, stored, n);
    if (trailer) tmk_put_le64(at + TMK_BLOCK_HEADER_SIZE + n, tmk_block_check(at, stored, n));
    t->n += TMK_BLOCK_HEADER_SIZE + n + trailer;
}

/* One zstd frame of src into dst (level 3, zstd's checksum in 3.1). */
static size_t zstd_frame(const struct trace *t, uint8_t *dst, size_t cap, const void *src,
                         size_t n)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!cc) abort();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, t->checked);
    size_t z = ZSTD_compress2(cc, dst, cap, src, n);
    ZSTD_freeCCtx(cc);
    if (ZSTD_isError(z)) abort();
    return z;
}

/* Appends block b, as a zstd frame when `zstd` (3.x). */
static void trace_add_z(struct trace *t, const struct block *b, int zstd)
{
    static uint8_t z[sizeof b->buf + 1024];
    const uint8_t *stored = b->buf;
    size_t n = b->n;
    if (zstd) {
        n = zstd_frame(t, z, sizeof z, b->buf, b->n);
        stored = z;
    }
    trace_add_stored(t, b->thread, b->seq, b->time_base, stored, n, zstd);
}

static void trace_add(struct trace *t, const struct block *b)
{
    trace_add_z(t, b, 0);
}

static struct trace tr;
static int tr_v3(void) { return tr.v3; }

/* ---- records ------------------------------------------------------------ */

static void rec_alloc(struct block *b, uint64_t t, uint64_t ptr, uint64_t size, uint64_t stack)
{
    timed(b, TMK_REC_ALLOC, t);
    put_s(b, (int64_t)(ptr - b->last_ptr));
    b->last_ptr = ptr;
    put_u(b, size);
    put_u(b, stack);
}

static void rec_free(struct block *b, uint64_t t, uint64_t ptr)
{
    timed(b, TMK_REC_FREE, t);
    put_s(b, (int64_t)(ptr - b->last_ptr));
    b->last_ptr = ptr;
}

static void rec_stack(struct block *b, uint64_t id, const uint64_t *frames, unsigned depth)
{
    b->buf[b->n++] = TMK_REC_STACK;
    put_u(b, id);
    put_u(b, depth);
    uint64_t prev = 0;
    for (unsigned i = 0; i < depth; i++) {
        put_s(b, (int64_t)(frames[i] - prev));
        prev = frames[i];
    }
}

static void rec_module(struct block *b, uint64_t id, uint64_t bias, uint64_t start, uint64_t end,
                       const char *build_id, const char *path)
{
    b->buf[b->n++] = TMK_REC_MODULE;
    put_u(b, id);
    put_u(b, bias);
    put_u(b, start);
    put_u(b, end);
    put_str(b, build_id);
    put_str(b, path);
}

static void rec_thread(struct block *b, uint64_t t, uint64_t tid, const char *name)
{
    timed(b, TMK_REC_THREAD, t);
    put_u(b, tid);
    put_str(b, name);
}

static void rec_table_new(struct block *b, uint64_t t, uint64_t table, uint32_t kind,
                          uint32_t key, uint32_t value, uint32_t bucket, uint32_t slots,
                          uint64_t hint, uint64_t stack, const char *label)
{
    timed(b, TMK_REC_TABLE_NEW, t);
    put_u(b, table);
    put_u(b, kind);
    put_u(b, 0);
    put_u(b, key);
    put_u(b, value);
    put_u(b, bucket);
    put_u(b, slots);
    put_u(b, hint);
    put_u(b, stack);
    put_str(b, label);
}

/* TABLE_ARRAY with 3.0's by_info, info_size, info_stack when the trace is
 * 3.0 (by_info when info_size or info_stack is nonzero). */
static void rec_table_array_info(struct block *b, uint64_t t, uint64_t table, uint64_t ptr,
                                 uint64_t bytes, uint64_t buckets, uint32_t reason,
                                 uint64_t live, uint64_t stack, uint64_t info_size,
                                 uint64_t info_stack)
{
    timed(b, TMK_REC_TABLE_ARRAY, t);
    put_u(b, table);
    put_u(b, ptr);
    put_u(b, bytes);
    put_u(b, buckets);
    put_u(b, reason);
    put_u(b, live);
    put_u(b, stack);
    if (tr_v3()) {
        put_u(b, info_size || info_stack);
        put_u(b, info_size);
        put_u(b, info_stack);
    }
}

static void rec_table_array(struct block *b, uint64_t t, uint64_t table, uint64_t ptr,
                            uint64_t bytes, uint64_t buckets, uint32_t reason, uint64_t live,
                            uint64_t stack)
{
    rec_table_array_info(b, t, table, ptr, bytes, buckets, reason, live, stack, 0, 0);
}

/* 3.0: TICK, and the untimed records of the heap by info. */
static void rec_tick(struct block *b, uint64_t t)
{
    timed(b, TMK_REC_TICK, t);
}

/* ALLOC_INFO or FREE_INFO of (size, stack). */
static void rec_by_info(struct block *b, uint8_t type, uint64_t size, uint64_t stack)
{
    b->n = (size_t)(tmk_put_by_info(b->buf + b->n, type, size, stack) - b->buf);
}

static void rec_table_live(struct block *b, uint8_t type, uint64_t t, uint64_t table, uint64_t live)
{
    timed(b, type, t);
    put_u(b, table);
    put_u(b, live);
}

/* TABLE_PEAK: extended (type, len, body), untimed. */
static void rec_table_peak(struct block *b, uint64_t table, uint64_t peak)
{
    uint8_t body[2 * TMK_VARINT_MAX];
    uint8_t *e = tmk_put_u(tmk_put_u(body, table), peak);
    b->buf[b->n++] = TMK_REC_TABLE_PEAK;
    put_u(b, (uint64_t)(e - body));
    memcpy(b->buf + b->n, body, (size_t)(e - body));
    b->n += (size_t)(e - body);
}

static void rec_memory(struct block *b, uint64_t t, uint64_t rss, uint64_t heap)
{
    timed(b, TMK_REC_MEMORY, t);
    put_u(b, rss);
    put_u(b, heap);
}

static void rec_end(struct block *b, uint64_t t, uint32_t why, uint32_t status)
{
    timed(b, TMK_REC_END, t);
    put_u(b, why);
    put_u(b, status);
}

/* ---- the seeds ---------------------------------------------------------- */

static struct block bl, bl2;

static const uint64_t frames_a[] = {0x401234, 0x401500, 0x7f0000001000};
static const uint64_t frames_b[] = {0x401300, 0x401500};

static void common_prologue(struct block *b)
{
    rec_thread(b, 10, 4321, "main");
    rec_module(b, 1, 0, 0x400000, 0x500000, "\x12\x34\x56\x78", "/usr/bin/seedprog");
    rec_module(b, 2, 0x7f0000000000, 0x7f0000000000, 0x7f0000100000, "", "");
    rec_stack(b, 1, frames_a, 3);
    rec_stack(b, 2, frames_b, 2);
}

static void seed_end_only(void)
{
    trace_begin(&tr, 0);
    block_begin(&bl, 1, 0, 0);
    rec_thread(&bl, 1, 99, "t");
    rec_end(&bl, 2, TMK_END_EXIT, 0);
    trace_add(&tr, &bl);
}

static void seed_heap(void)
{
    trace_begin(&tr, TMK_FILE_FRAME_POINTER);
    block_begin(&bl, 1, 0, 0);
    common_prologue(&bl);
    for (uint64_t i = 0; i < 6; i++) rec_alloc(&bl, 100 + i, 0x10000 + 64 * i, 48 + i, 1 + i % 2);
    rec_memory(&bl, 120, 1 << 20, 300);
    for (uint64_t i = 0; i < 4; i++) rec_free(&bl, 200 + i, 0x10000 + 64 * i);
    rec_alloc(&bl, 300, 0x20000, 4096, 0);
    timed(&bl, TMK_REC_LOST, 310);
    put_u(&bl, 3);
    bl.buf[bl.n++] = TMK_REC_MODULE_GONE;
    put_u(&bl, 2);
    rec_end(&bl, 400, TMK_END_SIGNAL, 9);
    trace_add(&tr, &bl);
}

/* A gomap of 8 -> 128 byte entries grows from 1 to 4 buckets, then empties. */
static void gomap_story(struct block *b, uint64_t t0)
{
    uint64_t t = t0, ptr = 0x30000, bytes = 1104, buckets = 1;
    rec_table_new(b, t++, 1, TMK_KIND_GOMAP, 8, 128, 1104, 8, 0, 1, "seed <map>");
    rec_alloc(b, t, ptr, bytes, 1);
    rec_table_array(b, t++, 1, ptr, bytes, buckets, TMK_ARRAY_INITIAL, 0, 1);
    for (int g = 0; g < 2; g++) {
        rec_table_live(b, TMK_REC_TABLE_COUNT, t++, 1, 8 * buckets);
        uint64_t nptr = ptr + 0x10000;
        rec_alloc(b, t, nptr, bytes * 2, 1);
        rec_table_array(b, t++, 1, nptr, bytes * 2, buckets * 2, TMK_ARRAY_GROW,
                        8 * buckets + 1, 1);
        rec_free(b, t++, ptr);
        ptr = nptr;
        bytes *= 2;
        buckets *= 2;
    }
    rec_table_live(b, TMK_REC_TABLE_COUNT, t++, 1, 26);
    rec_table_peak(b, 1, 40); /* the high-water count, above every sample */
    rec_alloc(b, t, 0x90000, 1104, 2);
    rec_table_array(b, t++, 1, 0x90000, 1104, 1, TMK_ARRAY_OVERFLOW, 26, 2);
    rec_table_live(b, TMK_REC_TABLE_COUNT, t++, 1, 3);
    rec_table_live(b, TMK_REC_TABLE_COUNT, t++, 1, 0);
}

static void seed_gomap(int with_end)
{
    trace_begin(&tr, 0);
    block_begin(&bl, 1, 0, 50);
    common_prologue(&bl);
    gomap_story(&bl, 100);
    if (with_end) {
        rec_table_live(&bl, TMK_REC_TABLE_END, 500, 1, 0);
        rec_free(&bl, 501, 0x50000);
        rec_end(&bl, 600, TMK_END_EXIT, 0);
    }
    trace_add(&tr, &bl);
}

static void seed_two_threads(void)
{
    trace_begin(&tr, 0);
    block_begin(&bl, 1, 0, 0);
    common_prologue(&bl);
    rec_alloc(&bl, 100, 0x1000, 10, 1);
    rec_alloc(&bl, 300, 0x2000, 20, 2);
    trace_add(&tr, &bl);
    block_begin(&bl2, 2, 0, 150);
    rec_thread(&bl2, 150, 4322, "worker");
    rec_free(&bl2, 200, 0x1000); /* frees thread 1's allocation */
    rec_alloc(&bl2, 250, 0x3000, 30, 2);
    trace_add(&tr, &bl2);
    block_begin(&bl, 1, 1, 400);
    rec_free(&bl, 400, 0x3000);
    rec_end(&bl, 500, TMK_END_EXIT, 3);
    trace_add(&tr, &bl);
}

static void seed_uthash_tables_mode(void)
{
    trace_begin(&tr, TMK_FILE_MODE_TABLES);
    block_begin(&bl, 1, 0, 0);
    common_prologue(&bl);
    rec_table_new(&bl, 10, 7, TMK_KIND_UTHASH, 16, 64, 16, 0, 0, 2, "users");
    rec_table_array(&bl, 11, 7, 0x5000, 32 * 16, 32, TMK_ARRAY_INITIAL, 0, 2);
    rec_table_live(&bl, TMK_REC_TABLE_COUNT, 20, 7, 400);
    rec_table_array(&bl, 21, 7, 0x6000, 64 * 16, 64, TMK_ARRAY_GROW, 401, 2);
    rec_table_live(&bl, TMK_REC_TABLE_COUNT, 30, 7, 2);
    rec_table_new(&bl, 40, 8, 99, 4, 4, 8, 1, 1000, 0, "");
    rec_table_array(&bl, 41, 8, 0x7000, 8000, 1000, TMK_ARRAY_INITIAL, 0, 0);
    bl.buf[bl.n++] = 0x81; /* an extended record from a newer minor version */
    put_u(&bl, 3);
    for (uint8_t i = 1; i <= 3; i++) bl.buf[bl.n++] = i;
    rec_end(&bl, 50, TMK_END_EXEC, 0);
    trace_add(&tr, &bl);
}

/* 3.minor full mode: thread 1 (zstd) allocates by info, one block becomes a
 * gomap's array (TABLE_ARRAY by info, FREE by address); thread 2 frees one
 * of thread 1's blocks at the same TICK, before its ALLOC_INFO is read. */
static void seed_info(int zstd, uint16_t minor)
{
    trace_begin_v(&tr, 0, 1, minor);
    block_begin(&bl2, 2, 0, 0);
    rec_thread(&bl2, 5, 4322, "worker");
    rec_tick(&bl2, 2 * TMK_TICK_NS);
    rec_by_info(&bl2, TMK_REC_FREE_INFO, 48, 2);
    trace_add(&tr, &bl2);
    block_begin(&bl, 1, 0, 0);
    common_prologue(&bl);
    rec_tick(&bl, TMK_TICK_NS);
    rec_table_new(&bl, TMK_TICK_NS + 10, 1, TMK_KIND_GOMAP, 8, 128, 1104, 8, 0, 1, "info map");
    rec_by_info(&bl, TMK_REC_ALLOC_INFO, 1104, 1);
    rec_table_array_info(&bl, TMK_TICK_NS + 20, 1, 0x30000, 1104, 1, TMK_ARRAY_INITIAL, 0, 1,
                         1104, 1);
    rec_by_info(&bl, TMK_REC_ALLOC_INFO, 48, 2);
    rec_by_info(&bl, TMK_REC_FREE_INFO, 48, 2);
    rec_tick(&bl, 2 * TMK_TICK_NS);
    rec_memory(&bl, 2 * TMK_TICK_NS + 30, 1 << 20, 0);
    rec_by_info(&bl, TMK_REC_ALLOC_INFO, 48, 2); /* the one thread 2 freed */
    rec_by_info(&bl, TMK_REC_ALLOC_INFO, 48, 2);
    rec_table_live(&bl, TMK_REC_TABLE_COUNT, 2 * TMK_TICK_NS + 40, 1, 0);
    rec_free(&bl, 2 * TMK_TICK_NS + 50, 0x30000);
    rec_end(&bl, 3 * TMK_TICK_NS, TMK_END_EXIT, 0);
    trace_add_z(&tr, &bl, zstd);
}

/* 3.1: `threads` threads of one zstd block each, a level-1 frame of 64 MiB
 * of zeros (2 KB), checksums good: it claims 64 MiB a thread. */
static void seed_bomb(uint32_t threads)
{
    static uint8_t frame[8192];
    size_t len = TMK_BLOCK_MAX_PAYLOAD;
    uint8_t *zeros = calloc(1, len);
    if (!zeros) abort();
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1); /* a 512 KiB window: streamed */
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(cc, frame, sizeof frame, zeros, len);
    ZSTD_freeCCtx(cc);
    free(zeros);
    if (ZSTD_isError(n)) abort();
    trace_begin_v(&tr, 0, 1, 1);
    for (uint32_t th = 1; th <= threads; th++) trace_add_stored(&tr, th, 0, 0, frame, n, 1);
}

static int write_seed(const char *dir, const char *name, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.tmk", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(tr.buf, 1, len, f) != len || fclose(f)) {
        fprintf(stderr, "seedgen: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: seedgen DIR\n", stderr);
        return 2;
    }
    mkdir(argv[1], 0755);
    int bad = 0;
    seed_end_only();
    bad |= write_seed(argv[1], "end_only", tr.n);
    seed_heap();
    bad |= write_seed(argv[1], "heap", tr.n);
    seed_gomap(1);
    bad |= write_seed(argv[1], "gomap", tr.n);
    seed_gomap(0);
    bad |= write_seed(argv[1], "gomap_no_end", tr.n);
    bad |= write_seed(argv[1], "gomap_cut", tr.n - 7);
    seed_two_threads();
    bad |= write_seed(argv[1], "two_threads", tr.n);
    seed_uthash_tables_mode();
    bad |= write_seed(argv[1], "uthash_tables_mode", tr.n);
    seed_info(1, 1);
    bad |= write_seed(argv[1], "info_zstd", tr.n);
    seed_info(0, 1);
    bad |= write_seed(argv[1], "info_plain", tr.n);
    /* a byte of the last block's records flipped: the block is damaged */
    tr.buf[tr.n - TMK_BLOCK_CHECK_SIZE - 5] ^= 0x10;
    bad |= write_seed(argv[1], "info_plain_flipped", tr.n);
    seed_info(1, 0);
    bad |= write_seed(argv[1], "info_zstd_30", tr.n);
    seed_info(0, 0);
    bad |= write_seed(argv[1], "info_plain_30", tr.n);
    seed_bomb(8);
    bad |= write_seed(argv[1], "bomb", tr.n);
    return bad ? 1 : 0;
}
