/* analyzer/model/table_rules.h - the rules that recognise tables nobody annotated,
 * and each implementation's sizing: how many buckets a block of a rule
 * holds, how its live count is read from a probe, the bytes the
 * implementation itself holds for `live` entries grown from empty, and its
 * advice. The rules are data (table_rules.txt, built in; --rules FILE adds
 * more); the kinds they name (size, count, model) are code, here.
 */
#ifndef TIDEMARK_ANALYZER_TABLE_RULES_H
#define TIDEMARK_ANALYZER_TABLE_RULES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tm_rule_size { TM_SIZE_ANY, TM_SIZE_PRIMES8, TM_SIZE_POW2, TM_SIZE_POW2X, TM_SIZE_PYDICT };
enum tm_rule_count {
    TM_COUNT_NONZERO64, /* non-empty 8-byte buckets: a lower bound */
    TM_COUNT_U32GE2,
    TM_COUNT_PAIRS00,
    TM_COUNT_SUM16,
    TM_COUNT_LAYOUT, /* the probe's own layout count */
};
enum tm_rule_count_array { TM_COUNT_ARRAY_ONLY, TM_COUNT_ARRAY_SMALLEST };
enum tm_rule_model {
    TM_RULE_LIBSTDCXX, TM_RULE_GLIB, TM_RULE_KHASH, TM_RULE_PYDICT, TM_RULE_UTHASH,
    TM_RULE_HASHBROWN, TM_RULE_ABSEIL, TM_RULE_POW2
};

#define TM_RULE_MAX_FRAMES 8

struct tm_rule {
    char *name, *impl, *advice;
    char *frames[TM_RULE_MAX_FRAMES]; /* globs; none when `layout` is set */
    unsigned n_frames, depth;
    char *first[TM_RULE_MAX_FRAMES];  /* globs frame 0 (the allocator's caller) must match; none = any */
    unsigned n_first;
    int layout;                       /* TMK_PROBE_LAYOUT_* a probe must find, 0 = none;
                                         with frames too, both must hold */
    enum tm_rule_size size;
    uint64_t slot;                    /* TM_SIZE_POW2X: bytes a slot */
    enum tm_rule_count count;
    enum tm_rule_count_array count_array;
    enum tm_rule_model model;
    double load;                      /* TM_RULE_POW2: grows above this load */
    int fallback;                     /* tried only when no other rule names one of
                                         the block's frames or finds its layout */
};

struct tm_rules {
    struct tm_rule *v;
    size_t n;
};

/* Parses rules text (the format of table_rules.txt) and appends its rules.
 * 0, or -1 with a one-line reason ("line 12: unknown size kind 'x'"). */
int tm_rules_parse(struct tm_rules *rs, const char *text, char *err, size_t errlen);
/* The built-in rules, then none; user rules go first (tm_rules_load). */
int tm_rules_builtin(struct tm_rules *rs, char *err, size_t errlen);
/* Reads FILE's rules into rs (before the built-in ones when called first). */
int tm_rules_load(struct tm_rules *rs, const char *path, char *err, size_t errlen);
void tm_rules_free(struct tm_rules *rs);

/* Does a block of `size` bytes fit the rule's size kind? primes8: 8 x a
 * bucket count libstdc++ picks (an entry of its __prime_list). */
int tm_rule_size_fits(const struct tm_rule *r, uint64_t size);
/* Does a function name match one of the rule's frame globs (`frames`)? */
int tm_rule_frame_matches(const struct tm_rule *r, const char *function);
/* Does frame 0's function name satisfy the rule's `first` globs? */
int tm_rule_first_matches(const struct tm_rule *r, const char *function);

/* Buckets (slots) of the table whose arrays total `bytes` with the count
 * array of `count_bytes` (the libstdc++ array itself, GLib's hashes, khash's
 * flags, CPython's capacity given by the probe as `layout_cap`). */
uint64_t tm_rule_buckets(const struct tm_rule *r, uint64_t count_bytes, uint64_t layout_cap);

/* The bytes the implementation holds for `live` entries grown from empty,
 * for a table whose arrays now total `held` bytes over `buckets` buckets
 * (the bytes a bucket takes across its arrays come from them). For
 * pydict, `held` is the keys object's size and `buckets` its capacity. */
uint64_t tm_rule_needed(const struct tm_rule *r, uint64_t live, uint64_t held, uint64_t buckets);

/* The live count at the moment the implementation replaced a main array of
 * `old_bytes` by a larger one (its growth rule says when it grows), or 0
 * when the rule cannot say. Exact for libstdc++ (old buckets + 1), CPython
 * (usable slots + 1), khash (its upper bound), GLib (15/16 of the slots),
 * hashbrown and Abseil (7/8 of the old capacity + 1; their slot size from
 * the new array of `new_bytes` and `new_cap` slots, 0 when not probed). */
uint64_t tm_rule_count_at_growth(const struct tm_rule *r, uint64_t old_bytes, uint64_t new_bytes,
                                 uint64_t new_cap);

/* The live range a nonzero64 count gives for `buckets` buckets: [lo, hi]
 * with hi the Poisson estimate for well-mixed hashes, at most `buckets`
 * (libstdc++'s max load 1.0). */
void tm_rule_live_range(uint64_t nonzero, uint64_t buckets, uint64_t *lo, uint64_t *hi);
/* Is a count of this rule an estimate (nonzero64's upper end), so that the
 * largest one sampled is no lower bound of the peak? 0 for NULL. */
int tm_rule_count_estimated(const struct tm_rule *r);

/* uthash: the bucket count a fresh uthash table reaches with n keys whose
 * hashes are uniform (uthash's rules replayed, sizing_rules.c; also the
 * annotated uthash's model). */
uint64_t tm_uthash_expected_buckets(uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
