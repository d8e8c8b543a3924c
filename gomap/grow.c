/* gomap/grow.c - growth as Go 1.19 does it: hashGrow (doubling, or same
 * size when overflow buckets pile up), incremental evacuation (growWork:
 * the old bucket a write touches plus the oldest unevacuated one), overflow
 * buckets (preallocated in the array first, then malloc'd one by one, with
 * Go's approximate noverflow counter), and the release of the old array
 * once its last bucket is evacuated.
 *
 * Invariant: during growth an old bucket is either untouched or fully
 * evacuated (every slot marked evacuatedX/Y/Empty); new-array buckets that
 * an old bucket evacuates into receive no insert before that evacuation.
 * Evacuated old buckets keep their bytes and overflow links until the old
 * array is freed, so the old array's overflow chains can be walked to free
 * them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tidemark/annotate.h"

static uint8_t old_b(const gomap *m)
{
    return m->same_size_grow ? m->B : (uint8_t)(m->B - 1);
}

/* incrnoverflow: exact below B = 16, then with probability 2^-(B-15) so
 * the 16-bit counter reaches 2^15 at about 2^B overflow buckets. */
static void incr_noverflow(gomap *m)
{
    if (m->B < 16) {
        m->noverflow++;
        return;
    }
    uint64_t mask = ((uint64_t)1 << (m->B - 15)) - 1;
    if ((gm_fastrand() & mask) == 0)
        m->noverflow++;
}

unsigned char *gm_new_overflow(gomap *m, unsigned char *b)
{
    unsigned char *ovf;
    if (m->next_ovf) {
        ovf = m->next_ovf;
        m->next_ovf += m->bsize;
        if (m->next_ovf == m->ovf_end)
            m->next_ovf = NULL;
    } else {
        ovf = calloc(1, m->bsize);
        if (ovf == NULL)
            return NULL;
        tmk_table_array(m, ovf, m->bsize, 1, TMK_ARRAY_OVERFLOW);
        m->extra_ovf++;
        gm_note_peak(m);
    }
    incr_noverflow(m);
    gm_set_overflow(m, b, ovf);
    return ovf;
}

void gm_hash_grow(gomap *m)
{
    unsigned bigger = gomap_over_load_factor(m->count + 1, m->B) ? 1 : 0;
    uint64_t prealloc, bytes;
    unsigned char *arr = gm_make_bucket_array(
        m, (uint8_t)(m->B + bigger), bigger ? TMK_ARRAY_GROW : TMK_ARRAY_SAMESIZE_GROW,
        &prealloc, &bytes);
    if (arr == NULL)
        return; /* the caller sees buckets unchanged */
    m->oldbuckets = m->buckets;
    m->old_array_bytes = m->array_bytes;
    m->old_extra_ovf = m->extra_ovf;
    m->extra_ovf = 0;
    m->same_size_grow = !bigger;
    m->nevacuate = 0;
    m->noverflow = 0;
    gm_install_array(m, arr, (uint8_t)(m->B + bigger), prealloc, bytes);
}

void gm_release_old(gomap *m)
{
    gm_free_chained_overflow(m, m->oldbuckets, old_b(m), m->old_array_bytes);
    free(m->oldbuckets);
    m->oldbuckets = NULL;
    m->old_array_bytes = 0;
    m->old_extra_ovf = 0;
    m->same_size_grow = 0;
    m->nevacuate = 0;
}

/* Where evacuated entries of one old bucket go: X (same index) or Y. */
struct evac_dst {
    unsigned char *b;
    unsigned i;
};

static void move_entry(gomap *m, struct evac_dst *dst, unsigned char *src, unsigned i, uint8_t top)
{
    if (dst->i == GM_SLOTS) {
        dst->b = gm_new_overflow(m, dst->b);
        if (dst->b == NULL) {
            /* Go throws here too; a half-evacuated bucket cannot be undone. */
            fputs("gomap: out of memory while evacuating a bucket\n", stderr);
            abort();
        }
        dst->i = 0;
    }
    dst->b[dst->i] = top;
    memcpy(gm_key_slot(m, dst->b, dst->i), gm_key_slot(m, src, i), m->key_slot);
    memcpy(gm_value_slot(m, dst->b, dst->i), gm_value_slot(m, src, i), m->value_slot);
    dst->i++;
}

static void advance_evacuation_mark(gomap *m, uint64_t newbit)
{
    m->nevacuate++;
    uint64_t stop = m->nevacuate + 1024;
    if (stop > newbit)
        stop = newbit;
    while (m->nevacuate != stop && gm_evacuated(gm_bucket(m, m->oldbuckets, m->nevacuate)))
        m->nevacuate++;
    if (m->nevacuate == newbit)
        gm_release_old(m);
}

static void evacuate(gomap *m, uint64_t oldbucket)
{
    unsigned char *b = gm_bucket(m, m->oldbuckets, oldbucket);
    uint64_t newbit = gm_noldbuckets(m);
    if (!gm_evacuated(b)) {
        struct evac_dst xy[2] = {{gm_bucket(m, m->buckets, oldbucket), 0}, {NULL, 0}};
        if (!m->same_size_grow)
            xy[1].b = gm_bucket(m, m->buckets, oldbucket + newbit);
        for (; b; b = gm_overflow(m, b)) {
            for (unsigned i = 0; i < GM_SLOTS; i++) {
                uint8_t top = b[i];
                if (gm_is_empty(top)) {
                    b[i] = GM_EVACUATED_EMPTY;
                    continue;
                }
                unsigned use_y = 0;
                if (!m->same_size_grow && (gm_hash(m, gm_key(m, b, i)) & newbit))
                    use_y = 1;
                b[i] = (uint8_t)(GM_EVACUATED_X + use_y);
                move_entry(m, &xy[use_y], b, i, top);
            }
        }
    }
    if (oldbucket == m->nevacuate)
        advance_evacuation_mark(m, newbit);
}

void gm_grow_work(gomap *m, uint64_t bucket)
{
    evacuate(m, bucket & (gm_noldbuckets(m) - 1));
    if (m->oldbuckets)
        evacuate(m, m->nevacuate);
}

void gm_finish_growth(gomap *m)
{
    while (m->oldbuckets)
        evacuate(m, m->nevacuate);
}

static void for_each_in(const gomap *m, unsigned char *arr, uint8_t B, gm_entry_fn fn, void *ctx)
{
    for (uint64_t i = 0; i < ((uint64_t)1 << B); i++)
        for (unsigned char *b = gm_bucket(m, arr, i); b; b = gm_overflow(m, b))
            for (unsigned s = 0; s < GM_SLOTS; s++)
                if (b[s] >= GM_MIN_TOPHASH)
                    fn(ctx, gm_key(m, b, s), gm_value(m, b, s));
}

void gm_for_each(const gomap *m, gm_entry_fn fn, void *ctx)
{
    if (m->oldbuckets)
        for_each_in(m, m->oldbuckets, old_b(m), fn, ctx); /* evacuated slots are < 5 */
    if (m->buckets)
        for_each_in(m, m->buckets, m->B, fn, ctx);
}
