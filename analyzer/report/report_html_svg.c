/* analyzer/report/report_html_svg.c - the inline SVG timelines of the HTML report:
 * per table, bytes held (area, left axis) and live entries (step line, right
 * axis) over time with the peak, the growths and the retained bytes marked;
 * for the heap, bytes in use and RSS.
 *
 * Everything is drawn in a fixed viewBox (CW x CH user units) that the page
 * scales to its width; axes use "nice" steps (binary units for bytes,
 * decimal for counts and time) so tick labels read as round numbers.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "report_html.h"

#define CW 880.0 /* viewBox width */
#define CH 250.0 /* viewBox height */
#define ML 74.0  /* left margin: bytes axis labels */
#define MR 66.0  /* right margin: live axis labels */
#define MT 30.0  /* top margin: peak label */
#define MB 28.0  /* bottom margin: time axis labels */
#define PW (CW - ML - MR)
#define PH (CH - MT - MB)

#define COLOR_HELD "#2563eb"
#define COLOR_LIVE "#ea580c"
#define COLOR_RETAINED "#dc2626"
#define COLOR_HEAP "#0f766e"
#define COLOR_RSS "#64748b"

/* A value axis: ticks at 0, step, ..., n * step = the axis maximum. */
struct axis {
    double step;
    int n;
    double unit;      /* label divisor (1024^k for bytes, 1 otherwise) */
    const char *name; /* unit suffix for labels */
};

static double axis_max(const struct axis *a) { return a->step * a->n; }

/* Picks the smallest step from `mults` x `unit` with 5 steps covering max. */
static int pick_step(double max, double unit, const double *mults, size_t nm, struct axis *a)
{
    for (size_t i = 0; i < nm; i++) {
        double step = mults[i] * unit;
        if (step * 5 >= max) {
            a->step = step;
            a->n = max <= 0 ? 1 : (int)ceil(max / step - 1e-9);
            if (a->n < 1) a->n = 1;
            return 1;
        }
    }
    return 0;
}

static struct axis bytes_axis(uint64_t max)
{
    static const double mults[] = {1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500};
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    struct axis a = {1, 1, 1, "B"};
    double unit = 1;
    for (int u = 0; u < 6; u++, unit *= 1024) {
        a.unit = unit;
        a.name = names[u];
        if (pick_step((double)max, unit, mults, sizeof mults / sizeof *mults, &a)) return a;
    }
    a.step = (double)max / 4;
    a.n = 4;
    return a;
}

/* Decimal axis for counts and nanoseconds: steps 1, 2, 2.5, 5 x 10^k. */
static struct axis decimal_axis(uint64_t max)
{
    static const double mults[] = {1, 2, 2.5, 5};
    struct axis a = {1, 1, 1, ""};
    for (double p = 1; p < 1e20; p *= 10)
        if (pick_step((double)max, p, mults, 4, &a)) return a;
    return a;
}

static void tick_bytes(const struct axis *a, int i, char *buf, size_t len)
{
    if (i == 0)
        snprintf(buf, len, "0");
    else
        snprintf(buf, len, "%g %s", a->step * i / a->unit, a->name);
}

static void tick_count(const struct axis *a, int i, char *buf, size_t len)
{
    double v = a->step * i;
    if (v >= 1e9) snprintf(buf, len, "%gG", v / 1e9);
    else if (v >= 1e6) snprintf(buf, len, "%gM", v / 1e6);
    else if (v >= 1e4) snprintf(buf, len, "%gk", v / 1e3);
    else snprintf(buf, len, "%g", v);
}

static void tick_time(const struct axis *a, int i, char *buf, size_t len)
{
    double v = a->step * i, full = axis_max(a);
    if (i == 0) snprintf(buf, len, "0");
    else if (full >= 1e9) snprintf(buf, len, "%g s", v / 1e9);
    else if (full >= 1e6) snprintf(buf, len, "%g ms", v / 1e6);
    else if (full >= 1e3) snprintf(buf, len, "%g µs", v / 1e3);
    else snprintf(buf, len, "%g ns", v);
}

/* ---- plot coordinates --------------------------------------------------- */

struct plot {
    FILE *out;
    double t_end;    /* time at the right edge */
    struct axis y;   /* left axis (bytes) */
    struct axis y2;  /* right axis (counts); n = 0 when unused */
    struct axis x;   /* time ticks */
};

static double px(const struct plot *p, double t)
{
    double f = p->t_end > 0 ? t / p->t_end : 0;
    if (f > 1) f = 1;
    return ML + f * PW;
}

