/* analyzer/report/report_html.c - `tidemark report --format html`: one
 * self-contained HTML file (inline CSS and SVG; no script, no font, no URL),
 * readable offline and safe to attach to a bug.
 *
 * Order: the verdict, the headline figures, warnings, then one card per
 * table in the model's order (retained bytes, descending) with its figures,
 * timeline and recommendations, then the heap and its top sites, then the
 * trace's facts. Every string that came from the trace goes through
 * html_escape(); numbers are written by this file and need none.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "report_html.h"
#include "model/stack_namer.h"
#include "model/table_rules.h"

/* ---- escaping and numbers ----------------------------------------------- */

static void html_ascii(FILE *out, unsigned char c)
{
    switch (c) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&#39;", out); break;
    default:
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
            fputs("\xef\xbf\xbd", out); /* U+FFFD */
        else
            putc(c, out);
    }
}

void html_escape(FILE *out, const char *s)
{
    /* bytes that are not UTF-8 (a program named bad\xff) become U+FFFD, as
     * in the JSON report: the document says charset=utf-8 */
    tm_write_utf8(out, s, "\xef\xbf\xbd", html_ascii);
}

void html_thousands(uint64_t v, char *buf, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 1 < len; i++) {
        if (i && (n - i) % 3 == 0 && o + 2 < len) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    if (len) buf[o < len ? o : len - 1] = '\0';
}

/* "293.3 MiB" with the exact byte count as a tooltip. */
static void put_bytes(FILE *out, uint64_t v)
{
    char human[32], exact[40];
    tm_human_bytes(v, human, sizeof human);
    html_thousands(v, exact, sizeof exact);
    fprintf(out, "<span class=\"num\" title=\"%s bytes\">%s</span>", exact, human);
}

static void put_count(FILE *out, uint64_t v)
{
    char buf[40];
    html_thousands(v, buf, sizeof buf);
    fprintf(out, "<span class=\"num\">%s</span>", buf);
}

static void put_time(FILE *out, uint64_t ns)
{
    char buf[32];
    if (ns == TM_NO_TIME) {
        fputs("<span class=\"muted\">never</span>", out);
        return;
    }
    tm_human_time(ns, buf, sizeof buf);
    fprintf(out, "<span class=\"num\">%s</span>", buf);
}

/* ---- style -------------------------------------------------------------- */

