/* tests/analyzer/test_info.c - 3.0 traces (tracegen): heap by info handed
 * on as read and counted per info, with the same figures as the same story
 * in 1.1; frees read before their allocation and held table arrays; infos
 * at the edges of 32 bits; zstd blocks, good and bad; corrupt records, the
 * dropped 2.x format; cuts at every byte. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "analyze_check.h"
#include "check.h"
#include "model/model.h"
#include "read/reader.h"
#include "tidemark/annotate.h"
#include "scenarios.h"

struct heap_want {
    uint64_t allocs, frees, in_use, peak;
};

/* Analyzes g into *m (the caller frees it when this returns 1) and checks
 * the heap's totals and a clean reading: no warning, no contradiction. */
static int analyze_clean(struct tg *g, const char *what, struct heap_want w, struct tm_model *m)
{
    if (analyze(g, m) != TM_EXIT_OK) return 0;
    const struct tm_heap *h = &m->heap;
    CHECK(h->allocs == w.allocs && h->frees == w.frees && h->in_use == w.in_use &&
              h->peak_bytes == w.peak,
          "%s: allocs %llu frees %llu in use %llu peak %llu", what,
          (unsigned long long)h->allocs, (unsigned long long)h->frees,
          (unsigned long long)h->in_use, (unsigned long long)h->peak_bytes);
    CHECK(m->info.n_warnings == 0 && !m->info.truncated && m->info.contradictions == 0, "%s: %s",
          what, first_warning(m));
    return 1;
}

/* The figures both versions of the info scenario must give. */
static void check_info_figures(struct tg *g, const char *what)
{
    struct tm_model m;
    if (!analyze_clean(g, what, (struct heap_want){4, 3, 4096, 8192}, &m)) return;
    const struct tm_heap *h = &m.heap;
    CHECK(h->live_allocs == 1 && h->peak_t == 65600 && h->alloc_bytes == 4 * 4096,
          "%s: live %llu, peak at %llu, bytes %llu", what, (unsigned long long)h->live_allocs,
          (unsigned long long)h->peak_t, (unsigned long long)h->alloc_bytes);
    CHECK(m.n_tables == 1, "%s: %zu tables", what, m.n_tables);
    if (m.n_tables == 1) {
        const struct tm_table *t = &m.tables[0];
        CHECK(t->held_peak == 4096 && t->held == 0 && t->arrays_live == 0,
              "%s: table held peak %llu, held %llu, arrays %llu", what,
              (unsigned long long)t->held_peak, (unsigned long long)t->held,
              (unsigned long long)t->arrays_live);
        CHECK(t->held_peak_t == 65610, "%s: table held from %llu", what,
              (unsigned long long)t->held_peak_t);
    }
    CHECK(h->n_top_end == 1 && h->top_end[0].bytes == 4096 && h->top_end[0].allocs == 4,
          "%s: site at the end", what);
    tm_model_free(&m);
}

/* What the callback gets from the 3.0 scenario, as letters: A(lloc),
 * F(ree), a (ALLOC_INFO), f (FREE_INFO), T(able array), . for the rest. */
struct seen {
    char seq[64];
    size_t n;
    uint64_t last_t;
    int back;
};

static int see(void *ctx, const struct tm_record *r)
{
    struct seen *s = ctx;
    s->back |= r->t < s->last_t;
    s->last_t = r->t;
    char ch = r->type == TMK_REC_ALLOC ? 'A' : r->type == TMK_REC_FREE ? 'F'
            : r->type == TMK_REC_ALLOC_INFO ? 'a' : r->type == TMK_REC_FREE_INFO ? 'f'
            : r->type == TMK_REC_TABLE_ARRAY ? 'T' : '.';
    if (ch != '.' && s->n + 1 < sizeof s->seq) s->seq[s->n++] = ch;
    return 0;
}

static void test_info_scenario(void)
{
    struct tg *g = tg_scenario_info();
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    char err[256];
    struct tm_reader *r = tm_reader_open_mem(b, n, err, sizeof err);
    CHECK(r != NULL, "%s", err);
    if (r) {
        struct seen s = {0};
        CHECK(tm_reader_run(r, see, &s, err, sizeof err) == 0, "%s", err);
        /* as the file has them: b1, the array's block and the array naming
         * its info, b1's free and b3's early free (thread 2), b3, b4, the
         * array freed by address */
        CHECK(strcmp(s.seq, "aaTffaaF") == 0, "records %s", s.seq);
        CHECK(!s.back, "time order");
        CHECK(!tm_reader_truncated(r), "truncated");
        tm_reader_close(r);
    }
    struct tm_model m;
    if (analyze(g, &m) == TM_EXIT_OK) {
        /* `records` as before issue 15: the array that moves a block by
         * info counts twice (the reader added a record for it) */
        CHECK(m.info.records == 20, "records %llu", (unsigned long long)m.info.records);
        tm_model_free(&m);
    }
    check_info_figures(g, "3.0");
    tg_destroy(g);
    g = tg_scenario_info_v1();
    check_info_figures(g, "1.1");
    tg_destroy(g);
}