static double py(const struct axis *a, uint64_t v)
{
    double f = (double)v / axis_max(a);
    if (f > 1) f = 1;
    return MT + PH - f * PH;
}

static void svg_open(const struct plot *p, const char *title)
{
    fprintf(p->out,
            "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
            CW, CH);
    html_escape(p->out, title);
    fputs("\">\n", p->out);
}

/* Grid lines, both value axes' labels and the time axis. */
static void draw_axes(const struct plot *p)
{
    char buf[64];
    FILE *o = p->out;
    fputs("<g class=\"grid\">", o);
    for (int i = 0; i <= p->y.n; i++) {
        double y = MT + PH - PH * i / p->y.n;
        fprintf(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, ML + PW, y, y);
    }
    fputs("</g>\n<g class=\"axis-l\">", o);
    for (int i = 0; i <= p->y.n; i++) {
        tick_bytes(&p->y, i, buf, sizeof buf);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", ML - 8, MT + PH - PH * i / p->y.n + 4,
                buf);
    }
    fputs("</g>\n", o);
    if (p->y2.n) {
        fputs("<g class=\"axis-r\">", o);
        for (int i = 0; i <= p->y2.n; i++) {
            tick_count(&p->y2, i, buf, sizeof buf);
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", ML + PW + 8,
                    MT + PH - PH * i / p->y2.n + 4, buf);
        }
        fputs("</g>\n", o);
    }
    fputs("<g class=\"axis-x\">", o);
    for (int i = 0; i <= p->x.n; i++) {
        double t = p->x.step * i;
        if (t > p->t_end * 1.0001) break;
        tick_time(&p->x, i, buf, sizeof buf);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", px(p, t), CH - 8, buf);
    }
    fprintf(o, "</g>\n<line class=\"baseline\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
            ML, ML + PW, MT + PH, MT + PH);
}

/* A step path through (t_i, v_i) held until the next point and, for the
 * last, until t_end. With `closed`, it is closed down to the baseline. */
typedef uint64_t (*value_at)(const void *points, size_t i);

static void step_path(const struct plot *p, const struct axis *a, const void *pts, size_t n,
                      uint64_t (*t_at)(const void *, size_t), value_at v_at, int closed)
{
    FILE *o = p->out;
    double base = MT + PH;
    double x0 = px(p, (double)t_at(pts, 0));
    if (closed)
        fprintf(o, "M%.1f %.1fV%.1f", x0, base, py(a, v_at(pts, 0)));
    else
        fprintf(o, "M%.1f %.1f", x0, py(a, v_at(pts, 0)));
    for (size_t i = 1; i < n; i++)
        fprintf(o, "H%.1fV%.1f", px(p, (double)t_at(pts, i)), py(a, v_at(pts, i)));
    fprintf(o, "H%.1f", ML + PW);
    if (closed) fprintf(o, "V%.1fZ", base);
}

static uint64_t tp_t(const void *v, size_t i) { return ((const struct tm_point *)v)[i].t; }
static uint64_t tp_held(const void *v, size_t i) { return ((const struct tm_point *)v)[i].held; }
static uint64_t tp_live(const void *v, size_t i) { return ((const struct tm_point *)v)[i].live; }
static uint64_t hp_t(const void *v, size_t i) { return ((const struct tm_heap_point *)v)[i].t; }
static uint64_t hp_heap(const void *v, size_t i) { return ((const struct tm_heap_point *)v)[i].heap; }
static uint64_t hp_rss(const void *v, size_t i) { return ((const struct tm_heap_point *)v)[i].rss; }

/* A dashed vertical line at t with a dot at value v and a label beside it. */
static void draw_peak(const struct plot *p, uint64_t t, uint64_t v, const char *color,
                      const char *label)
{
    double x = px(p, (double)t), y = py(&p->y, v);
    int left = x > ML + PW * 0.72; /* label left of the line near the right edge */
    fprintf(p->out,
            "<g class=\"peak\"><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text></g>\n",
            x, x, MT - 6, MT + PH, x, y, color, left ? x - 6 : x + 6, MT - 12,
            left ? "end" : "start", label);
}

/* The right edge: the model's moment, or the last point when that is later
 * or the moment is unknown. */
static uint64_t chart_end(uint64_t at, uint64_t last)
{
    return at == TM_NO_TIME || at < last ? last : at;
}

/* ---- table chart -------------------------------------------------------- */

