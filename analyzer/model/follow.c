/* analyzer/model/follow.c - a trace followed as it grows (follow.h): one reader
 * and one analysis (analyze.c's struct analysis) kept open; each look
 * indexes the new blocks (tm_reader_follow), merges the records up to the
 * settled time (tm_reader_run_until) into the analysis, and copies the
 * tables' current figures out (tables_current). Memory: the analysis's
 * (live blocks, tables) plus one small entry per block of the index. */
#include "follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"
#include "read/liveness.h"

struct tm_follow {
    struct tm_reader *r;
    struct tm_model m;       /* info, stacks and modules as the analysis fills them */
    struct analysis a;
    uint64_t mem_heap, mem_heap_peak; /* MEMORY records' heap (tables and sampled modes) */
    struct tm_follow_state st;
    size_t tables_cap;
};

int tm_follow_open(const char *path, struct tm_follow **out, char *err, size_t errlen)
{
    *out = NULL;
    struct tm_follow *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(f->r = tm_reader_open(path, err, errlen))) {
        free(f);
        return -1;
    }
    tm_options_default(&f->m.opts);
    f->m.opts.symbolize = 0;
    analysis_init(&f->a, &f->m, tm_reader_header(f->r), path);
    *out = f;
    return 0;
}

static int on_record(void *vf, const struct tm_record *r)
{
    struct tm_follow *f = vf;
    if (r->type == TMK_REC_MEMORY) {
        f->mem_heap = r->u.memory.heap;
        if (f->mem_heap > f->mem_heap_peak) f->mem_heap_peak = f->mem_heap;
    }
    return analysis_record(&f->a, r);
}

static int by_retained(const void *a, const void *b)
{
    const struct tm_follow_table *x = a, *y = b;
    if (x->retained != y->retained) return x->retained > y->retained ? -1 : 1;
    if (x->held != y->held) return x->held > y->held ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int copy_tables(struct tm_follow *f)
{
    const struct tables *tb = &f->a.tables;
    if (tb->n > f->tables_cap) {
        struct tm_follow_table *t = realloc(f->st.tables, tb->n * sizeof *t);
        if (!t) return -1;
        f->st.tables = t;
        f->tables_cap = tb->n;
    }
    for (size_t i = 0; i < tb->n; i++) {
        const struct tm_table *t = tables_current(tb, i);
        f->st.tables[i] = (struct tm_follow_table){
            t->id, t->label ? t->label : "", tm_table_kind_name(t->kind), t->held, t->needed,
            t->retained, t->live_now, t->live_peak, t->live_peak_exact,
            t->ended_t != TM_NO_TIME};
    }
    f->st.n_tables = tb->n;
    if (tb->n) qsort(f->st.tables, tb->n, sizeof *f->st.tables, by_retained);
    return 0;
}

static void fill_state(struct tm_follow *f, int running, uint64_t until)
{
    struct tm_follow_state *st = &f->st;
    const struct tm_trace_info *i = &f->m.info;
    st->pid = i->pid;
    st->mode = i->mode;
    st->running = running;
    st->ended = tm_reader_ended(f->r);
    st->at = f->a.last_t < until ? f->a.last_t : until;
    st->heap_exact = f->a.track_heap;
    st->heap_in_use = f->a.track_heap ? f->a.heap.in_use : f->mem_heap;
    st->heap_peak = f->a.track_heap ? f->a.heap.peak : f->mem_heap_peak;
    st->rss = f->a.heap.rss;
    st->rss_peak = f->a.heap.rss_peak;
    st->bound_soft_t = i->bound_soft_t;
    st->bound_stop_t = i->bound_stop_t;
    st->records = i->records;
}

int tm_follow_poll(struct tm_follow *f, const struct tm_follow_state **state, char *err,
                   size_t errlen)
{
    if (tm_reader_follow(f->r, err, errlen)) return -1;
    const struct tmk_file_header *h = tm_reader_header(f->r);
    int running = !tm_reader_ended(f->r) && tm_process_running(h);
    uint64_t until = UINT64_MAX;
    if (running) {
        uint64_t now = tm_trace_now(h);
        until = now > TM_LIVE_SETTLE_NS ? now - TM_LIVE_SETTLE_NS : 0;
    }
    if (tm_reader_run_until(f->r, until, on_record, f, err, errlen)) return -1;
    analysis_flush(&f->a);
    if (analysis_oom(&f->a) || copy_tables(f)) {
        snprintf(err, errlen, "out of memory reading the trace");
        return -1;
    }
    fill_state(f, running && !tm_reader_ended(f->r), until);
    *state = &f->st;
    return 0;
}

void tm_follow_close(struct tm_follow *f)
{
    if (!f) return;
    analysis_free(&f->a);
    tm_model_free(&f->m);
    tm_reader_close(f->r);
    free(f->st.tables);
    free(f);
}
