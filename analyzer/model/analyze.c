/* analyzer/model/analyze.c - tm_analyze(): one pass of the reader feeding the heap
 * (heap.c) and the tables (table_life.c), then the model assembled: stacks,
 * modules, sites (sites.c), warnings and notices. Records after opts.at are
 * read (for the duration and the END record) but not applied. A live trace
 * (its process still writes it, liveness.h) is applied up to the trace's
 * clock now minus TM_LIVE_SETTLE_NS, and says so in a notice. The pass
 * itself (struct analysis) is shared with follow.c, which keeps one open. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "analyze_int.h"
#include "recognize.h"
#include "table_rules.h"
#include "read/liveness.h"
#include "units.h"
#include "symbols/symbols.h"
#include "tidemark/annotate.h"

void tm_options_default(struct tm_options *o)
{
    memset(o, 0, sizeof *o);
    o->at = TM_NO_TIME;
    o->min_retained = 1u << 20;
    o->min_ratio = 0.5;
    o->rebuild_fraction = 0.25;
    o->top_sites = 10;
    o->symbolize = 1;
}

static char *dup_str(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) d[i] = s[i] ? s[i] : ' '; /* no NUL inside */
    d[n] = 0;
    return d;
}

static void add_stack(struct analysis *c, const struct tm_record *r)
{
    struct tm_model *m = c->m;
    if (u64map_get(&c->stack_ix, r->u.stack.id)) return; /* defined once; keep the first */
    if (m->n_stacks == c->stacks_cap) {
        size_t cap = c->stacks_cap ? c->stacks_cap * 2 : 256;
        struct tm_stack *s = realloc(m->stacks, cap * sizeof *s);
        if (!s) goto oom;
        m->stacks = s;
        c->stacks_cap = cap;
    }
    uint64_t *f = malloc((r->u.stack.depth ? r->u.stack.depth : 1) * sizeof *f);
    if (!f || u64map_put(&c->stack_ix, r->u.stack.id, m->n_stacks)) {
        free(f);
        goto oom;
    }
    if (r->u.stack.depth) /* frames may be NULL for an empty stack */
        memcpy(f, r->u.stack.frames, r->u.stack.depth * sizeof *f);
    m->stacks[m->n_stacks++] =
        (struct tm_stack){r->u.stack.id, r->u.stack.depth, f, c->module_events};
    return;
oom:
    c->oom = 1;
}

static void add_module(struct analysis *c, const struct tm_record *r)
{
    struct tm_model *m = c->m;
    if (m->n_modules == c->modules_cap) {
        size_t cap = c->modules_cap ? c->modules_cap * 2 : 32;
        struct tm_module *v = realloc(m->modules, cap * sizeof *v);
        if (!v) goto oom;
        m->modules = v;
        c->modules_cap = cap;
    }
    struct tm_module mod = {r->u.module.id, r->u.module.bias, r->u.module.start,
                            r->u.module.end, NULL, r->u.module.build_id_len, NULL, 0, 0, 0};
    mod.path = dup_str(r->u.module.path, r->u.module.path_len);
    if (mod.build_id_len && (mod.build_id = malloc(mod.build_id_len)))
        memcpy(mod.build_id, r->u.module.build_id, mod.build_id_len);
    if (!mod.path || (mod.build_id_len && !mod.build_id)) {
        free(mod.path);
        free(mod.build_id);
        goto oom;
    }
    mod.loaded_at = ++c->module_events;
    m->modules[m->n_modules++] = mod;
    return;
oom:
    c->oom = 1;
}

static void module_gone(struct analysis *c, uint64_t id)
{
    c->module_events++;
    for (size_t i = c->m->n_modules; i-- > 0;)
        if (c->m->modules[i].id == id) {
            if (!c->m->modules[i].gone) c->m->modules[i].gone_at = c->module_events;
            c->m->modules[i].gone = 1;
            return;
        }
}

/* An allocation for free_runs.h: the thread's latest, and the one a large
 * block it freed waited for. */
static void note_alloc(struct analysis *c, const struct analysis_pending *p)
{
    uint64_t waited = free_runs_alloc(&c->runs, p->thread, p->size, p->stack, p->t);
    if (waited)
        c->rz_watching = recognize_next_alloc(c->rz, (size_t)(waited - 1), p->thread,
                                              (struct thread_alloc){p->size, p->stack, p->t});
}