static uint64_t max_held(const struct tm_table *t)
{
    uint64_t m = t->held_peak > t->held ? t->held_peak : t->held;
    for (size_t i = 0; i < t->n_points; i++)
        if (t->timeline[i].held > m) m = t->timeline[i].held;
    return m;
}

static uint64_t max_live(const struct tm_table *t)
{
    uint64_t m = t->live_peak > t->live_now ? t->live_peak : t->live_now;
    for (size_t i = 0; i < t->n_points; i++)
        if (t->timeline[i].live > m) m = t->timeline[i].live;
    return m;
}

/* Triangles under the plot where held jumps up by at least an eighth: the
 * new array of a growth (small overflow allocations are not marked). */
static void draw_growths(const struct plot *p, const struct tm_table *t)
{
    char a[32], b[32];
    fputs("<g class=\"growth\">", p->out);
    for (size_t i = 1; i < t->n_points; i++) {
        uint64_t before = t->timeline[i - 1].held, after = t->timeline[i].held;
        if (after <= before || after - before < before / 8) continue;
        double x = px(p, (double)t->timeline[i].t), y = MT + PH;
        tm_human_bytes(before, a, sizeof a);
        tm_human_bytes(after, b, sizeof b);
        fprintf(p->out,
                "<path d=\"M%.1f %.1fl-4.5 7h9z\" fill=\"%s\"><title>growth: %s to %s</title>"
                "</path>",
                x, y + 1, COLOR_HELD, a, b);
    }
    fputs("</g>\n", p->out);
}

/* Hatched area between `needed` and held from the moment the table became
 * oversized (or its last point) to the end, with the figure written on it;
 * for a table oversized until freed, what it retained until its end. */
static void draw_retained(const struct plot *p, const struct tm_table *t, unsigned uid)
{
    int ended = tm_table_ended_oversized(t);
    uint64_t retained = ended ? t->last_retained : t->retained;
    uint64_t needed = ended ? t->last_needed : t->needed;
    uint64_t held = ended ? t->last_held : t->held;
    if (!retained || !t->n_points) return;
    uint64_t since = ended && t->last_oversized_since < t->ended_t ? t->last_oversized_since
                     : ended ? t->ended_t
                     : t->oversized_since != TM_NO_TIME ? t->oversized_since
                                                        : t->timeline[t->n_points - 1].t;
    uint64_t until = ended ? t->ended_t : UINT64_MAX;
    double xend = ended ? px(p, (double)until) : ML + PW;
    FILE *o = p->out;
    fprintf(o,
            "<defs><pattern id=\"hatch%u\" width=\"6\" height=\"6\" "
            "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
            "<rect width=\"6\" height=\"6\" fill=\"%s\" fill-opacity=\"0.10\"/>"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"%s\" stroke-width=\"2\" "
            "stroke-opacity=\"0.45\"/></pattern></defs>\n",
            uid, COLOR_RETAINED, COLOR_RETAINED);
    double yneed = py(&p->y, needed);
    for (size_t i = 0; i < t->n_points; i++) {
        uint64_t t0 = t->timeline[i].t;
        uint64_t t1 = i + 1 < t->n_points ? t->timeline[i + 1].t : UINT64_MAX;
        if (t1 > until) t1 = until;
        if (t1 <= since || t0 >= until || t->timeline[i].held <= needed) continue;
        if (t0 < since) t0 = since;
        double x0 = px(p, (double)t0), x1 = t1 != UINT64_MAX ? px(p, (double)t1) : ML + PW;
        double yh = py(&p->y, t->timeline[i].held);
        if (x1 - x0 < 0.5) continue;
        fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"url(#hatch%u)\"/>",
                x0, yh, x1 - x0, yneed - yh, uid);
    }
    char need[32], ret[32];
    tm_human_bytes(needed, need, sizeof need);
    tm_human_bytes(retained, ret, sizeof ret);
    double xs = px(p, (double)since);
    double yheld = py(&p->y, held);
    fprintf(o,
            "\n<line class=\"needed\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
            "<text class=\"needed-label\" x=\"%.1f\" y=\"%.1f\">needed %s</text>\n",
            xs, xend, yneed, yneed, xend - 4, yneed - 5, need);
    /* The retained figure sits in the hatched band when it is tall and wide
     * enough, else just left of it. */
    if (yneed - yheld > 22) {
        int inside = xend - xs > 8.0 * (double)(strlen(ret) + (ended ? 21 : 9));
        fprintf(o,
                "<text class=\"retained-label\" x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"%s\">retained %s%s</text>\n",
                inside ? (xs + xend) / 2 : xs - 6, (yheld + yneed) / 2 + 5,
                inside ? "middle" : "end", ret, ended ? " until freed" : "");
    }
}

