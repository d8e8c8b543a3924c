/* analyzer/tables.c - every annotated table's life, rebuilt across its
 * rehashes: which allocations are its arrays, what they hold, its live
 * count, peaks, growths, and since when it has been oversized.
 *
 * Invariants:
 *  - t.held == the sum of `bytes` over arrays[] entries owned by the table,
 *    and t.arrays_live their number: an array leaves when its allocation is
 *    freed (a FREE record, whatever its reason, OVERFLOW included);
 *  - an allocation belongs to at most one table (a second TABLE_ARRAY for a
 *    live array moves it, counted as a contradiction);
 *  - needed/retained/oversized_since are re-evaluated after every change, so
 *    they describe the table at the time of the latest record applied.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"
#include "tidemark/annotate.h"

struct table_state {
    struct tm_table t;
    struct series tl;
    uint64_t main_ptr, main_bytes; /* newest live main (non-overflow) array */
    int announced;                 /* a TABLE_NEW was seen */
};

struct table_array {
    uint64_t ptr, bytes;
    uint32_t table;
};

void tables_init(struct tables *tb)
{
    memset(tb, 0, sizeof *tb);
    u64map_init(&tb->by_id);
    u64map_init(&tb->arrays);
}

static void problem(struct tables *tb, const char *fmt, ...)
{
    tb->contradictions++;
    if (tb->n_problems >= sizeof tb->first_problem / sizeof tb->first_problem[0]) return;
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if ((tb->first_problem[tb->n_problems] = strdup(line))) tb->n_problems++;
}

static struct table_state *find(struct tables *tb, uint64_t id)
{
    uint64_t *ix = u64map_get(&tb->by_id, id);
    return ix ? &tb->ts[*ix] : NULL;
}

static struct table_state *create(struct tables *tb, uint64_t id, uint64_t t)
{
    if (tb->n == tb->cap) {
        size_t cap = tb->cap ? tb->cap * 2 : 16;
        struct table_state *ts = realloc(tb->ts, cap * sizeof *ts);
        if (!ts) goto oom;
        tb->ts = ts;
        tb->cap = cap;
    }
    if (u64map_put(&tb->by_id, id, tb->n)) goto oom;
    struct table_state *s = &tb->ts[tb->n++];
    memset(s, 0, sizeof *s);
    s->t.id = id;
    s->t.created_t = t;
    s->t.ended_t = TM_NO_TIME;
    s->t.oversized_since = TM_NO_TIME;
    s->t.live_peak_t = TM_NO_TIME;
    s->t.held_peak_t = TM_NO_TIME;
    return s;
oom:
    tb->oom = 1;
    return NULL;
}

static int is_oversized(const struct tm_table *t, const struct tm_options *o)
{
    return t->retained > 0 && t->retained >= o->min_retained &&
           (double)t->retained >= o->min_ratio * (double)t->held;
}

/* Re-evaluates the table's figures after a change at time `t`. */
static void update(struct table_state *s, uint64_t t, const struct tm_options *o)
{
    struct tm_table *tt = &s->t;
    /* A table that ended needs nothing: whatever it still holds is leaked. */
    tt->needed = tt->ended_t == TM_NO_TIME ? tm_needed_bytes(tt, tt->live_now) : 0;
    tt->retained = tt->held > tt->needed ? tt->held - tt->needed : 0;
    if (is_oversized(tt, o)) {
        if (tt->oversized_since == TM_NO_TIME) tt->oversized_since = t;
    } else {
        tt->oversized_since = TM_NO_TIME;
    }
    if (tt->held > tt->held_peak || tt->held_peak_t == TM_NO_TIME) {
        tt->held_peak = tt->held;
        tt->held_peak_t = t;
    }
    if (tt->live_now > tt->live_peak || tt->live_peak_t == TM_NO_TIME) {
        tt->live_peak = tt->live_now;
        tt->live_peak_t = t;
    }
    series_add(&s->tl, t, tt->held, tt->live_now);
}

