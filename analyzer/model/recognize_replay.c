/* analyzer/model/recognize_replay.c - each recognised table's life
 * replayed into table_life.c as if it had been annotated: TABLE_NEW at its
 * first array, TABLE_ARRAY for each array (the count array as the main one,
 * the others as extra arrays), TABLE_COUNT from the probes of its count
 * array and at each growth, the arrays' frees, and TABLE_END once every
 * array of it is freed (destroyed, or shrunk below TIDEMARK_PROBE_MIN,
 * where its arrays are no longer seen), in time order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recognize_int.h"
#include "tidemark/annotate.h"

enum { EV_NEW, EV_ARRAY, EV_COUNT, EV_END, EV_FREE }; /* the order at one time */

struct replay_event {
    uint64_t t;
    int kind;
    size_t block;  /* EV_ARRAY, EV_FREE; EV_NEW: the first block */
    uint64_t live; /* EV_COUNT: the count (the upper end of a range); EV_END: 1 if shrunk;
                      EV_NEW: the load it grows at, in millionths (0: the rule's);
                      EV_ARRAY: the table's count then (carry_counts) */
    size_t table;
    uint64_t live_lo; /* EV_COUNT: the lower end */
    uint64_t order;
    int probed;       /* EV_COUNT: read by a probe pass (not a growth's, not a destructor's) */
};

struct replay {
    struct replay_event *v;
    size_t n, cap;
};

static int push(struct replay *R, struct replay_event e)
{
    if (R->n == R->cap) {
        size_t cap = R->cap ? R->cap * 2 : 256;
        struct replay_event *v = realloc(R->v, cap * sizeof *v);
        if (!v) return -1;
        R->v = v;
        R->cap = cap;
    }
    e.order = R->n;
    R->v[R->n++] = e;
    return 0;
}

