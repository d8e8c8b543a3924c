/* analyzer/report/report_collapsed.c - `tidemark report --format collapsed`: one
 * "root;...;leaf weight" line per stack, the input flamegraph.pl, inferno and
 * speedscope read; and the weights' names and totals (report.h).
 *
 * Weights (struct tm_report_opts.weight, `--weight`):
 *  - peak (the default): every heap stack with bytes live at the heap's
 *    peak; the lines sum to heap.peak_bytes. In mode=tables (no ordinary
 *    allocations) each table's peak held bytes at its creation stack instead.
 *  - end, alloc_bytes, allocs: every heap stack with bytes still allocated,
 *    bytes allocated, allocations made; sums heap.in_use, heap.alloc_bytes,
 *    heap.allocs.
 *  - retained: each table that retains bytes, at its creation stack with a
 *    leaf frame naming the table; the lines sum to model->total_retained.
 * Bytes no stack accounts for (more distinct stacks than the heap tracks)
 * make one "[unattributed]" line, so the sum is always the total.
 *
 * Frames are function names (module+offset when unknown), root first, every
 * inlined level included (innermost last), the shim's frames left out.
 * Invariant: no frame contains ';', a newline or any control character, and
 * no line has weight 0.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "model/stack_namer.h"
#include "model/table_rules.h"

static const char *const weight_names[] = {"retained", "peak", "end", "alloc_bytes", "allocs"};

const char *tm_weight_name(enum tm_weight w)
{
    return (unsigned)w < sizeof weight_names / sizeof weight_names[0] ? weight_names[w] : "?";
}

int tm_weight_parse(const char *name, enum tm_weight *w)
{
    for (unsigned i = 0; i < sizeof weight_names / sizeof weight_names[0]; i++)
        if (strcmp(name, weight_names[i]) == 0) {
            *w = (enum tm_weight)i;
            return 0;
        }
    return -1;
}

/* A heap stack's figure for weight w. */
static uint64_t stack_weight(const struct tm_stack_heap *s, enum tm_weight w)
{
    switch (w) {
    case TM_WEIGHT_PEAK: return s->peak_bytes;
    case TM_WEIGHT_END: return s->end_bytes;
    case TM_WEIGHT_ALLOC_BYTES: return s->alloc_bytes;
    case TM_WEIGHT_ALLOCS: return s->allocs;
    case TM_WEIGHT_RETAINED: break;
    }
    return 0;
}

static int tables_weigh(const struct tm_model *m, enum tm_weight w)
{
    return w == TM_WEIGHT_RETAINED || (w == TM_WEIGHT_PEAK && !m->heap.tracked);
}

static uint64_t table_weight(const struct tm_table *t, enum tm_weight w)
{
    return w == TM_WEIGHT_RETAINED ? t->retained : t->held_peak;
}

uint64_t tm_weight_total(const struct tm_model *m, enum tm_weight w)
{
    const struct tm_heap *h = &m->heap;
    if (w == TM_WEIGHT_RETAINED) return m->total_retained;
    if (tables_weigh(m, w)) {
        uint64_t sum = 0;
        for (size_t i = 0; i < m->n_tables; i++) sum += m->tables[i].held_peak;
        return sum;
    }
    if (!h->tracked) return 0;
    switch (w) {
    case TM_WEIGHT_PEAK: return h->peak_bytes;
    case TM_WEIGHT_END: return h->in_use;
    case TM_WEIGHT_ALLOC_BYTES: return h->alloc_bytes;
    case TM_WEIGHT_ALLOCS: return h->allocs;
    case TM_WEIGHT_RETAINED: break;
    }
    return 0;
}

struct collapsed {
    const struct tm_model *m;
    struct tm_stack_namer *names;
    FILE *out;
};

/* Writes one frame name with ';' and control bytes replaced. */
static void put_frame(FILE *out, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned char c = *p;
        if (c == ';') c = ':';
        else if (c < 0x20 || c == 0x7f) c = ' ';
        putc(c, out);
    }
}

/* Writes the frames of stack `id` root first, separated by ';'. */
static void put_stack(struct collapsed *c, uint64_t id)
{
    const struct tm_stack *st = id ? tm_model_stack(c->m, id) : NULL;
    if (!st || st->depth == 0) {
        fputs(id ? "[unknown stack]" : "[no stack]", c->out);
        return;
    }
    const struct tm_frame_info *f;
    size_t n = tm_stack_namer_expand(c->names, st, &f);
    if (!n) fputs("[shim frames only]", c->out);
    for (size_t i = n; i-- > 0;) {
        char buf[512];
        tm_frame_info_name(&f[i], TM_FRAME_FUNCTION, buf, sizeof buf);
        put_frame(c->out, buf);
        if (i) putc(';', c->out);
    }
}

static void put_table_leaf(FILE *out, const struct tm_table *t)
{
    char buf[128];
    if (t->rule) /* "[table 3 recognised by libstdc++-hashtable ..." */
        snprintf(buf, sizeof buf, "[table %" PRIu64 " %s by %.64s", t->id,
                 tm_table_kind_name(t->kind), t->rule->name);
    else
        snprintf(buf, sizeof buf, "[table %" PRIu64 " %s", t->id, tm_table_kind_name(t->kind));
    put_frame(out, buf);
    if (t->label[0]) {
        putc(' ', out);
        put_frame(out, t->label);
    }
    putc(']', out);
}

static uint64_t table_lines(struct collapsed *c, enum tm_weight w)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < c->m->n_tables; i++) {
        const struct tm_table *t = &c->m->tables[i];
        uint64_t v = table_weight(t, w);
        if (!v) continue;
        put_stack(c, t->stack_id);
        putc(';', c->out);
        put_table_leaf(c->out, t);
        fprintf(c->out, " %" PRIu64 "\n", v);
        sum += v;
    }
    return sum;
}

static uint64_t heap_lines(struct collapsed *c, enum tm_weight w)
{
    const struct tm_heap *h = &c->m->heap;
    uint64_t sum = 0;
    for (size_t i = 0; i < h->n_by_stack; i++) {
        uint64_t v = stack_weight(&h->by_stack[i], w);
        if (!v) continue;
        put_stack(c, h->by_stack[i].stack_id);
        fprintf(c->out, " %" PRIu64 "\n", v);
        sum += v;
    }
    return sum;
}

int tm_report_collapsed(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    struct collapsed c = {m, tm_stack_namer_new(m), out};
    enum tm_weight w = o->weight;
    uint64_t sum = tables_weigh(m, w) ? table_lines(&c, w) : m->heap.tracked ? heap_lines(&c, w) : 0;
    uint64_t total = tm_weight_total(m, w);
    if (total > sum) fprintf(out, "[unattributed] %" PRIu64 "\n", total - sum);
    tm_stack_namer_free(c.names);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