static const char STYLE[] =
    ":root{--ink:#0f172a;--ink2:#475569;--muted:#94a3b8;--line:#e2e8f0;--bg:#f8fafc;"
    "--card:#fff;--held:#2563eb;--live:#ea580c;--bad:#dc2626;--good:#15803d;--heap:#0f766e}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}"
    ".num,td.n,.fig b{font-variant-numeric:tabular-nums}"
    "code,.mono{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,'DejaVu Sans Mono',"
    "monospace;font-size:12.5px}"
    "header.top{background:#0b1220;color:#cbd5e1;padding:14px 32px;display:flex;gap:24px;"
    "align-items:baseline;flex-wrap:wrap}"
    "header.top .brand{color:#fff;font-weight:700;font-size:17px;letter-spacing:.3px}"
    "header.top .brand span{color:#60a5fa}"
    "header.top .meta{font-size:12.5px;overflow-wrap:anywhere}"
    "main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}"
    ".verdict{border-radius:10px;padding:18px 22px;margin-bottom:18px;border:1px solid}"
    ".verdict.bad{background:#fef2f2;border-color:#fecaca}"
    ".verdict.good{background:#f0fdf4;border-color:#bbf7d0}"
    ".verdict h1{margin:0;font-size:21px;line-height:1.35;overflow-wrap:anywhere}"
    ".verdict.bad h1{color:#991b1b}.verdict.good h1{color:#166534}"
    ".verdict p{margin:6px 0 0;color:var(--ink2)}"
    ".cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-bottom:22px}"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:10px;"
    "padding:12px 16px}"
    ".card .k{color:var(--ink2);font-size:12px;text-transform:uppercase;letter-spacing:.5px}"
    ".card .v{font-size:22px;font-weight:650;margin-top:2px}"
    ".card .v.bad{color:var(--bad)}"
    ".warn{background:#fffbeb;border:1px solid #fde68a;border-radius:10px;padding:10px 16px;"
    "margin-bottom:22px;color:#92400e}.warn ul{margin:4px 0;padding-left:20px}"
    ".notice{color:var(--ink2);margin:0 0 12px}"
    "h2{font-size:16px;margin:30px 0 12px;display:flex;gap:10px;align-items:baseline}"
    "h2 small{color:var(--ink2);font-weight:400;font-size:13px}"
    "article{background:var(--card);border:1px solid var(--line);border-radius:12px;"
    "padding:18px 22px;margin-bottom:18px}"
    "article.bad{border-left:4px solid var(--bad)}"
    "article header{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}"
    "article h3{margin:0;font-size:16px;overflow-wrap:anywhere}"
    ".site{color:var(--ink2);margin:2px 0 12px;overflow-wrap:anywhere}"
    ".badge{font-size:11.5px;border-radius:999px;padding:1px 9px;border:1px solid var(--line);"
    "color:var(--ink2);white-space:nowrap}"
    ".badge.bad{background:var(--bad);border-color:var(--bad);color:#fff}"
    ".badge.good{color:var(--good);border-color:#bbf7d0}"
    ".figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px 18px;"
    "margin:6px 0 10px}"
    ".fig{border-top:1px solid var(--line);padding-top:5px}"
    ".fig span.k{display:block;color:var(--ink2);font-size:12px}"
    ".fig b{font-size:15px;font-weight:600}.fig.bad b{color:var(--bad)}"
    ".fig small{color:var(--muted)}"
    ".legend{display:flex;gap:16px;font-size:12px;color:var(--ink2);margin:8px 0 0;"
    "flex-wrap:wrap}"
    ".legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;"
    "margin-right:5px;border-radius:2px}"
    ".legend i.box{height:10px}"
    "svg.chart{width:100%;height:auto;display:block;margin-top:4px}"
    "svg.chart text{font-size:11px;fill:var(--ink2)}"
    "svg.chart .grid line{stroke:#eef2f7}"
    "svg.chart .baseline{stroke:#cbd5e1}"
    "svg.chart .axis-l text{text-anchor:end}"
    "svg.chart .axis-r text{fill:var(--live)}"
    "svg.chart .axis-x text{text-anchor:middle}"
    "svg.chart .area{fill-opacity:.13;stroke:none}"
    "svg.chart .line{fill:none;stroke-width:2;stroke-linejoin:round}"
    "svg.chart .line.live{stroke-width:1.6;stroke-dasharray:none}"
    "svg.chart .line.rss{stroke-width:1.4;stroke-dasharray:4 3}"
    "svg.chart .peak line{stroke:#334155;stroke-dasharray:3 3}"
    "svg.chart .peak text{font-weight:600;fill:var(--ink)}"
    "svg.chart .needed{stroke:var(--bad);stroke-dasharray:5 4;stroke-width:1.2}"
    "svg.chart .needed-label{fill:var(--bad);text-anchor:end}"
    "svg.chart .retained-label{fill:#991b1b;font-weight:700;font-size:13px;"
    "paint-order:stroke;stroke:#fff;stroke-width:3px}"
    "ol.recs{margin:12px 0 0;padding:0;list-style:none;counter-reset:r}"
    "ol.recs li{display:flex;gap:12px;align-items:baseline;padding:7px 0;"
    "border-top:1px solid var(--line)}"
    "ol.recs .save{min-width:118px;text-align:right;font-weight:650;color:var(--good);"
    "white-space:nowrap}"
    "ol.recs .save.zero{color:var(--muted);font-weight:400}"
    "ol.recs .kind{color:var(--muted);font-size:12px;white-space:nowrap}"
    "table.sites{width:100%;border-collapse:collapse;margin-top:6px}"
    "table.sites th{text-align:left;font-weight:600;color:var(--ink2);font-size:12px;"
    "border-bottom:1px solid var(--line);padding:4px 8px}"
    "table.sites td{padding:5px 8px;border-bottom:1px solid #f1f5f9;vertical-align:top;"
    "overflow-wrap:anywhere}"
    "table.sites td.n,table.sites th.n{text-align:right;white-space:nowrap}"
    ".two{display:grid;grid-template-columns:1fr 1fr;gap:18px}"
    ".muted{color:var(--muted)}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0;"
    "font-size:13px}dl.facts dt{color:var(--ink2)}dl.facts dd{margin:0;overflow-wrap:anywhere}"
    "details.stack{margin:-6px 0 10px;font-size:12.5px;color:var(--ink2)}"
    "details.stack summary{cursor:pointer;color:var(--muted);font-size:12px}"
    "details.stack ol{margin:4px 0 0;padding-left:28px}"
    "details.stack li{overflow-wrap:anywhere}"
    "td details.stack{margin:2px 0 0}"
    "footer{color:var(--muted);font-size:12px;margin-top:28px;text-align:center}"
    "@media (max-width:760px){.cards{grid-template-columns:repeat(2,1fr)}"
    ".two{grid-template-columns:1fr}main{padding:16px}}";

