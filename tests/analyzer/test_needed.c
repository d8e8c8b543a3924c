/* tests/analyzer/test_needed.c - `needed` from the table's own behaviour
 * (DESIGN.md "Retention model"), on synthetic traces of an open-addressing
 * table with 16-byte slots that doubles at 75% load from 16 slots:
 *  - filled with no delete, it is never oversized, with its growth rule
 *    (TABLE_GROWTH) and without it (its history decides);
 *  - emptied to 0.25%, it retains exactly its array minus the array its rule
 *    gives for the entries left, with the rule and without;
 *  - "after deletes" only after deletes; a presized table that never deleted
 *    is oversized but not "after deletes", and the verdict line says so;
 *  - a table at its peak whose model says less than it holds (uthash's
 *    median replay) is not oversized: its history decides;
 *  - a rule that is not one (factor 1, load 0) or a cut record is ignored.
 * Every expected figure comes from the rule, computed here. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model/model.h"
#include "report/report.h"
#include "tidemark/annotate.h"
#include "tidemark/trace_format.h"
#include "tracegen.h"

#define SLOT 16u
#define FIRST_SLOTS 16u

/* Slots the rule gives for n entries: doubling from 16 until n <= 3/4. */
static uint64_t rule_slots(uint64_t n)
{
    uint64_t c = FIRST_SLOTS;
    while (n * 4 > c * 3) c *= 2;
    return c;
}

struct oa_trace {
    int state_rule;     /* write TABLE_GROWTH */
    uint64_t hint_slots; /* first array's slots (presized); 0 = FIRST_SLOTS */
    uint64_t fill, left; /* entries inserted, then entries left after deletes */
};

/* The table's life as the shim would record it: each growth allocates the
 * new array, tags it with the count before the insert that needed it, then
 * frees the old one; counts sampled every 4096 operations. */
static struct tg *oa_scenario(const struct oa_trace *w)
{
    struct tg *g = tg_new(0);
    uint64_t t = 1000, addr = 0x100000, slots = w->hint_slots ? w->hint_slots : FIRST_SLOTS;
    tg_table_new(g, 1, t, 1, TMK_KIND_GENERIC, 0, 8, 8, SLOT, 1, 0, 0, "open");
    if (w->state_rule) tg_table_growth(g, 1, 1, 3, 4, 2, FIRST_SLOTS);
    tg_alloc(g, 1, ++t, addr, slots * SLOT, 0);
    tg_table_array(g, 1, t, 1, addr, slots * SLOT, slots, TMK_ARRAY_INITIAL, 0, 0);
    for (uint64_t n = 0; n < w->fill; n++) {
        if ((n + 1) * 4 > slots * 3) {
            uint64_t old = addr;
            addr += slots * SLOT * 4;
            slots *= 2;
            tg_alloc(g, 1, ++t, addr, slots * SLOT, 0);
            tg_table_array(g, 1, t, 1, addr, slots * SLOT, slots, TMK_ARRAY_GROW, n, 0);
            tg_free(g, 1, ++t, old);
        }
        if ((n + 1) % 4096 == 0) tg_table_count(g, 1, ++t, 1, n + 1);
    }
    tg_table_count(g, 1, ++t, 1, w->fill);
    for (uint64_t n = w->fill; n > w->left; n--)
        if (n % 4096 == 0) tg_table_count(g, 1, ++t, 1, n);
    tg_table_count(g, 1, ++t, 1, w->left);
    tg_end(g, 1, ++t, TMK_END_EXIT, 0);
    return g;
}

static int analyze(struct tg *g, struct tm_model *m)
{
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    char err[256];
    int rc = tm_analyze_mem(b, n, "mem", &o, m, err, sizeof err);
    CHECK(rc == TM_EXIT_OK, "%s", err);
    CHECK(rc != TM_EXIT_OK || m->n_tables == 1, "%zu tables", m->n_tables);
    return rc == TM_EXIT_OK && m->n_tables == 1;
}

/* The table: 393,300 entries, no delete. 2^20 slots hold it (2^19 x
 * 3/4 = 393,216 < 393,300): 16 MiB, all needed. */
