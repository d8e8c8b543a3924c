/* analyzer/model/recognize.c - tables nobody annotated: which large blocks are
 * whose bucket arrays, and each such table's life (see recognize.h).
 *
 * Matching: a block matches a rule when its size fits the rule's size kind
 * and either a probe found the rule's layout in it (CPython's keys object
 * describes itself) or one of the first `depth` frames of its stack names a
 * function the rule's globs match (the frame's own function, or one inlined
 * there). Rules are tried in order; the first that matches wins.
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
 * The array that holds the count (count-array: the only one, or the
 * smallest of a resize) is the table's main array; the others are added as
 * extra arrays (held, not buckets).
 *
 * Counts: each probe pass of a table's count array gives a COUNT at the
 * pass's time (the largest when several arrays qualify). A growth gives
 * one more, from the implementation's rule (tm_rule_count_at_growth):
 * libstdc++ allocates its new array when the insert takes the count past
 * the old bucket count, so count = old buckets + 1 then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recognize_int.h"
#include "stack_namer.h"
#include "symbols/symbols.h"
#include "tidemark/annotate.h"

struct recognizer *recognize_new(void)
{
    struct recognizer *rz = calloc(1, sizeof *rz);
    if (rz) {
        u64map_init(&rz->live);
        u64map_init(&rz->freed_next);
    }
    return rz;
}

void recognize_free(struct recognizer *rz)
{
    if (!rz) return;
    for (size_t i = 0; i < rz->n; i++) free(rz->b[i].probes);
    free(rz->b);
    u64map_free(&rz->live);
    u64map_free(&rz->freed_next);
    free(rz);
}

/* ---- collecting ---------------------------------------------------------- */

/* Drops the freed blocks without a probe, renumbering the live map. */
static void compact(struct recognizer *rz)
{
    size_t w = 0;
    rz->n_watch = 0; /* their blocks move */
    u64map_free(&rz->live);
    u64map_init(&rz->live);
    for (size_t i = 0; i < rz->n; i++) {
        struct block *b = &rz->b[i];
        if (b->t_free != TM_NO_TIME && !b->n_probes) {
            free(b->probes);
            continue;
        }
        rz->b[w] = *b;
        if (b->t_free == TM_NO_TIME && u64map_put(&rz->live, b->ptr, w)) rz->oom = 1;
        w++;
    }
    rz->n = w;
    if (rz->n > BLOCKS_MAX / 4 * 3) rz->full = 1;
}

int recognize_full(const struct recognizer *rz) { return rz->full; }

int recognize_alloc(struct recognizer *rz, uint64_t t, uint32_t thread, uint64_t ptr,
                     uint64_t size, uint64_t stack)
{
    if (size < TM_RECOGNIZE_MIN || rz->full) return 0;
    if (rz->n == BLOCKS_MAX) {
        compact(rz);
        if (rz->full) return 0;
    }
    if (rz->n == rz->cap) {
        size_t cap = rz->cap ? rz->cap * 2 : 64;
        struct block *b = realloc(rz->b, cap * sizeof *b);
        if (!b) {
            rz->oom = 1;
            return 0;
        }
        rz->b = b;
        rz->cap = cap;
    }
    struct block *b = &rz->b[rz->n];
    memset(b, 0, sizeof *b);
    b->ptr = ptr;
    b->size = size;
    b->stack = stack;
    b->t_alloc = t;
    b->t_free = TM_NO_TIME;
    b->thread = thread;
    b->rule = -1;
    b->at = -1;
    if (u64map_put(&rz->live, b->ptr, rz->n)) {
        rz->oom = 1;
        return 0;
    }
    rz->n++;
    return 1;
}

long recognize_free_block(struct recognizer *rz, uint64_t t, uint32_t thread, uint64_t ptr,
                          const struct recognize_freed *f)
{
    uint64_t *ix = u64map_get(&rz->live, ptr);
    if (!ix) return -1;
    long i = (long)*ix;
    struct block *b = &rz->b[i];
    b->t_free = t;
    b->free_thread = thread;
    b->freed_before = f->freed_before;
    b->before = f->latest;
    u64map_del(&rz->live, ptr, NULL);
    recognize_after_freed(rz, (size_t)i);
    return i;
}