/* ---- document parts ----------------------------------------------------- */

static void put_head(FILE *out, const struct tm_model *m)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"tidemark\">\n<title>tidemark: ",
          out);
    html_escape(out, m->info.path ? m->info.path : "trace");
    fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", STYLE);

    fputs("<header class=\"top\"><div class=\"brand\">tide<span>mark</span></div>"
          "<div class=\"meta\">",
          out);
    html_escape(out, m->info.path ? m->info.path : "");
    fprintf(out, " &middot; pid %" PRIu32 " &middot; mode %s &middot; ", m->info.pid,
            m->info.mode ? m->info.mode : "?");
    put_time(out, m->info.duration_ns);
    if (m->info.at < m->info.duration_ns) {
        fputs(" &middot; at ", out);
        put_time(out, m->info.at);
    }
    fputs("</div></header>\n<main>\n", out);
}

/* Tables that ended oversized (kept their retained bytes until freed), and
 * the bytes they retained right before their ends. */
static size_t ended_oversized(const struct tm_model *m, uint64_t *retained)
{
    size_t n = 0;
    *retained = 0;
    for (size_t i = 0; i < m->n_tables; i++)
        if (tm_table_ended_oversized(&m->tables[i])) {
            n++;
            *retained += m->tables[i].last_retained;
        }
    return n;
}

/* The verdict line, red when a table is oversized now or was until freed
 * (the text report's line says which). */
static void put_verdict(FILE *out, const struct tm_model *m)
{
    char line[512];
    uint64_t until_freed;
    size_t ended = ended_oversized(m, &until_freed);
    tm_verdict_line(m, line, sizeof line);
    fprintf(out, "<section class=\"verdict %s\"><h1>", m->n_oversized || ended ? "bad" : "good");
    html_escape(out, line);
    fputs("</h1><p>", out);
    fprintf(out, "%zu table%s tracked, %zu oversized; ", m->n_tables, m->n_tables == 1 ? "" : "s",
            m->n_oversized);
    put_bytes(out, m->total_retained);
    fputs(" held beyond what the live entries need", out);
    if (ended) {
        fprintf(out, "; %zu oversized until freed, retaining ", ended);
        put_bytes(out, until_freed);
        fputs(" until then", out);
    }
    fputs(".</p></section>\n", out);
}

static void card_bytes(FILE *out, const char *k, uint64_t v, int bad)
{
    fprintf(out, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v%s\">", k,
            bad ? " bad" : "");
    put_bytes(out, v);
    fputs("</div></div>", out);
}

