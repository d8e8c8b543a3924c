/* analyzer/model/table_life.c - every annotated table's life, rebuilt across its
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
 *    they describe the table at the time of the latest record applied;
 *  - needed is the larger of the table's model (sizing_rules.c) and its
 *    history: what it held on the way up, as points (live, held) taken
 *    whenever its live count was at its highest so far (live > 0) and what
 *    it held changed, from its first growth on (before it, the table holds
 *    the array it was created with, maybe sized by a hint: not what it
 *    needs grown from empty). history(n) = held at the latest point with live <= n:
 *    what the table, by its own rule, held when it last had n entries on
 *    the way up. So a table is never oversized for the entries it holds (at
 *    its peak, retained is 0), and emptied to n it retains what it holds
 *    beyond that. A point is taken after an array is added (counted for
 *    the live count the array was tagged with, also when the table counts
 *    the insert that needed it only after: one step too generous for those
 *    that count first, never too strict) and after an array that is not the
 *    newest main array is freed (the end of a growth: the old array goes);
 *    the free of the main array itself is the first half of a table that
 *    frees before it tags the new one (uthash), not a point. Points with
 *    the same live count keep the latest; a point that holds what the
 *    previous one held is not kept.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"
#include "tidemark/annotate.h"

struct rise_point {
    uint64_t live, held;
};

struct table_state {
    struct tm_table t;
    struct series tl;
    uint64_t main_ptr, main_bytes; /* newest live main (non-overflow) array */
    int announced;                 /* a TABLE_NEW was seen */
    struct rise_point *rise;       /* ascending live; see the invariants */
    size_t n_rise, rise_cap;
    uint64_t rise_live;            /* highest live_now so far */
    int grown;                     /* a GROW array was added */
    uint64_t counted_t;            /* when its last count came */
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
    s->t.last_oversized_since = TM_NO_TIME;
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

/* What the table held at the latest point on the way up with at most
 * `live` entries (0 when there is none). */
static uint64_t history_needed(const struct table_state *s, uint64_t live)
{
    size_t lo = 0, hi = s->n_rise; /* the first point with more than live */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->rise[mid].live <= live) lo = mid + 1;
        else hi = mid;
    }
    return lo ? s->rise[lo - 1].held : 0;
}

/* Takes a point when the table is at its highest live count so far (see
 * the invariants). -1 when out of memory. */
static int note_rise(struct table_state *s)
{
    const struct tm_table *t = &s->t;
    if (t->live_now < s->rise_live || t->live_now == 0) return 0;
    s->rise_live = t->live_now;
    if (!s->grown) return 0;
    struct rise_point *last = s->n_rise ? &s->rise[s->n_rise - 1] : NULL;
    if (last && last->live == t->live_now) {
        last->held = t->held;
        return 0;
    }
    if (last && last->held == t->held) return 0;
    if (s->n_rise == s->rise_cap) {
        size_t cap = s->rise_cap ? s->rise_cap * 2 : 16;
        struct rise_point *v = realloc(s->rise, cap * sizeof *v);
        if (!v) return -1;
        s->rise = v;
        s->rise_cap = cap;
    }
    s->rise[s->n_rise++] = (struct rise_point){t->live_now, t->held};
    return 0;
}

/* needed and its basis. A table that ended needs nothing: whatever it still
 * holds is leaked. */
static void evaluate_needed(struct table_state *s)
{
    struct tm_table *tt = &s->t;
    tt->needed_basis = TM_NEEDED_MODEL;
    if (tt->ended_t != TM_NO_TIME) {
        tt->needed = 0;
        return;
    }
    if (tt->kind == TM_KIND_RECOGNISED && !tt->live_counted) {
        tt->needed = tt->held; /* its live count is not known yet: no claim */
        return;
    }
    tt->needed = sizing_needed_bytes(tt, tt->live_now);
    /* A recognised table is sized by its implementation's own rule; its
     * counts come from probes, often only after the deletes, which are no
     * history "on the way up". */
    if (tt->rule) return;
    uint64_t history = history_needed(s, tt->live_now);
    if (history > tt->needed) {
        tt->needed = history;
        tt->needed_basis = TM_NEEDED_HISTORY;
    }
}

