/* analyzer/model/advice.c - recommendations for a table, each with the bytes it
 * would save computed from the table's own sizing model (sizing_rules.c,
 * gomap_sizing.h), so that a fix measured under the shim saves what the
 * report promised.
 *
 *  shrink / clone / rebuild policy / restart: the table rebuilt for its live
 *      entries holds `needed` (its model, its stated growth rule, or what it
 *      held when it last grew to hold them); each saves `retained`.
 *  pointer values (gomap, inline values over 8 bytes): the newest main array
 *      rebuilt at the same B with 8-byte value slots, plus the values as
 *      their own allocations (live x value_size):
 *      saved = main_bytes - array_for_b(B, layout_for(key, 8)) - live x value.
 *  smaller hint (gomap, hint above the most entries ever live): the array for
 *      the hint minus the array for the peak live count.
 * Only oversized tables get the retention cures; a hint that wastes at least
 * the byte threshold is reported on any table. Sorted by bytes saved, ties
 * in enum tm_rec_kind order (its order is the preference).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"
#include "table_rules.h"
#include "units.h"
#include "tidemark/annotate.h"
#include "tidemark/gomap_sizing.h"

struct recs {
    struct tm_recommendation *v;
    size_t n;
    int oom;
};

static void add(struct recs *r, enum tm_rec_kind kind, uint64_t saved, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct tm_recommendation *v = realloc(r->v, (r->n + 1) * sizeof *v);
    char *s = NULL;
    if (!v || !(s = malloc(strlen(text) + 1))) {
        if (v) r->v = v;
        r->oom = 1;
        return;
    }
    strcpy(s, text);
    r->v = v;
    r->v[r->n++] = (struct tm_recommendation){kind, saved, s};
}

static uint8_t log2_floor(uint64_t v)
{
    uint8_t b = 0;
    while (v > 1 && b < 63) {
        v >>= 1;
        b++;
    }
    return b;
}

static uint64_t gomap_main_bytes(uint8_t B, uint32_t bucket_size)
{
    return B == 0 ? bucket_size : gomap_array_for_b(B, bucket_size).bytes;
}

static void advise_gomap(const struct tm_table *t, uint64_t main_bytes, int oversized,
                         const struct tm_options *o, struct recs *r)
{
    char h[32];
    tm_human_bytes(t->retained, h, sizeof h);
    if (oversized) {
        uint8_t B = gomap_b_for_hint(t->live_now);
        add(r, TM_REC_SHRINK, t->retained,
            "call gomap_shrink() after the peak: rebuilt for %llu live entries at B=%u, "
            "it frees %s",
            (unsigned long long)t->live_now, B, h);
        add(r, TM_REC_CLONE, t->retained,
            "copy the live entries into a new map (gomap_clone) and free the old one: "
            "frees %s", h);
        /* Go's capacity: 2^B x 6.5 (buckets_now counts the preallocated
         * overflow buckets too, which add no capacity). */
        uint64_t cap = t->buckets_now ? (1ull << log2_floor(t->buckets_now)) *
                                            GOMAP_LOAD_NUM / GOMAP_LOAD_DEN
                                      : 0;
        add(r, TM_REC_REBUILD_POLICY, t->retained,
            "rebuild whenever live entries fall below %.0f%% of capacity (%llu of %llu "
            "now): frees %s", o->rebuild_fraction * 100, (unsigned long long)t->live_now,
            (unsigned long long)cap, h);
    }
    int inline_value = t->value_size > 8 && t->value_size <= GOMAP_MAX_INLINE &&
                       !(t->flags & TMK_TABLE_VALUE_INDIRECT);
    if (oversized && inline_value && t->buckets_now && main_bytes) {
        uint8_t B = log2_floor(t->buckets_now);
        struct gomap_layout pl = gomap_layout_for(t->key_size, 8);
        uint64_t with_ptrs = gomap_main_bytes(B, pl.bucket_size);
        uint64_t values = t->live_now * t->value_size;
        if (main_bytes > with_ptrs + values) {
            uint64_t saved = main_bytes - with_ptrs - values;
            char s[32];
            tm_human_bytes(saved, s, sizeof s);
            add(r, TM_REC_POINTER_VALUES, saved,
                "store pointers to the %u-byte values (8-byte slots, %u-byte buckets at "
                "B=%u) and free each value on delete: frees %s",
                t->value_size, pl.bucket_size, B, s);
        }
    }
    if (t->hint > t->live_peak) {
        uint64_t for_hint = gomap_bytes_for_count(t->hint, t->bucket_size);
        uint64_t for_peak = gomap_bytes_for_count(t->live_peak, t->bucket_size);
        if (for_hint > for_peak && for_hint - for_peak >= o->min_retained) {
            char s[32];
            tm_human_bytes(for_hint - for_peak, s, sizeof s);
            add(r, TM_REC_SMALLER_HINT, for_hint - for_peak,
                "size hint %llu is above the most entries ever live (%llu): a hint of "
                "%llu saves %s",
                (unsigned long long)t->hint, (unsigned long long)t->live_peak,
                (unsigned long long)t->live_peak, s);
        }
    }
}

