/* tests/analyzer/test_model.c - the reader and the retention model on
 * synthetic traces (tracegen): the seed figures from Go's rules, the merge
 * order across threads, truncation at every byte, bad input, contradictions,
 * and the uthash model's error against real uthash tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "check.h"
#include "model/model.h"
#include "read/reader.h"
#include "sizing_model_api.h"
#include "tidemark/annotate.h"
#include "scenarios.h"

static int analyze(struct tg *g, struct tm_model *m, char *err, size_t errlen)
{
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    return tm_analyze_mem(b, n, "mem", &o, m, err, errlen);
}

static const struct tm_recommendation *rec(const struct tm_table *t, enum tm_rec_kind k)
{
    for (size_t i = 0; i < t->n_recs; i++)
        if (t->recs[i].kind == k) return &t->recs[i];
    return NULL;
}

/* Go 1.19: 1e6 entries need B = 18 (6.5 * 2^17 < 1e6 <= 6.5 * 2^18); the
 * array has 2^18 + 2^(18-4) buckets of 8 + 8*8 + 8*128 + 8 = 1104 bytes:
 * 278,528 * 1104 = 307,494,912 (a multiple of 8 KiB: no page slack). With
 * [129]byte values the value slot is a pointer: 144-byte buckets,
 * 278,528 * 144 = 40,108,032. While the last growth evacuates, the B = 17
 * array (2^17 + 2^13 = 139,264 buckets, 153,747,456 bytes) is held too:
 * 461,242,368. */