int recognize_next_alloc(struct recognizer *rz, size_t index, uint32_t thread,
                         struct thread_alloc a)
{
    /* compact() may have moved it meanwhile: then it is not found */
    struct block *b = index < rz->n ? &rz->b[index] : NULL;
    if (b && b->t_free != TM_NO_TIME && b->free_thread == thread && b->t_free <= a.t &&
        !b->after.size) {
        b->after = a;
        return recognize_after_start(rz, index);
    }
    return rz->n_watch > 0;
}

void recognize_annotated(struct recognizer *rz, uint64_t ptr)
{
    uint64_t *ix = u64map_get(&rz->live, ptr);
    if (ix) rz->b[*ix].annotated = 1;
}

static int add_probe(struct block *b, const struct probe *p)
{
    if (b->n_probes == PROBES_MAX) { /* keep the newest: drop every other old one */
        for (size_t i = 0; i < PROBES_MAX / 2; i++) b->probes[i] = b->probes[2 * i];
        memmove(b->probes + PROBES_MAX / 4, b->probes + PROBES_MAX / 2,
                (PROBES_MAX / 2) * sizeof *p);
        b->n_probes = PROBES_MAX / 4 + PROBES_MAX / 2;
    }
    if (b->n_probes == b->cap_probes) {
        size_t cap = b->cap_probes ? b->cap_probes * 2 : 8;
        struct probe *v = realloc(b->probes, cap * sizeof *v);
        if (!v) return -1;
        b->probes = v;
        b->cap_probes = cap;
    }
    b->probes[b->n_probes++] = *p;
    return 0;
}

void recognize_probe(struct recognizer *rz, const struct tm_record *r)
{
    const uint8_t *q = r->u.extended.data, *e = q + r->u.extended.len;
    uint64_t v[9];
    for (int i = 0; i < 9; i++)
        if (tmk_get_u(&q, e, &v[i])) return; /* damaged: ignored */
    uint64_t *ix = u64map_get(&rz->live, v[0]);
    if (!ix || rz->b[*ix].size != v[1]) return;
    struct probe p = {r->t, v[2], v[3], v[4], v[5], v[6], v[7], v[8]};
    if (add_probe(&rz->b[*ix], &p)) rz->oom = 1;
}

/* ---- matching ------------------------------------------------------------ */

static uint64_t hash_frames(const uint64_t *f, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ f[i]) * 0xff51afd7ed558ccdull;
    return h;
}

/* The index of the first of the stack's frames (within depth) that the
 * rule's globs name, or -1. */
static int matched_frame(struct tm_symbolizer *sym, const struct tm_stack *s,
                         const struct tm_rule *rule)
{
    for (uint32_t i = 0; i < s->depth && i < rule->depth; i++) {
        struct tm_sym_frame f;
        tm_symbolizer_lookup_at(sym, s->frames[i], 0, s->modules_at, &f);
        if (i == 0 && !tm_rule_first_matches(rule, f.function)) return -1;
        if (tm_rule_frame_matches(rule, f.function)) return (int)i;
        for (unsigned k = 0; k < f.n_callers; k++)
            if (tm_rule_frame_matches(rule, f.callers[k].function)) return (int)i;
    }
    return -1;
}

/* The callers of the allocating function: every frame but the first. */
static uint64_t callers_hash(const struct tm_stack *s)
{
    return s && s->depth ? hash_frames(s->frames + 1, s->depth - 1) : 0;
}

/* Did a probe find the layout in b? A khash flags array counts only with a
 * live bucket in it: a buffer filled with one byte of 00, 01 and 10 pairs
 * (0xAA, 0x02, ...) reads as flags with none, or with all but a fixed
 * share (the shim rejects fills it sees as constant, probe.c). */
static int has_layout(const struct block *b, int layout)
{
    for (size_t i = 0; i < b->n_probes; i++)
        if ((int)b->probes[i].layout == layout &&
            (layout != TMK_PROBE_LAYOUT_KHASH_FLAGS || b->probes[i].pairs00))
            return 1;
    return 0;
}