static void put_cards(FILE *out, const struct tm_model *m)
{
    uint64_t until_freed;
    size_t ended = ended_oversized(m, &until_freed);
    fputs("<section class=\"cards\">", out);
    card_bytes(out, "Retained by tables", m->total_retained, m->total_retained != 0);
    if (ended) card_bytes(out, "Retained until freed", until_freed, 1);
    fprintf(out, "<div class=\"card\"><div class=\"k\">Tables oversized</div>"
                 "<div class=\"v%s\">%zu <span class=\"muted\">/ %zu</span>",
            m->n_oversized || ended ? " bad" : "", m->n_oversized, m->n_tables);
    if (ended) fprintf(out, " <small>+ %zu until freed</small>", ended);
    fputs("</div></div>", out);
    if (m->heap.tracked)
        card_bytes(out, "Heap peak", m->heap.peak_bytes, 0);
    else
        fputs("<div class=\"card\"><div class=\"k\">Heap peak</div>"
              "<div class=\"v muted\">not traced</div></div>",
              out);
    if (m->heap.rss_peak)
        card_bytes(out, "RSS peak", m->heap.rss_peak, 0);
    else
        card_bytes(out, "Heap at end", m->heap.in_use, 0);
    fputs("</section>\n", out);
}

static void put_notices(FILE *out, const struct tm_model *m)
{
    for (size_t i = 0; i < m->info.n_notices; i++) {
        fputs("<p class=\"notice\">", out);
        html_escape(out, m->info.notices[i]);
        fputs("</p>\n", out);
    }
}

static void put_warnings(FILE *out, const struct tm_model *m)
{
    if (!m->info.n_warnings && !m->info.truncated) return;
    fputs("<section class=\"warn\"><b>Read with care.</b><ul>", out);
    if (m->info.truncated && !m->info.n_warnings)
        fputs("<li>The trace was cut short; figures describe what was complete.</li>", out);
    for (size_t i = 0; i < m->info.n_warnings; i++) {
        fputs("<li>", out);
        html_escape(out, m->info.warnings[i]);
        fputs("</li>", out);
    }
    fputs("</ul></section>\n", out);
}

/* ---- one table ---------------------------------------------------------- */

static const char *verdict_class(enum tm_verdict v)
{
    return v == TM_VERDICT_OVERSIZED || v == TM_VERDICT_LEAKED ? "bad" : "good";
}

static void fig_open(FILE *out, const char *k, int bad)
{
    fprintf(out, "<div class=\"fig%s\"><span class=\"k\">%s</span><b>", bad ? " bad" : "", k);
}

static void fig_bytes(FILE *out, const char *k, uint64_t v, int bad)
{
    fig_open(out, k, bad);
    put_bytes(out, v);
    fputs("</b></div>", out);
}

/* "1,000,000" with "at 1.2 s" under it. */
static void fig_count_at(FILE *out, const char *k, uint64_t v, uint64_t t)
{
    fig_open(out, k, 0);
    put_count(out, v);
    fputs("</b>", out);
    if (t != TM_NO_TIME) {
        fputs(" <small>at ", out);
        put_time(out, t);
        fputs("</small>", out);
    }
    fputs("</div>", out);
}

/* An ended table that was oversized until freed: what it held, needed
 * and retained right before its end, and for how long. */
static void put_until_freed_figures(FILE *out, const struct tm_table *t)
{
    fig_bytes(out, "Retained until freed", t->last_retained, 1);
    fig_bytes(out, "Held right before its end", t->last_held, 0);
    fig_bytes(out, "Needed right before its end", t->last_needed, 0);
    fig_count_at(out, "Live entries right before its end", t->last_live, TM_NO_TIME);
    fig_open(out, "Oversized until freed, for", 1);
    if (t->last_oversized_since < t->ended_t)
        put_time(out, t->ended_t - t->last_oversized_since);
    else
        fputs("<span class=\"muted\" title=\"its entries were counted as it was freed: since "
              "when it held so few is not known\">?</span>",
              out);
    fputs("</b> <small>ended at ", out);
    put_time(out, t->ended_t);
    fputs("</small></div>", out);
}

