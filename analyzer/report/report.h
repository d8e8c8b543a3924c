/* analyzer/report/report.h - the report renderers, one file each:
 *   report_text.c, report_json.c (analyzer core), report_html.c,
 *   report_collapsed.c, report_pprof.c, report_openmetrics.c (report
 *   helpers, tidemark_reports).
 * Each renders a struct tm_model (model.h, read its contract) to `out` and
 * returns 0, or -1 on a write error (errno set). They never modify the model.
 */
#ifndef TIDEMARK_ANALYZER_REPORT_H
#define TIDEMARK_ANALYZER_REPORT_H

#include <stdio.h>

#include "model/model.h"
#include "model/units.h" /* tm_human_bytes, tm_commas, tm_human_time */

#ifdef __cplusplus
extern "C" {
#endif

/* What a collapsed stack weighs. The lines of each weight sum to the total
 * tm_weight_total gives, the same figure the text and JSON reports state. */
enum tm_weight {
    TM_WEIGHT_RETAINED = 0,    /* tables' retained bytes at their creation stacks */
    TM_WEIGHT_PEAK = 1,        /* bytes live at the heap's peak (tables' peak
                                  held bytes when the heap is not tracked) */
    TM_WEIGHT_END = 2,         /* bytes still allocated at the end (or --at) */
    TM_WEIGHT_ALLOC_BYTES = 3, /* bytes allocated over the run */
    TM_WEIGHT_ALLOCS = 4,      /* allocations made over the run */
};

struct tm_report_opts {
    size_t top;              /* tables shown; 0 = all */
    enum tm_weight weight;   /* collapsed only */
    int exact;               /* text: exact byte counts beside human sizes */
};

/* "peak", "end", ... (the --weight names); tm_weight_parse returns -1 for
 * an unknown name. */
const char *tm_weight_name(enum tm_weight w);
int tm_weight_parse(const char *name, enum tm_weight *w);
/* The sum of a weight over the whole model: total_retained, heap.peak_bytes
 * (tables' peak held bytes without a heap), heap.in_use, heap.alloc_bytes,
 * heap.allocs (0 for the heap's weights when it is not tracked). */
uint64_t tm_weight_total(const struct tm_model *m, enum tm_weight w);

int tm_report_text(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
int tm_report_json(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
int tm_report_html(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
int tm_report_collapsed(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
/* A gzipped pprof profile.proto (binary). */
int tm_report_pprof(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
/* OpenMetrics text exposition, ending in "# EOF". */
int tm_report_openmetrics(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);

/* The one-line verdict the text report starts with (also `run`'s summary):
 * "1 table retains 293.3 MiB after deletes: examples/seed_grow.c:42" or
 * "no table is oversized (2 tables checked)"; "after deletes" only when
 * every oversized table lost entries since its peak, else "1 table holds
 * 12.0 MiB more than its live entries need: ...". Writes at most len bytes. */
void tm_verdict_line(const struct tm_model *m, char *buf, size_t len);

/* The JSON report's schema is tidemark.report/1; its minor version says which
 * keys it has (docs/report-schema.md). */
#define TM_REPORT_SCHEMA_MINOR "3"
/* s as a JSON string literal (RFC 8259; bytes that are not UTF-8 become
 * U+FFFD), quotes included. */
void tm_json_string(FILE *out, const char *s);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
int tm_utf8_len(const unsigned char *s);
/* s as UTF-8 (NULL as ""): valid sequences as they are, each invalid byte
 * as `invalid`, each ASCII byte through `ascii` (the format's escapes). */
void tm_write_utf8(FILE *out, const char *s, const char *invalid,
                   void (*ascii)(FILE *out, unsigned char c));
/* The model's notices (info.notices: still running, TIDEMARK_MAX_BYTES),
 * one line each, after "LABEL: " when label is not NULL (check, diff). */
void tm_print_notices(const struct tm_model *m, const char *label, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_REPORT_H */