static void test_seed(void)
{
    struct tm_model m;
    char err[256];
    struct tg *g = tg_scenario_seed(128, 0, 0);
    CHECK(analyze(g, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.n_tables == 1, "%zu tables", m.n_tables);
    const struct tm_table *t = &m.tables[0];
    CHECK(t->retained == 307494912ull, "retained %llu", (unsigned long long)t->retained);
    CHECK(t->held == 307494912ull, "held %llu", (unsigned long long)t->held);
    CHECK(t->needed == 0, "needed %llu", (unsigned long long)t->needed);
    CHECK(t->held_peak == 461242368ull, "peak %llu", (unsigned long long)t->held_peak);
    CHECK(t->live_peak == 1000000, "live peak %llu", (unsigned long long)t->live_peak);
    CHECK(t->growths == 18, "growths %llu", (unsigned long long)t->growths);
    CHECK(t->buckets_now == 262144, "buckets %llu", (unsigned long long)t->buckets_now);
    CHECK(t->verdict == TM_VERDICT_OVERSIZED, "verdict %d", t->verdict);
    CHECK(t->oversized_since != TM_NO_TIME, "oversized_since");
    const struct tm_recommendation *r = rec(t, TM_REC_SHRINK);
    CHECK(r && r->bytes_saved == 307494912ull, "shrink");
    r = rec(t, TM_REC_CLONE);
    CHECK(r && r->bytes_saved == 307494912ull, "clone");
    r = rec(t, TM_REC_POINTER_VALUES);
    CHECK(r && r->bytes_saved == 307494912ull - 40108032ull, "pointer values %llu",
          r ? (unsigned long long)r->bytes_saved : 0ull);
    CHECK(t->n_recs && t->recs[t->n_recs - 1].bytes_saved <= t->recs[0].bytes_saved, "order");
    CHECK(!rec(t, TM_REC_SMALLER_HINT), "no hint was given");
    CHECK(!m.info.truncated && m.info.ended, "clean trace");
    CHECK(m.heap.tracked && m.heap.in_use == 307494912ull + 1000, "heap in use %llu",
          (unsigned long long)m.heap.in_use);
    CHECK(m.heap.peak_bytes == 461242368ull + 4096 + 1000, "heap peak %llu",
          (unsigned long long)m.heap.peak_bytes);
    CHECK(m.heap.n_top_peak >= 1 && m.heap.top_peak[0].bytes == 461242368ull, "top site");
    CHECK(t->n_points > 2 && t->n_points <= TM_TIMELINE_MAX, "timeline %zu", t->n_points);
    int peak_seen = 0;
    for (size_t i = 0; i < t->n_points; i++) peak_seen |= t->timeline[i].held == 461242368ull;
    CHECK(peak_seen, "timeline keeps the peak");
    tm_model_free(&m);
    tg_destroy(g);

    g = tg_scenario_seed(128, 1000000, 0); /* presized: same array, no growth */
    CHECK(analyze(g, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.n_tables == 1 && m.tables[0].retained == 307494912ull && m.tables[0].growths == 0,
          "presized");
    tm_model_free(&m);
    tg_destroy(g);

    g = tg_scenario_seed(129, 0, 0); /* [129]byte: indirect values */
    CHECK(analyze(g, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.n_tables == 1 && m.tables[0].retained == 40108032ull, "indirect %llu",
          (unsigned long long)m.tables[0].retained);
    CHECK(!rec(&m.tables[0], TM_REC_POINTER_VALUES), "values are already pointers");
    CHECK(m.heap.allocs == 19 + 1000000 + 2, "allocs %llu", (unsigned long long)m.heap.allocs);
    tm_model_free(&m);
    tg_destroy(g);
}

/* --at: at 50 ms the seed is mid-insert and holds what it needs. */
static void test_at(void)
{
    struct tg *g = tg_scenario_seed(128, 0, 0);
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    o.at = 50000000; /* 50 ms: ~500,000 inserts done */
    struct tm_model m;
    char err[256];
    CHECK(tm_analyze_mem(b, n, "mem", &o, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.info.at == 50000000, "at");
    CHECK(m.n_tables == 1 && m.tables[0].verdict == TM_VERDICT_OK, "ok mid-insert");
    CHECK(m.n_tables == 1 && m.tables[0].live_now > 400000 && m.tables[0].live_now <= 500000,
          "live %llu", (unsigned long long)m.tables[0].live_now);
    tm_model_free(&m);
    tg_destroy(g);
}

struct order { uint64_t last_t; int n; char seq[16]; };

static int note(void *ctx, const struct tm_record *r)
{
    struct order *o = ctx;
    CHECK(r->t >= o->last_t, "time went back");
    o->last_t = r->t;
    if (o->n < 15) o->seq[o->n++] = r->type == TMK_REC_ALLOC ? 'A' : r->type == TMK_REC_FREE ? 'F' : 'E';
    return 0;
}

static void test_threads(void)
{
    struct tg *g = tg_scenario_threads();
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    char err[256];
    struct tm_reader *r = tm_reader_open_mem(b, n, err, sizeof err);
    CHECK(r != NULL, "%s", err);
    struct order o = {0};
    if (r) {
        CHECK(tm_reader_run(r, note, &o, err, sizeof err) == 0, "%s", err);
        CHECK(strcmp(o.seq, "AFAAFAFE") == 0, "merged order %s", o.seq);
        CHECK(tm_reader_threads(r) == 3 && !tm_reader_truncated(r), "threads");
        tm_reader_close(r);
    }
    struct tm_model m;
    CHECK(analyze(g, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    /* +10 @100, -10 @150, +30 @160, +20 @200, -20 @250, +40 @300 (peak 70), -30 @310 */
    CHECK(m.heap.in_use == 40 && m.heap.peak_bytes == 70 && m.heap.peak_t == 300, "heap %llu %llu",
          (unsigned long long)m.heap.in_use, (unsigned long long)m.heap.peak_bytes);
    CHECK(m.info.n_warnings == 0, "warnings: %s", m.info.n_warnings ? m.info.warnings[0] : "");
    tm_model_free(&m);
    tg_destroy(g);
}

/* A small trace with a table, without its end: records can be appended. */
static struct tg *small_table_trace_open(void)
{
    struct tg *g = tg_new(0);
    uint64_t frames[] = {0x1000, 0x2000};
    tg_stack(g, 1, 1, 2, frames);
    tg_table_new(g, 1, 10, 1, TMK_KIND_GOMAP, 0, 8, 8, 144, 8, 0, 1, "small");
    tg_alloc(g, 1, 20, 0x9000, 144 * 8, 1);
    tg_table_array(g, 1, 20, 1, 0x9000, 144 * 8, 8, TMK_ARRAY_INITIAL, 0, 1);
    tg_flush(g, 1);
    tg_table_count(g, 2, 30, 1, 40);
    tg_alloc(g, 2, 35, 0xa000, 100, 0);
    tg_flush(g, 2);
    tg_table_count(g, 1, 40, 1, 0);
    return g;
}

/* The same, complete; cut at every byte: never a crash; a cut trace is
 * either refused (header incomplete) or flagged truncated. */
static struct tg *small_table_trace(void)
{
    struct tg *g = small_table_trace_open();
    tg_free(g, 1, 50, 0xa000);
    tg_end(g, 1, 60, TMK_END_EXIT, 0);
    return g;
}

static void test_truncation(void)
{
    struct tg *g = small_table_trace();
    size_t n;
    const uint8_t *full = tg_bytes(g, &n);
    char err[256];
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, full, cut);
        struct tm_model m;
        int rc = tm_analyze_mem(b, cut, "cut", &o, &m, err, sizeof err);
        if (cut < 64) {
            CHECK(rc == TM_EXIT_CANNOT && strchr(err, '\n') == NULL, "cut %zu accepted", cut);
        } else {
            CHECK(rc == TM_EXIT_OK, "cut %zu: %s", cut, err);
            CHECK(m.info.truncated == (cut < n), "cut %zu truncated=%d", cut, m.info.truncated);
            tm_model_free(&m);
        }
        free(b);
    }
    struct tm_model m;
    CHECK(tm_analyze_mem(full, n, "full", &o, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.n_tables == 1 && m.tables[0].held == 1152 && m.tables[0].live_peak == 40, "small");
    tm_model_free(&m);
    tg_destroy(g);
}

static void test_bad_input(void)
{
    char err[256];
    struct tm_model m;
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    CHECK(tm_analyze_mem("", 0, "e", &o, &m, err, sizeof err) == TM_EXIT_CANNOT, "empty");
    CHECK(strstr(err, "empty") != NULL, "%s", err);
    CHECK(tm_analyze_mem("hello world, not a trace at all........................................",
                         70, "t", &o, &m, err, sizeof err) == TM_EXIT_CANNOT, "text");
    CHECK(strstr(err, "not a tidemark trace") != NULL, "%s", err);
    struct tg *g = tg_scenario_threads();
    tg_set_version(g, TMK_TRACE_VERSION_MAJOR + 1, 1);
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    char want[128];
    snprintf(want, sizeof want, "trace version %d.1 is newer than this tidemark (%d.%d)",
             TMK_TRACE_VERSION_MAJOR + 1, TMK_TRACE_VERSION_MAJOR, TMK_TRACE_VERSION_MINOR);
    CHECK(tm_analyze_mem(b, n, "v", &o, &m, err, sizeof err) == TM_EXIT_CANNOT, "newer");
    CHECK(strcmp(err, want) == 0, "%s", err);
    tg_set_version(g, 0, 9);
    b = tg_bytes(g, &n);
    snprintf(want, sizeof want, "trace version 0.9 is not supported by this tidemark (%d.%d)",
             TMK_TRACE_VERSION_MAJOR, TMK_TRACE_VERSION_MINOR);
    CHECK(tm_analyze_mem(b, n, "v", &o, &m, err, sizeof err) == TM_EXIT_CANNOT, "older");
    CHECK(strcmp(err, want) == 0, "%s", err);
    tg_destroy(g);

    /* Random payloads behind a valid header and block headers. */
    srand(12345);
    for (int round = 0; round < 3000; round++) {
        g = tg_new(0);
        uint8_t junk[200];
        size_t len = (size_t)(rand() % (int)sizeof junk);
        for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)rand();
        if (round % 2) junk[0] = (uint8_t)(rand() % 0x31); /* plausible record types */
        tg_raw(g, 1 + (uint32_t)(round % 3), junk, len);
        b = tg_bytes(g, &n);
        int rc = tm_analyze_mem(b, n, "r", &o, &m, err, sizeof err);
        CHECK(rc == TM_EXIT_OK, "round %d: %s", round, err);
        if (rc == TM_EXIT_OK) tm_model_free(&m);
        tg_destroy(g);
    }
}

static void test_contradictions(void)
{
    struct tg *g = tg_new(0);
    tg_free(g, 1, 10, 0xdead);                                    /* never allocated */
    tg_table_new(g, 1, 20, 7, TMK_KIND_GOMAP, 0, 8, 8, 144, 8, 0, 0, "t");
    tg_alloc(g, 1, 30, 0x5000, 4096, 0);
    tg_free(g, 1, 40, 0x5000);
    tg_table_array(g, 1, 50, 7, 0x5000, 4096, 16, TMK_ARRAY_INITIAL, 5, 0); /* freed array */
    tg_table_count(g, 1, 60, 99, 3);                              /* unknown table */
    tg_end(g, 1, 70, TMK_END_EXIT, 0);
    struct tm_model m;
    char err[256];
    CHECK(analyze(g, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.info.contradictions == 2, "contradictions %llu",
          (unsigned long long)m.info.contradictions);
    CHECK(m.n_tables == 1 && m.tables[0].held == 0, "freed array not counted");
    CHECK(!m.info.truncated, "contradictions are not truncation");
    int saw_unknown_free = 0;
    for (size_t i = 0; i < m.info.n_warnings; i++)
        saw_unknown_free |= strstr(m.info.warnings[i], "never allocated") != NULL;
    CHECK(saw_unknown_free, "unknown free reported");
    tm_model_free(&m);
    tg_destroy(g);
}

/* The uthash model against real uthash tables with random keys. */
struct item {
    uint64_t key;
    UT_hash_handle hh;
};

/* The bucket count of a real uthash table after n random 64-bit keys,
 * hashed by uthash's own Jenkins hash. */
static uint64_t real_uthash_buckets(unsigned n)
{
    struct item *head = NULL, *items = calloc(n, sizeof *items);
    for (unsigned i = 0; i < n; i++) {
        items[i].key = ((uint64_t)rand() << 32) ^ (uint64_t)rand() ^ i;
        HASH_ADD(hh, head, key, sizeof(uint64_t), &items[i]);
    }
    uint64_t buckets = head->hh.tbl->num_buckets;
    HASH_CLEAR(hh, head);
    free(items);
    return buckets;
}

static void test_uthash_model(void)
{
    /* 40 sizes from 20 to ~300,000 (x1.25 apart). Near a doubling point,
     * real tables of the same size differ among themselves, so each size
     * builds five: the model must equal their median for nearly every size
     * (measured: 41 of 44), and never be more than one doubling from it. */
    enum { REAL = 5 };
    srand(777);
    unsigned median = 0, sizes = 0;
    for (double d = 20; d < 3e5; d *= 1.25, sizes++) {
        unsigned n = (unsigned)d;
        uint64_t real[REAL];
        for (int r = 0; r < REAL; r++) {
            uint64_t b = real_uthash_buckets(n);
            int j = r;
            for (; j > 0 && real[j - 1] > b; j--) real[j] = real[j - 1];
            real[j] = b;
        }
        uint64_t model = tm_uthash_expected_buckets(n);
        median += model == real[REAL / 2];
        if (model != real[REAL / 2])
            printf("uthash n=%u: real %llu..%llu buckets (median %llu), model %llu\n", n,
                   (unsigned long long)real[0], (unsigned long long)real[REAL - 1],
                   (unsigned long long)real[REAL / 2], (unsigned long long)model);
        CHECK(model * 2 >= real[REAL / 2] && model <= real[REAL / 2] * 2,
              "n=%u: model %llu more than one doubling from the median %llu", n,
              (unsigned long long)model, (unsigned long long)real[REAL / 2]);
    }
    printf("uthash model: the median real table's buckets for %u of %u sizes\n", median, sizes);
    /* Beyond the replayed 2^20 items the thresholds scale; absurd counts
     * (a corrupt trace) give a bounded answer, not undefined behaviour. */
    CHECK(tm_uthash_expected_buckets(1u << 22) == 4 * tm_uthash_expected_buckets(1u << 20),
          "scaled: %llu", (unsigned long long)tm_uthash_expected_buckets(1u << 22));
    CHECK(tm_uthash_expected_buckets(UINT64_MAX) == (uint64_t)1 << 63, "2^64 keys");
    CHECK(median * 10 >= sizes * 9, "median matched for only %u of %u sizes", median, sizes);
}

/* TABLE_PEAK: an exact high-water count between two samples raises the
 * peak (at the time of the record before it), also right after the table's
 * END; a body cut short is corrupt; other extended types are skipped. */
static void test_table_peak(void)
{
    struct tg *g = small_table_trace_open();
    tg_table_count(g, 1, 42, 1, 7);
    tg_table_peak(g, 1, 1, 55);       /* it reached 55 between samples */
    tg_table_peak(g, 1, 1, 50);       /* a stale, lower one changes nothing */
    uint8_t unknown[] = {0x9f, 2, 0xaa, 0xbb};
    tg_raw(g, 1, unknown, sizeof unknown);
    tg_table_end(g, 1, 45, 1, 0);
    tg_table_peak(g, 1, 1, 60);       /* written with the END */
    tg_end(g, 1, 60, TMK_END_EXIT, 0);
    struct tm_model m;
    char err[256];
    CHECK(analyze(g, &m, err, sizeof err) == 0, "%s", err);
    CHECK(m.n_tables == 1 && m.tables[0].live_peak == 60 && m.tables[0].live_peak_exact,
          "peak %llu exact %d", (unsigned long long)m.tables[0].live_peak,
          m.tables[0].live_peak_exact);
    CHECK(m.tables[0].live_peak_t == 45, "peak time %llu", (unsigned long long)m.tables[0].live_peak_t);
    CHECK(m.info.contradictions == 0 && !m.info.truncated, "clean trace");
    tm_model_free(&m);
    tg_destroy(g);

    g = small_table_trace_open();
    uint8_t cut[] = {TMK_REC_TABLE_PEAK, 1, 0x01};  /* table, but no peak */
    tg_raw(g, 1, cut, sizeof cut);
    tg_end(g, 1, 60, TMK_END_EXIT, 0);
    int rc = analyze(g, &m, err, sizeof err);
    CHECK(rc != 0 || m.info.truncated || m.info.n_warnings > 0, "a cut TABLE_PEAK body is noticed");
    if (rc == 0) tm_model_free(&m);
    tg_destroy(g);

    g = small_table_trace(); /* no TABLE_PEAK: the peak is a sampled lower bound */
    CHECK(analyze(g, &m, err, sizeof err) == 0, "%s", err);
    CHECK(m.n_tables == 1 && !m.tables[0].live_peak_exact && m.tables[0].live_peak == 40,
          "sampled peak %llu", (unsigned long long)m.tables[0].live_peak);
    tm_model_free(&m);
    tg_destroy(g);
}

/* Heap sites that name the same place merge: two stacks that end in the
 * same frame are one site, with their bytes and allocations summed, ranked
 * after merging (a site of many small stacks outranks one big stack). */
static void test_sites_merge(void)
{
    struct tg *g = tg_new(0);
    uint64_t a[] = {0x1000, 0x2000}, b[] = {0x1000, 0x3000}, c[] = {0x4000, 0x5000};
    tg_stack(g, 1, 1, 2, a);
    tg_stack(g, 1, 2, 2, b);
    tg_stack(g, 1, 3, 2, c);
    tg_alloc(g, 1, 10, 0x10000, 100, 1);
    tg_alloc(g, 1, 11, 0x20000, 100, 2);
    tg_alloc(g, 1, 12, 0x30000, 150, 3);
    tg_end(g, 1, 20, TMK_END_EXIT, 0);
    struct tm_model m;
    char err[256];
    CHECK(analyze(g, &m, err, sizeof err) == 0, "%s", err);
    CHECK(m.heap.n_top_end == 2, "%zu sites", m.heap.n_top_end);
    if (m.heap.n_top_end == 2) {
        CHECK(strcmp(m.heap.top_end[0].site, "0x1000") == 0 && m.heap.top_end[0].bytes == 200 &&
                  m.heap.top_end[0].allocs == 2,
              "merged site %s %llu B %llu allocs", m.heap.top_end[0].site,
              (unsigned long long)m.heap.top_end[0].bytes,
              (unsigned long long)m.heap.top_end[0].allocs);
        CHECK(m.heap.top_end[1].bytes == 150, "second site %llu B",
              (unsigned long long)m.heap.top_end[1].bytes);
    }
    tm_model_free(&m);
    tg_destroy(g);
}

/* A table that ended has no live entries, whatever its END record counted
 * (uthash frees its table with num_items still 1). */
static void test_end_has_no_live(void)
{
    struct tg *g = small_table_trace_open();
    tg_table_count(g, 1, 42, 1, 7);
    tg_free(g, 1, 44, 0x9000);
    tg_table_end(g, 1, 45, 1, 1);
    tg_end(g, 1, 60, TMK_END_EXIT, 0);
    struct tm_model m;
    char err[256];
    CHECK(analyze(g, &m, err, sizeof err) == 0, "%s", err);
    CHECK(m.n_tables == 1 && m.tables[0].live_now == 0 && m.tables[0].verdict == TM_VERDICT_ENDED &&
              m.tables[0].needed == 0,
          "ended: live %llu verdict %d", (unsigned long long)m.tables[0].live_now,
          (int)m.tables[0].verdict);
    tm_model_free(&m);
    tg_destroy(g);
}

int main(void)
{
    test_seed();
    test_at();
    test_threads();
    test_truncation();
    test_bad_input();
    test_contradictions();
    test_uthash_model();
    test_table_peak();
    test_sites_merge();
    test_end_has_no_live();
    return check_status();
}