/* The first rule that matches, fallback rules (by size alone) last and
 * only when no other rule named one of the block's frames: an Abseil array
 * its resize allocated is not taken for libstdc++'s by its size before a
 * probe shows its control bytes. */
static void match_block(struct block *b, const struct tm_model *m, struct tm_symbolizer *sym,
                        const struct tm_rules *rules)
{
    const struct tm_stack *s = tm_model_stack(m, b->stack);
    int named = 0;
    for (size_t j = 0; j < 2 * rules->n; j++) {
        size_t k = j % rules->n;
        const struct tm_rule *rule = &rules->v[k];
        if (rule->fallback != (j >= rules->n) || (rule->fallback && named)) continue;
        if (!tm_rule_size_fits(rule, b->size)) continue;
        if (rule->layout && !has_layout(b, rule->layout)) {
            named = named || (rule->n_frames && s && sym && matched_frame(sym, s, rule) >= 0);
            continue;
        }
        if (rule->layout && !rule->n_frames) {
            b->rule = (int)k;
            b->at = -1;
            b->chain = callers_hash(s);
            return;
        }
        if (!s || !sym) continue;
        int at = matched_frame(sym, s, rule);
        if (at < 0) continue;
        b->rule = (int)k;
        b->at = at;
        b->chain = hash_frames(s->frames + at + 1, s->depth - (uint32_t)at - 1);
        return;
    }
}

/* The arrays allocated with a block matched by its layout, by the same
 * thread within LINK_NS and from the same callers (khash's keys and values
 * beside its flags), are the same table's (rules with count-array smallest:
 * several arrays). */
static void match_siblings(struct recognizer *rz, const struct tm_model *m,
                           const struct tm_rules *rules)
{
    for (size_t i = 0; i < rz->n; i++) {
        const struct block *l = &rz->b[i];
        if (l->rule < 0 || !rules->v[l->rule].layout ||
            rules->v[l->rule].count_array != TM_COUNT_ARRAY_SMALLEST)
            continue;
        for (size_t k = 0; k < rz->n; k++) {
            struct block *b = &rz->b[k];
            uint64_t gap = b->t_alloc > l->t_alloc ? b->t_alloc - l->t_alloc : l->t_alloc - b->t_alloc;
            if (b->rule >= 0 || b->annotated || b->thread != l->thread || gap > LINK_NS) continue;
            if (callers_hash(tm_model_stack(m, b->stack)) != l->chain) continue;
            b->rule = l->rule;
            b->chain = l->chain;
        }
    }
}

/* A rule that knows a block by its layout needs a probe of it, and a block
 * that lived less than a second (a table's earlier arrays) has none: a
 * block allocated from the very stack of a block matched by layout (or as
 * its sibling), whose size fits the same rule, is taken for the same kind
 * of array, even if a fallback rule took it by its size. */
static int match_by_stack(struct recognizer *rz, const struct tm_model *m,
                          const struct tm_rules *rules)
{
    match_siblings(rz, m, rules);
    struct u64map by_stack; /* stack -> rule + 1 */
    u64map_init(&by_stack);
    int rc = 0;
    for (size_t i = 0; i < rz->n && rc == 0; i++) {
        const struct block *b = &rz->b[i];
        if (b->rule >= 0 && rules->v[b->rule].layout && b->stack)
            rc = u64map_put(&by_stack, b->stack, (uint64_t)b->rule + 1);
    }
    for (size_t i = 0; i < rz->n && rc == 0; i++) {
        struct block *b = &rz->b[i];
        int open = b->rule < 0 || rules->v[b->rule].fallback;
        uint64_t *r = open && !b->annotated ? u64map_get(&by_stack, b->stack) : NULL;
        if (r && tm_rule_size_fits(&rules->v[*r - 1], b->size)) {
            b->rule = (int)(*r - 1);
            b->chain = callers_hash(tm_model_stack(m, b->stack));
        }
    }
    u64map_free(&by_stack);
    return rc;
}

/* ---- linking ------------------------------------------------------------- */

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
static void note_codes(struct recognizer *rz, const struct tm_model *m)
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

/* Is frame i the same code in stacks a and b: the same function (by its
 * name, so two call sites in one function are one), or the same address
 * where no name is known? */
