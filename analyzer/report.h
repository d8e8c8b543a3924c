/* analyzer/report.h - the report renderers, one file each:
 *   report_text.c, report_json.c (analyzer core), report_html.c,
 *   report_collapsed.c (report helper).
 * Each renders a struct tm_model (model.h, read its contract) to `out` and
 * returns 0, or -1 on a write error (errno set). They never modify the model.
 */
#ifndef TIDEMARK_ANALYZER_REPORT_H
#define TIDEMARK_ANALYZER_REPORT_H

#include <stdio.h>

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tm_weight {
    TM_WEIGHT_RETAINED = 0, /* collapsed: weight stacks by retained bytes */
    TM_WEIGHT_PEAK = 1,     /* ... by bytes at peak */
};

struct tm_report_opts {
    size_t top;              /* tables shown; 0 = all */
    enum tm_weight weight;   /* collapsed only */
    int exact;               /* text: exact byte counts beside human sizes */
};

int tm_report_text(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
int tm_report_json(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
int tm_report_html(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);
int tm_report_collapsed(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);

/* The one-line verdict the text report starts with (also `run`'s summary):
 * "1 table retains 293.3 MiB after deletes: examples/seed_grow.c:42" or
 * "no table retains memory (2 tables checked)". Writes at most len bytes. */
void tm_verdict_line(const struct tm_model *m, char *buf, size_t len);

/* The model's notices (info.notices: still running, TIDEMARK_MAX_BYTES),
 * one line each, after "LABEL: " when label is not NULL (check, diff). */
void tm_print_notices(const struct tm_model *m, const char *label, FILE *out);

/* "293.3 MiB", "512 B", "1.0 KiB": binary units, one decimal. */
void tm_human_bytes(uint64_t bytes, char *buf, size_t len);
/* "1.234 s", "12.0 ms", ... */
void tm_human_time(uint64_t ns, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_REPORT_H */
