/* gomap/iter.c - iteration that survives any write between two steps.
 *
 * The iterator fixes B at its start and walks the 2^B "logical" buckets from
 * a random one. A logical bucket lb holds the entries whose hash has lb in
 * its low B bits wherever they live now: in the current array (one bucket,
 * or 2^(b-B) of them after growth, or a shared one filtered by hash after a
 * shrink) and in the old array's unevacuated buckets during growth. Within
 * lb, entries come in increasing order of (hash ^ rot, second hash), so a
 * step only needs the order key of the last entry returned: each step scans
 * lb for the smallest key above it. Growth, evacuation, shrink and clear move
 * entries between buckets but never between logical buckets, so no entry is
 * returned twice or skipped.
 */
#include <string.h>

#include "internal.h"

#define GM_SECOND_SEED 0x5851f42d4c957f2dull

/* The best candidate of one scan and the state it is compared against. */
struct scan {
    const gomap_iter *it;
    uint64_t lb, lb_mask;
    unsigned char *best_b;
    unsigned best_i;
    uint64_t best_p, best_s;
    int have_best, best_has_s;
};

static uint64_t second_hash(const gomap *m, const void *key)
{
    return gm_default_hash(key, m->key_size, GM_SECOND_SEED);
}

/* Whether an entry with order key p (and lazily s) comes after the last one
 * returned; s and has_s receive the tie-break key when it was computed. */
static int after_last(const gomap_iter *it, const void *key, uint64_t p, uint64_t *s, int *has_s)
{
    if (!it->has_last || p > it->last_p)
        return 1;
    if (p < it->last_p || !it->has_last_s)
        return 0; /* an equal key without tie-break was inserted after the scan */
    *s = second_hash(it->m, key);
    *has_s = 1;
    return *s > it->last_s;
}

static void consider(struct scan *sc, unsigned char *b, unsigned i)
{
    const gomap *m = sc->it->m;
    const unsigned char *key = gm_key(m, b, i);
    uint64_t h = gm_hash(m, key);
    if ((h & sc->lb_mask) != sc->lb)
        return;
    uint64_t p = h ^ sc->it->rot, s = 0;
    int has_s = 0;
    if (!after_last(sc->it, key, p, &s, &has_s))
        return;
    if (sc->have_best && p > sc->best_p)
        return;
    if (sc->have_best && p == sc->best_p) {
        if (!has_s) {
            s = second_hash(m, key);
            has_s = 1;
        }
        if (!sc->best_has_s) {
            sc->best_s = second_hash(m, gm_key(m, sc->best_b, sc->best_i));
            sc->best_has_s = 1;
        }
        if (s >= sc->best_s)
            return;
    }
    sc->have_best = 1;
    sc->best_b = b;
    sc->best_i = i;
    sc->best_p = p;
    sc->best_s = s;
    sc->best_has_s = has_s;
}

static void scan_chain(struct scan *sc, unsigned char *b)
{
    for (; b; b = gm_overflow(sc->it->m, b))
        for (unsigned i = 0; i < GM_SLOTS; i++)
            if (b[i] >= GM_MIN_TOPHASH)
                consider(sc, b, i);
}

/* The buckets of an array with 2^ab buckets that can hold lb's entries. */
static void scan_array(struct scan *sc, unsigned char *arr, uint8_t ab)
{
    const gomap *m = sc->it->m;
    uint8_t B = sc->it->B;
    if (arr == NULL)
        return;
    if (ab >= B) {
        for (uint64_t k = 0; k < ((uint64_t)1 << (ab - B)); k++)
            scan_chain(sc, gm_bucket(m, arr, sc->lb + (k << B)));
    } else {
        scan_chain(sc, gm_bucket(m, arr, sc->lb & gm_mask(ab)));
    }
}

void gomap_iter_init(gomap_iter *it, gomap *m)
{
    memset(it, 0, sizeof *it);
    it->m = m;
    if (m == NULL || m->count == 0) {
        it->finished = 1;
        return;
    }
    it->B = m->B;
    it->start = gm_fastrand() & gm_mask(m->B);
    it->rot = gm_fastrand();
}

int gomap_iter_next(gomap_iter *it, const void **key, void **value)
{
    gomap *m = it->m;
    while (!it->finished) {
        struct scan sc = {.it = it, .lb_mask = gm_mask(it->B)};
        sc.lb = (it->start + it->done_n) & sc.lb_mask;
        if (m->oldbuckets)
            scan_array(&sc, m->oldbuckets, m->same_size_grow ? m->B : (uint8_t)(m->B - 1));
        scan_array(&sc, m->buckets, m->B);
        if (sc.have_best) {
            it->has_last = 1;
            it->last_p = sc.best_p;
            it->last_s = sc.best_s;
            it->has_last_s = (uint8_t)sc.best_has_s;
            if (key)
                *key = gm_key(m, sc.best_b, sc.best_i);
            if (value)
                *value = gm_value(m, sc.best_b, sc.best_i);
            return 1;
        }
        it->has_last = 0;
        it->has_last_s = 0;
        if (++it->done_n >> it->B)
            it->finished = 1;
    }
    return 0;
}