/* A 3.0 trace whose thread th starts with a TICK to 65536. */
static struct tg *start_v3(uint32_t th)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, 0);
    tg_tick(g, th, 1 << 16);
    return g;
}

/* Equal times: thread 1's FREE_INFO comes before thread 2's (lower thread)
 * and ends thread 2's block; thread 2's own FREE_INFO then finds no live
 * block: a debt, paid by the ALLOC_INFO right after it. */
static void test_equal_time_debt(void)
{
    struct tg *g = start_v3(2);
    tg_alloc_info(g, 2, 100, 0);
    tg_tick(g, 2, 2 << 16);
    tg_free_info(g, 2, 100, 0);
    tg_alloc_info(g, 2, 100, 0);
    tg_end(g, 2, 3 << 16, TMK_END_EXIT, 0);
    tg_tick(g, 1, 2 << 16);
    tg_free_info(g, 1, 100, 0);
    struct tm_model m;
    if (analyze_clean(g, "equal times", (struct heap_want){2, 2, 0, 100}, &m)) tm_model_free(&m);
    tg_destroy(g);
}

/* A TABLE_ARRAY read before the ALLOC_INFO it names (equal times, lower
 * thread): held, then the block is allocated by its real address and the
 * array applied. A FREE_INFO of an info no block has yet (a new pool) is
 * paid by the later allocation. */
static void test_held_array(void)
{
    struct tg *g = start_v3(2);
    tg_memory(g, 2, 70000, 1 << 20, 0);
    tg_alloc_info(g, 2, 2048, 0);
    tg_free(g, 2, 80000, 0x7f0000020000ull);
    tg_alloc_info(g, 2, 64, 0);
    tg_end(g, 2, 90000, TMK_END_EXIT, 0);
    tg_table_new(g, 1, 70000, 1, TMK_KIND_GENERIC, 0, 8, 8, 64, 0, 0, 0, "held");
    tg_table_array_info(g, 1, 70000, 1, 0x7f0000020000ull, 2048, 32, TMK_ARRAY_INITIAL, 0, 0,
                        2048, 0);
    tg_free_info(g, 1, 64, 0); /* at 70000: before any block of (64, 0) */
    struct tm_model m;
    if (analyze_clean(g, "held array", (struct heap_want){2, 2, 0, 2048}, &m)) {
        CHECK(m.n_tables == 1 && m.tables[0].held_peak == 2048 && m.tables[0].held == 0,
              "held array");
        tm_model_free(&m);
    }
    tg_destroy(g);
}

/* tm_analyze_mem of g at `at` (TM_NO_TIME: to the end), without symbols. */
static int analyze_at(struct tg *g, uint64_t at, struct tm_model *m)
{
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    o.at = at;
    char err[256];
    int rc = tm_analyze_mem(b, n, "mem", &o, m, err, sizeof err);
    CHECK(rc == TM_EXIT_OK, "%s", err);
    return rc == TM_EXIT_OK;
}

/* Records after --at move the counts per info, not the figures: an array
 * whose block was allocated after `at` still finds it (no warning), and a
 * free after `at` is not counted. Every record is read either way. */
