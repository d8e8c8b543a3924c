/* analyzer/model/recognize_link.c - which matched blocks are one table's
 * arrays: each block starts a table of its own, and the rules below merge
 * them (recognize.c matched the blocks to rules; recognize_replay.c replays
 * each linked table's life).
 *
 * Linking, per thread, in time order of the matched blocks' allocations and
 * frees (the shim's order: a free's time before the memory goes back, an
 * allocation's after):
 *  - a block allocated right after a block of the same rule was freed on the
 *    same thread (within LINK_NS, and no other matched block allocated in
 *    between: a realloc is a free then an allocation) continues that
 *    block's table, where the implementation reallocates its arrays (GLib,
 *    khash, a user's pow2 rule) and the block is the free's realloc: the
 *    thread's very next allocation (full mode), or else from the same call
 *    and larger (is_realloc). A table destroyed and another made right
 *    after at the same site is two tables. Not when the freed block's
 *    table already holds a live array of the block's call and size (khash
 *    frees its old flags with a plain free: two tables filled in turn
 *    allocate one's new flags right after the other's old ones went);
 *  - a block freed while the thread's newest allocation of the same rule is
 *    still a table of its own (allocated after the freed block, not longer
 *    ago than moving its entries could take: move_window, with no matched
 *    block freed in between, and in full mode no allocation at all) makes
 *    that table a continuation of the freed block's (libstdc++ and CPython
 *    allocate the new array, move the entries, then free the old one),
 *    unless the two tables made one would hold two live arrays of one call
 *    and size (two khash tables filled in turn: one's keys reallocated
 *    right after the other's);
 *  - a block allocated within LINK_NS of the previous one of the same rule
 *    on the same thread, while that one lives, from the same callers (the
 *    frames past the rule's matched frame) and from another call than the
 *    current resize's arrays, joins its table: the parallel arrays of one
 *    resize (khash's flags, keys and values; GLib's keys, values and
 *    hashes). A block from one of that resize's calls starts the next
 *    resize, or the next table made at the same site.
 */
#include <stdlib.h>

#include "recognize_int.h"

struct rtable {
    int rule;
    size_t first;     /* its first block (site, creation time) */
    size_t merged_to; /* itself, or the table it became part of */
};

struct linker {
    struct rtable *t;
    size_t n;
};

static size_t root(struct linker *L, size_t i)
{
    while (L->t[i].merged_to != i) i = L->t[i].merged_to;
    return i;
}

static int new_table(struct linker *L, int rule, size_t first)
{
    struct rtable *t = realloc(L->t, (L->n + 1) * sizeof *t);
    if (!t) return -1;
    L->t = t;
    L->t[L->n] = (struct rtable){rule, first, L->n};
    return (int)L->n++;
}

struct event {
    uint64_t t;
    size_t block;
    int is_free;
};

static int by_time(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->is_free != y->is_free) return x->is_free ? -1 : 1; /* realloc: free first */
    return x->block < y->block ? -1 : x->block > y->block;
}

#define RECENT_MAX 8 /* a thread's newest matched allocations kept */

/* What one thread did last (see the top comment). */
struct thread_state {
    uint32_t thread;
    long freed;       /* block freed and not yet continued, or -1 */
    long allocated;   /* newest allocation whose table is its own, or -1 */
    long group;       /* newest allocation (for parallel arrays), or -1 */
    uint64_t group_stacks[4]; /* the stacks of the newest resize's arrays */
    unsigned n_group;
    long recent[RECENT_MAX]; /* its newest allocations, a ring (see holds_twin) */
    unsigned n_recent;
};

/* The call that allocated each matched block: its frames up to the rule's
 * matched one, at least the allocator's caller and that one's caller. */
void recognize_note_codes(struct recognizer *rz, const struct tm_model *m)
{
    for (size_t i = 0; i < rz->n; i++) {
        struct block *b = &rz->b[i];
        const struct tm_stack *s = b->rule >= 0 ? tm_model_stack(m, b->stack) : NULL;
        uint32_t k = (uint32_t)(b->at > 1 ? b->at : 1) + 1;
        b->code = s ? hash_frames(s->frames, s->depth < k ? s->depth : k) : b->stack;
    }
}

/* Does the implementation grow by realloc (the free and the allocation of
 * one call)? The others allocate the new array before freeing the old. */
static int reallocates(const struct tm_rule *r)
{
    return r->model == TM_RULE_GLIB || r->model == TM_RULE_KHASH || r->model == TM_RULE_POW2;
}

