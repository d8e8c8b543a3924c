/* analyzer/report/report_html.h - internals shared by the HTML report's two files:
 * report_html.c (the document) and report_html_svg.c (the timeline charts).
 * Not an interface of the analyzer: the entry point is tm_report_html() in
 * report.h.
 */
#ifndef TIDEMARK_ANALYZER_REPORT_HTML_H
#define TIDEMARK_ANALYZER_REPORT_HTML_H

#include <stdint.h>
#include <stdio.h>

#include "model/model.h"

/* Writes s with &, <, >, " and ' escaped, so it is safe in element text and
 * in quoted attribute values. Valid UTF-8 passes through (the document is
 * UTF-8); bytes that are not, and control bytes, become U+FFFD. */
void html_escape(FILE *out, const char *s);

/* "1,234,567": the count with thousands separators. */
void html_thousands(uint64_t v, char *buf, size_t len);

/* One table's timeline: bytes held (area, left axis) and live entries (line,
 * right axis) over [0, t_end], the peak marked, growths marked, and the
 * retained bytes (held above `needed` while oversized) shaded. `uid` makes
 * the SVG's ids unique in the document. */
void html_table_chart(FILE *out, const struct tm_table *t, uint64_t t_end, unsigned uid);

/* The heap's timeline: bytes in use (area) and RSS (line) when recorded. */
void html_heap_chart(FILE *out, const struct tm_heap *h, uint64_t t_end, unsigned uid);

#endif /* TIDEMARK_ANALYZER_REPORT_HTML_H */