static void test_after_at(void)
{
    struct tg *g = start_v3(1);
    tg_alloc_info(g, 1, 64, 0); /* at 65536: before `at` */
    tg_tick(g, 1, 2 << 16);
    tg_alloc_info(g, 1, 2048, 0); /* at 131072: after */
    tg_table_new(g, 1, 131100, 1, TMK_KIND_GENERIC, 0, 8, 8, 64, 0, 0, 0, "late");
    tg_table_array_info(g, 1, 131110, 1, 0x7f0000020000ull, 2048, 32, TMK_ARRAY_INITIAL, 0, 0,
                        2048, 0);
    tg_free_info(g, 1, 64, 0);
    tg_free(g, 1, 140000, 0x7f0000020000ull);
    tg_end(g, 1, 150000, TMK_END_EXIT, 0);
    struct tm_model at, end;
    if (analyze_at(g, 100000, &at)) {
        const struct tm_heap *h = &at.heap;
        CHECK(h->allocs == 1 && h->frees == 0 && h->in_use == 64 && h->live_allocs == 1,
              "at 100000: allocs %llu frees %llu in use %llu live %llu",
              (unsigned long long)h->allocs, (unsigned long long)h->frees,
              (unsigned long long)h->in_use, (unsigned long long)h->live_allocs);
        CHECK(at.info.n_warnings == 0 && !at.info.truncated, "at 100000: %s",
              first_warning(&at));
        if (analyze_at(g, TM_NO_TIME, &end)) {
            CHECK(end.heap.allocs == 2 && end.heap.frees == 2 && end.heap.live_allocs == 0 &&
                      end.info.n_warnings == 0,
                  "to the end: allocs %llu frees %llu, %s", (unsigned long long)end.heap.allocs,
                  (unsigned long long)end.heap.frees, first_warning(&end));
            CHECK(at.info.records == end.info.records, "records %llu at, %llu to the end",
                  (unsigned long long)at.info.records, (unsigned long long)end.info.records);
            tm_model_free(&end);
        }
        tm_model_free(&at);
    }
    tg_destroy(g);
}

/* Infos at the edges: the largest size and stack a record may carry, sizes
 * that differ only in the bits the type byte holds or only above them, one
 * stack with two sizes. Each is its own pool; blocks of one info are
 * interchangeable, whichever thread frees them. */
static void test_info_edges(void)
{
    struct tg *g = start_v3(1);
    static const struct { uint64_t size, stack; } in[] = {
        {10, 3}, {UINT32_MAX, UINT32_MAX}, {31, 100000}, {32, 100000}, {42, 3},
    };
    enum { N = sizeof in / sizeof in[0] };
    uint64_t total = 0;
    for (size_t i = 0; i < N; i++) {
        tg_alloc_info(g, 1, in[i].size, in[i].stack);
        tg_alloc_info(g, 1, in[i].size, in[i].stack);
        total += 2 * in[i].size;
    }
    tg_tick(g, 2, 2 << 16);
    for (size_t i = 0; i < N; i++) tg_free_info(g, 2, in[i].size, in[i].stack);
    tg_free_info(g, 2, UINT32_MAX, UINT32_MAX);
    tg_end(g, 1, 2 << 16, TMK_END_EXIT, 0);
    struct tm_model m;
    /* in use: one of each but the largest; the peak: everything, before the frees */
    if (analyze_clean(g, "edges", (struct heap_want){2 * N, N + 1, 10 + 31 + 32 + 42, total},
                      &m))
        tm_model_free(&m);
    tg_destroy(g);
}

/* A small 3.0 trace, the first block of thread 1 open for more: 10 bytes. */
static struct tg *small_v3(void)
{
    struct tg *g = start_v3(1);
    tg_alloc_info(g, 1, 10, 0);
    return g;
}

/* Analyzes g with bytes appended to thread 1's block: a corrupt record. */
static void check_corrupt(const uint8_t *b, size_t n, const char *what, const char *why)
{
    struct tg *g = small_v3();
    tg_raw(g, 1, b, n);
    tg_end(g, 1, 2 << 16, TMK_END_EXIT, 0);
    struct tm_model m;
    if (analyze(g, &m) == TM_EXIT_OK) {
        CHECK(warned(&m, why), "%s: %s", what, first_warning(&m));
        CHECK(m.heap.allocs == 1, "%s: the good record before it", what);
        tm_model_free(&m);
    }
    tg_destroy(g);
}

