/* analyzer/analyze.c - tm_analyze(): one pass of the reader feeding the heap
 * (heap.c) and the tables (tables.c), then the model assembled: stacks,
 * modules, sites (sites.c), warnings. Records after opts.at are read (for
 * the duration and the END record) but not applied. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "analyze_int.h"
#include "recognize.h"
#include "symbols.h"
#include "tidemark/annotate.h"

/* ALLOC/FREE records waiting to be applied, in order (see on_record). */
#define BATCH 64
struct pending {
    uint8_t type;
    uint64_t t, ptr, size, stack;
};

struct ctx {
    const struct tm_options *o;
    struct tm_model *m;
    struct heap_state heap;
    struct tables tables;
    int track_heap;            /* full mode: ALLOC/FREE define liveness */
    struct u64map stack_ix;    /* stack id -> index into m->stacks */
    size_t stacks_cap, modules_cap;
    uint64_t last_t;
    int oom;
    struct pending batch[BATCH];
    unsigned nbatch;
    struct recognizer *rz;     /* tables nobody annotated */
};

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

static void add_stack(struct ctx *c, const struct tm_record *r)
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
    m->stacks[m->n_stacks++] = (struct tm_stack){r->u.stack.id, r->u.stack.depth, f};
    return;
oom:
    c->oom = 1;
}

static void add_module(struct ctx *c, const struct tm_record *r)
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
                            r->u.module.end, NULL, r->u.module.build_id_len, NULL, 0};
    mod.path = dup_str(r->u.module.path, r->u.module.path_len);
    if (mod.build_id_len && (mod.build_id = malloc(mod.build_id_len)))
        memcpy(mod.build_id, r->u.module.build_id, mod.build_id_len);
    if (!mod.path || (mod.build_id_len && !mod.build_id)) {
        free(mod.path);
        free(mod.build_id);
        goto oom;
    }
    m->modules[m->n_modules++] = mod;
    return;
oom:
    c->oom = 1;
}

static void module_gone(struct ctx *c, uint64_t id)
{
    for (size_t i = c->m->n_modules; i-- > 0;)
        if (c->m->modules[i].id == id) {
            c->m->modules[i].gone = 1;
            return;
        }
}

/* Applies the pending ALLOC/FREE records, in their order. */
static void flush_batch(struct ctx *c)
{
    for (unsigned i = 0; i < c->nbatch; i++) {
        const struct pending *p = &c->batch[i];
        if (p->type == TMK_REC_ALLOC) {
            heap_alloc(&c->heap, p->t, p->ptr, p->size, p->stack);
        } else {
            heap_free(&c->heap, p->t, p->ptr);
            if (c->tables.n_arr) tables_freed(&c->tables, p->t, p->ptr, c->o);
        }
    }
    c->nbatch = 0;
}

/* ALLOC and FREE (nearly every record of a full trace) are not applied at
 * once: up to BATCH of them are queued and the live map's slot of each is
 * prefetched, then the batch is applied in order. Every other record that
 * has an effect (TICK and INFO have none; RENAME moves a live block) first
 * applies the batch, so the order of effects is the trace's order; only the
 * cache misses of the live map overlap (they were ~3/4 of the time). */
static int on_record(void *vc, const struct tm_record *r)
{
    struct ctx *c = vc;
    struct tm_trace_info *info = &c->m->info;
    const struct tm_options *o = c->o;
    info->records++;
    if ((r->type == TMK_REC_ALLOC || r->type == TMK_REC_FREE) && r->t <= o->at) {
        if (r->t > c->last_t) c->last_t = r->t;
        struct pending *p = &c->batch[c->nbatch++];
        p->type = r->type;
        p->t = r->t;
        if (r->type == TMK_REC_ALLOC) {
            p->ptr = r->u.alloc.ptr;
            p->size = r->u.alloc.size;
            p->stack = r->u.alloc.stack;
            if (p->size >= TM_RECOGNIZE_MIN) recognize_alloc(c->rz, r);
        } else {
            p->ptr = r->u.free.ptr;
            recognize_free_block(c->rz, r);
        }
        livemap_prefetch(&c->heap.live, p->ptr);
        if (c->nbatch == BATCH) flush_batch(c);
        return c->oom || c->heap.oom || c->tables.oom;
    }
    if (r->type == TMK_REC_TICK) { /* no effect: keep the batch */
        if (r->t > c->last_t) c->last_t = r->t;
        return 0;
    }
    flush_batch(c);
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
    case TM_REC_RENAME:
        heap_rename(&c->heap, r->t, r->u.rename.from, r->u.rename.to);
        break;
    case TMK_REC_MEMORY:
        heap_memory(&c->heap, r->t, r->u.memory.rss);
        break;
    case TMK_REC_LOST:
        info->lost_events += r->u.lost.count;
        break;
    default:
        break;
    }
    return c->oom || c->heap.oom || c->tables.oom;
}

