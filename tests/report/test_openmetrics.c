/* tests/report/test_openmetrics.c - the OpenMetrics report on the fixture
 * model: each family's TYPE, UNIT and HELP lines before its samples, one
 * sample per table labelled id, kind, site, label, label values escaped
 * (\\, \", \n; invalid UTF-8 as U+FFFD) so that every sample is one line,
 * the heap's gauges only when the heap is tracked, --top, and "# EOF" last.
 * (A real parser reads real reports in tests/e2e/formats.py.)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "render.h"
#include "report/report.h"

static char *render(const struct tm_model *m, size_t top)
{
    return render_report(tm_report_openmetrics, m, top, TM_WEIGHT_PEAK, NULL);
}

static void test_families(const struct tm_model *m)
{
    char *text = render(m, 0);
    CHECK_CONTAINS(text, "# TYPE tidemark_table_retained_bytes gauge\n"
                         "# UNIT tidemark_table_retained_bytes bytes\n"
                         "# HELP tidemark_table_retained_bytes ");
    CHECK_CONTAINS(text, "# TYPE tidemark_table_live gauge\n# HELP tidemark_table_live ");
    /* The evil label and site: quotes and backslashes escaped, newline as \n. */
    CHECK_CONTAINS(text, "tidemark_table_retained_bytes{id=\"1\",kind=\"gomap\","
                         "site=\"evil<b>;site\\nfile.c:42\","
                         "label=\"<script>alert(\\\"x\\\")</script> & 'q'\"} 307493808\n");
    CHECK_CONTAINS(text, "tidemark_table_live{id=\"2\",kind=\"uthash\",site=\"session.c:17\","
                         "label=\"sessions;by\\nid\"} 300\n");
    CHECK(count_of(text, "tidemark_table_held_bytes{") == 2);
    CHECK_CONTAINS(text, "\ntidemark_retained_bytes 307493808\n");
    CHECK_CONTAINS(text, "\ntidemark_heap_peak_bytes 500000000\n");
    CHECK_CONTAINS(text, "\ntidemark_heap_allocations 1000100\n");
    CHECK_CONTAINS(text, "\ntidemark_rss_peak_bytes 504000000\n");
    size_t n = strlen(text);
    CHECK(n >= 6 && strcmp(text + n - 6, "# EOF\n") == 0);
    CHECK(count_of(text, "# EOF") == 1);
    /* Every line is a comment or "name{...} value" / "name value". */
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        if (!nl) break;
        *nl = 0;
        CHECK(line[0] == '#' || strncmp(line, "tidemark_", 9) == 0);
        line = nl + 1;
    }
    free(text);
}

static void test_top_and_untracked(struct tm_model *m)
{
    char *text = render(m, 1);
    CHECK(count_of(text, "tidemark_table_held_bytes{") == 1);
    free(text);
    m->heap.tracked = 0;
    text = render(m, 0);
    CHECK(strstr(text, "tidemark_heap_") == NULL);
    CHECK_CONTAINS(text, "tidemark_rss_peak_bytes 504000000\n");
    free(text);
    m->heap.tracked = 1;
}

static void test_invalid_utf8(struct tm_model *m)
{
    char *saved = m->tables[1].label;
    m->tables[1].label = (char *)"a\xff\\b";
    char *text = render(m, 0);
    CHECK_CONTAINS(text, "label=\"a\xef\xbf\xbd\\\\b\"}");
    free(text);
    m->tables[1].label = saved;
}

int main(void)
{
    struct fixture f;
    fx_build(&f);
    test_families(&f.m);
    test_top_and_untracked(&f.m);
    test_invalid_utf8(&f.m);
    return check_status();
}