static int by_replay_time(const void *a, const void *b)
{
    const struct replay_event *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Was block b allocated when a probe read it at t? A probe at free comes
 * right before the block's FREE, maybe at the same time. */
static int read_while_live(const struct block *b, uint64_t t)
{
    return b->t_alloc <= t && (b->t_free == TM_NO_TIME || b->t_free >= t);
}

/* Is o an array of b's size that the same resize made before b? GLib
 * reallocates its hashes first, then its keys, then its values: where the
 * values are as small as the hashes (32-bit integers), the hashes are the
 * first of them (tables mode, where recognize_glib.c cannot tell the
 * values apart: their new slots are not cleared, and read 40 of 10). */
static int first_of_resize(const struct tm_rule *rule, const struct block *o,
                           const struct block *b)
{
    return rule->model == TM_RULE_GLIB && o->size == b->size && o->t_alloc < b->t_alloc &&
           b->t_alloc - o->t_alloc <= LINK_NS;
}

/* Is block i its table's count array at time t? (blocks: the table's) */
static int counts_at(const struct recognizer *rz, const struct tm_rule *rule, const size_t *blocks,
                     size_t nb, size_t i, uint64_t t)
{
    if (rule->count_array == TM_COUNT_ARRAY_ONLY) return 1;
    const struct block *b = &rz->b[i];
    if (b->sibling) return 0; /* GLib's keys or values (recognize_glib.c) */
    for (size_t k = 0; k < nb; k++) {
        const struct block *o = &rz->b[blocks[k]];
        if (blocks[k] != i && !o->sibling && block_live_at(o, t) &&
            (o->size < b->size || first_of_resize(rule, o, b)))
            return 0; /* a sibling is no count array, smaller or not */
    }
    return 1;
}

/* Is block i its table's main (count) array? The count array is the
 * smallest of the arrays live together; while a resize runs, the old
 * generation's arrays are live too, so this is judged once the resize is
 * over: at the block's first probe, else just before its free, else at the
 * end; and before the table's end (`end`), when its destructor frees the
 * arrays one by one (khash's values, read as they are freed, are the only
 * array left then). */
static int is_main_array(const struct recognizer *rz, const struct tm_rule *rule,
                         const size_t *blocks, size_t nb, size_t i, uint64_t at, uint64_t end)
{
    const struct block *b = &rz->b[i];
    uint64_t t = b->n_probes ? b->probes[0].t : b->t_free != TM_NO_TIME ? b->t_free - 1 : at;
    /* not before the older arrays its resize replaces are freed (a pass
     * that read khash's new flags while the old, smaller, ones lived made
     * them no count array: 0 buckets, or a growth counted from the
     * generation before, and "oversized" right after a growth) */
    for (size_t k = 0; k < nb; k++) {
        const struct block *o = &rz->b[blocks[k]];
        if (o->t_alloc < b->t_alloc && o->t_free != TM_NO_TIME && o->t_free > t &&
            o->t_free < b->t_free && o->t_free <= at)
            t = o->t_free;
    }
    if (end != TM_NO_TIME && end > 0 && t >= end) t = end - 1;
    return counts_at(rz, rule, blocks, nb, i, t);
}

/* Did probe p read an array of 8-byte pointers: both 32-bit halves of
 * every non-zero word at least 2? A GLib table's keys or values (a string
 * key's pointer) are read so; they are as large as its hashes (4 bytes a
 * slot) of the next size while a resize runs, and their u32ge2 counts each
 * entry twice. A hashes array never reads so but when every non-zero word
 * holds two live slots, which a table of a few entries, or at GLib's load,
 * does not. */
static int looks_like_pointers(const struct probe *p)
{
    return p->nz64 && p->u32ge2 == 2 * p->nz64;
}

/* Does probe p read a count array of the rule? khash's flags are its
 * smallest array, but below TIDEMARK_PROBE_MIN they are not seen, and then
 * its keys or values are the smallest seen: their 00 pairs are no count.
 * A flags array always reads as one (the shim's layout check), but for a
 * moment inside a resize (all buckets deleted), when it counts nothing. */
static int reads_count_array(const struct tm_rule *rule, const struct probe *p)
{
    if (rule->count == TM_COUNT_U32GE2)
        return !looks_like_pointers(p);
    return rule->count != TM_COUNT_PAIRS00 || p->layout == TMK_PROBE_LAYOUT_KHASH_FLAGS;
}

/* Is block b a count array by what its probes read? (See above: a khash
 * array none of whose probes read as flags is its keys or values.) */
static int known_count_array(const struct tm_rule *rule, const struct block *b)
{
    if (rule->count != TM_COUNT_PAIRS00) return 1;
    for (size_t k = 0; k < b->n_probes; k++)
        if (reads_count_array(rule, &b->probes[k])) return 1;
    return 0;
}

uint64_t live_of(const struct tm_rule *rule, const struct block *b, const struct probe *p,
                        uint64_t *lo)
{
    uint64_t hi;
    *lo = 0;
    switch (rule->count) {
    case TM_COUNT_NONZERO64:
        tm_rule_live_range(p->nz64, b->size / 8, lo, &hi);
        return hi;
    case TM_COUNT_U32GE2: return *lo = p->u32ge2;
    case TM_COUNT_PAIRS00: return *lo = p->pairs00;
    case TM_COUNT_SUM16: return *lo = p->sum16;
    case TM_COUNT_LAYOUT:
    default: return *lo = p->live;
    }
}

/* Had block i been replaced at t: a later array of its table (of its
 * stack, where the implementation has several arrays) live then? Its
 * contents are then the old generation's, whose count the growth gave:
 * read as a resize frees it, it would count one entry short (libstdc++),
 * or none (khash marks every moved bucket deleted). */
int replaced_at(const struct recognizer *rz, const struct tm_rule *rule,
                       const size_t *blocks, size_t nb, size_t i, uint64_t t)
{
    const struct block *b = &rz->b[i];
    for (size_t k = 0; k < nb; k++) {
        const struct block *o = &rz->b[blocks[k]];
        if (o->t_alloc > b->t_alloc && block_live_at(o, t) &&
            (rule->count_array == TM_COUNT_ARRAY_ONLY || o->stack == b->stack))
            return 1;
    }
    return 0;
}

/* Is block i, at t, a new array its entries are still being moved into?
 * An implementation of one array (libstdc++, CPython, hashbrown, Abseil,
 * uthash) allocates the new one, moves the entries, then frees the old
 * one: while the old one is live, the new one holds only part of them (a
 * pass that read a libstdc++ table's new array, zeroed, before its rehash
 * moved a node counted 0; the table read "oversized until freed" with 0
 * live). The old one is an older array of its table, or, in full mode,
 * another table's whose thread freed it having allocated nothing since
 * this one (a rehash longer than the linker's window, which makes the new
 * array a table of its own: one slowed past a pass read 84,129 of 200,000
 * and "oversized"). */
static int filling_at(const struct recognizer *rz, const struct tm_rule *rule,
                      const size_t *blocks, size_t nb, size_t i, uint64_t t)
{
    if (rule->count_array != TM_COUNT_ARRAY_ONLY) return 0;
    const struct block *b = &rz->b[i];
    for (size_t k = 0; k < nb; k++) {
        const struct block *o = &rz->b[blocks[k]];
        if (blocks[k] != i && o->t_alloc < b->t_alloc && block_live_at(o, t)) return 1;
    }
    const uint64_t *k = u64map_get(&rz->freed_next, b->t_alloc);
    const struct block *o = k ? &rz->b[*k] : NULL;
    return o && o != b && o->rule == b->rule && o->t_alloc < b->t_alloc && block_live_at(o, t) &&
           allocated_last(o, b);
}

/* rz->freed_next, for filling_at: each freed block by the time of the
 * allocation its thread made last before its free. -1 when out of memory. */
static int index_freed_next(struct recognizer *rz)
{
    u64map_free(&rz->freed_next);
    u64map_init(&rz->freed_next);
    for (size_t k = 0; k < rz->n; k++) {
        const struct block *o = &rz->b[k];
        if (o->rule >= 0 && o->t_free != TM_NO_TIME && o->before.size &&
            !u64map_get(&rz->freed_next, o->before.t) &&
            u64map_put(&rz->freed_next, o->before.t, k))
            return -1;
    }
    return 0;
}

/* When the table ended, or TM_NO_TIME: once every array of it is freed (by
 * `at`), at the first free, after its last allocation, of an array that no
 * later array of its kind had replaced, before that free, as an annotated
 * table's end comes before its arrays' frees. A resize frees an old array
 * after the new one came (libstdc++, CPython: replaced then) or before it
 * (a realloc: GLib, khash; before the last allocation then). Not by time:
 * the arrays of one resize may come many ms apart (khash's, when the
 * resizing thread is preempted between its reallocs). */
static uint64_t end_of(const struct recognizer *rz, const struct tm_rule *rule,
                       const size_t *blocks, size_t nb, const struct tm_options *o)
{
    uint64_t newest = 0, end = TM_NO_TIME;
    for (size_t j = 0; j < nb; j++) {
        const struct block *b = &rz->b[blocks[j]];
        if (b->t_free == TM_NO_TIME || b->t_free > o->at) return TM_NO_TIME;
        if (b->t_alloc > newest) newest = b->t_alloc;
    }
    for (size_t j = 0; j < nb; j++) {
        const struct block *b = &rz->b[blocks[j]];
        if (b->t_free >= newest && b->t_free < end &&
            !replaced_at(rz, rule, blocks, nb, blocks[j], b->t_free))
            end = b->t_free;
    }
    return end;
}


/* When probe p of block b counts for the table, the table ending at `end`,
 * or TM_NO_TIME when it does not. A probe after the end counts only when it
 * is the block's probe at free, in the destructor's frees (khash frees its
 * keys, then its flags, then its values): at the end, what the table held
 * then. Neither does one of 0 at or after the end: libstdc++ and GLib clear
 * their arrays in the destructor, before the free the probe read them at,
 * so 0 there says nothing of what the table held before; nor uthash's. */
static uint64_t count_time(const struct recognizer *rz, const struct tm_rule *rule,
                           const size_t *blocks, size_t nb, size_t i, const struct probe *p,
                           uint64_t live, uint64_t end, const struct tm_options *o)
{
    const struct block *b = &rz->b[i];
    if (p->t > o->at || !read_while_live(b, p->t) || !reads_count_array(rule, p) ||
        !counts_at(rz, rule, blocks, nb, i, p->t) || replaced_at(rz, rule, blocks, nb, i, p->t) ||
        filling_at(rz, rule, blocks, nb, i, p->t))
        return TM_NO_TIME;
    if (end == TM_NO_TIME || p->t + TM_CLEAR_NS < end) return p->t;
    if (p->t < end) {
        /* libstdc++ and GLib clear their arrays in the destructor, before
         * the frees: a pass that read them then saw them half cleared (a
         * GLib table's values read in the middle of g_hash_table_destroy's
         * memsets counted 36,222 of 200,000). Right before the end such a
         * pass says nothing; the destructor's own figures stand (below). */
        int clears = rule->model == TM_RULE_LIBSTDCXX || rule->model == TM_RULE_GLIB;
        return clears && p->t != b->t_free ? TM_NO_TIME : p->t;
    }
    /* uthash frees its buckets as its last item goes: read then, it is
     * always all but empty, which says nothing of what it held before */
    if (rule->model == TM_RULE_UTHASH) return TM_NO_TIME;
    return live && p->t == b->t_free ? end : TM_NO_TIME;
}

/* Did the table end as its owner shrank it (recognize.c, mark_shrinks): an
 * array of its last generation freed for a smaller one of the same code,
 * and none for one freed right away (recognize_after.c: GLib's destroy
 * shrinks each array, then frees them one after another)? A GLib shrink
 * reallocates every array: one freed with another free right after was
 * freed by g_hash_table_unref, whatever came after the last. */
static int shrunk_at_end(const struct recognizer *rz, const struct tm_rule *rule,
                         const size_t *blocks, size_t nb, uint64_t end)
{
    int shrunk = 0;
    for (size_t j = 0; j < nb; j++) {
        const struct block *b = &rz->b[blocks[j]];
        if (b->t_free == TM_NO_TIME || b->t_free < end) continue;
        if (b->fate.freed || (rule->model == TM_RULE_GLIB && b->free_alone)) return 0;
        shrunk = shrunk || b->shrunk;
    }
    return shrunk;
}

/* The count at a shrunk table's end from what its count array's small
 * arrays became (recognize_glib.c), or 0: GLib only. Its count array is
 * the last one freed that is no sibling: GLib's hashes go below the probe
 * size a resize before its 8-byte keys. */
static uint64_t live_after_end(const struct recognizer *rz, const struct tm_rule *rule,
                               const size_t *blocks, size_t nb, uint64_t end)
{
    if (rule->model != TM_RULE_GLIB || end == TM_NO_TIME ||
        !shrunk_at_end(rz, rule, blocks, nb, end))
        return 0;
    const struct block *count = NULL;
    for (size_t j = 0; j < nb; j++) {
        const struct block *b = &rz->b[blocks[j]];
        if (b->t_free != TM_NO_TIME && !b->sibling && (!count || b->t_free > count->t_free))
            count = b;
    }
    return count ? glib_live_after(rule, count) : 0;
}

/* What a table's destructor says it held: libstdc++ frees every node, then
 * clears its bucket array, then frees it, so the array read as it is freed
 * counts nothing, but the nodes freed right before it (free_runs.h) are
 * the entries it had. 0 when not known: another implementation, an array
 * that is not the table's last, a run whose start is not known, or more
 * nodes than buckets (libstdc++ rehashes past one a bucket: the frees were
 * not all the table's). */
static uint64_t destructor_count(const struct tm_rule *rule, const struct block *b, uint64_t end,
                                 const struct replay *R, size_t first)
{
    if (rule->model != TM_RULE_LIBSTDCXX || !b->main || end == TM_NO_TIME || b->t_free != end ||
        !b->before.size || b->freed_before > b->size / 8)
        return 0;
    /* The run also holds every free since the thread's last allocation: an
     * erase loop right before the destructor is counted too. The count is
     * then too high (never too low: an insert allocates, which ends a run);
     * a count read since the run began (a pass while it lay idle) is one
     * the table cannot have exceeded at its end. */
    uint64_t had = b->freed_before;
    for (size_t k = first; k < R->n; k++) {
        const struct replay_event *e = &R->v[k];
        if (e->kind == EV_COUNT && e->t >= b->before.t && e->t < end && e->live < had)
            had = e->live;
    }
    return had;
}

/* The replay events of one table; blocks = its blocks in allocation order. */
static int table_events(struct recognizer *rz, const struct tm_rules *rules, size_t table,
                        const size_t *blocks, size_t nb, struct replay *R, const struct tm_options *o)
{
    uint64_t prev_main = 0; /* bytes of the previous main array */
    uint64_t end = end_of(rz, &rules->v[rz->b[blocks[0]].rule], blocks, nb, o);
    double load;
    int one_per_bucket;
    enum count_source from =
        count_source(rz, &rules->v[rz->b[blocks[0]].rule], blocks, nb, &load, &one_per_bucket);
    uint64_t load_ppm = (uint64_t)llround(load * 1e6); /* EV_NEW's `live` */
    if (rules->v[rz->b[blocks[0]].rule].model == TM_RULE_GLIB && glib_mark_siblings(rz, blocks, nb))
        return -1;
    /* a GLib table shrunk below the probe size: the count its last small
     * arrays give stands at its end, not what a probe read before */
    uint64_t after = live_after_end(rz, &rules->v[rz->b[blocks[0]].rule], blocks, nb, end);
    if (after && push(R, (struct replay_event){end, EV_COUNT, blocks[0], after, table, after, 0, 0}))
        return -1;
    int end_pushed = 0;
    size_t first = R->n; /* this table's events */
    for (size_t j = 0; j < nb; j++) {
        size_t i = blocks[j];
        struct block *b = &rz->b[i];
        const struct tm_rule *rule = &rules->v[b->rule];
        if (j == 0 && push(R, (struct replay_event){b->t_alloc, EV_NEW, i, load_ppm, table, 0, 0, 0}))
            return -1;
        b->main = is_main_array(rz, rule, blocks, nb, i, o->at, end);
        if (push(R, (struct replay_event){b->t_alloc, EV_ARRAY, i, 0, table, 0, 0, 0})) return -1;
        if (b->t_free != TM_NO_TIME && b->t_free <= o->at &&
            push(R, (struct replay_event){b->t_free, EV_FREE, i, 0, table, 0, 0, 0}))
            return -1;
        if (!end_pushed && end != TM_NO_TIME && b->t_free == end) {
            uint64_t shrunk = shrunk_at_end(rz, rule, blocks, nb, end); /* EV_END's `live` */
            if (push(R, (struct replay_event){end, EV_END, i, shrunk, table, 0, 0, 0})) return -1;
            end_pushed = 1;
        }
        /* a growth: the implementation's rule says the count then */
        int counts = b->main && known_count_array(rule, b);
        uint64_t cap = b->n_probes ? b->probes[0].capacity : 0;
        if (counts && !prev_main && doubled_with(rz, rule, blocks, nb, i)) prev_main = b->size / 2;
        uint64_t grown = counts && prev_main && b->size > prev_main
                             ? tm_rule_count_at_growth(rule, prev_main, b->size, cap)
                             : 0;
        if (from == COUNT_BY_ARRAY) /* the rule's count at the load it grows at */
            grown = (uint64_t)floor((double)grown * load);
        if (grown && push(R, (struct replay_event){b->t_alloc, EV_COUNT, i, grown, table, grown, 0, 0}))
            return -1;
        if (counts) prev_main = b->size;
        for (size_t k = 0; from != COUNT_BY_GROWTH && k < b->n_probes; k++) {
            const struct probe *p = &b->probes[k];
            uint64_t lo, live = live_of(rule, b, p, &lo);
            if (one_per_bucket) live = lo;
            uint64_t t = count_time(rz, rule, blocks, nb, i, p, live, end, o);
            if (after && t != TM_NO_TIME && t >= end) continue;
            if (t != TM_NO_TIME &&
                push(R, (struct replay_event){t, EV_COUNT, i, live, table, lo, 0, p->t == t}))
                return -1;
        }
        uint64_t had = destructor_count(rule, b, end, R, first);
        if (had && push(R, (struct replay_event){end, EV_COUNT, i, had, table, had, 0, 0})) return -1;
    }
    return 0;
}

static const struct recognizer *sort_rz; /* qsort has no context argument */

static int by_table_then_alloc(const void *a, const void *b)
{
    const struct block *x = &sort_rz->b[*(const size_t *)a], *y = &sort_rz->b[*(const size_t *)b];
    if (x->table != y->table) return x->table < y->table ? -1 : 1;
    if (x->t_alloc != y->t_alloc) return x->t_alloc < y->t_alloc ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Every table's events, from its blocks grouped by table. */
static int all_events(struct recognizer *rz, const struct tm_rules *rules, struct replay *R,
                      const struct tm_options *o)
{
    size_t *ix = malloc((rz->n + 1) * sizeof *ix), n = 0;
    if (!ix) return -1;
    for (size_t i = 0; i < rz->n; i++)
        if (rz->b[i].rule >= 0 && rz->b[i].t_alloc <= o->at) ix[n++] = i;
    sort_rz = rz;
    if (n) qsort(ix, n, sizeof *ix, by_table_then_alloc);
    int rc = 0;
    for (size_t s = 0, e; rc == 0 && s < n; s = e) {
        for (e = s + 1; e < n && rz->b[ix[e]].table == rz->b[ix[s]].table; e++) {
        }
        rc = table_events(rz, rules, rz->b[ix[s]].table, ix + s, e - s, R, o);
    }
    free(ix);
    return rc;
}

/* How far apart one pass may read two arrays of one table. */
#define PASS_SPAN_NS 20000000ull /* 20 ms */

/* Are e and the kept event f one pass's reads of two count arrays of one
 * table (GLib's hashes and its values of the same size; the shim dates
 * each read apart), with nothing else of the table between? */
static int same_pass(const struct replay_event *f, const struct replay_event *e)
{
    return f->kind == EV_COUNT && e->kind == EV_COUNT && f->table == e->table &&
           (f->t == e->t || (f->probed && e->probed && f->block != e->block &&
                             e->t - f->t <= PASS_SPAN_NS));
}

/* Several count arrays probed in one pass: keep the largest count of a
 * table's (sorted input), at the time of the first read. -1 when out of
 * memory. */
static int keep_largest_counts(struct replay *R)
{
    size_t tables = 0;
    for (size_t i = 0; i < R->n; i++)
        if (R->v[i].table + 1 > tables) tables = R->v[i].table + 1;
    size_t *last = malloc((tables ? tables : 1) * sizeof *last); /* kept index + 1, 0: none */
    if (!last) return -1;
    memset(last, 0, (tables ? tables : 1) * sizeof *last);
    size_t w = 0;
    for (size_t i = 0; i < R->n; i++) {
        struct replay_event *e = &R->v[i];
        struct replay_event *f = last[e->table] ? &R->v[last[e->table] - 1] : NULL;
        if (f && same_pass(f, e)) {
            if (e->live > f->live) {
                f->live = e->live;
                f->live_lo = e->live_lo;
            }
            continue;
        }
        R->v[w++] = *e;
        last[e->table] = w;
    }
    R->n = w;
    free(last);
    return 0;
}

/* The count an array comes with (EV_ARRAY's `live`): the table's last. A
 * realloc moves the entries as they are; a growth's count comes right
 * after (EV_COUNT), and a new table's is 0. */
static void carry_counts(struct replay *R)
{
    size_t n = 0;
    for (size_t i = 0; i < R->n; i++)
        if (R->v[i].table + 1 > n) n = R->v[i].table + 1;
    uint64_t *last = calloc(n + 1, sizeof *last);
    if (!last) return; /* then arrays come with 0, as before */
    for (size_t i = 0; i < R->n; i++) {
        struct replay_event *e = &R->v[i];
        if (e->kind == EV_COUNT) last[e->table] = e->live;
        if (e->kind == EV_ARRAY) e->live = last[e->table];
    }
    free(last);
}

static void apply(struct recognizer *rz, const struct tm_rules *rules, const struct replay_event *e,
                  uint64_t first_id, struct tables *tb, const struct tm_options *o)
{
    const struct block *b = &rz->b[e->block];
    const struct tm_rule *rule = &rules->v[b->rule];
    uint64_t id = first_id + e->table;
    struct tm_record r;
    memset(&r, 0, sizeof r);
    r.t = e->t;
    r.thread = b->thread;
    switch (e->kind) {
    case EV_NEW:
        r.type = TMK_REC_TABLE_NEW;
        r.u.table_new.table = id;
        r.u.table_new.kind = TM_KIND_RECOGNISED;
        r.u.table_new.stack = b->stack;
        r.u.table_new.label = rule->impl;
        r.u.table_new.label_len = strlen(rule->impl);
        tables_new(tb, &r, o);
        tables_set_rule(tb, id, rule, (double)e->live / 1e6);
        break;
    case EV_ARRAY: {
        int main = b->main;
        r.type = TMK_REC_TABLE_ARRAY;
        r.u.table_array.table = id;
        r.u.table_array.ptr = b->ptr;
        r.u.table_array.bytes = b->size;
        r.u.table_array.buckets = main ? tm_rule_buckets(rule, b->size, b->n_probes ? b->probes[0].capacity : 0) : 0;
        r.u.table_array.reason = main ? TMK_ARRAY_GROW : TMK_ARRAY_OVERFLOW;
        r.u.table_array.stack = b->stack;
        r.u.table_array.live = e->live;
        tables_array(tb, &r, -1, o);
        break;
    }
    case EV_COUNT:
        r.type = TMK_REC_TABLE_COUNT;
        r.u.table_count.table = id;
        r.u.table_count.live = e->live;
        tables_count(tb, &r, 0, o);
        if (rule->count == TM_COUNT_NONZERO64) tables_set_live_range(tb, id, e->live_lo, e->live);
        break;
    case EV_END:
        r.type = TMK_REC_TABLE_END;
        r.u.table_count.table = id;
        tables_count(tb, &r, 1, o);
        if (e->live) tables_mark_shrunk(tb, id);
        break;
    case EV_FREE:
    default:
        tables_freed(tb, e->t, b->ptr, o);
        break;
    }
}

int recognize_replay(struct recognizer *rz, const struct tm_rules *rules, struct tables *tb,
                     const struct tm_options *o)
{
    struct replay R = {NULL, 0, 0};
    int rc = index_freed_next(rz);
    if (rc == 0) rc = all_events(rz, rules, &R, o);
    if (rc == 0) {
        if (R.n) qsort(R.v, R.n, sizeof *R.v, by_replay_time); /* R.v is NULL when none */
        rc = keep_largest_counts(&R);
    }
    if (rc == 0) {
        carry_counts(&R);
        uint64_t first_id = tables_max_id(tb) + 1; /* after the annotated ones */
        for (size_t i = 0; i < R.n; i++) apply(rz, rules, &R.v[i], first_id, tb, o);
    }
    free(R.v);
    return rc;
}
