/* analyzer/model/recognize_counts.c - which of a recognised table's counts
 * stand, where its implementation's readings can mislead: libstdc++'s
 * non-empty buckets (a multimap's keys, a lower max_load_factor, dense
 * integer keys) against its growth rule, and khash's first growth past the
 * probe size (recognize_replay.c asks, per table). */
#include "recognize_int.h"

/* libstdc++'s growth rule (count = old buckets + 1) holds at its default
 * max_load_factor of 1 only, and its arrays count their non-empty buckets,
 * which are its entries only while few of them share a bucket. The shim
 * reads the first two arrays of a stack replaced by a resize as they are
 * freed (probe.c, replaced()), when the count is known: a read that counts
 * under 3/4 of what the rule says was in the array tells
 *  - a table that grows at a lower load, when the second read grows with
 *    the array (max_load_factor(0.25): 3,793 of 15,173 buckets in use at
 *    its growth; its counts by the rule were four times its entries, and
 *    "after deletes" with none made): its arrays count, and its growths at
 *    the lower of the two loads read;
 *  - entries that share buckets, when it does not (a multimap of 200,000
 *    entries on 1,000 keys: 1,000 non-empty buckets at every size; read as
 *    a count, "retains 2.7 MiB after deletes" with none made), or when
 *    there is no second read to tell: its growths count, its arrays do not
 *    (its deletes are not seen then, but no count is made up). */
enum count_source count_source(const struct recognizer *rz, const struct tm_rule *rule,
                                      const size_t *blocks, size_t nb, double *load,
                                      int *one_per_bucket)
{
    *load = 0;
    *one_per_bucket = 0;
    if (rule->model != TM_RULE_LIBSTDCXX) return COUNT_BOTH;
    uint64_t buckets[2], read[2];
    int n = 0, low = 0, spread = 0;
    for (size_t j = 0; j + 1 < nb && n < 2; j++) {
        const struct block *b = &rz->b[blocks[j]];
        for (size_t k = 0; k < b->n_probes; k++) {
            const struct probe *p = &b->probes[k];
            uint64_t lo, hi = live_of(rule, b, p, &lo);
            if (p->t != b->t_free || !replaced_at(rz, rule, blocks, nb, blocks[j], p->t)) continue;
            buckets[n] = b->size / 8;
            read[n] = hi;
            if (hi * 4 < (buckets[n] + 1) * 3) low = 1;
            if (lo * 10 >= buckets[n] * 9) spread++;
            n++;
            break;
        }
    }
    /* Its entries each in a bucket of their own (std::hash of integers is
     * the identity: dense keys fill distinct buckets, and the estimate for
     * random hashes read 296,041 of 200,000): its non-empty buckets are
     * its count. */
    *one_per_bucket = n > 0 && spread == n;
    if (!low) return COUNT_BOTH;
    /* grows with the array: its share of the buckets at least 3/5 of the first's */
    if (n == 2 && buckets[1] > buckets[0] && read[1] * buckets[0] * 5 >= read[0] * buckets[1] * 3) {
        /* sized at the lower of the two loads it grew at */
        double l0 = (double)read[0] / (double)(buckets[0] + 1);
        double l1 = (double)read[1] / (double)(buckets[1] + 1);
        *load = l0 < l1 ? l0 : l1;
        return COUNT_BY_ARRAY;
    }
    return COUNT_BY_GROWTH;
}

/* khash: did the resize that made flags array i double the table? Its
 * first flags array past the probe size (64 KiB: 262,144 buckets) has no
 * tracked one before it, but its keys and values arrays, 16 times larger
 * or more, are: one of them freed and one of its call twice its size
 * allocated within LINK_NS of the flags is a resize from half as many
 * buckets, whose count the growth rule gives (a 200,000-entry table's
 * peak was whatever a pass happened to read during the fill). */
int doubled_with(const struct recognizer *rz, const struct tm_rule *rule,
                        const size_t *blocks, size_t nb, size_t i)
{
    if (rule->model != TM_RULE_KHASH) return 0;
    const struct block *b = &rz->b[i];
    for (size_t k = 0; k < nb; k++) {
        const struct block *old = &rz->b[blocks[k]];
        if (blocks[k] == i || old->t_free == TM_NO_TIME || old->size < 16 * b->size / 2 ||
            old->t_free + LINK_NS < b->t_alloc || old->t_free > b->t_alloc + LINK_NS)
            continue;
        for (size_t j = 0; j < nb; j++) {
            const struct block *young = &rz->b[blocks[j]];
            if (young->size == 2 * old->size && young->stack == old->stack &&
                young->t_alloc >= old->t_free && young->t_alloc <= b->t_alloc + LINK_NS)
                return 1;
        }
    }
    return 0;
}