/* A heap record for recognize_after.c, before it is applied. */
static void note_heap_event(struct analysis *c, const struct analysis_pending *p)
{
    int is_free = p->type == TMK_REC_FREE || p->type == TMK_REC_FREE_INFO;
    uint64_t stack = p->type == TMK_REC_FREE ? 0 : p->stack; /* a FREE has none */
    c->rz_watching = recognize_heap_event(c->rz, p->thread, is_free, p->t, p->size, stack);
}

/* Applies the pending heap records, in their order. */
void analysis_flush(struct analysis *c)
{
    for (unsigned i = 0; i < c->nbatch; i++) {
        const struct analysis_pending *p = &c->batch[i];
        if (c->rz_watching) note_heap_event(c, p);
        if (p->type == TMK_REC_ALLOC) {
            heap_alloc(&c->heap, p->t, p->ptr, p->size, p->stack);
            note_alloc(c, p);
            /* runs say something only where every block is in the trace */
            if (p->size >= TM_RECOGNIZE_MIN &&
                recognize_alloc(c->rz, p->t, p->thread, p->ptr, p->size, p->stack) &&
                c->track_heap)
                free_runs_watch(&c->runs, 1);
        } else if (p->type == TMK_REC_FREE) {
            uint64_t size;
            heap_free(&c->heap, p->t, p->ptr, &size);
            struct recognize_freed f = {free_runs_last_size_count(&c->runs, p->thread),
                                        free_runs_latest(&c->runs, p->thread)};
            long ix = recognize_free_block(c->rz, p->t, p->thread, p->ptr, &f);
            if (ix >= 0) {
                c->rz_watching = 1;
                free_runs_watch(&c->runs, -1);
                if (c->track_heap) free_runs_wait(&c->runs, p->thread, (uint64_t)ix);
            }
            free_runs_free(&c->runs, p->thread, size);
            if (c->tables.n_arr) tables_freed(&c->tables, p->t, p->ptr, c->o);
        } else {
            by_info_apply(c, p);
            if (p->type == TMK_REC_ALLOC_INFO) note_alloc(c, p);
            else free_runs_free(&c->runs, p->thread, p->size);
        }
    }
    c->nbatch = 0;
}

/* BOUND: the trace reached TIDEMARK_MAX_BYTES (its soft bound, or the
 * bound itself: the last record). */
static void note_bound(struct tm_trace_info *info, const struct tm_record *r)
{
    const uint8_t *p = r->u.extended.data, *e = p + r->u.extended.len;
    uint64_t what, bound;
    if (tmk_get_u(&p, e, &what) || tmk_get_u(&p, e, &bound)) return;
    info->bound_bytes = bound;
    if (what == TMK_BOUND_SOFT && info->bound_soft_t == TM_NO_TIME) info->bound_soft_t = r->t;
    if (what == TMK_BOUND_STOP && info->bound_stop_t == TM_NO_TIME) info->bound_stop_t = r->t;
}

/* PROBE_OFF: the shim stopped reading blocks' contents (the first one
 * counts; other reasons than a refusal are not known yet). */
static void note_probe_off(struct tm_trace_info *info, const struct tm_record *r)
{
    const uint8_t *p = r->u.extended.data, *e = p + r->u.extended.len;
    uint64_t why, err;
    if (tmk_get_u(&p, e, &why) || tmk_get_u(&p, e, &err) || why != TMK_PROBE_OFF_REFUSED ||
        info->probes_refused)
        return;
    info->probes_refused = err && err < 4096 ? (int)err : EPERM;
    info->probes_refused_t = r->t;
}

const char *tm_probe_error_name(int err, char *buf, size_t len)
{
    if (err == EPERM) return "EPERM";
    if (err == ENOSYS) return "ENOSYS";
    snprintf(buf, len, "errno %d", err);
    return buf;
}

int analysis_record(void *vc, const struct tm_record *r)
{
    struct analysis *c = vc;
    c->m->info.records++;
    c->last_read_t = r->t;
    return analysis_apply(c, r);
}

/* ALLOC and FREE, ALLOC_INFO and FREE_INFO (nearly every record of a full
 * trace) are not applied at once: up to ANALYSIS_BATCH of them are queued
 * and the slot of each in the live map or the info map is prefetched, then
 * the batch is applied in order. Every other record that has an effect
 * (TICK has none) first applies the batch, so the order of effects is the
 * trace's order; only the cache misses of the maps overlap (they were ~3/4
 * of the time). */
