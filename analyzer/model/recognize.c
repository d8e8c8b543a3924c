/* analyzer/model/recognize.c - tables nobody annotated: which large blocks are
 * whose bucket arrays, and each such table's life (see recognize.h).
 *
 * Matching: a block matches a rule when its size fits the rule's size kind
 * and either a probe found the rule's layout in it (CPython's keys object
 * describes itself) or one of the first `depth` frames of its stack names a
 * function the rule's globs match (the frame's own function, or one inlined
 * there). Rules are tried in order; the first that matches wins.
 *
 * Linking (recognize_link.c): which blocks are one table's arrays.
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
    recognize_note_codes(rz, m);
    if (sym) tm_symbolizer_free(sym);
    if (rc) return -1;
    rc = recognize_link(rz, rules, o);
    return rc ? rc : recognize_replay(rz, rules, tb, o);
}
