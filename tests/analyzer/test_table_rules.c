/* tests/analyzer/test_table_rules.c - the recognition rules' own functions
 * (analyzer/model/table_rules.c), on figures measured in sweep 3:
 *  - primes8 is libstdc++'s bucket counts (its __prime_list), not any
 *    prime: 8 x 1,179,649 bytes (an Abseil node_hash_map of 1,048,575
 *    slots) does not fit; 8 x 172,933 (a libstdc++ growth) does (F3);
 *  - the by-size rule is a fallback; `fallback` takes no value (F3);
 *  - a nonzero64 range's upper end is at most the bucket count: 137,615
 *    non-empty of 172,933 buckets read 274,706 live (F7), and such a count
 *    is an estimate. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model/table_rules.h"

static const struct tm_rule *rule_named(const struct tm_rules *rs, const char *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!strcmp(rs->v[i].name, name)) return &rs->v[i];
    return NULL;
}

static void test_primes8_is_libstdcxx_counts(const struct tm_rules *rs)
{
    const struct tm_rule *r = rule_named(rs, "libstdc++-hashtable-by-size");
    CHECK(r != NULL);
    if (!r) return;
    static const uint64_t growth[] = {13, 29, 59, 127, 257, 541, 1109, 2357, 5087, 10273,
                                      20753, 42043, 85229, 172933, 351061, 712697, 1447153};
    for (size_t i = 0; i < sizeof growth / sizeof growth[0]; i++)
        CHECK(tm_rule_size_fits(r, 8 * growth[i]), "%llu buckets", (unsigned long long)growth[i]);
    /* primes outside the list: Abseil's 8-byte-slot arrays */
    CHECK(!tm_rule_size_fits(r, 8 * 1179649ull));
    CHECK(!tm_rule_size_fits(r, 8 * 1153ull));
    CHECK(!tm_rule_size_fits(r, 8 * 145ull)); /* not a prime */
    CHECK(!tm_rule_size_fits(r, 8 * 13 + 4));
    CHECK(r->fallback);
    CHECK(!rule_named(rs, "libstdc++-hashtable")->fallback);
}

static void test_fallback_word(void)
{
    struct tm_rules rs = {NULL, 0};
    char err[200];
    const char *ok = "rule a\nimpl x\nframes f\nsize any\ncount nonzero64\nmodel libstdc++\n"
                     "fallback\nadvice y\nend\n";
    CHECK(tm_rules_parse(&rs, ok, err, sizeof err) == 0, "%s", err);
    CHECK(rs.n == 1 && rs.v[0].fallback);
    tm_rules_free(&rs);
    const char *bad = "rule a\nimpl x\nframes f\nfallback yes\nadvice y\nend\n";
    CHECK(tm_rules_parse(&rs, bad, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "line 4");
    tm_rules_free(&rs);
}

static void test_live_range_capped(const struct tm_rules *rs)
{
    uint64_t lo, hi;
    tm_rule_live_range(137615, 172933, &lo, &hi);
    CHECK_EQ_U64(lo, 137615);
    CHECK_EQ_U64(hi, 172933); /* the estimate, 274,706, is more than the buckets */
    tm_rule_live_range(1000, 172933, &lo, &hi);
    CHECK(lo == 1000 && hi >= 1002 && hi <= 1004, "%llu", (unsigned long long)hi);
    tm_rule_live_range(0, 13, &lo, &hi);
    CHECK(lo == 0 && hi == 0);
    tm_rule_live_range(13, 13, &lo, &hi);
    CHECK(lo == 13 && hi == 13);
    CHECK(tm_rule_count_estimated(rule_named(rs, "libstdc++-hashtable")));
    CHECK(!tm_rule_count_estimated(rule_named(rs, "glib-ghashtable")));
    CHECK(!tm_rule_count_estimated(NULL));
}

int main(void)
{
    struct tm_rules rs = {NULL, 0};
    char err[200];
    CHECK(tm_rules_builtin(&rs, err, sizeof err) == 0, "%s", err);
    test_primes8_is_libstdcxx_counts(&rs);
    test_fallback_word();
    test_live_range_capped(&rs);
    tm_rules_free(&rs);
    return check_status();
}
