/* tests/report/test_html.c - structural checks of the HTML report on the
 * fixture model: one self-contained document (no URL, no script, no external
 * resource), every trace string escaped, tables in the model's order with
 * the verdict first, exact figures present, well-nested SVG; a table
 * oversized until freed shown as the text report says it.
 *
 * With an argument, also writes the report to that path (for the screenshot
 * test, test_html_screenshot.sh).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "render.h"
#include "report/report.h"

static char *render(const struct tm_model *m, size_t top, size_t *len)
{
    return render_report(tm_report_html, m, top, TM_WEIGHT_RETAINED, len);
}

static size_t count_nocase(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strcasestr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_self_contained(const char *html, size_t len)
{
    CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    CHECK(len > 16 && strcmp(html + len - 8, "</html>\n") == 0);
    CHECK(count_of(html, "<html") == 1 && count_of(html, "</html>") == 1);
    CHECK(count_nocase(html, "http://") == 0);
    CHECK(count_nocase(html, "https://") == 0);
    CHECK(count_nocase(html, "<script") == 0); /* no script at all, inline or not */
    CHECK(count_nocase(html, " src=") == 0);
    CHECK(count_nocase(html, "<link") == 0);
    CHECK(count_nocase(html, "@import") == 0);
    CHECK(count_nocase(html, "@font-face") == 0);
    /* url(...) only for the document's own SVG patterns. */
    CHECK(count_of(html, "url(") == count_of(html, "url(#"));
    CHECK(strlen(html) == len); /* no NUL byte inside */
}

static void test_escaping(const char *html)
{
    CHECK_CONTAINS(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;");
    CHECK(count_of(html, FX_EVIL_LABEL) == 0);
    CHECK_CONTAINS(html, "evil&lt;b&gt;;site");
    CHECK(count_of(html, "evil<b>") == 0);
    CHECK_CONTAINS(html, "/tmp/run &quot;1&quot; &lt;x&gt;.tmk");
    CHECK_CONTAINS(html, "/opt/app&lt;1&gt;: build-id differs; showing offsets");
    CHECK_CONTAINS(html, "Copy the live entries into a new map &lt;now&gt;.");
    /* Every '<' starts a tag this file writes: a letter, '/', '!'. */
    const char *p = html;
    while ((p = strchr(p, '<')) && (isalpha((unsigned char)p[1]) || p[1] == '/' || p[1] == '!'))
        p++;
    CHECK(!p, "stray '<' at offset %td: %.20s", p - html, p);
}

static void test_content(const char *html)
{
    const char *verdict = strstr(html, "class=\"verdict");
    const char *t1 = strstr(html, "id=\"table-1\"");
    const char *t2 = strstr(html, "id=\"table-2\"");
    const char *heap = strstr(html, "<h2>Heap");
    CHECK(verdict && t1 && t2 && heap);
    if (verdict && t1 && t2 && heap) CHECK(verdict < t1 && t1 < t2 && t2 < heap);
    /* Exact figures as tooltips, from the model. */
    CHECK_CONTAINS(html, "307,494,912 bytes");         /* held */
    CHECK_CONTAINS(html, "307,493,808 bytes");         /* retained = held - 1,104 */
    CHECK_CONTAINS(html, "267,386,880 bytes");         /* pointer-values saving */
    CHECK_CONTAINS(html, "1,000,000");                 /* live at peak */
    CHECK(count_of(html, "saves ") == 2);                 /* the zero-byte rec says none */
    CHECK(count_of(html, "<svg") == 3 && count_of(html, "</svg>") == 3);
    CHECK(count_of(html, "<article") == count_of(html, "</article>"));
    CHECK(count_of(html, "id=\"hatch") == 1);             /* only the oversized table */
    CHECK(count_of(html, "class=\"growth\"") == 2);
    /* Creation stacks, innermost frame first; unsymbolized fixture frames. */
    CHECK_CONTAINS(html, "creation stack (3 frames)</summary><ol><li><code>0x1010</code>");
    CHECK(count_of(html, "<details") == count_of(html, "</details>"));
    CHECK(count_of(html, "<details") == 5); /* 2 tables + 3 site rows */
}

/* The seed table freed at 4.5 s while oversized (sweep 3, F12): nothing is
 * oversized now, but the page says what it retained until freed, as the
 * text report does: a red verdict, the table's card red with its last_*
 * figures, and the hatched retained area up to its end. */
static void test_until_freed(void)
{
    struct fixture f;
    fx_build(&f);
    struct tm_table *t = &f.tables[0];
    f.m.n_oversized = 0;
    f.m.total_retained = 0;
    t->ended_t = FX_SEC * 9 / 2;
    t->last_live = 3;
    t->last_held = t->held;
    t->last_needed = 1104;
    t->last_retained = FX_SEED_HELD - 1104;
    t->last_oversized_since = 4 * FX_SEC;
    t->held = t->needed = t->retained = t->live_now = t->buckets_now = 0;
    t->oversized_since = TM_NO_TIME;
    t->verdict = TM_VERDICT_ENDED;
    f.tl0[t->n_points - 1] = (struct tm_point){t->ended_t, 0, 0};
    size_t len;
    char *html = render(&f.m, 0, &len);
    CHECK_CONTAINS(html, "<section class=\"verdict bad\"><h1>no table is oversized now");
    CHECK_CONTAINS(html, "was oversized until freed");
    CHECK_CONTAINS(html, "<article class=\"bad\" id=\"table-1\">");
    CHECK_CONTAINS(html, "<span class=\"badge bad\">oversized until freed</span>");
    CHECK_CONTAINS(html, "Retained until freed</span><b><span class=\"num\" "
                         "title=\"307,493,808 bytes\">");
    CHECK_CONTAINS(html, "Oversized until freed, for</span><b><span class=\"num\">500.0 ms");
    CHECK(count_of(html, "id=\"hatch") == 1);
    CHECK_CONTAINS(html, "retained 293.2 MiB until freed");
    CHECK_CONTAINS(html, "1 oversized until freed, retaining");
    free(html);
}

static void test_top(const struct tm_model *m)
{
    size_t len;
    char *html = render(m, 1, &len);
    CHECK(strstr(html, "id=\"table-1\"") != NULL);
    CHECK(strstr(html, "id=\"table-2\"") == NULL);
    CHECK_CONTAINS(html, "1 more table not shown");
    free(html);
}

static void test_empty_model(void)
{
    struct tm_model m;
    memset(&m, 0, sizeof m);
    m.info.at = TM_NO_TIME;
    size_t len;
    char *html = render(&m, 0, &len);
    CHECK_CONTAINS(html, "No annotated table");
    CHECK(strcmp(html + len - 8, "</html>\n") == 0);
    free(html);
}

static void test_write_error(const struct tm_model *m)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full) return;
    struct tm_report_opts o = {0, TM_WEIGHT_RETAINED, 0};
    CHECK(tm_report_html(m, &o, full) == -1);
    fclose(full);
}

int main(int argc, char **argv)
{
    struct fixture f;
    fx_build(&f);
    size_t len;
    char *html = render(&f.m, 0, &len);
    test_self_contained(html, len);
    test_escaping(html);
    test_content(html);
    test_top(&f.m);
    test_until_freed();
    test_empty_model();
    test_write_error(&f.m);
    if (argc > 1) {
        FILE *out = fopen(argv[1], "w");
        CHECK(out && fwrite(html, 1, len, out) == len);
        if (out) fclose(out);
    }
    free(html);
    return check_status();
}