static int same_frame(struct tm_symbolizer *sym, const struct tm_stack *a,
                      const struct tm_stack *b, uint32_t i)
{
    if (a->frames[i] == b->frames[i]) return 1;
    if (!sym) return 0;
    char name[512];
    struct tm_sym_frame f;
    tm_symbolizer_lookup_at(sym, a->frames[i], 0, a->modules_at, &f);
    if (!f.function) return 0;
    snprintf(name, sizeof name, "%s", f.function);
    tm_symbolizer_lookup_at(sym, b->frames[i], 0, b->modules_at, &f);
    return f.function && !strcmp(name, f.function);
}

/* Do stacks a and b come through the same code in their first k + 1 frames? */
static int same_path(struct tm_symbolizer *sym, const struct tm_stack *a, const struct tm_stack *b,
                     int k)
{
    if (!a || !b || (int)a->depth <= k || (int)b->depth <= k) return 0;
    for (int i = 0; i <= k; i++)
        if (!same_frame(sym, a, b, (uint32_t)i)) return 0;
    return 1;
}

/* A matched block freed for a smaller array allocated by the same
 * implementation (a stack its rule's frames match; for a block known by its
 * layout or size, or for a realloc, the same allocator's caller and its
 * caller) on the freeing thread,
 * right before the free (libstdc++, CPython, hashbrown, Abseil allocate the
 * new array, move the entries, free the old one) or right after (a
 * realloc: GLib, khash), within LINK_NS: its owner shrank the table
 * (rehash(0), shrink_to_fit, g_hash_table_remove_all) below the arrays the
 * shim follows; it was not destroyed. Not when the small array of a
 * realloc was freed right away (recognize_after.c): that shrink was a
 * destructor's (g_hash_table_destroy empties the table first). Full mode
 * only: the small array is there only when every allocation is. */
static void mark_shrinks(struct recognizer *rz, const struct tm_model *m,
                         struct tm_symbolizer *sym, const struct tm_rules *rules)
{
    for (size_t i = 0; i < rz->n; i++) {
        struct block *b = &rz->b[i];
        if (b->rule < 0 || b->t_free == TM_NO_TIME) continue;
        const struct tm_stack *s = tm_model_stack(m, b->stack);
        const struct thread_alloc *c[2] = {&b->before, &b->after};
        for (int j = 0; j < 2 && !b->shrunk; j++) {
            uint64_t gap = c[j]->t > b->t_free ? c[j]->t - b->t_free : b->t_free - c[j]->t;
            if (!c[j]->size || c[j]->size >= b->size || gap > LINK_NS) continue;
            if (c[j] == &b->after && b->fate.freed) continue;
            const struct tm_stack *cs = tm_model_stack(m, c[j]->stack);
            /* a realloc from the block's own allocator and its caller
             * counts too: g_hash_table_remove_all tail-calls GLib's static
             * resize, whose frames have no name in a stripped libglib */
            int named = b->at >= 0 && sym && cs && matched_frame(sym, cs, &rules->v[b->rule]) >= 0;
            b->shrunk = named || ((b->at < 0 || j == 1) && same_path(sym, cs, s, 1));
        }
    }
}

int recognize_finish(struct recognizer *rz, const struct tm_model *m, const struct tm_rules *rules,
                     struct tables *tb, const struct tm_options *o)
{
    if (rz->oom) return -1;
    recognize_after_finish(rz);
    if (!rz->n || !rules->n) return 0;
    struct tm_symbolizer *sym = tm_symbolizer_for(m);
    for (size_t i = 0; i < rz->n; i++)
        if (!rz->b[i].annotated) match_block(&rz->b[i], m, sym, rules);
    int rc = match_by_stack(rz, m, rules);
    if (rc == 0) mark_shrinks(rz, m, sym, rules);
    note_codes(rz, m);
    if (sym) tm_symbolizer_free(sym);
    if (rc) return -1;
    struct linker L = {NULL, 0};
    rc = link_tables(rz, rules, &L, o);
    free(L.t);
    return rc ? rc : recognize_replay(rz, rules, tb, o);
}
