/* analyzer/cli/check_output.c - check's results as text, JSON, GitHub workflow
 * commands and JUnit XML (check_output.h, docs/ci.md).
 *
 * GitHub: one `::error` per failed gate and one `::notice` per table not
 * judged, with `file=` and `line=` when the table's site is file:line under
 * the source root (a site outside it is absolute: an annotation could not
 * point into the checkout, so the path stays in the message and there is no
 * file=); the message escapes %, CR and LF as %25, %0D, %0A, and the
 * properties also `:` and `,` (%3A, %2C), as GitHub's toolkit does. Then the
 * summary as a plain line.
 *
 * JUnit: testsuites > testsuite "tidemark check" > one testcase per table
 * and gate (classname tidemark.GATE, name from the site, label and kind, so
 * that a test keeps its name from run to run; ids change), a <failure> for a
 * failed gate, <skipped> for a table not judged, the summary in
 * <system-out>. With no result at all (no tables, no baseline) one passing
 * testcase says so, for CI tools that refuse an empty report. */
#include "check_output.h"

#include <stdlib.h>
#include <string.h>

#include "report/report.h"

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "0.1.0"
#endif

/* ---- text ---------------------------------------------------------------- */

/* "TRACE's run also wrote OTHER ...; judged with it": the other trace i
 * (two paths and the words: OTHER_SENTENCE bytes hold them whole). */
#define OTHER_SENTENCE (2 * 4096 + 128)
static void other_sentence(const struct check_context *x, size_t i, char *buf, size_t len)
{
    snprintf(buf, len, "%s's run also wrote %s (a child's or a later image's trace); judged with it",
             x->trace, x->others[i]);
}

/* "note: ..." (other_sentence), one line each. */
static void others_text(const struct check_context *x, FILE *out, const char *prefix)
{
    char m[OTHER_SENTENCE];
    for (size_t i = 0; i < x->n_others; i++) {
        other_sentence(x, i, m, sizeof m);
        fprintf(out, "%s%s\n", prefix, m);
    }
}

int check_render_text(const struct check_outcome *c, const struct check_context *x, FILE *out)
{
    others_text(x, out, "note: ");
    for (size_t i = 0; i < c->n; i++)
        if (c->r[i].status == GATE_FAILED) fprintf(out, "FAIL %s\n", c->r[i].message);
        else if (c->r[i].status == GATE_SKIPPED) fprintf(out, "note: %s\n", c->r[i].message);
    fprintf(out, "%s\n", c->summary);
    return ferror(out) ? -1 : 0;
}

/* ---- where a result points ----------------------------------------------- */

/* The result's file (relative to the source root) and line, or 0. */
static int result_place(const struct gate_result *r, char *file, size_t len, uint64_t *line)
{
    size_t n;
    if (!r->table || !snapshot_site_file_line(r->table->site, &n, line)) return 0;
    if (r->table->site[0] == '/' || n == 0 || n >= len) return 0;
    memcpy(file, r->table->site, n);
    file[n] = 0;
    return 1;
}

/* ---- JSON ---------------------------------------------------------------- */

static void jkey_str(FILE *out, const char *key, const char *v, const char *after)
{
    fprintf(out, "\"%s\": ", key);
    if (v) tm_json_string(out, v);
    else fputs("null", out);
    fputs(after, out);
}

static void json_table(FILE *out, const struct snap_table *t)
{
    fprintf(out, "{\"id\": %llu, ", (unsigned long long)t->id);
    jkey_str(out, "kind", t->kind, ", ");
    jkey_str(out, "label", t->label, ", ");
    jkey_str(out, "site", t->site, ", ");
    fprintf(out, "\"retained_bytes\": %llu, \"held_bytes\": %llu, \"needed_bytes\": %llu, "
                 "\"live\": %llu, \"live_peak\": %llu, \"oversized\": %s, \"after_deletes\": %s}",
            (unsigned long long)t->retained, (unsigned long long)t->held,
            (unsigned long long)t->needed, (unsigned long long)t->live,
            (unsigned long long)t->live_peak, t->oversized ? "true" : "false",
            t->after_deletes ? "true" : "false");
}

static void json_gates(FILE *out, const struct gate_config *g)
{
    fprintf(out, "  \"gates\": {\"oversized\": %s, \"min_retained_bytes\": %llu, "
                 "\"min_retained_ratio\": %.4f, \"max_retained_bytes\": ",
            !g->has_baseline && !g->has_max && !g->has_ratio ? "true" : "false",
            (unsigned long long)g->min_retained, g->min_ratio);
    if (g->has_max) fprintf(out, "%llu", (unsigned long long)g->max_retained);
    else fputs("null", out);
    fputs(", \"max_retained_ratio\": ", out);
    if (g->has_ratio) fprintf(out, "%.4f", g->max_ratio);
    else fputs("null", out);
    fputs(", \"max_increase\": ", out);
    if (!g->has_baseline) fputs("null", out);
    else if (g->max_increase.is_percent) fprintf(out, "{\"percent\": %g}", g->max_increase.percent);
    else fprintf(out, "{\"bytes\": %llu}", (unsigned long long)g->max_increase.bytes);
    fputs("},\n", out);
}