/* Re-evaluates the table's figures after a change at time `t`; rise: the
 * change may be a point of its history (see the invariants). -1 when out
 * of memory. */
static int update_from(struct table_state *s, uint64_t t, const struct tm_options *o, int rise)
{
    struct tm_table *tt = &s->t;
    if (rise && tt->ended_t == TM_NO_TIME && note_rise(s)) return -1;
    evaluate_needed(s);
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
        tt->live_peak_lo = tt->live_lo;
        tt->live_peak_t = t;
    }
    series_add(&s->tl, t, tt->held, tt->live_now);
    return 0;
}

static void update(struct tables *tb, struct table_state *s, uint64_t t, const struct tm_options *o)
{
    if (update_from(s, t, o, 1)) tb->oom = 1;
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
    t->model = sizing_model_for(t);
    update(tb, s, r->t, o);
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
    int main_freed = s->main_ptr == ptr;
    if (main_freed) {
        s->main_ptr = 0;
        s->main_bytes = 0;
        s->t.buckets_now = 0;
    }
    if (update_from(s, t, o, !main_freed)) tb->oom = 1;
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
    /* a recognised table's new main array larger than the last: grown */
    int grew = t->rule && a->reason == TMK_ARRAY_GROW && a->bytes > s->main_bytes;
    if (a->reason != TMK_ARRAY_OVERFLOW) {
        s->main_ptr = a->ptr;
        s->main_bytes = a->bytes;
        t->buckets_now = a->buckets;
        if (a->buckets > t->buckets_peak) t->buckets_peak = a->buckets;
    }
    if (a->reason == TMK_ARRAY_GROW || a->reason == TMK_ARRAY_SAMESIZE_GROW) t->growths++;
    if (a->reason == TMK_ARRAY_GROW) s->grown = 1;
    /* An annotated table's array says its count; a recognised table's comes
     * with its last count (recognize_replay.c, carry_counts: a realloc moves
     * the entries as they are), and a growth makes it unknown until the
     * next (the growth's own, where the rule gives one: it follows at the
     * same time). A new array of uthash, whose growth has no count, read
     * live 0, then the count before the growth: "oversized" until the next
     * probe, with a count the growth says is past. */
    t->live_now = t->live_lo = a->live;
    if (grew) t->live_counted = 0;
    update(tb, s, r->t, o);
    return;
oom:
    tb->oom = 1;
}

/* What the table was right before its end (model.h: last_*). Not called
 * oversized then when its last count was 0 and came in the last
 * TM_CLEAR_NS before the end: for a table nobody annotated that may be a
 * destructor's clearing read (GLib and libstdc++ empty their arrays before
 * they free them); a claim is made only on a count of live entries. An
 * empty table read earlier held its arrays empty until its end (a Rust
 * HashSet cleared and kept 1.2 s): that is a claim. */
static void keep_last_state(struct table_state *s, uint64_t end_t)
{
    struct tm_table *t = &s->t;
    int clearing = t->rule && !t->live_now && end_t - s->counted_t < TM_CLEAR_NS;
    t->last_live = t->live_now;
    t->last_held = t->held;
    t->last_needed = t->needed;
    t->last_retained = t->retained;
    t->last_oversized_since = clearing ? TM_NO_TIME : t->oversized_since;
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
    if (end) keep_last_state(s, r->t);
    /* A table that ended has no entries, whatever count it last showed (uthash
     * frees its table with num_items still 1; a map freed full says N). */
    s->t.live_now = s->t.live_lo = end ? 0 : r->u.table_count.live;
    if (!end) {
        s->t.live_counted = 1;
        s->counted_t = r->t;
    }
    if (end) s->t.ended_t = r->t;
    update(tb, s, r->t, o);
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
        s->t.live_peak = s->t.live_peak_lo = r->u.table_count.live;
        s->t.live_peak_t = r->t; /* when the shim saw it: the peak was no later */
    }
}