static void test_full_is_not_oversized(void)
{
    for (int rule = 0; rule <= 1; rule++) {
        struct oa_trace w = {rule, 0, 393300, 393300};
        struct tg *g = oa_scenario(&w);
        struct tm_model m;
        if (analyze(g, &m)) {
            const struct tm_table *t = &m.tables[0];
            CHECK(t->held == rule_slots(393300) * SLOT && t->held == 16777216,
                  "rule %d: held %llu", rule, (unsigned long long)t->held);
            CHECK(t->retained == 0 && t->verdict == TM_VERDICT_OK && !t->after_deletes,
                  "rule %d: retained %llu verdict %d", rule, (unsigned long long)t->retained,
                  (int)t->verdict);
            CHECK(t->model == (rule ? TM_MODEL_RULE : TM_MODEL_GENERIC), "model %d", (int)t->model);
            CHECK(t->needed_basis == (rule ? TM_NEEDED_MODEL : TM_NEEDED_HISTORY), "basis %d",
                  (int)t->needed_basis);
            CHECK(t->n_recs == 0, "rule %d: %zu recommendations", rule, t->n_recs);
            char line[256];
            tm_verdict_line(&m, line, sizeof line);
            CHECK(strcmp(line, "no table is oversized (1 table checked)") == 0, "verdict: %s", line);
            tm_model_free(&m);
        }
        tg_destroy(g);
    }
}

/* Emptied to 0.25% (983 entries): the rule gives 2048 slots for them. */
static void test_emptied_retains_exactly(void)
{
    uint64_t left = 393300 / 400, expect = (rule_slots(393300) - rule_slots(left)) * SLOT;
    CHECK(expect == 16777216 - 32768, "the rule itself: %llu", (unsigned long long)expect);
    for (int rule = 0; rule <= 1; rule++) {
        struct oa_trace w = {rule, 0, 393300, left};
        struct tg *g = oa_scenario(&w);
        struct tm_model m;
        if (analyze(g, &m)) {
            const struct tm_table *t = &m.tables[0];
            CHECK(t->retained == expect && t->needed == rule_slots(left) * SLOT,
                  "rule %d: retained %llu needed %llu", rule, (unsigned long long)t->retained,
                  (unsigned long long)t->needed);
            CHECK(t->verdict == TM_VERDICT_OVERSIZED && t->after_deletes, "rule %d: verdict %d",
                  rule, (int)t->verdict);
            CHECK(t->n_recs && t->recs[0].bytes_saved == expect, "rule %d: advice", rule);
            char line[256];
            tm_verdict_line(&m, line, sizeof line);
            CHECK(strstr(line, "1 table retains 16.0 MiB after deletes"), "verdict: %s", line);
            tm_model_free(&m);
        }
        tg_destroy(g);
    }
}

/* Presized for 2^20 slots, filled to 1,000 and never deleted from: it holds
 * more than its entries need (a hint too large), but nothing was deleted. */
static void test_presized_is_not_after_deletes(void)
{
    struct oa_trace w = {1, 1u << 20, 1000, 1000};
    struct tg *g = oa_scenario(&w);
    struct tm_model m;
    if (analyze(g, &m)) {
        const struct tm_table *t = &m.tables[0];
        CHECK(t->retained == ((1u << 20) - rule_slots(1000)) * SLOT, "retained %llu",
              (unsigned long long)t->retained);
        CHECK(t->verdict == TM_VERDICT_OVERSIZED && !t->after_deletes, "verdict %d after %d",
              (int)t->verdict, t->after_deletes);
        char line[256];
        tm_verdict_line(&m, line, sizeof line);
        CHECK(!strstr(line, "after deletes") && strstr(line, "more than its live entries need"),
              "verdict: %s", line);
        tm_model_free(&m);
    }
    tg_destroy(g);
}

/* A uthash table at its peak that doubled earlier than the model's median
 * replay may say: its own growth decides, nothing is retained. Real uthash:
 * 32 buckets of 16 bytes, doubling; this one doubled at 200 items to 64, at
 * 330 to 128. */