int analysis_apply(struct analysis *c, const struct tm_record *r)
{
    struct tm_trace_info *info = &c->m->info;
    const struct tm_options *o = c->o;
    if (info->ended && r->thread == c->end_thread && r->type != TMK_REC_END)
        info->ended = 0; /* its thread went on: an exec that failed (trace-format.md) */
    if ((r->type == TMK_REC_ALLOC || r->type == TMK_REC_FREE) && r->t <= o->at) {
        if (r->t > c->last_t) c->last_t = r->t;
        struct analysis_pending *p = &c->batch[c->nbatch++];
        p->type = r->type;
        p->thread = r->thread;
        p->t = r->t;
        if (r->type == TMK_REC_ALLOC) {
            p->ptr = r->u.alloc.ptr;
            p->size = r->u.alloc.size;
            p->stack = r->u.alloc.stack;
        } else {
            p->ptr = r->u.free.ptr;
        }
        livemap_prefetch(&c->heap.live, p->ptr);
        if (c->nbatch == ANALYSIS_BATCH) analysis_flush(c);
        return c->oom || c->heap.oom || c->tables.oom;
    }
    if (tmk_is_by_info(r->type)) return by_info_record(c, r);
    if (r->type == TMK_REC_TICK) { /* no effect: keep the batch */
        if (r->t > c->last_t) c->last_t = r->t;
        return 0;
    }
    analysis_flush(c);
    if (r->type == TMK_REC_TABLE_ARRAY && r->u.table_array.by_info && by_info_array(c, r))
        return analysis_oom(c);
    if (r->t > c->last_t && r->type != TMK_REC_STACK && r->type != TMK_REC_MODULE &&
        r->type != TMK_REC_MODULE_GONE)
        c->last_t = r->t;
    /* Definitions apply whatever the time: a stack may be defined late. */
    if (r->type == TMK_REC_STACK) add_stack(c, r);
    else if (r->type == TMK_REC_MODULE) add_module(c, r);
    else if (r->type == TMK_REC_MODULE_GONE) module_gone(c, r->u.module_gone.id);
    if (r->type == TMK_REC_END) {
        info->ended = 1;
        info->end_why = (uint32_t)r->u.end.why;
        info->end_status = (uint32_t)r->u.end.status;
        c->end_thread = r->thread;
    }
    if (r->t > o->at) return c->oom;
    switch (r->type) {
    case TMK_REC_TABLE_NEW:
        tables_new(&c->tables, r, o);
        break;
    case TMK_REC_PROBE:
        recognize_probe(c->rz, r);
        break;
    case TMK_REC_TABLE_ARRAY:
        recognize_annotated(c->rz, r->u.table_array.ptr);
        tables_array(&c->tables, r, c->track_heap ? heap_is_live(&c->heap, r->u.table_array.ptr)
                                                  : -1, o);
        break;
    case TMK_REC_TABLE_COUNT:
    case TMK_REC_TABLE_END:
        tables_count(&c->tables, r, r->type == TMK_REC_TABLE_END, o);
        break;
    case TMK_REC_TABLE_PEAK:
        tables_peak(&c->tables, r);
        break;
    case TMK_REC_TABLE_GROWTH:
        tables_growth(&c->tables, r, o);
        break;
    case TMK_REC_MEMORY:
        heap_memory(&c->heap, r->t, r->u.memory.rss);
        break;
    case TMK_REC_LOST:
        info->lost_events += r->u.lost.count;
        break;
    case TMK_REC_BOUND:
        note_bound(info, r);
        break;
    case TMK_REC_PROBE_OFF:
        note_probe_off(info, r);
        break;
    default:
        break;
    }
    return c->oom || c->heap.oom || c->tables.oom || !c->rz;
}

static int add_line(char ***lines, size_t *n, const char *fmt, va_list ap)
{
    char line[400];
    vsnprintf(line, sizeof line, fmt, ap);
    char **w = realloc(*lines, (*n + 1) * sizeof *w);
    if (!w) return -1;
    *lines = w;
    if (!(w[*n] = strdup(line))) return -1;
    (*n)++;
    return 0;
}