static void test_bad_info_records(void)
{
    struct tg *g = small_v3();
    tg_free_info(g, 1, 7, 0);  /* no block of (7, 0) ever */
    tg_alloc_info(g, 1, 10, 0);
    tg_end(g, 1, 2 << 16, TMK_END_EXIT, 0);
    struct tm_model m;
    if (analyze(g, &m) == TM_EXIT_OK) {
        CHECK(warned(&m, "1 frees by info found no block of their info to end (first: size 7 "
                         "stack 0)"), "%s", first_warning(&m));
        CHECK(m.info.truncated, "a trace that names what is not there is damaged");
        CHECK(m.heap.allocs == 2 && m.heap.in_use == 20, "allocs %llu in use %llu",
              (unsigned long long)m.heap.allocs, (unsigned long long)m.heap.in_use);
        CHECK(warned(&m, "1 frees of pointers the trace never allocated"), "unknown free");
        tm_model_free(&m);
    }
    tg_destroy(g);

    g = small_v3(); /* a table array whose allocation never comes */
    tg_table_array_info(g, 1, 70000, 1, 0x9000, 64, 1, TMK_ARRAY_INITIAL, 0, 0, 64, 3);
    tg_end(g, 1, 2 << 16, TMK_END_EXIT, 0);
    if (analyze(g, &m) == TM_EXIT_OK) {
        CHECK(warned(&m, "1 table arrays named an info that allocated no block for them "
                         "(first: size 64 stack 3)"), "%s", first_warning(&m));
        tm_model_free(&m);
    }
    tg_destroy(g);

    /* sizes or stacks past 32 bits, by_info neither 0 nor 1, an info with
     * by_info 0, unassigned types below 0x80: corrupt */
    static const struct { uint8_t b[16]; size_t n; const char *what; } bad[] = {
        {{TMK_REC_ALLOC_INFO, 0, 0x80, 0x80, 0x80, 0x40}, 6, "size 2^32"},
        {{TMK_REC_FREE_INFO, 0x80, 0x80, 0x80, 0x80, 0x10, 0}, 7, "stack 2^32"},
        {{TMK_REC_TABLE_ARRAY, 0, 1, 0x10, 8, 1, 0, 0, 0, 2, 0, 0}, 12, "by_info 2"},
        {{TMK_REC_TABLE_ARRAY, 0, 1, 0x10, 8, 1, 0, 0, 0, 0, 8, 0}, 12, "by_info 0, size 8"},
        {{TMK_REC_TABLE_ARRAY, 0, 1, 0x10, 8, 1, 0, 0, 0, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10},
         16, "array info stack 2^32"},
        {{0x07, 1, 10, 0}, 4, "type 0x07"},
        {{0x0a, 1, 1}, 3, "type 0x0a"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_corrupt(bad[i].b, bad[i].n, bad[i].what, "corrupt or cut record");

    /* 3.0's record types in a 1.1 trace are unknown types */
    g = tg_new(0);
    uint8_t rec[] = {TMK_REC_ALLOC_INFO | 10, 0, 0};
    tg_raw(g, 1, rec, sizeof rec);
    tg_end(g, 1, 10, TMK_END_EXIT, 0);
    if (analyze(g, &m) == TM_EXIT_OK) {
        CHECK(warned(&m, "corrupt or cut record at payload byte 0 (type 0x4a)"), "%s",
              first_warning(&m));
        tm_model_free(&m);
    }
    tg_destroy(g);
}

/* Major 2 (TMK_TRACE_VERSION_MAJOR_DROPPED) is refused with one line that
 * says what it is; 4.0 is newer. */
static void test_versions(void)
{
    static const struct { uint16_t major; const char *why; } v[] = {
        {2, "trace version 2.0 is a development format that this tidemark (3.1) does not read"},
        {4, "trace version 4.0 is newer than this tidemark (3.1)"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct tg *g = tg_new(0);
        tg_set_version(g, v[i].major, 0);
        tg_end(g, 1, 10, TMK_END_EXIT, 0);
        size_t n;
        const uint8_t *b = tg_bytes(g, &n);
        char err[256] = "";
        struct tm_model m;
        CHECK(analyze_bytes(b, n, &m, err, sizeof err) == TM_EXIT_CANNOT && strstr(err, v[i].why),
              "major %u: %s", v[i].major, err);
        tg_destroy(g);
    }
}

/* Payload bytes of one zstd frame of `src`; content size written or not. */
static uint8_t *frame(const void *src, size_t n, int content_size, size_t *zn)
{
    return tg_zstd_frame(src, n, 3, content_size ? 0 : TG_ZSTD_NO_SIZE, zn);
}

/* A 3.0 trace: thread 1's good block (10 bytes live), then a block of
 * thread 1 given as `payload` with `flags`, then one more good one. */
static void check_bad_block(uint32_t flags, const void *payload, size_t n, const char *why)
{
    struct tg *g = small_v3();
    tg_flush(g, 1);
    tg_block(g, 1, flags, payload, n);
    tg_alloc_info(g, 1, 10, 0);
    tg_end(g, 1, 2 << 16, TMK_END_EXIT, 0);
    struct tm_model m;
    if (analyze(g, &m) == TM_EXIT_OK) {
        CHECK(warned(&m, why), "%s: %s", why, first_warning(&m));
        CHECK(m.info.truncated && m.info.ended, "%s: truncated, read to the END", why);
        CHECK(m.heap.allocs == 2, "%s: the good blocks' allocations (%llu)", why,
              (unsigned long long)m.heap.allocs);
        tm_model_free(&m);
    }
    tg_destroy(g);
}

static void test_zstd_blocks(void)
{
    uint8_t rec[] = {TMK_REC_ALLOC_INFO | 10, 0, 0}; /* (10, 0) */
    size_t zn;
    uint8_t *z = frame(rec, sizeof rec, 1, &zn);
    uint8_t *bad = malloc(zn);
    memcpy(bad, z, zn);
    bad[5]++; /* the frame's content size (one byte for so small a frame) */
    CHECK(ZSTD_getFrameContentSize(bad, zn) == sizeof rec + 1, "content size byte");
    check_bad_block(TMK_BLOCK_ZSTD, bad, zn, "zstd frame that does not decompress");
    memcpy(bad, z, zn);
    check_bad_block(TMK_BLOCK_ZSTD, bad, zn - 1, "not one whole zstd frame");
    check_bad_block(TMK_BLOCK_ZSTD, "\x01\x02\x03\x04\x05\x06", 6, "not a zstd frame");
    uint8_t *two = malloc(2 * zn);
    memcpy(two, z, zn);
    memcpy(two + zn, z, zn);
    check_bad_block(TMK_BLOCK_ZSTD, two, 2 * zn, "not one whole zstd frame");
    check_bad_block(TMK_BLOCK_ZSTD | 0x8, z, zn, "unknown block flags 0x9");
    free(two);
    free(bad);
    free(z);
    z = frame(rec, sizeof rec, 0, &zn);
    check_bad_block(TMK_BLOCK_ZSTD, z, zn, "zstd frame without its content size");
    free(z);
    size_t big = TMK_BLOCK_MAX_PAYLOAD + 1;
    uint8_t *zeros = calloc(1, big);
    z = frame(zeros, big, 1, &zn);
    free(zeros);
    check_bad_block(TMK_BLOCK_ZSTD, z, zn, "zstd frame of more than 64 MiB");
    free(z);

    /* a good frame of records reads like the same records stored plainly */
    z = frame(rec, sizeof rec, 1, &zn);
    struct tg *g = small_v3();
    tg_flush(g, 1);
    tg_block(g, 1, TMK_BLOCK_ZSTD, z, zn);
    tg_end(g, 1, 2 << 16, TMK_END_EXIT, 0);
    struct tm_model m;
    if (analyze(g, &m) == TM_EXIT_OK) {
        CHECK(m.heap.allocs == 2 && m.info.n_warnings == 0, "good frame: %llu allocs, %s",
              (unsigned long long)m.heap.allocs, first_warning(&m));
        tm_model_free(&m);
    }
    tg_destroy(g);
    free(z);

    /* 1.x: the flags were reserved, so a 1.1 reader never looked at them */
    g = tg_new(0);
    tg_alloc(g, 1, 10, 0x1000, 16, 0);
    tg_flush(g, 1);
    size_t n;
    uint8_t *file = (uint8_t *)tg_bytes(g, &n);
    file[TMK_FILE_HEADER_SIZE + 12] = TMK_BLOCK_ZSTD;
    char err[256];
    CHECK(analyze_bytes(file, n, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.heap.allocs == 1, "1.1 block with a flag set: %llu allocs",
          (unsigned long long)m.heap.allocs);
    tm_model_free(&m);
    tg_destroy(g);
}

/* The 3.0 scenario (zstd block included) cut at every byte: never a crash,
 * never a hang; cut traces are refused (header) or flagged truncated. */
static void test_cuts(void)
{
    struct tg *g = tg_scenario_info();
    size_t n;
    const uint8_t *full = tg_bytes(g, &n);
    char err[256];
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, full, cut);
        struct tm_model m;
        int rc = analyze_bytes(b, cut, &m, err, sizeof err);
        if (cut < TMK_FILE_HEADER_SIZE) {
            CHECK(rc == TM_EXIT_CANNOT, "cut %zu accepted", cut);
        } else {
            CHECK(rc == TM_EXIT_OK && m.info.truncated, "cut %zu: rc %d", cut, rc);
            if (rc == TM_EXIT_OK) tm_model_free(&m);
        }
        free(b);
    }
    tg_destroy(g);
}

int main(void)
{
    test_info_scenario();
    test_equal_time_debt();
    test_held_array();
    test_after_at();
    test_info_edges();
    test_bad_info_records();
    test_versions();
    test_zstd_blocks();
    test_cuts();
    return check_status();
}
