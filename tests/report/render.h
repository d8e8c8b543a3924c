/* tests/report/render.h - what the report tests share to look at a
 * renderer's output: the whole of it in memory, and how often a string
 * occurs in it. Needs check.h. */
#ifndef TMK_TESTS_REPORT_RENDER_H
#define TMK_TESTS_REPORT_RENDER_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "report/report.h"

typedef int tm_renderer(const struct tm_model *m, const struct tm_report_opts *o, FILE *out);

/* fn's output for m with --top `top` and weight w, malloc'ed and NUL-ended;
 * its length in *len when len is not NULL. */
static inline char *render_report(tm_renderer *fn, const struct tm_model *m, size_t top,
                                  enum tm_weight w, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    struct tm_report_opts o = {top, w, 0};
    CHECK(fn(m, &o, f) == 0);
    fclose(f);
    if (len) *len = n;
    return buf;
}

/* How many times needle occurs in hay, without overlaps. */
static inline size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

#endif
