/* analyzer/sizing_model.c - the bytes a table needs for its live entries,
 * per table kind (DESIGN.md "Retention model").
 *
 * gomap: exact. gomap_bytes_for_count() is the function gomap itself sizes
 * its arrays with: the array for the B that a hint of `live` gives.
 *
 * uthash: uthash doubles its bucket array when an insert makes a chain reach
 * HASH_BKT_CAPACITY_THRESH * (expand_mult + 1) = 10 items (expand_mult is 0
 * for a bucket that was not over the ideal chain length at the last
 * expansion), starting from 32 buckets, and frees the array when the last
 * item goes. How soon a chain reaches 10 depends on how keys spread, so the
 * model takes a uniform hash: with n keys in m buckets a chain's length is
 * ~Poisson(n/m), the expected number of chains of 10 or more is
 * E = m * P(Poisson(n/m) >= 10), and the chance that none exists is about
 * exp(-E). A table of m buckets has (with probability > 1/2) not yet
 * doubled while E < ln 2. So the expected array for n keys is the smallest
 * m = 32 * 2^k with m * P(Poisson(n/m) >= 10) < ln 2. It ignores
 * expand_mult > 0 (rarer doublings later) and uthash's "ineffective expand"
 * stop, both of which make real tables no larger; tests/analyzer measures
 * the error against real uthash tables.
 *
 * generic: live entries times the slot size (bucket_size / slots_per_bucket,
 * or bucket_size for chained tables), with no load factor: a lower bound,
 * and the report says the model is generic.
 */
#include <math.h>

#include "analyze_int.h"
#include "tidemark/annotate.h"
#include "tidemark/gomap_sizing.h"

#define UTHASH_INITIAL_BUCKETS 32
#define UTHASH_CHAIN_THRESHOLD 10

enum tm_model_kind tm_model_for(const struct tm_table *t)
{
    if (t->kind == TMK_KIND_GOMAP && t->bucket_size > 0) return TM_MODEL_GOMAP;
    if (t->kind == TMK_KIND_UTHASH && t->bucket_size > 0) return TM_MODEL_UTHASH;
    return TM_MODEL_GENERIC;
}

/* P(X >= k) for X ~ Poisson(lambda), k small. */
static double poisson_tail(double lambda, int k)
{
    double term = exp(-lambda), below = 0;
    for (int i = 0; i < k; i++) {
        below += term;
        term *= lambda / (i + 1);
    }
    double tail = 1.0 - below;
    return tail > 0 ? tail : 0;
}

uint64_t tm_uthash_expected_buckets(uint64_t n)
{
    uint64_t m = UTHASH_INITIAL_BUCKETS;
    while (m < ((uint64_t)1 << 40)) {
        double lambda = (double)n / (double)m;
        if ((double)m * poisson_tail(lambda, UTHASH_CHAIN_THRESHOLD) < M_LN2) break;
        m *= 2;
    }
    return m;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    if (a && b > UINT64_MAX / a) return UINT64_MAX;
    return a * b;
}

uint64_t tm_needed_bytes(const struct tm_table *t, uint64_t live)
{
    switch (tm_model_for(t)) {
    case TM_MODEL_GOMAP:
        return gomap_bytes_for_count(live, t->bucket_size);
    case TM_MODEL_UTHASH:
        return live ? mul_sat(tm_uthash_expected_buckets(live), t->bucket_size) : 0;
    case TM_MODEL_GENERIC:
    default: {
        uint64_t slot = t->slots_per_bucket ? t->bucket_size / t->slots_per_bucket : t->bucket_size;
        return mul_sat(live, slot);
    }
    }
}