/* Is b, the thread's first allocation of a matched block since it freed f,
 * f's realloc? In full mode the trace says: b is the thread's very next
 * allocation (a table destroyed and another made at the same site has
 * the new table's small arrays in between). Elsewhere b must come from the
 * call that allocated f and be larger: a growth (the first array followed
 * of a new table is the smallest that call allocates, never larger than
 * one followed). A shrink there is followed only where the implementation
 * reallocates several arrays: the next one's free links them (link_free). */
static int is_realloc(const struct tm_rules *rules, const struct block *f, const struct block *b)
{
    if (f->rule != b->rule || !reallocates(&rules->v[b->rule]) || b->t_alloc - f->t_free > LINK_NS)
        return 0;
    if (f->after.size)
        return f->after.t == b->t_alloc && f->after.size == b->size && f->after.stack == b->stack;
    return f->code == b->code && b->size > f->size;
}

/* Is stack one of the current resize's? Then a block from it starts the
 * next resize (or the next table made at the same site), not a sibling. */
static int in_group(const struct thread_state *st, uint64_t stack)
{
    for (unsigned k = 0; k < st->n_group; k++)
        if (st->group_stacks[k] == stack) return 1;
    return 0;
}

/* A full group starts over: a stack it could not keep is never taken for
 * another array of the resize it left. */
static void group_add(struct thread_state *st, uint64_t stack, int fresh)
{
    if (fresh || st->n_group == sizeof st->group_stacks / sizeof st->group_stacks[0])
        st->n_group = 0;
    st->group_stacks[st->n_group++] = stack;
}

static struct thread_state *state_of(struct thread_state **v, size_t *n, uint32_t thread)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].thread == thread) return &(*v)[i];
    struct thread_state *s = realloc(*v, (*n + 1) * sizeof *s);
    if (!s) return NULL;
    *v = s;
    memset(&s[*n], 0, sizeof s[*n]);
    s[*n].thread = thread;
    s[*n].freed = s[*n].allocated = s[*n].group = -1;
    return &s[(*n)++];
}

/* Does f's table already hold, live when b came, an array from b's call
 * and of b's size, among the thread's newest allocations? Then b is not
 * f's realloc but another table's array: khash frees its old flags array
 * with a plain free, and the next table's resize (two tables filled in
 * turn) allocates its new flags, of the size the first table's new flags
 * have, right after (in full mode, f's `after`). A table holds one array
 * from each of its calls. */
static int holds_twin(struct recognizer *rz, struct linker *L, const struct thread_state *st,
                      const struct block *f, const struct block *b)
{
    size_t t = root(L, f->table);
    for (unsigned k = 0; k < st->n_recent && k < RECENT_MAX; k++) {
        const struct block *x = &rz->b[st->recent[k]];
        if (x != f && x->code == b->code && x->size == b->size && x->t_alloc >= f->t_alloc &&
            block_live_at(x, b->t_alloc) && root(L, x->table) == t)
            return 1;
    }
    return 0;
}

static int link_alloc(struct recognizer *rz, const struct tm_rules *rules, struct linker *L,
                      struct thread_state *st, size_t i)
{
    struct block *b = &rz->b[i];
    const struct block *f = st->freed >= 0 ? &rz->b[st->freed] : NULL;
    const struct block *g = st->group >= 0 ? &rz->b[st->group] : NULL;
    /* parallel arrays only where the implementation has several: dicts
     * made one after another at one site are tables of their own */
    int several = rules->v[b->rule].count_array == TM_COUNT_ARRAY_SMALLEST;
    int near = g && g->rule == b->rule && b->t_alloc - g->t_alloc <= LINK_NS;
    st->freed = -1; /* a realloc's free and allocation come together */
    if (f && is_realloc(rules, f, b) && !holds_twin(rz, L, st, f, b)) {
        b->table = root(L, f->table);
        st->allocated = -1;
        group_add(st, b->stack, !near || in_group(st, b->stack)); /* the resize's next array */
    } else if (several && near && g->chain == b->chain && !in_group(st, b->stack) &&
               (g->t_free == TM_NO_TIME || g->t_free > b->t_alloc)) {
        b->table = root(L, g->table); /* another array of the same resize */
        group_add(st, b->stack, 0);
    } else {
        group_add(st, b->stack, 1);
        int t = new_table(L, b->rule, i);
        if (t < 0) return -1;
        b->table = (size_t)t;
        st->allocated = (long)i;
    }
    st->group = (long)i;
    st->recent[st->n_recent++ % RECENT_MAX] = (long)i;
    return 0;
}

