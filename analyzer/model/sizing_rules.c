/* analyzer/model/sizing_rules.c - the bytes a table needs for its live entries,
 * per table kind (DESIGN.md "Retention model").
 *
 * gomap: exact. gomap_bytes_for_count() is the function gomap itself sizes
 * its arrays with: the array for the B that a hint of `live` gives.
 *
 * uthash: uthash (2.3.0, the rules of HASH_ADD_TO_BKT and
 * HASH_EXPAND_BUCKETS) starts with 32 buckets and doubles when an insert makes
 * a chain reach 10 * (expand_mult + 1) items, where a bucket's expand_mult is
 * set at each doubling from how far its chain is over the ideal length; after
 * two "ineffective" doublings in a row it stops expanding. When a chain gets
 * that long depends on how the keys spread, so the model replays uthash's
 * exact rules on keys whose hashes are uniform (a counter-based generator,
 * fixed seeds: the same answer every run, no hashes stored), five times with
 * different seeds, and records at which item count each doubling happened.
 * needed(n) is the median array of those five tables after n inserts: what
 * a table built fresh for n keys is expected to hold (one replay alone is as
 * random near a doubling point as a real table). The replays are extended on
 * demand up to the largest n asked (O(n) in all, memory O(buckets)); beyond
 * 2^20 items the thresholds scale with n (a doubling at n items in m buckets
 * taken as one at 2n in 2m; real tables, with more chains to overflow, double
 * a little earlier, so past a million keys the model can be one doubling
 * short). That bound keeps the replays under ~0.1 s for any trace.
 * tests/analyzer measures the model against real uthash tables.
 *
 * growth rule (a table that stated one, any kind but gomap): the table
 * grown from empty by its own rule: min_buckets (0: 1) times the smallest
 * power of the factor whose capacity (buckets x slots per bucket, buckets
 * when chained) x num / den is at least `live`; bytes = buckets x
 * bucket_size. Exact for a table that follows its rule.
 *
 * generic: live entries times the slot size (bucket_size / slots_per_bucket,
 * or bucket_size for chained tables), with no load factor: a lower bound,
 * and the report says the model is generic.
 *
 * table_life.c takes the larger of this and what the table itself held when it
 * last grew to hold `live` entries (its history), so a table whose model
 * says less than it really needs is never called oversized at its peak.
 */
#include <math.h>
#include <stdlib.h>

#include "analyze_int.h"
#include "table_rules.h"
#include "tidemark/annotate.h"
#include "tidemark/gomap_sizing.h"

#define UTHASH_INITIAL_LOG2 5        /* HASH_INITIAL_NUM_BUCKETS 32 */
#define UTHASH_CHAIN_THRESHOLD 10u   /* HASH_BKT_CAPACITY_THRESH */
#define UTHASH_REPLAY_MAX (1u << 20) /* items replayed (~0.1 s for all five); scaled beyond */
#define UTHASH_REPLAYS 5             /* odd: the median is one of them */

int sizing_rule_stated(const struct tm_table *t)
{
    return t->grow_load_num > 0 && t->grow_load_den > 0 && t->grow_factor >= 2;
}

enum tm_model_kind sizing_model_for(const struct tm_table *t)
{
    if (t->rule) return TM_MODEL_RECOGNISED;
    if (t->kind == TMK_KIND_GOMAP && t->bucket_size > 0) return TM_MODEL_GOMAP;
    if (sizing_rule_stated(t)) return TM_MODEL_RULE;
    if (t->kind == TMK_KIND_UTHASH && t->bucket_size > 0) return TM_MODEL_UTHASH;
    return TM_MODEL_GENERIC;
}

const char *tm_needed_basis_name(enum tm_needed_basis b)
{
    return b == TM_NEEDED_HISTORY ? "history" : "model";
}

uint64_t sizing_rule_buckets(const struct tm_table *t, uint64_t live)
{
    unsigned __int128 slots = t->slots_per_bucket ? t->slots_per_bucket : 1;
    unsigned __int128 want = (unsigned __int128)live * t->grow_load_den;
    uint64_t b = t->min_buckets ? t->min_buckets : 1;
    while (want > (unsigned __int128)b * slots * t->grow_load_num) {
        if (b > UINT64_MAX / t->grow_factor) return UINT64_MAX;
        b *= t->grow_factor;
    }
    return b;
}

/* A replayed table. doubled_at[k] = item count whose insert doubled the
 * array from 2^(5+k) buckets; valid for k < n_doublings. The analyzer is
 * single-threaded; this is its one piece of static state (a cache). */
struct replay {
    uint64_t seed;
    uint64_t items;           /* inserted so far */
    unsigned log2;            /* of the bucket count */
    uint32_t *count, *mult;   /* per bucket: chain length, expand_mult */
    unsigned ineff, noexpand; /* uthash's ineffective-expansion stop */
    uint64_t doubled_at[64];
    unsigned n_doublings;
    int oom;
};
static struct replay replays[UTHASH_REPLAYS];

