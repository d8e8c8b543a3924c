/* analyzer/report_collapsed.c - `tidemark report --format collapsed`: one
 * "root;...;leaf bytes" line per stack, the input flamegraph.pl, inferno and
 * speedscope read.
 *
 * Weights (struct tm_report_opts.weight):
 *  - retained: each table that retains bytes contributes its creation stack
 *    with a leaf frame naming the table; the lines sum to model->total_retained.
 *  - peak: the heap's top allocation sites at its peak, plus one "[other
 *    sites]" line for the rest, so the lines sum to heap.peak_bytes. In
 *    mode=tables (no ordinary allocations) the tables' peak bytes instead.
 *
 * Frames are function names (module+offset when unknown), root first.
 * Invariant: no frame contains ';', a newline or any control character, and
 * no line has weight 0.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_stack.h"

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

static void put_address(struct collapsed *c, uint64_t addr)
{
    char buf[512];
    tm_stack_namer_frame(c->names, addr, TM_FRAME_FUNCTION, buf, sizeof buf);
    put_frame(c->out, buf[0] ? buf : "?"); /* never an empty frame */
}

/* Writes the frames of stack `id` root first, separated by ';'. */
static void put_stack(struct collapsed *c, uint64_t id)
{
    const struct tm_stack *st = id ? tm_model_stack(c->m, id) : NULL;
    if (!st || st->depth == 0) {
        fputs(id ? "[unknown stack]" : "[no stack]", c->out);
        return;
    }
    for (uint32_t i = st->depth; i-- > 0;) {
        put_address(c, st->frames[i]);
        if (i) putc(';', c->out);
    }
}

static void put_table_leaf(FILE *out, const struct tm_table *t)
{
    char buf[64];
    snprintf(buf, sizeof buf, "[table %" PRIu64 " %s", t->id, tm_table_kind_name(t->kind));
    put_frame(out, buf);
    if (t->label[0]) {
        putc(' ', out);
        put_frame(out, t->label);
    }
    putc(']', out);
}

static void table_lines(struct collapsed *c, int peak)
{
    for (size_t i = 0; i < c->m->n_tables; i++) {
        const struct tm_table *t = &c->m->tables[i];
        uint64_t w = peak ? t->held_peak : t->retained;
        if (!w) continue;
        put_stack(c, t->stack_id);
        putc(';', c->out);
        put_table_leaf(c->out, t);
        fprintf(c->out, " %" PRIu64 "\n", w);
    }
}

static void heap_peak_lines(struct collapsed *c)
{
    const struct tm_heap *h = &c->m->heap;
    uint64_t shown = 0;
    for (size_t i = 0; i < h->n_top_peak; i++) {
        const struct tm_site *s = &h->top_peak[i];
        if (!s->bytes) continue;
        put_stack(c, s->stack_id);
        fprintf(c->out, " %" PRIu64 "\n", s->bytes);
        shown += s->bytes;
    }
    if (h->peak_bytes > shown)
        fprintf(c->out, "[other sites] %" PRIu64 "\n", h->peak_bytes - shown);
}

int tm_report_collapsed(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    struct collapsed c = {m, tm_stack_namer_new(m), out};
    if (o->weight == TM_WEIGHT_PEAK && m->heap.tracked)
        heap_peak_lines(&c);
    else
        table_lines(&c, o->weight == TM_WEIGHT_PEAK);
    tm_stack_namer_free(c.names);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
