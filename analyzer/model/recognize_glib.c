/* analyzer/model/recognize_glib.c - GLib's GHashTable, what its arrays say
 * beyond the rule's words (facts: GLib 2.74's ghash.c, read in traces).
 *
 * A table has a hashes array (4 bytes a slot: 0 unused, 1 removed, a hash
 * >= 2 for each entry), a keys array (4 or 8 bytes a slot) and, unless it
 * is a set, a values array (4 or 8). A resize reallocates them one after
 * another, hashes first. The new slots of the keys and values are not
 * cleared (only the hashes say which slots are used), so where realloc
 * moved them into reused memory they hold whatever was there: read as
 * counts they said 231,908 entries of a table that never had more than
 * 200,000. Only the hashes count; the others are its siblings.
 *
 * Removing shrinks the table as it goes: g_hash_table_remove resizes when
 * fewer than a quarter of the slots are used, to 2^k slots, k the bit
 * length of live * 4/3 (at least 3). Below TIDEMARK_PROBE_MIN the arrays
 * are not probed, but in full mode their reallocations are followed
 * (recognize_after.c): the last one says how many entries were left.
 */
#include <stdlib.h>

#include "recognize_int.h"

#define GLIB_MIN_SLOTS 8 /* 2^HASH_TABLE_MIN_SHIFT */

static const struct recognizer *by_free_rz; /* qsort has no context argument */

static int by_free_time(const void *a, const void *b)
{
    uint64_t x = by_free_rz->b[*(const size_t *)a].t_free;
    uint64_t y = by_free_rz->b[*(const size_t *)b].t_free;
    return x < y ? -1 : x > y;
}

/* Was block b freed right after another block of the table was allocated
 * (b->before, its thread's latest allocation then, is that block's)? In a
 * resize, GLib reallocates the hashes, then the keys, then the values:
 * the old keys are freed right after the new hashes came, the old values
 * right after the new keys. The old hashes come after the previous
 * resize's bitmap (allocated after its arrays when it grew, before them
 * when it shrank) or the program's own allocations. */
static int freed_after_another(const struct recognizer *rz, const size_t *blocks, size_t nb,
                               const struct block *b)
{
    if (!b->before.size || b->t_free == TM_NO_TIME) return 0;
    size_t lo = 0, hi = nb; /* the first block allocated at before.t or later */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rz->b[blocks[mid]].t_alloc < b->before.t) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < nb && rz->b[blocks[lo]].t_alloc == b->before.t; lo++) {
        const struct block *m = &rz->b[blocks[lo]];
        if (m != b && m->size == b->before.size && m->stack == b->before.stack &&
            m->thread == b->free_thread)
            return 1;
    }
    return 0;
}

/* A realloc continues an array in its role: block b is what the table's
 * block freed last before it became (freed by the same thread within
 * LINK_NS, no other block of the table allocated in between). The keys (8
 * bytes a slot) reach the probe size a resize before the hashes, and
 * leave it a resize after them. */
int glib_mark_siblings(struct recognizer *rz, const size_t *blocks, size_t nb)
{
    size_t *freed = malloc((nb + 1) * sizeof *freed), nf = 0, next = 0;
    if (!freed) return -1;
    for (size_t j = 0; j < nb; j++)
        if (rz->b[blocks[j]].t_free != TM_NO_TIME) freed[nf++] = blocks[j];
    by_free_rz = rz;
    if (nf) qsort(freed, nf, sizeof *freed, by_free_time);
    const struct block *prev = NULL, *last_freed = NULL;
    for (size_t j = 0; j < nb; j++) {
        struct block *b = &rz->b[blocks[j]];
        while (next < nf && rz->b[freed[next]].t_free <= b->t_alloc)
            last_freed = &rz->b[freed[next++]];
        const struct block *pred = last_freed;
        if (pred && (pred->free_thread != b->thread || b->t_alloc - pred->t_free > LINK_NS ||
                     (prev && pred->t_free < prev->t_alloc)))
            pred = NULL;
        b->sibling = (pred && pred->sibling) || freed_after_another(rz, blocks, nb, b);
        prev = b;
    }
    free(freed);
    return 0;
}

uint64_t glib_live_after(const struct tm_rule *rule, const struct block *b)
{
    const struct after_chain *c = &b->fate;
    if (rule->model != TM_RULE_GLIB || c->freed || !b->after.size || b->after.size >= b->size)
        return 0;
    /* the last resize: the large block's own shrink, or a later one; not
     * a destroy's (g_hash_table_remove_all shrinks to 8 slots, and the
     * array is freed right after) */
    uint32_t steps = c->steps;
    uint64_t from = c->from, to = c->to;
    if (steps && c->last_freed && to / 4 == GLIB_MIN_SLOTS) {
        from = c->prev_from;
        to = c->prev_to;
        steps--;
    }
    if (!steps) {
        from = b->size;
        to = b->after.size;
    }
    if (to > from) return tm_rule_count_at_growth(rule, from, to, 0);
    uint64_t slots_from = from / 4, slots_to = to / 4;
    if (!slots_to) return 0;
    /* it shrank when fewer than a quarter of the slots were used, to the
     * slots that live * 4/3 takes (under twice them) */
    uint64_t by_quarter = slots_from ? (slots_from - 1) / 4 : 0;
    uint64_t by_size = (3 * slots_to - 1) / 2;
    return by_quarter < by_size ? by_quarter : by_size;
}