static void test_peak_follows_history(void)
{
    struct tg *g = tg_new(0);
    tg_table_new(g, 1, 10, 1, TMK_KIND_UTHASH, 0, 8, 8, 16, 0, 0, 0, "u");
    tg_alloc(g, 1, 11, 0x1000, 32 * 16, 0);
    tg_table_array(g, 1, 11, 1, 0x1000, 32 * 16, 32, TMK_ARRAY_INITIAL, 0, 0);
    tg_alloc(g, 1, 12, 0x2000, 64 * 16, 0);
    tg_table_array(g, 1, 12, 1, 0x2000, 64 * 16, 64, TMK_ARRAY_GROW, 200, 0);
    tg_free(g, 1, 13, 0x1000);
    tg_alloc(g, 1, 14, 0x4000, 128 * 16, 0);
    tg_table_array(g, 1, 14, 1, 0x4000, 128 * 16, 128, TMK_ARRAY_GROW, 330, 0);
    tg_free(g, 1, 15, 0x2000);
    tg_table_count(g, 1, 16, 1, 400);
    tg_table_count(g, 1, 17, 1, 250); /* deletes: 250 left, held since 200 */
    tg_end(g, 1, 20, TMK_END_EXIT, 0);
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    o.min_retained = 1;
    o.at = 16;
    struct tm_model m;
    char err[256];
    CHECK(tm_analyze_mem(b, n, "mem", &o, &m, err, sizeof err) == 0, "%s", err);
    const struct tm_table *t = &m.tables[0];
    CHECK(t->live_now == 400 && t->retained == 0 && t->needed == 128 * 16 && !t->after_deletes,
          "at the peak: live %llu retained %llu needed %llu basis %d", (unsigned long long)t->live_now,
          (unsigned long long)t->retained, (unsigned long long)t->needed, (int)t->needed_basis);
    tm_model_free(&m);
    o.at = TM_NO_TIME; /* 250 left: it held 64 buckets for them */
    CHECK(tm_analyze_mem(b, n, "mem", &o, &m, err, sizeof err) == 0, "%s", err);
    t = &m.tables[0];
    CHECK(t->live_now == 250 && t->needed >= 64 * 16 && t->retained <= 64 * 16 && t->after_deletes,
          "after deletes: needed %llu retained %llu", (unsigned long long)t->needed,
          (unsigned long long)t->retained);
    tm_model_free(&m);
    tg_destroy(g);
}

/* A rule with factor 1 or a zero load is not a rule; a cut record is a
 * contradiction and changes nothing. */
static void test_bad_rules(void)
{
    static const uint32_t bad[][4] = {{3, 4, 1, 16}, {0, 4, 2, 16}, {3, 0, 2, 16}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tg *g = tg_new(0);
        tg_table_new(g, 1, 10, 1, TMK_KIND_GENERIC, 0, 8, 8, SLOT, 1, 0, 0, "");
        tg_table_growth(g, 1, 1, bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
        tg_end(g, 1, 20, TMK_END_EXIT, 0);
        struct tm_model m;
        if (analyze(g, &m)) {
            CHECK(m.tables[0].model == TM_MODEL_GENERIC, "rule %zu taken", i);
            tm_model_free(&m);
        }
        tg_destroy(g);
    }
    struct tg *g = tg_new(0);
    tg_table_new(g, 1, 10, 1, TMK_KIND_GENERIC, 0, 8, 8, SLOT, 1, 0, 0, "");
    uint8_t cut[] = {TMK_REC_TABLE_GROWTH, 3, 1, 3, 4}; /* no factor, no min */
    tg_raw(g, 1, cut, sizeof cut);
    tg_end(g, 1, 20, TMK_END_EXIT, 0);
    struct tm_model m;
    if (analyze(g, &m)) {
        CHECK(m.tables[0].model == TM_MODEL_GENERIC && m.info.contradictions == 1,
              "cut rule: model %d, %llu contradictions", (int)m.tables[0].model,
              (unsigned long long)m.info.contradictions);
        tm_model_free(&m);
    }
    tg_destroy(g);
}

int main(void)
{
    test_full_is_not_oversized();
    test_emptied_retains_exactly();
    test_presized_is_not_after_deletes();
    test_peak_follows_history();
    test_bad_rules();
    return check_status();
}