static uint32_t clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void tables_new(struct tables *tb, const struct tm_record *r, const struct tm_options *o)
{
    const __typeof__(r->u.table_new) *n = &r->u.table_new;
    struct table_state *s = find(tb, n->table);
    if (s && s->announced) {
        problem(tb, "table %llu announced twice; the second TABLE_NEW is ignored",
                (unsigned long long)n->table);
        return;
    }
    if (!s && !(s = create(tb, n->table, r->t))) return;
    s->announced = 1;
    struct tm_table *t = &s->t;
    t->kind = clamp32(n->kind);
    t->flags = clamp32(n->flags);
    t->key_size = clamp32(n->key_size);
    t->value_size = clamp32(n->value_size);
    t->bucket_size = clamp32(n->bucket_size);
    t->slots_per_bucket = clamp32(n->slots);
    t->hint = n->hint;
    t->stack_id = n->stack;
    t->created_t = r->t;
    free(t->label);
    t->label = strndup(n->label ? n->label : "", n->label_len);
    for (char *p = t->label; p && *p; p++) /* labels are one line */
        if ((unsigned char)*p < 0x20) *p = ' ';
    if (!t->label) tb->oom = 1;
    t->model = tm_model_for(t);
    update(s, r->t, o);
}

/* Table `id`, created on the fly (and counted as a contradiction) when the
 * trace never announced it. */
static struct table_state *table_for_event(struct tables *tb, uint64_t id, uint64_t t,
                                           const char *what)
{
    struct table_state *s = find(tb, id);
    if (s) {
        if (s->t.ended_t != TM_NO_TIME)
            problem(tb, "%s for table %llu after its end", what, (unsigned long long)id);
        return s;
    }
    problem(tb, "%s for table %llu, which was never announced", what, (unsigned long long)id);
    s = create(tb, id, t);
    if (s && !(s->t.label = strdup(""))) tb->oom = 1;
    return s;
}

static void drop_array(struct tables *tb, uint64_t ptr, uint64_t t, const struct tm_options *o)
{
    uint64_t ix;
    if (!u64map_del(&tb->arrays, ptr, &ix)) return;
    struct table_array a = tb->arr[ix];
    if (ix != tb->n_arr - 1) { /* swap-remove, keeping the map in step */
        tb->arr[ix] = tb->arr[tb->n_arr - 1];
        *u64map_get(&tb->arrays, tb->arr[ix].ptr) = ix;
    }
    tb->n_arr--;
    struct table_state *s = &tb->ts[a.table];
    s->t.held -= a.bytes <= s->t.held ? a.bytes : s->t.held;
    s->t.arrays_live--;
    if (s->main_ptr == ptr) {
        s->main_ptr = 0;
        s->main_bytes = 0;
        s->t.buckets_now = 0;
    }
    update(s, t, o);
}

void tables_array(struct tables *tb, const struct tm_record *r, int heap_live,
                  const struct tm_options *o)
{
    const __typeof__(r->u.table_array) *a = &r->u.table_array;
    struct table_state *s = table_for_event(tb, a->table, r->t, "bucket array");
    if (!s) return;
    if (heap_live == 0) {
        problem(tb, "table %llu: array 0x%llx is not a live allocation (freed or never "
                    "allocated); ignored", (unsigned long long)a->table,
                (unsigned long long)a->ptr);
        return;
    }
    if (u64map_get(&tb->arrays, a->ptr)) {
        problem(tb, "table %llu: array 0x%llx was already an array; moved",
                (unsigned long long)a->table, (unsigned long long)a->ptr);
        drop_array(tb, a->ptr, r->t, o);
    }
    if (tb->n_arr == tb->arr_cap) {
        size_t cap = tb->arr_cap ? tb->arr_cap * 2 : 64;
        struct table_array *na = realloc(tb->arr, cap * sizeof *na);
        if (!na) goto oom;
        tb->arr = na;
        tb->arr_cap = cap;
    }
    if (u64map_put(&tb->arrays, a->ptr, tb->n_arr)) goto oom;
    tb->arr[tb->n_arr++] = (struct table_array){a->ptr, a->bytes, (uint32_t)(s - tb->ts)};
    struct tm_table *t = &s->t;
    t->held += a->bytes;
    t->arrays_live++;
    if (a->reason != TMK_ARRAY_OVERFLOW) {
        s->main_ptr = a->ptr;
        s->main_bytes = a->bytes;
        t->buckets_now = a->buckets;
        if (a->buckets > t->buckets_peak) t->buckets_peak = a->buckets;
    }
    if (a->reason == TMK_ARRAY_GROW || a->reason == TMK_ARRAY_SAMESIZE_GROW) t->growths++;
    t->live_now = a->live;
    update(s, r->t, o);
    return;
oom:
    tb->oom = 1;
}

