/* analyzer/report/report_openmetrics.c - `tidemark report --format openmetrics`:
 * the model as gauges in the OpenMetrics 1.0 text format, ending in
 * "# EOF"; the same lines are valid Prometheus text format 0.0.4 (UNIT and
 * EOF lines are comments there), so node_exporter's textfile collector and
 * a Pushgateway read them too.
 *
 * Families (all gauges; bytes are exact integers):
 *   tidemark_table_{held,needed,retained}_bytes, tidemark_table_live
 *       one sample per table, labelled id, kind, site, label
 *   tidemark_retained_bytes          sum over all tables
 *   tidemark_heap_{peak,in_use,allocated}_bytes, tidemark_heap_allocations,
 *   tidemark_heap_live_allocations   when the trace tracks the heap
 *   tidemark_rss_peak_bytes          highest RSS sampled
 * Label values are escaped (\\, \", \n) and bytes that are not UTF-8
 * become U+FFFD. --top shortens the tables as in the other formats.
 */
#include <inttypes.h>
#include <stdio.h>

#include "report.h"

static void family(FILE *out, const char *name, const char *unit, const char *help)
{
    fprintf(out, "# TYPE %s gauge\n", name);
    if (unit) fprintf(out, "# UNIT %s %s\n", name, unit);
    fprintf(out, "# HELP %s %s\n", name, help);
}

static void label_ascii(FILE *out, unsigned char c)
{
    if (c == '\\') fputs("\\\\", out);
    else if (c == '"') fputs("\\\"", out);
    else if (c == '\n') fputs("\\n", out);
    else putc(c, out);
}

static void label_value(FILE *out, const char *s)
{
    tm_write_utf8(out, s, "\xef\xbf\xbd", label_ascii); /* U+FFFD for invalid bytes */
}

static void table_sample(FILE *out, const char *name, const struct tm_table *t, uint64_t v)
{
    fprintf(out, "%s{id=\"%" PRIu64 "\",kind=\"", name, t->id);
    label_value(out, tm_table_kind_name(t->kind));
    fputs("\",site=\"", out);
    label_value(out, t->site);
    fputs("\",label=\"", out);
    label_value(out, t->label);
    fprintf(out, "\"} %" PRIu64 "\n", v);
}

enum { F_HELD, F_NEEDED, F_RETAINED, F_LIVE };

static uint64_t table_figure(const struct tm_table *t, int f)
{
    return f == F_HELD ? t->held : f == F_NEEDED ? t->needed : f == F_RETAINED ? t->retained
                                                                               : t->live_now;
}

static void tables(const struct tm_model *m, size_t n, FILE *out)
{
    static const struct {
        const char *name, *unit, *help;
    } fams[] = {
        {"tidemark_table_held_bytes", "bytes", "Bytes of the table's bucket arrays still allocated."},
        {"tidemark_table_needed_bytes", "bytes",
         "Bytes the same table built fresh for its live entries would hold."},
        {"tidemark_table_retained_bytes", "bytes", "Held bytes beyond what the table needs."},
        {"tidemark_table_live", NULL, "Live entries in the table."},
    };
    for (int f = F_HELD; f <= F_LIVE; f++) {
        family(out, fams[f].name, fams[f].unit, fams[f].help);
        for (size_t i = 0; i < n; i++)
            table_sample(out, fams[f].name, &m->tables[i], table_figure(&m->tables[i], f));
    }
}

static void gauge(FILE *out, const char *name, const char *unit, const char *help, uint64_t v)
{
    family(out, name, unit, help);
    fprintf(out, "%s %" PRIu64 "\n", name, v);
}

static void heap(const struct tm_model *m, FILE *out)
{
    const struct tm_heap *h = &m->heap;
    if (h->tracked) {
        gauge(out, "tidemark_heap_peak_bytes", "bytes", "Highest sum of live allocation sizes.",
              h->peak_bytes);
        gauge(out, "tidemark_heap_in_use_bytes", "bytes",
              "Bytes of allocations live at the end (or --at).", h->in_use);
        gauge(out, "tidemark_heap_allocated_bytes", "bytes", "Bytes allocated over the run.",
              h->alloc_bytes);
        gauge(out, "tidemark_heap_allocations", NULL, "Allocations made over the run.", h->allocs);
        gauge(out, "tidemark_heap_live_allocations", NULL,
              "Allocations live at the end (or --at).", h->live_allocs);
    }
    gauge(out, "tidemark_rss_peak_bytes", "bytes", "Highest resident set size sampled.",
          h->rss_peak);
}

int tm_report_openmetrics(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    size_t n = m->n_tables;
    if (o && o->top && o->top < n) n = o->top;
    tables(m, n, out);
    gauge(out, "tidemark_retained_bytes", "bytes", "Retained bytes summed over all tables.",
          m->total_retained);
    heap(m, out);
    fputs("# EOF\n", out);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