/* Where the rebuilt table's size comes from, for the rebuild advice. */
static void needed_note(const struct tm_table *t, char *buf, size_t len)
{
    char h[32];
    tm_human_bytes(t->needed, h, sizeof h);
    if (t->needed_basis == TM_NEEDED_HISTORY)
        snprintf(buf, len, "it held %s with as many entries on the way up", h);
    else if (t->model == TM_MODEL_RULE)
        snprintf(buf, len, "its growth rule gives %llu buckets for them",
                 (unsigned long long)sizing_rule_buckets(t, t->live_now));
    else
        snprintf(buf, len, "generic model: live entries x slot size");
}

static void advise_other(const struct tm_table *t, int oversized, const struct tm_options *o,
                         struct recs *r)
{
    if (!oversized) return;
    char h[32], note[120];
    tm_human_bytes(t->retained, h, sizeof h);
    needed_note(t, note, sizeof note);
    if (t->model == TM_MODEL_RECOGNISED)
        add(r, TM_REC_CLONE, t->retained, "%s: frees %s (for %llu live entries it needs %llu B)",
            t->rule->advice, h, (unsigned long long)t->live_now, (unsigned long long)t->needed);
    else if (t->model == TM_MODEL_UTHASH)
        add(r, TM_REC_CLONE, t->retained,
            "uthash never shrinks its bucket array: move the %llu live items into a new "
            "table (HASH_DEL from the old, HASH_ADD to the new): frees %s",
            (unsigned long long)t->live_now, h);
    else
        add(r, TM_REC_CLONE, t->retained, "rebuild the table for its %llu live entries: frees %s (%s)",
            (unsigned long long)t->live_now, h, note);
    add(r, TM_REC_REBUILD_POLICY, t->retained,
        "rebuild whenever live entries fall below %.0f%% of what the array was sized "
        "for: frees %s", o->rebuild_fraction * 100, h);
}

static int by_saving(const void *a, const void *b)
{
    const struct tm_recommendation *x = a, *y = b;
    if (x->bytes_saved != y->bytes_saved) return x->bytes_saved > y->bytes_saved ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

int advice_make(struct tm_table *t, uint64_t main_bytes, const struct tm_options *o)
{
    struct recs r = {0};
    int oversized = t->verdict == TM_VERDICT_OVERSIZED;
    if (t->model == TM_MODEL_GOMAP)
        advise_gomap(t, main_bytes, oversized, o, &r);
    else
        advise_other(t, oversized, o, &r);
    if (oversized) {
        char h[32];
        tm_human_bytes(t->retained, h, sizeof h);
        add(&r, TM_REC_RESTART, t->retained,
            "last resort: restart the process after the peak; frees %s", h);
    }
    if (r.n) qsort(r.v, r.n, sizeof *r.v, by_saving);
    t->recs = r.v;
    t->n_recs = r.n;
    return r.oom ? -1 : 0;
}