/* The hash of the i-th key of a replay: splitmix64, a fixed uniform sequence. */
static uint32_t key_hash(uint64_t seed, uint64_t i)
{
    uint64_t z = (seed + i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)(z ^ (z >> 31));
}

/* HASH_EXPAND_BUCKETS: redistribute the replay's items into twice the
 * buckets, setting each bucket's expand_mult as uthash does. */
static int replay_double(struct replay *r)
{
    unsigned log2 = r->log2 + 1;
    size_t m = (size_t)1 << log2;
    uint32_t *count = calloc(m, sizeof *count), *mult = calloc(m, sizeof *mult);
    if (!count || !mult) {
        free(count);
        free(mult);
        return -1;
    }
    uint64_t n = r->items;
    uint64_t ideal = (n >> log2) + ((n & (m - 1)) != 0);
    uint64_t nonideal = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t b = key_hash(r->seed, i) & (uint32_t)(m - 1);
        if (++count[b] > ideal) {
            nonideal++;
            if (count[b] > mult[b] * ideal) mult[b]++;
        }
    }
    free(r->count);
    free(r->mult);
    r->count = count;
    r->mult = mult;
    r->log2 = log2;
    r->ineff = nonideal > (n >> 1) ? r->ineff + 1 : 0;
    if (r->ineff > 1) r->noexpand = 1;
    return 0;
}

/* Inserts keys into the replay until it holds n. */
static void replay_extend(struct replay *r, uint64_t n)
{
    if (!r->count) {
        r->log2 = UTHASH_INITIAL_LOG2;
        r->count = calloc((size_t)1 << r->log2, sizeof *r->count);
        r->mult = calloc((size_t)1 << r->log2, sizeof *r->mult);
        if (!r->count || !r->mult) r->oom = 1;
    }
    while (!r->oom && r->items < n) {
        uint32_t b = key_hash(r->seed, r->items++) & (((uint32_t)1 << r->log2) - 1);
        uint32_t c = ++r->count[b];
        if (c >= (r->mult[b] + 1) * UTHASH_CHAIN_THRESHOLD && !r->noexpand &&
            r->n_doublings < 64) {
            r->doubled_at[r->n_doublings++] = r->items;
            if (replay_double(r)) r->oom = 1;
        }
    }
}

uint64_t tm_uthash_expected_buckets(uint64_t n)
{
    unsigned scale = 0;
    while ((n >> scale) > UTHASH_REPLAY_MAX) scale++;
    uint64_t items = n >> scale;
    unsigned doublings[UTHASH_REPLAYS];
    for (unsigned i = 0; i < UTHASH_REPLAYS; i++) {
        struct replay *r = &replays[i];
        r->seed = (uint64_t)i << 40;
        replay_extend(r, items);
        unsigned k = 0;
        while (k < r->n_doublings && r->doubled_at[k] <= items) k++;
        doublings[i] = k;
    }
    /* the median of five: sort them (insertion sort, five values) */
    for (unsigned i = 1; i < UTHASH_REPLAYS; i++)
        for (unsigned j = i; j > 0 && doublings[j - 1] > doublings[j]; j--) {
            unsigned x = doublings[j];
            doublings[j] = doublings[j - 1];
            doublings[j - 1] = x;
        }
    unsigned log2 = UTHASH_INITIAL_LOG2 + doublings[UTHASH_REPLAYS / 2] + scale;
    /* at most 5 + 14 + 44 = 63 for any n; the bound keeps it so if the limits change */
    return (uint64_t)1 << (log2 < 63 ? log2 : 63);
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    if (a && b > UINT64_MAX / a) return UINT64_MAX;
    return a * b;
}

uint64_t sizing_needed_bytes(const struct tm_table *t, uint64_t live)
{
    switch (sizing_model_for(t)) {
    case TM_MODEL_GOMAP:
        return gomap_bytes_for_count(live, t->bucket_size);
    case TM_MODEL_UTHASH:
        return live ? mul_sat(tm_uthash_expected_buckets(live), t->bucket_size) : 0;
    case TM_MODEL_RULE:
        return mul_sat(sizing_rule_buckets(t, live), t->bucket_size);
    case TM_MODEL_RECOGNISED: {
        /* no main array live (a GLib table whose new hashes array came
         * before its keys' realloc, all of them its siblings then): its
         * size per bucket is not known, and neither is what it needs */
        if (!t->buckets_now) return t->held;
        /* at a lower load than the rule's, as many buckets as that load keeps */
        uint64_t at = t->load > 0 && t->load < 1 ? (uint64_t)ceil((double)live / t->load) : live;
        uint64_t need = tm_rule_needed(t->rule, at, t->held, t->buckets_now);
        return need < t->held ? need : t->held; /* never more than it holds */
    }
    case TM_MODEL_GENERIC:
    default: {
        uint64_t slot = t->slots_per_bucket ? t->bucket_size / t->slots_per_bucket : t->bucket_size;
        return mul_sat(live, slot);
    }
    }
}