static int add_notice(struct tm_trace_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_notice(struct tm_trace_info *info, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = add_line(&info->notices, &info->n_notices, fmt, ap);
    va_end(ap);
    return rc;
}

int analysis_warning(struct tm_trace_info *info, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = add_line(&info->warnings, &info->n_warnings, fmt, ap);
    va_end(ap);
    return rc;
}

static int cmp_stack(const void *a, const void *b)
{
    const struct tm_stack *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

const struct tm_stack *tm_model_stack(const struct tm_model *m, uint64_t id)
{
    size_t lo = 0, hi = m->n_stacks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->stacks[mid].id == id) return &m->stacks[mid];
        if (m->stacks[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- assembly ------------------------------------------------------------ */

static void set_info(struct tm_model *m, const struct tmk_file_header *h, const char *path)
{
    struct tm_trace_info *i = &m->info;
    i->path = strdup(path ? path : "");
    i->version_major = h->version_major;
    i->version_minor = h->version_minor;
    i->flags = h->flags;
    i->mode = (h->flags & TMK_FILE_MODE_TABLES) ? "tables" : "full";
    i->pid = h->pid;
    i->ppid = h->ppid;
    i->start_realtime_ns = h->start_realtime_ns;
    i->sample_interval = h->sample_interval;
    i->bound_soft_t = i->bound_stop_t = TM_NO_TIME;
}

/* Tables nobody annotated, with the options' rules or the built-in ones
 * (parsed once; the tables point at them until the process ends). */
static int recognize_tables(struct analysis *c)
{
    static struct tm_rules builtin;
    if (!c->rz) return -1;
    const struct tm_rules *rules = c->m->opts.rules;
    if (!rules) {
        char err[200];
        if (!builtin.n && tm_rules_builtin(&builtin, err, sizeof err)) return -1;
        rules = &builtin;
    }
    return recognize_finish(c->rz, c->m, rules, &c->tables, c->o);
}

/* "process 1234 still running; as of 12.3 s", and the bound's lines. */
static int add_notices(struct tm_trace_info *i)
{
    char a[32], b[32];
    int rc = 0;
    if (i->running) {
        tm_human_time(i->at, a, sizeof a);
        rc |= add_notice(i, "process %u still running; as of %s", i->pid, a);
    }
    if (i->bound_bytes) tm_human_bytes(i->bound_bytes, b, sizeof b);
    if (i->bound_soft_t != TM_NO_TIME) {
        tm_human_time(i->bound_soft_t, a, sizeof a);
        rc |= add_notice(i, strcmp(i->mode, "full") == 0 && !(i->flags & TMK_FILE_SAMPLED)
                                ? "the trace passed 7/8 of TIDEMARK_MAX_BYTES (%s) at %s: no "
                                  "heap records after that but bucket arrays' (heap figures "
                                  "stop there), one sample a second"
                                : "the trace passed 7/8 of TIDEMARK_MAX_BYTES (%s) at %s: "
                                  "one sample a second after that",
                         b, a);
    }
    if (i->bound_stop_t != TM_NO_TIME) {
        tm_human_time(i->bound_stop_t, a, sizeof a);
        rc |= add_notice(i, "the trace reached TIDEMARK_MAX_BYTES (%s) at %s: nothing was "
                            "recorded after that", b, a);
    }
    return rc ? -1 : 0;
}

/* PROBE_OFF read: the recognised tables are counted as unread, and a
 * warning says what the report cannot know. */
static int warn_probes_refused(struct tm_model *m)
{
    struct tm_trace_info *i = &m->info;
    if (!i->probes_refused) return 0;
    for (size_t k = 0; k < m->n_tables; k++)
        if (m->tables[k].kind == TM_KIND_RECOGNISED) i->tables_unread++;
    char at[32], e[24];
    tm_human_time(i->probes_refused_t, at, sizeof at);
    return analysis_warning(i, "the shim could not read the program's memory from %s on "
                               "(process_vm_readv: %s; a seccomp filter?): the contents of "
                               "tables nobody annotated are unknown, %llu recognised table%s "
                               "judged without them",
                            at, tm_probe_error_name(i->probes_refused, e, sizeof e),
                            (unsigned long long)i->tables_unread,
                            i->tables_unread == 1 ? "" : "s");
}

static int finish(struct analysis *c, struct tm_reader *r, char *err, size_t errlen)
{
    struct tm_model *m = c->m;
    struct tm_trace_info *info = &m->info;
    info->duration_ns = c->last_t;
    info->at = m->opts.at < c->last_t ? m->opts.at : c->last_t;
    info->truncated = tm_reader_truncated(r);
    info->running = tm_reader_live(r) && !info->ended;
    if (add_notices(info)) goto oom;
    info->blocks = tm_reader_blocks(r);
    info->threads = tm_reader_threads(r);
    const char *const *w;
    size_t n = tm_reader_warnings(r, &w);
    for (size_t i = 0; i < n; i++) analysis_warning(info, "%s", w[i]);
    info->contradictions = c->tables.contradictions;
    for (size_t i = 0; i < c->tables.n_problems; i++) {
        /* the bound's stop drops the block that would pass it, whose
         * TABLE_NEW another thread's counts may have outlived: said by the
         * stop's notice, not a contradiction of the trace */
        if (info->bound_stop_t != TM_NO_TIME &&
            strstr(c->tables.first_problem[i], "which was never announced"))
            continue;
        analysis_warning(info, "%s", c->tables.first_problem[i]);
    }
    if (c->tables.contradictions > c->tables.n_problems)
        analysis_warning(info, "... %llu contradicting table events in all",
                    (unsigned long long)c->tables.contradictions);
    if (c->track_heap && c->heap.unknown_frees)
        analysis_warning(info, "%llu frees of pointers the trace never allocated (ignored)",
                    (unsigned long long)c->heap.unknown_frees);
    if (c->heap.double_allocs)
        analysis_warning(info, "%llu allocations of addresses already live (their free was lost)",
                    (unsigned long long)c->heap.double_allocs);
    if (c->heap.info_overflow)
        analysis_warning(info, "%llu allocations by info past 2^31 live blocks of one info "
                               "(not counted)", (unsigned long long)c->heap.info_overflow);
    if (info->lost_events)
        analysis_warning(info, "the shim dropped %llu events", (unsigned long long)info->lost_events);
    if (info->flags & TMK_FILE_SAMPLED)
        analysis_warning(info, "ordinary allocations are sampled (mean interval %llu bytes): "
                          "heap figures count samples only",
                    (unsigned long long)info->sample_interval);
    if (m->n_stacks) qsort(m->stacks, m->n_stacks, sizeof *m->stacks, cmp_stack);
    if (recognize_tables(c)) goto oom;
    if (recognize_full(c->rz))
        analysis_warning(info, "tables nobody annotated: over %u large blocks live or probed; "
                             "later ones were not looked at", 1u << 19);
    if (heap_finish(&c->heap, info->at, &m->heap) ||
        tables_finish(&c->tables, info->at, &m->opts, &m->tables, &m->n_tables))
        goto oom;
    m->heap.tracked = c->track_heap;
    for (size_t i = 0; i < m->n_tables; i++) {
        m->total_retained += m->tables[i].retained;
        if (m->tables[i].verdict == TM_VERDICT_OVERSIZED) m->n_oversized++;
    }
    if (warn_probes_refused(m)) goto oom;
    if (sites_symbolize(m) || !info->path) goto oom;
    return TM_EXIT_OK;
oom:
    snprintf(err, errlen, "out of memory building the report");
    return TM_EXIT_CANNOT;
}

void analysis_init(struct analysis *c, struct tm_model *m, const struct tmk_file_header *h,
                   const char *path)
{
    set_info(m, h, path);
    memset(c, 0, sizeof *c);
    c->o = &m->opts;
    c->m = m;
    heap_init(&c->heap);
    tables_init(&c->tables);
    u64map_init(&c->stack_ix);
    c->rz = recognize_new();
    c->track_heap = !(h->flags & (TMK_FILE_MODE_TABLES | TMK_FILE_SAMPLED));
}

void analysis_free(struct analysis *c)
{
    heap_free_state(&c->heap);
    tables_free(&c->tables);
    u64map_free(&c->stack_ix);
    recognize_free(c->rz);
    free(c->held);
}

/* A live trace is applied up to its clock now minus TM_LIVE_SETTLE_NS. */
static void settle_live(struct tm_reader *r, struct tm_options *o)
{
    if (!tm_reader_live(r)) return;
    uint64_t now = tm_trace_now(tm_reader_header(r));
    uint64_t settled = now > TM_LIVE_SETTLE_NS ? now - TM_LIVE_SETTLE_NS : 0;
    if (settled < o->at) o->at = settled;
}

static int analyze_reader(struct tm_reader *r, const char *path, const struct tm_options *o,
                          struct tm_model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (o) m->opts = *o;
    else tm_options_default(&m->opts);
    settle_live(r, &m->opts);
    struct analysis c;
    analysis_init(&c, m, tm_reader_header(r), path);
    int rc = TM_EXIT_OK;
    int run = tm_reader_run_until(r, UINT64_MAX, analysis_record, &c, err, errlen);
    analysis_flush(&c);
    if (!run) by_info_end(&c, r);
    if (run) rc = TM_EXIT_CANNOT;
    else if (analysis_oom(&c)) {
        snprintf(err, errlen, "out of memory reading the trace");
        rc = TM_EXIT_CANNOT;
    } else {
        tm_reader_end(r);
        rc = finish(&c, r, err, errlen);
    }
    analysis_free(&c);
    tm_reader_close(r);
    if (rc != TM_EXIT_OK) tm_model_free(m);
    return rc;
}

int tm_analyze(const char *path, const struct tm_options *o, struct tm_model *m, char *err,
               size_t errlen)
{
    memset(m, 0, sizeof *m);
    struct tm_reader *r = tm_reader_open(path, err, errlen);
    if (!r) return TM_EXIT_CANNOT;
    return analyze_reader(r, path, o, m, err, errlen);
}

int tm_analyze_mem(const void *data, size_t size, const char *path_label,
                   const struct tm_options *o, struct tm_model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    struct tm_reader *r = tm_reader_open_mem(data, size, err, errlen);
    if (!r) return TM_EXIT_CANNOT;
    return analyze_reader(r, path_label, o, m, err, errlen);
}

void tm_model_free(struct tm_model *m)
{
    for (size_t i = 0; i < m->n_tables; i++) {
        struct tm_table *t = &m->tables[i];
        free(t->label);
        free(t->site);
        for (size_t k = 0; k < t->n_recs; k++) free(t->recs[k].text);
        free(t->recs);
        free(t->timeline);
    }
    free(m->tables);
    for (size_t i = 0; i < m->heap.n_top_peak; i++) free(m->heap.top_peak[i].site);
    for (size_t i = 0; i < m->heap.n_top_end; i++) free(m->heap.top_end[i].site);
    free(m->heap.top_peak);
    free(m->heap.top_end);
    free(m->heap.timeline);
    free(m->heap.by_stack);
    for (size_t i = 0; i < m->n_stacks; i++) free(m->stacks[i].frames);
    free(m->stacks);
    for (size_t i = 0; i < m->n_modules; i++) {
        free(m->modules[i].path);
        free(m->modules[i].build_id);
    }
    free(m->modules);
    for (size_t i = 0; i < m->info.n_warnings; i++) free(m->info.warnings[i]);
    free(m->info.warnings);
    for (size_t i = 0; i < m->info.n_notices; i++) free(m->info.notices[i]);
    free(m->info.notices);
    free(m->info.path);
    memset(m, 0, sizeof *m);
}

const char *tm_verdict_name(enum tm_verdict v)
{
    switch (v) {
    case TM_VERDICT_OK: return "ok";
    case TM_VERDICT_OVERSIZED: return "oversized";
    case TM_VERDICT_ENDED: return "ended";
    case TM_VERDICT_LEAKED: return "leaked";
    }
    return "?";
}

const char *tm_model_kind_name(enum tm_model_kind k)
{
    switch (k) {
    case TM_MODEL_GOMAP: return "gomap";
    case TM_MODEL_UTHASH: return "uthash";
    case TM_MODEL_GENERIC: return "generic";
    case TM_MODEL_RULE: return "growth_rule";
    case TM_MODEL_RECOGNISED: return "recognised";
    }
    return "?";
}

const char *tm_rec_kind_name(enum tm_rec_kind k)
{
    switch (k) {
    case TM_REC_SHRINK: return "shrink";
    case TM_REC_CLONE: return "clone";
    case TM_REC_POINTER_VALUES: return "pointer_values";
    case TM_REC_SMALLER_HINT: return "smaller_hint";
    case TM_REC_REBUILD_POLICY: return "rebuild_policy";
    case TM_REC_RESTART: return "restart";
    }
    return "?";
}

enum tm_peak_kind tm_table_peak_kind(const struct tm_table *t)
{
    if (t->live_peak_exact) return TM_PEAK_EXACT;
    return tm_rule_count_estimated(t->rule) ? TM_PEAK_ESTIMATED : TM_PEAK_SAMPLED;
}

const char *tm_table_kind_name(uint32_t kind)
{
    switch (kind) {
    case TMK_KIND_GOMAP: return "gomap";
    case TMK_KIND_UTHASH: return "uthash";
    case TMK_KIND_GENERIC: return "generic";
    case TM_KIND_RECOGNISED: return "recognised";
    default: return "unknown";
    }
}