void tables_count(struct tables *tb, const struct tm_record *r, int end,
                  const struct tm_options *o)
{
    struct table_state *s = find(tb, r->u.table_count.table);
    if (!s) {
        problem(tb, "%s for table %llu, which was never announced", end ? "end" : "count",
                (unsigned long long)r->u.table_count.table);
        return;
    }
    if (s->t.ended_t != TM_NO_TIME) {
        problem(tb, "%s for table %llu after its end", end ? "end" : "count",
                (unsigned long long)r->u.table_count.table);
        return;
    }
    /* A table that ended has no entries, whatever count it last showed (uthash
     * frees its table with num_items still 1; a map freed full says N). */
    s->t.live_now = end ? 0 : r->u.table_count.live;
    if (end) s->t.ended_t = r->t;
    update(s, r->t, o);
}

void tables_peak(struct tables *tb, const struct tm_record *r)
{
    struct table_state *s = find(tb, r->u.table_count.table);
    if (!s) {
        problem(tb, "peak for table %llu, which was never announced",
                (unsigned long long)r->u.table_count.table);
        return;
    }
    s->t.live_peak_exact = 1;
    if (r->u.table_count.live > s->t.live_peak) {
        s->t.live_peak = r->u.table_count.live;
        s->t.live_peak_t = r->t; /* when the shim saw it: the peak was no later */
    }
}

void tables_freed(struct tables *tb, uint64_t t, uint64_t ptr, const struct tm_options *o)
{
    if (tb->n_arr == 0) return; /* no live bucket array: nothing to look up */
    drop_array(tb, ptr, t, o);
}

const struct tm_table *tables_current(const struct tables *tb, size_t i)
{
    return &tb->ts[i].t;
}

static int by_retained(const void *a, const void *b)
{
    const struct tm_table *x = a, *y = b;
    if (x->retained != y->retained) return x->retained > y->retained ? -1 : 1;
    if (x->held != y->held) return x->held > y->held ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static enum tm_verdict verdict_of(const struct tm_table *t, const struct tm_options *o)
{
    if (t->ended_t != TM_NO_TIME) return t->held ? TM_VERDICT_LEAKED : TM_VERDICT_ENDED;
    return is_oversized(t, o) ? TM_VERDICT_OVERSIZED : TM_VERDICT_OK;
}

int tables_finish(struct tables *tb, uint64_t t_end, const struct tm_options *o,
                  struct tm_table **out, size_t *n)
{
    *out = calloc(tb->n ? tb->n : 1, sizeof **out);
    *n = 0;
    if (!*out) return -1;
    for (size_t i = 0; i < tb->n; i++) {
        struct table_state *s = &tb->ts[i];
        struct tm_table *t = &s->t;
        t->model = tm_model_for(t);
        t->verdict = verdict_of(t, o);
        if (t->verdict == TM_VERDICT_LEAKED) t->oversized_since = TM_NO_TIME;
        t->timeline = series_finish(&s->tl, t_end, t->held, t->live_now, &t->n_points);
        if (tm_advise(t, s->main_bytes, o)) return -1;
        (*out)[(*n)++] = *t;
        memset(t, 0, sizeof *t); /* ownership moved */
    }
    qsort(*out, *n, sizeof **out, by_retained);
    return 0;
}

void tables_free(struct tables *tb)
{
    for (size_t i = 0; i < tb->n; i++) {
        free(tb->ts[i].t.label);
        series_free(&tb->ts[i].tl);
    }
    for (size_t i = 0; i < tb->n_problems; i++) free(tb->first_problem[i]);
    free(tb->ts);
    free(tb->arr);
    u64map_free(&tb->by_id);
    u64map_free(&tb->arrays);
}