static void put_table_figures(FILE *out, const struct tm_table *t, uint64_t at)
{
    fputs("<div class=\"figs\">", out);
    if (tm_table_ended_oversized(t)) put_until_freed_figures(out, t);
    fig_bytes(out, "Retained", t->retained, t->retained != 0);
    fig_bytes(out, "Held now", t->held, 0);
    fig_bytes(out, "Needed for live entries", t->needed, 0);
    fig_open(out, "Peak held", 0);
    put_bytes(out, t->held_peak);
    fputs("</b>", out);
    if (t->held_peak_t != TM_NO_TIME) {
        fputs(" <small>at ", out);
        put_time(out, t->held_peak_t);
        fputs("</small>", out);
    }
    fputs("</div>", out);
    fig_count_at(out, "Live entries now", t->live_now, TM_NO_TIME);
    fig_count_at(out, "Live entries at peak", t->live_peak, t->live_peak_t);
    fig_open(out, "Buckets now / peak", 0);
    put_count(out, t->buckets_now);
    fputs(" / ", out);
    put_count(out, t->buckets_peak);
    fputs("</b></div>", out);
    fig_count_at(out, "Growths", t->growths, TM_NO_TIME);
    fig_open(out, "Oversized for", t->oversized_since != TM_NO_TIME);
    if (t->oversized_since != TM_NO_TIME && at >= t->oversized_since)
        put_time(out, at - t->oversized_since);
    else
        fputs("<span class=\"muted\">&mdash;</span>", out);
    fputs("</b></div>", out);
    fig_open(out, "Key / value / bucket", 0);
    fprintf(out, "<span class=\"num\">%" PRIu32 " / %" PRIu32 " / %" PRIu32 " B</span></b></div>",
            t->key_size, t->value_size, t->bucket_size);
    fputs("</div>\n", out);
}

static void put_legend(FILE *out, int retained)
{
    fputs("<div class=\"legend\"><span><i class=\"box\" style=\"background:#2563eb33;"
          "border-top:2px solid #2563eb\"></i>bytes held (left axis)</span>"
          "<span><i style=\"background:#ea580c\"></i>live entries (right axis)</span>",
          out);
    if (retained)
        fputs("<span><i class=\"box\" style=\"background:repeating-linear-gradient(45deg,"
              "#dc262666 0 2px,#dc26261a 2px 5px)\"></i>retained above what live entries need"
              "</span>",
              out);
    fputs("<span>&#9650; growth</span></div>\n", out);
}

static void put_recs(FILE *out, const struct tm_table *t)
{
    if (!t->n_recs) return;
    fputs("<ol class=\"recs\">", out);
    for (size_t i = 0; i < t->n_recs; i++) {
        const struct tm_recommendation *r = &t->recs[i];
        fprintf(out, "<li><span class=\"save%s\">", r->bytes_saved ? "" : " zero");
        if (r->bytes_saved) {
            fputs("saves ", out);
            put_bytes(out, r->bytes_saved);
        } else {
            fputs("&mdash;", out);
        }
        fputs("</span><span>", out);
        html_escape(out, r->text ? r->text : "");
        fprintf(out, " <span class=\"kind\">%s</span></span></li>", tm_rec_kind_name(r->kind));
    }
    fputs("</ol>\n", out);
}

/* The stack, innermost frame first as debuggers show it (inlined calls
 * marked), folded away. */
static void put_stack(FILE *out, const struct tm_model *m, struct tm_stack_namer *names,
                      uint64_t id, const char *what)
{
    const struct tm_stack *st = id ? tm_model_stack(m, id) : NULL;
    const struct tm_frame_info *f;
    size_t n = st ? tm_stack_namer_expand(names, st, &f) : 0;
    if (!n) return;
    fprintf(out, "<details class=\"stack\"><summary>%s (%zu frame%s)</summary><ol>", what, n,
            n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        /* the whole name and its file:line, however long (C++ templates:
         * 1,600 characters and more) */
        size_t len = 64 + (f[i].function ? strlen(f[i].function) : 0) +
                     (f[i].file ? strlen(f[i].file) : 0) + (f[i].module ? strlen(f[i].module) : 0);
        char small[256], *buf = len <= sizeof small ? small : malloc(len);
        if (!buf) {
            buf = small;
            len = sizeof small;
        }
        tm_frame_info_name(&f[i], TM_FRAME_FULL, buf, len);
        fputs("<li><code>", out);
        html_escape(out, buf);
        fputs(f[i].inlined ? "</code> (inlined)</li>" : "</code></li>", out);
        if (buf != small) free(buf);
    }
    fputs("</ol></details>\n", out);
}