/* How long moving the entries into the new array b may take before the old
 * one is freed: LINK_NS, plus 200 ns a bucket of 8 bytes (1.4 M buckets of
 * libstdc++ relinked in ~70 ms here). */
static uint64_t move_window(const struct block *b)
{
    return LINK_NS + b->size / 8 * 200;
}

/* Is f the old array of the resize that allocated a, the thread's newest
 * array whose table is its own, and f the thread's first matched block freed
 * since? In full mode also nothing else allocated between a and f's free
 * (a rehash only moves entries): a table made while another of its site
 * lives, which is then destroyed, is not its successor. */
static int moved_from(struct linker *L, const struct block *f, const struct block *a)
{
    if (a->rule != f->rule || a->t_alloc < f->t_alloc || f->t_free - a->t_alloc > move_window(a) ||
        root(L, a->table) == root(L, f->table))
        return 0;
    return !f->before.size || allocated_last(f, a);
}

/* Would a's table and f's, made one, hold two arrays from one call, of
 * one size, live at t (besides the freed block f and the new array a, the
 * same array's generations), among the thread's newest allocations? Two
 * khash tables filled in turn reallocate one's keys and values right after
 * the other's: read as one table's new array and its old one (libstdc++'s
 * move), they would merge, though each keeps its own values array. */
static int would_hold_twins(struct recognizer *rz, struct linker *L, const struct thread_state *st,
                            const struct block *f, const struct block *a, uint64_t t)
{
    size_t ta = root(L, a->table), tf = root(L, f->table);
    unsigned n = st->n_recent < RECENT_MAX ? st->n_recent : RECENT_MAX;
    for (unsigned j = 0; j < n; j++) {
        const struct block *x = &rz->b[st->recent[j]];
        if (x == a || x == f || root(L, x->table) != ta || !block_live_at(x, t)) continue;
        for (unsigned k = 0; k < n; k++) {
            const struct block *y = &rz->b[st->recent[k]];
            if (y != a && y != f && root(L, y->table) == tf && block_live_at(y, t) &&
                y->code == x->code && y->size == x->size)
                return 1;
        }
    }
    return 0;
}

static void link_free(struct recognizer *rz, struct linker *L, struct thread_state *st, size_t i)
{
    struct block *f = &rz->b[i];
    long a = st->allocated;
    st->allocated = -1;
    if (a >= 0 && moved_from(L, f, &rz->b[a]) &&
        !would_hold_twins(rz, L, st, f, &rz->b[a], f->t_free)) {
        L->t[root(L, rz->b[a].table)].merged_to = root(L, f->table); /* new array, old freed */
        return;
    }
    st->freed = (long)i;
}

static int link_tables(struct recognizer *rz, const struct tm_rules *rules, struct linker *L,
                       const struct tm_options *o)
{
    struct event *ev = malloc(2 * rz->n * sizeof *ev + 1);
    if (!ev) return -1;
    size_t n = 0;
    for (size_t i = 0; i < rz->n; i++) {
        if (rz->b[i].rule < 0 || rz->b[i].t_alloc > o->at) continue;
        ev[n++] = (struct event){rz->b[i].t_alloc, i, 0};
        if (rz->b[i].t_free != TM_NO_TIME && rz->b[i].t_free <= o->at)
            ev[n++] = (struct event){rz->b[i].t_free, i, 1};
    }
    if (n) qsort(ev, n, sizeof *ev, by_time);
    struct thread_state *ts = NULL;
    size_t nts = 0;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const struct block *b = &rz->b[ev[k].block];
        struct thread_state *st = state_of(&ts, &nts, ev[k].is_free ? b->free_thread : b->thread);
        if (!st) rc = -1;
        else if (ev[k].is_free) link_free(rz, L, st, ev[k].block);
        else rc = link_alloc(rz, rules, L, st, ev[k].block);
    }
    for (size_t i = 0; i < rz->n; i++)
        if (rz->b[i].rule >= 0 && rz->b[i].t_alloc <= o->at) rz->b[i].table = root(L, rz->b[i].table);
    free(ts);
    free(ev);
    return rc;
}

int recognize_link(struct recognizer *rz, const struct tm_rules *rules, const struct tm_options *o)
{
    struct linker L = {NULL, 0};
    int rc = link_tables(rz, rules, &L, o);
    free(L.t);
    return rc;
}