int check_render_json(const struct check_outcome *c, const struct check_context *x, FILE *out)
{
    fputs("{\n  \"schema\": \"tidemark.check/1\",\n  ", out);
    jkey_str(out, "tidemark_version", TIDEMARK_VERSION, ",\n  ");
    fprintf(out, "\"status\": \"%s\", \"exit_status\": %d,\n  ", c->failed ? "failed" : "passed",
            c->failed ? 1 : 0);
    jkey_str(out, "summary", c->summary, ",\n  ");
    jkey_str(out, "trace", x->trace, ", ");
    fputs("\"other_traces\": [", out);
    for (size_t i = 0; i < x->n_others; i++) {
        if (i) fputs(", ", out);
        tm_json_string(out, x->others[i]);
    }
    fputs("], ", out);
    jkey_str(out, "baseline", x->baseline, ", ");
    jkey_str(out, "source_root", x->source_root, ",\n");
    json_gates(out, x->gates);
    fprintf(out, "  \"tables\": %zu, \"tables_failed\": %zu, \"failed\": %zu, \"skipped\": %zu, "
                 "\"retained_bytes\": %llu, \"baseline_retained_bytes\": ",
            c->tables, c->tables_failed, c->failed, c->skipped,
            (unsigned long long)c->total_retained);
    if (c->has_baseline) fprintf(out, "%llu", (unsigned long long)c->baseline_total);
    else fputs("null", out);
    fputs(",\n  \"results\": [", out);
    for (size_t i = 0; i < c->n; i++) {
        const struct gate_result *r = &c->r[i];
        char file[1024];
        uint64_t line;
        fprintf(out, "%s\n    {\"gate\": \"%s\", \"status\": \"%s\", ", i ? "," : "",
                gate_name(r->gate), gate_status_name(r->status));
        int placed = result_place(r, file, sizeof file, &line);
        jkey_str(out, "file", placed ? file : NULL, ", \"line\": ");
        if (placed) fprintf(out, "%llu", (unsigned long long)line);
        else fputs("null", out);
        fputs(",\n     \"table\": ", out);
        if (r->table) json_table(out, r->table);
        else fputs("null", out);
        fputs(",\n     \"baseline_table\": ", out);
        if (r->base) json_table(out, r->base);
        else fputs("null", out);
        fputs(",\n     ", out);
        jkey_str(out, "message", r->message, "}");
    }
    fputs(c->n ? "\n  ]\n}\n" : "]\n}\n", out);
    return ferror(out) ? -1 : 0;
}

/* ---- GitHub workflow commands -------------------------------------------- */

/* A command's message (property = 0) or a property value (property = 1). */
static void gh_escape(FILE *out, const char *s, int property)
{
    for (; *s; s++) {
        if (*s == '%') fputs("%25", out);
        else if (*s == '\r') fputs("%0D", out);
        else if (*s == '\n') fputs("%0A", out);
        else if (property && *s == ':') fputs("%3A", out);
        else if (property && *s == ',') fputs("%2C", out);
        else fputc(*s, out);
    }
}

int check_render_github(const struct check_outcome *c, const struct check_context *x, FILE *out)
{
    for (size_t i = 0; i < x->n_others; i++) {
        char m[OTHER_SENTENCE];
        other_sentence(x, i, m, sizeof m);
        fputs("::notice title=tidemark::", out);
        gh_escape(out, m, 0);
        fputc('\n', out);
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct gate_result *r = &c->r[i];
        if (r->status == GATE_PASSED) continue;
        fputs(r->status == GATE_FAILED ? "::error " : "::notice ", out);
        char file[1024];
        uint64_t line;
        if (result_place(r, file, sizeof file, &line)) {
            fputs("file=", out);
            gh_escape(out, file, 1);
            fprintf(out, ",line=%llu,", (unsigned long long)line);
        }
        fputs("title=tidemark::", out);
        gh_escape(out, r->message, 0);
        fputc('\n', out);
    }
    fprintf(out, "%s\n", c->summary);
    return ferror(out) ? -1 : 0;
}

/* ---- JUnit XML ----------------------------------------------------------- */