void html_table_chart(FILE *out, const struct tm_table *t, uint64_t t_end, unsigned uid)
{
    if (!t->n_points) {
        fputs("<p class=\"muted\">No timeline recorded for this table.</p>\n", out);
        return;
    }
    uint64_t last = t->timeline[t->n_points - 1].t;
    t_end = chart_end(t_end, last);
    struct plot p = {out, t_end ? (double)t_end : 1, bytes_axis(max_held(t)),
                     decimal_axis(max_live(t)), decimal_axis(t_end ? t_end : 1)};
    char title[160], a[32], b[32];
    tm_human_bytes(t->held, a, sizeof a);
    tm_human_bytes(t->held_peak, b, sizeof b);
    snprintf(title, sizeof title, "bytes held (now %s, peak %s) and live entries over time", a,
             b);
    svg_open(&p, title);
    draw_axes(&p);
    fprintf(out, "<path class=\"area\" fill=\"%s\" d=\"", COLOR_HELD);
    step_path(&p, &p.y, t->timeline, t->n_points, tp_t, tp_held, 1);
    fputs("\"/>\n", out);
    draw_retained(&p, t, uid);
    fprintf(out, "<path class=\"line\" stroke=\"%s\" d=\"", COLOR_HELD);
    step_path(&p, &p.y, t->timeline, t->n_points, tp_t, tp_held, 0);
    fprintf(out, "\"/>\n<path class=\"line live\" stroke=\"%s\" d=\"", COLOR_LIVE);
    step_path(&p, &p.y2, t->timeline, t->n_points, tp_t, tp_live, 0);
    fputs("\"/>\n", out);
    draw_growths(&p, t);
    if (t->held_peak && t->held_peak_t != TM_NO_TIME) {
        char label[64];
        snprintf(label, sizeof label, "peak %s", b);
        draw_peak(&p, t->held_peak_t, t->held_peak, COLOR_HELD, label);
    }
    fputs("</svg>\n", out);
}

/* ---- heap chart --------------------------------------------------------- */

void html_heap_chart(FILE *out, const struct tm_heap *h, uint64_t t_end, unsigned uid)
{
    (void)uid;
    if (!h->n_points) {
        fputs("<p class=\"muted\">No heap timeline recorded.</p>\n", out);
        return;
    }
    uint64_t max = h->peak_bytes, last = h->timeline[h->n_points - 1].t;
    int has_rss = 0;
    for (size_t i = 0; i < h->n_points; i++) {
        if (h->timeline[i].heap > max) max = h->timeline[i].heap;
        if (h->timeline[i].rss > max) max = h->timeline[i].rss;
        has_rss |= h->timeline[i].rss != 0;
    }
    t_end = chart_end(t_end, last);
    struct axis none = {1, 0, 1, ""};
    struct plot p = {out, t_end ? (double)t_end : 1, bytes_axis(max), none,
                     decimal_axis(t_end ? t_end : 1)};
    svg_open(&p, "heap bytes in use and RSS over time");
    draw_axes(&p);
    fprintf(out, "<path class=\"area\" fill=\"%s\" d=\"", COLOR_HEAP);
    step_path(&p, &p.y, h->timeline, h->n_points, hp_t, hp_heap, 1);
    fprintf(out, "\"/>\n<path class=\"line\" stroke=\"%s\" d=\"", COLOR_HEAP);
    step_path(&p, &p.y, h->timeline, h->n_points, hp_t, hp_heap, 0);
    fputs("\"/>\n", out);
    if (has_rss) {
        fprintf(out, "<path class=\"line rss\" stroke=\"%s\" d=\"", COLOR_RSS);
        step_path(&p, &p.y, h->timeline, h->n_points, hp_t, hp_rss, 0);
        fputs("\"/>\n", out);
    }
    if (h->peak_bytes && h->peak_t != TM_NO_TIME) {
        char label[64], b[32];
        tm_human_bytes(h->peak_bytes, b, sizeof b);
        snprintf(label, sizeof label, "peak %s", b);
        draw_peak(&p, h->peak_t, h->peak_bytes, COLOR_HEAP, label);
    }
    fputs("</svg>\n", out);
}