static void put_table(FILE *out, const struct tm_model *m, struct tm_stack_namer *names,
                      const struct tm_table *t, unsigned uid)
{
    const char *cls = verdict_class(t->verdict);
    int until_freed = tm_table_ended_oversized(t);
    fprintf(out, "<article class=\"%s\" id=\"table-%" PRIu64 "\"><header><h3>",
            t->verdict == TM_VERDICT_OVERSIZED || until_freed ? "bad" : "", t->id);
    if (t->label && t->label[0])
        html_escape(out, t->label);
    else
        fprintf(out, "table %" PRIu64, t->id);
    fprintf(out, "</h3><span class=\"badge %s\">%s</span><span class=\"badge\">%s</span>", cls,
            tm_verdict_name(t->verdict), tm_table_kind_name(t->kind));
    if (until_freed) fputs("<span class=\"badge bad\">oversized until freed</span>", out);
    if (t->rule) {
        fputs("<span class=\"badge\" title=\"not annotated: recognised by its stack, size or "
              "layout (docs/table-rules.md)\">rule ", out);
        html_escape(out, t->rule->name);
        fputs("</span>", out);
    }
    if (t->model == TM_MODEL_GENERIC)
        fputs("<span class=\"badge\" title=\"unknown table kind: array bytes versus live entries"
              " times slot size\">generic model</span>",
              out);
    fputs("</header>\n<div class=\"site\">created at <code>", out);
    html_escape(out, t->site ? t->site : "?");
    fputs("</code></div>\n", out);
    put_stack(out, m, names, t->stack_id, "creation stack");
    put_table_figures(out, t, m->info.at);
    html_table_chart(out, t, m->info.at, uid);
    put_legend(out, t->retained != 0 || until_freed);
    put_recs(out, t);
    fputs("</article>\n", out);
}

static void put_tables(FILE *out, const struct tm_model *m, struct tm_stack_namer *names,
                       size_t top)
{
    size_t n = top && top < m->n_tables ? top : m->n_tables;
    fputs("<h2>Tables <small>sorted by retained bytes</small></h2>\n", out);
    if (!m->n_tables)
        fputs("<p class=\"muted\">No annotated table in this trace.</p>\n", out);
    for (size_t i = 0; i < n; i++) put_table(out, m, names, &m->tables[i], (unsigned)i);
    if (n < m->n_tables)
        fprintf(out, "<p class=\"muted\">%zu more table%s not shown (--top %zu).</p>\n",
                m->n_tables - n, m->n_tables - n == 1 ? "" : "s", top);
}

/* ---- heap --------------------------------------------------------------- */

static void put_sites(FILE *out, const struct tm_model *m, struct tm_stack_namer *names,
                      const char *title, const char *col, const struct tm_site *s, size_t n)
{
    fprintf(out, "<div><h3 style=\"font-size:14px;margin:14px 0 0\">%s</h3>", title);
    if (!n) {
        fputs("<p class=\"muted\">none</p></div>", out);
        return;
    }
    fprintf(out, "<table class=\"sites\"><tr><th>Site</th><th class=\"n\">%s</th>"
                 "<th class=\"n\">Allocations</th></tr>",
            col);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><td><code>", out);
        html_escape(out, s[i].site ? s[i].site : "?");
        fputs("</code>", out);
        put_stack(out, m, names, s[i].stack_id, "stack");
        fputs("</td><td class=\"n\">", out);
        put_bytes(out, s[i].bytes);
        fputs("</td><td class=\"n\">", out);
        put_count(out, s[i].allocs);
        fputs("</td></tr>", out);
    }
    fputs("</table></div>", out);
}