int tm_add_warning(struct tm_trace_info *info, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **w = realloc(info->warnings, (info->n_warnings + 1) * sizeof *w);
    if (!w) return -1;
    info->warnings = w;
    if (!(w[info->n_warnings] = strdup(line))) return -1;
    info->n_warnings++;
    return 0;
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
}

/* Tables nobody annotated, with the options' rules or the built-in ones
 * (parsed once; the tables point at them until the process ends). */
static int recognize_tables(struct ctx *c)
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

static int finish(struct ctx *c, struct tm_reader *r, char *err, size_t errlen)
{
    struct tm_model *m = c->m;
    struct tm_trace_info *info = &m->info;
    info->duration_ns = c->last_t;
    info->at = m->opts.at < c->last_t ? m->opts.at : c->last_t;
    info->truncated = tm_reader_truncated(r);
    info->blocks = tm_reader_blocks(r);
    info->threads = tm_reader_threads(r);
    const char *const *w;
    size_t n = tm_reader_warnings(r, &w);
    for (size_t i = 0; i < n; i++) tm_add_warning(info, "%s", w[i]);
    info->contradictions = c->tables.contradictions;
    for (size_t i = 0; i < c->tables.n_problems; i++)
        tm_add_warning(info, "%s", c->tables.first_problem[i]);
    if (c->tables.contradictions > c->tables.n_problems)
        tm_add_warning(info, "... %llu contradicting table events in all",
                    (unsigned long long)c->tables.contradictions);
    if (c->track_heap && c->heap.unknown_frees)
        tm_add_warning(info, "%llu frees of pointers the trace never allocated (ignored)",
                    (unsigned long long)c->heap.unknown_frees);
    if (c->heap.double_allocs)
        tm_add_warning(info, "%llu allocations of addresses already live (their free was lost)",
                    (unsigned long long)c->heap.double_allocs);
    if (info->lost_events)
        tm_add_warning(info, "the shim dropped %llu events", (unsigned long long)info->lost_events);
    if (info->flags & TMK_FILE_SAMPLED)
        tm_add_warning(info, "ordinary allocations are sampled (mean interval %llu bytes): "
                          "heap figures count samples only",
                    (unsigned long long)info->sample_interval);
    if (m->n_stacks) qsort(m->stacks, m->n_stacks, sizeof *m->stacks, cmp_stack);
    if (recognize_tables(c)) goto oom;
    if (heap_finish(&c->heap, info->at, &m->heap) ||
        tables_finish(&c->tables, info->at, &m->opts, &m->tables, &m->n_tables))
        goto oom;
    m->heap.tracked = c->track_heap;
    for (size_t i = 0; i < m->n_tables; i++) {
        m->total_retained += m->tables[i].retained;
        if (m->tables[i].verdict == TM_VERDICT_OVERSIZED) m->n_oversized++;
    }
    if (tm_symbolize_sites(m) || !info->path) goto oom;
    return TM_EXIT_OK;
oom:
    snprintf(err, errlen, "out of memory building the report");
    return TM_EXIT_CANNOT;
}

static int analyze_reader(struct tm_reader *r, const char *path, const struct tm_options *o,
                          struct tm_model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (o) m->opts = *o;
    else tm_options_default(&m->opts);
    const struct tmk_file_header *h = tm_reader_header(r);
    set_info(m, h, path);
    struct ctx c = {.o = &m->opts, .m = m};
    heap_init(&c.heap);
    tables_init(&c.tables);
    u64map_init(&c.stack_ix);
    c.rz = recognize_new();
    c.track_heap = !(h->flags & (TMK_FILE_MODE_TABLES | TMK_FILE_SAMPLED));
    int rc = TM_EXIT_OK;
    int run = tm_reader_run(r, on_record, &c, err, errlen);
    flush_batch(&c);
    if (run) rc = TM_EXIT_CANNOT;
    else if (c.oom || c.heap.oom || c.tables.oom) {
        snprintf(err, errlen, "out of memory reading the trace");
        rc = TM_EXIT_CANNOT;
    } else {
        rc = finish(&c, r, err, errlen);
    }
    heap_free_state(&c.heap);
    tables_free(&c.tables);
    u64map_free(&c.stack_ix);
    recognize_free(c.rz);
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