/* Text or attribute value: the five entities, tab/LF/CR as references (they
 * survive in attributes), other control characters and bytes that are not
 * UTF-8 (or not XML characters) as U+FFFD. */
static void xml_escape(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = tm_utf8_len(p);
        if (n > 1) {
            /* U+FFFE and U+FFFF are not XML characters */
            if (n == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe) fputs("&#xFFFD;", out);
            else fwrite(p, 1, (size_t)n, out);
            p += n;
            continue;
        }
        unsigned char ch = *p++;
        if (n == 0) fputs("&#xFFFD;", out);
        else if (ch == '&') fputs("&amp;", out);
        else if (ch == '<') fputs("&lt;", out);
        else if (ch == '>') fputs("&gt;", out);
        else if (ch == '"') fputs("&quot;", out);
        else if (ch == '\'') fputs("&apos;", out);
        else if (ch == '\t' || ch == '\n' || ch == '\r') fprintf(out, "&#%u;", ch);
        else if (ch < 0x20) fputs("&#xFFFD;", out);
        else fputc(ch, out);
    }
}

/* The testcase's name: the same table keeps it from run to run. */
static void case_name(const struct gate_result *r, char *buf, size_t len)
{
    if (!r->table) snprintf(buf, len, "total retained");
    else if (r->table->label[0])
        snprintf(buf, len, "%s %s \"%s\"", r->table->site, r->table->kind, r->table->label);
    else snprintf(buf, len, "%s %s", r->table->site, r->table->kind);
}

/* "#2", "#3" after a name that an earlier case of the same gate has. */
static unsigned name_repeat(const struct check_outcome *c, size_t i)
{
    char a[1200], b[1200];
    unsigned n = 1;
    case_name(&c->r[i], a, sizeof a);
    for (size_t k = 0; k < i; k++) {
        if (c->r[k].gate != c->r[i].gate) continue;
        case_name(&c->r[k], b, sizeof b);
        n += strcmp(a, b) == 0;
    }
    return n;
}

static void junit_case(const struct check_outcome *c, size_t i, FILE *out)
{
    const struct gate_result *r = &c->r[i];
    char name[1200], file[1024];
    uint64_t line;
    case_name(r, name, sizeof name);
    fprintf(out, "    <testcase classname=\"tidemark.%s\" name=\"", gate_name(r->gate));
    xml_escape(out, name);
    unsigned rep = name_repeat(c, i);
    if (rep > 1) fprintf(out, " #%u", rep);
    fputc('"', out);
    if (result_place(r, file, sizeof file, &line)) {
        fputs(" file=\"", out);
        xml_escape(out, file);
        fprintf(out, "\" line=\"%llu\"", (unsigned long long)line);
    }
    fputs(" time=\"0\"", out);
    if (r->status == GATE_PASSED) {
        fputs("/>\n", out);
        return;
    }
    if (r->status == GATE_SKIPPED) {
        fputs(">\n      <skipped message=\"", out);
        xml_escape(out, r->message);
        fputs("\"/>\n    </testcase>\n", out);
        return;
    }
    fprintf(out, ">\n      <failure type=\"%s\" message=\"", gate_name(r->gate));
    xml_escape(out, r->brief[0] ? r->brief : r->message);
    fputs("\">", out);
    xml_escape(out, r->message);
    fputs("</failure>\n    </testcase>\n", out);
}

int check_render_junit(const struct check_outcome *c, const struct check_context *x, FILE *out)
{
    size_t tests = c->n ? c->n : 1;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
    fprintf(out, "<testsuites name=\"tidemark check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                 "skipped=\"%zu\" time=\"0\">\n", tests, c->failed, c->skipped);
    fprintf(out, "  <testsuite name=\"tidemark check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                 "skipped=\"%zu\" time=\"0\">\n    <properties>\n", tests, c->failed, c->skipped);
    const char *prop[][2] = {{"trace", x->trace}, {"baseline", x->baseline},
                             {"source_root", x->source_root}};
    for (size_t i = 0; i < sizeof prop / sizeof prop[0]; i++) {
        if (!prop[i][1]) continue;
        fprintf(out, "      <property name=\"%s\" value=\"", prop[i][0]);
        xml_escape(out, prop[i][1]);
        fputs("\"/>\n", out);
    }
    fputs("    </properties>\n", out);
    for (size_t i = 0; i < c->n; i++) junit_case(c, i, out);
    if (!c->n) fputs("    <testcase classname=\"tidemark\" name=\"no tables\" time=\"0\"/>\n", out);
    fputs("    <system-out>", out);
    xml_escape(out, c->summary);
    fputs("</system-out>\n  </testsuite>\n</testsuites>\n", out);
    return ferror(out) ? -1 : 0;
}