/* TABLE_GROWTH's body: table u, load_num u, load_den u, factor u,
 * min_buckets u. */
void tables_growth(struct tables *tb, const struct tm_record *r, const struct tm_options *o)
{
    const uint8_t *p = r->u.extended.data, *e = p + r->u.extended.len;
    uint64_t v[5];
    for (int i = 0; i < 5; i++)
        if (tmk_get_u(&p, e, &v[i])) {
            problem(tb, "a growth rule record is cut short; ignored");
            return;
        }
    struct table_state *s = table_for_event(tb, v[0], r->t, "growth rule");
    if (!s) return;
    struct tm_table *t = &s->t;
    t->grow_load_num = clamp32(v[1]);
    t->grow_load_den = clamp32(v[2]);
    t->grow_factor = clamp32(v[3]);
    t->min_buckets = clamp32(v[4]);
    t->model = sizing_model_for(t);
    update(tb, s, r->t, o);
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

uint64_t tables_max_id(const struct tables *tb)
{
    uint64_t max = 0;
    for (size_t i = 0; i < tb->n; i++)
        if (tb->ts[i].t.id > max) max = tb->ts[i].t.id;
    return max;
}

void tables_set_rule(struct tables *tb, uint64_t id, const struct tm_rule *rule, double load)
{
    struct table_state *s = find(tb, id);
    if (!s) return;
    s->t.rule = rule;
    s->t.load = load;
}

void tables_mark_shrunk(struct tables *tb, uint64_t id)
{
    struct table_state *s = find(tb, id);
    if (!s || s->t.ended_t == TM_NO_TIME) return;
    s->t.shrunk = 1;
    s->t.last_oversized_since = TM_NO_TIME; /* the cure applied: no "until freed" */
}

void tables_set_live_range(struct tables *tb, uint64_t id, uint64_t lo, uint64_t hi)
{
    struct table_state *s = find(tb, id);
    if (!s || s->t.live_now != hi) return;
    s->t.live_lo = lo;
    if (s->t.live_peak == hi && s->t.live_peak_lo > lo) s->t.live_peak_lo = lo;
}

/* What an ended table retained until its end, when it was oversized then. */
static uint64_t retained_until_end(const struct tm_table *t)
{
    return tm_table_ended_oversized(t) ? t->last_retained : 0;
}

/* Most retained first; then those that retained most until they ended. */
static int by_retained(const void *a, const void *b)
{
    const struct tm_table *x = a, *y = b;
    if (x->retained != y->retained) return x->retained > y->retained ? -1 : 1;
    if (retained_until_end(x) != retained_until_end(y))
        return retained_until_end(x) > retained_until_end(y) ? -1 : 1;
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
        t->model = sizing_model_for(t);
        t->verdict = verdict_of(t, o);
        /* deletes only when the count now is surely under the peak: two
         * estimates of one count (non-empty buckets of two sizes) differ */
        t->after_deletes = t->ended_t == TM_NO_TIME && t->live_now < t->live_peak_lo;
        if (t->verdict == TM_VERDICT_LEAKED) t->oversized_since = TM_NO_TIME;
        t->timeline = series_finish(&s->tl, t_end, t->held, t->live_now, &t->n_points);
        if (advice_make(t, s->main_bytes, o)) return -1;
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
        free(tb->ts[i].rise);
        series_free(&tb->ts[i].tl);
    }
    for (size_t i = 0; i < tb->n_problems; i++) free(tb->first_problem[i]);
    free(tb->ts);
    free(tb->arr);
    u64map_free(&tb->by_id);
    u64map_free(&tb->arrays);
}