static void put_heap(FILE *out, const struct tm_model *m, struct tm_stack_namer *names)
{
    const struct tm_heap *h = &m->heap;
    fputs("<h2>Heap <small>every allocation, tables included</small></h2>\n<article>", out);
    if (!h->tracked) {
        fputs("<p class=\"muted\">Ordinary allocations were not traced (mode=tables).</p>"
              "</article>\n",
              out);
        return;
    }
    fputs("<div class=\"figs\">", out);
    fig_open(out, "Peak in use", 0);
    put_bytes(out, h->peak_bytes);
    fputs("</b> <small>at ", out);
    put_time(out, h->peak_t);
    fputs("</small></div>", out);
    fig_bytes(out, "In use at end", h->in_use, 0);
    fig_count_at(out, "Allocations", h->allocs, TM_NO_TIME);
    fig_count_at(out, "Frees", h->frees, TM_NO_TIME);
    fig_bytes(out, "Bytes allocated", h->alloc_bytes, 0);
    fig_count_at(out, "Still allocated", h->live_allocs, TM_NO_TIME);
    if (h->rss_peak) fig_bytes(out, "RSS peak", h->rss_peak, 0);
    fputs("</div>\n", out);
    html_heap_chart(out, h, m->info.at, 0);
    fputs("<div class=\"legend\"><span><i class=\"box\" style=\"background:#0f766e33;"
          "border-top:2px solid #0f766e\"></i>heap in use</span>",
          out);
    if (h->rss_peak)
        fputs("<span><i style=\"background:#64748b\"></i>RSS</span>", out);
    fputs("</div>\n<div class=\"two\">", out);
    put_sites(out, m, names, "Top sites at the peak", "At peak", h->top_peak, h->n_top_peak);
    put_sites(out, m, names, "Top sites still allocated at end", "At end", h->top_end,
              h->n_top_end);
    fputs("</div></article>\n", out);
}

/* ---- trace facts -------------------------------------------------------- */

static void put_facts(FILE *out, const struct tm_model *m)
{
    const struct tm_trace_info *i = &m->info;
    fputs("<h2>Trace</h2>\n<article><dl class=\"facts\"><dt>File</dt><dd><code>", out);
    html_escape(out, i->path ? i->path : "");
    fprintf(out, "</code></dd><dt>Format</dt><dd>%" PRIu32 ".%" PRIu32 "</dd>", i->version_major,
            i->version_minor);
    fprintf(out, "<dt>Process</dt><dd>pid %" PRIu32 ", parent %" PRIu32 "</dd>", i->pid, i->ppid);
    if (i->start_realtime_ns) {
        time_t secs = (time_t)(i->start_realtime_ns / 1000000000u);
        struct tm tmv;
        char when[64];
        if (gmtime_r(&secs, &tmv) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tmv))
            fprintf(out, "<dt>Started</dt><dd>%s</dd>", when);
    }
    fputs("<dt>Duration</dt><dd>", out);
    put_time(out, i->duration_ns);
    fputs("</dd><dt>Ended</dt><dd>", out);
    if (!i->ended)
        fputs("no END record: cut short", out);
    else if (i->end_why == 2)
        fprintf(out, "killed by signal %" PRIu32, i->end_status);
    else if (i->end_why == 1)
        fputs("exec", out);
    else
        fprintf(out, "exit status %" PRIu32, i->end_status);
    fprintf(out, "</dd><dt>Mode</dt><dd>%s%s</dd>", i->mode ? i->mode : "?",
            i->sample_interval ? " (sampled)" : "");
    fputs("<dt>Records</dt><dd>", out);
    put_count(out, i->records);
    fputs(" in ", out);
    put_count(out, i->blocks);
    fputs(" blocks from ", out);
    put_count(out, i->threads);
    fputs(" thread(s)</dd>", out);
    if (i->lost_events) {
        fputs("<dt>Lost events</dt><dd>", out);
        put_count(out, i->lost_events);
        fputs("</dd>", out);
    }
    if (i->contradictions) {
        fputs("<dt>Contradicting events</dt><dd>", out);
        put_count(out, i->contradictions);
        fputs("</dd>", out);
    }
    fputs("</dl></article>\n", out);
}

int tm_report_html(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    put_head(out, m);
    put_verdict(out, m);
    put_cards(out, m);
    put_notices(out, m);
    put_warnings(out, m);
    struct tm_stack_namer *names = tm_stack_namer_new(m);
    put_tables(out, m, names, o ? o->top : 0);
    put_heap(out, m, names);
    tm_stack_namer_free(names);
    put_facts(out, m);
    fputs("<footer>tidemark &middot; a self-contained report: no script, no network</footer>\n"
          "</main>\n</body>\n</html>\n",
          out);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
