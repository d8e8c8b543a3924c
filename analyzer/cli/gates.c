/* analyzer/cli/gates.c - check's gates and its summary line (gates.h). Every
 * result carries the figures it was judged on; the summary is built from the
 * results, so it names what failed and never reports as a problem what
 * passed. */
#include "gates.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report/report.h"

int tolerance_parse(const char *s, struct tolerance *t)
{
    memset(t, 0, sizeof *t);
    size_t n = strlen(s);
    if (n && s[n - 1] == '%') {
        t->is_percent = 1;
        return cli_parse_double(s, &t->percent);
    }
    return cli_parse_size(s, &t->bytes);
}

int tolerance_exceeded(const struct tolerance *t, uint64_t before, uint64_t after,
                          uint64_t floor)
{
    if (after <= before) return 0;
    uint64_t inc = after - before;
    if (!t->is_percent) return inc > t->bytes;
    return inc >= floor && (double)inc > t->percent / 100.0 * (double)before;
}

void tolerance_text(const struct tolerance *t, char *buf, size_t len)
{
    if (t->is_percent) snprintf(buf, len, "%g%%", t->percent);
    else tm_human_bytes(t->bytes, buf, len);
}

const char *gate_name(enum gate g)
{
    switch (g) {
    case GATE_OVERSIZED: return "oversized";
    case GATE_MAX_RETAINED: return "max-retained";
    case GATE_MAX_RATIO: return "max-retained-ratio";
    case GATE_INCREASE: return "increase";
    case GATE_NEW_TABLE: return "new-table";
    case GATE_TOTAL_INCREASE: return "total-increase";
    }
    return "?";
}

const char *gate_status_name(enum gate_status s)
{
    return s == GATE_FAILED ? "failed" : s == GATE_SKIPPED ? "skipped" : "passed";
}

struct judge {
    const struct gate_config *g;
    struct check_outcome *out;
    size_t cap;
    int oom;
};

/* Appends a result; its message and brief are then written with say(). */
static struct gate_result *add(struct judge *j, enum gate gate, int failed,
                               const struct snap_table *t, const struct snap_table *base)
{
    struct check_outcome *o = j->out;
    if (o->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 16;
        struct gate_result *v = realloc(o->r, cap * sizeof *v);
        if (!v) {
            j->oom = 1;
            return NULL;
        }
        o->r = v;
        j->cap = cap;
    }
    struct gate_result *r = &o->r[o->n++];
    memset(r, 0, sizeof *r);
    r->gate = gate;
    r->status = failed ? GATE_FAILED : GATE_PASSED;
    r->table = t;
    r->base = base;
    if (failed) o->failed++;
    return r;
}

static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static double percent_of(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* "table 3 src/a.c:12"; a table nobody annotated says what it is:
 * "table 3 src/a.c:12 (khash table ..., recognised)"; one of another trace
 * of the run, which: "table 3 src/a.c:12 in t.tmk.1" */
static void name_of(const struct snap_table *t, char *buf, size_t len)
{
    if (t->kind && !strcmp(t->kind, "recognised") && t->label && t->label[0])
        snprintf(buf, len, "table %llu %s (%s, recognised)", (unsigned long long)t->id, t->site,
                 t->label);
    else
        snprintf(buf, len, "table %llu %s", (unsigned long long)t->id, t->site);
    if (t->trace) {
        size_t n = strlen(buf);
        if (n < len) snprintf(buf + n, len - n, " in %s", t->trace);
    }
}

static void judge_oversized(struct judge *j, const struct snap_table *t, const char *who)
{
    char a[32], b[32], h[32];
    struct gate_result *r = add(j, GATE_OVERSIZED, t->oversized, t, NULL);
    if (!r) return;
    double pct = percent_of(t->retained, t->held);
    tm_human_bytes(t->retained, h, sizeof h);
    if (t->oversized && t->until_freed) {
        say(r->message, sizeof r->message,
            "%s: oversized until freed, retained %s B of %s B held (%.1f%%) right before",
            who, tm_commas(t->retained, a, sizeof a), tm_commas(t->held, b, sizeof b), pct);
        say(r->brief, sizeof r->brief, "%s retained %s until freed (oversized)", who, h);
    } else if (t->oversized) {
        const char *why = t->after_deletes ? "after deletes" : "more than its live entries need";
        say(r->message, sizeof r->message, "%s: oversized, retains %s B of %s B held (%.1f%%) %s",
            who, tm_commas(t->retained, a, sizeof a), tm_commas(t->held, b, sizeof b), pct, why);
        say(r->brief, sizeof r->brief, "%s %s %s %s (oversized)", who,
            t->after_deletes ? "retains" : "holds", h, why);
    } else {
        say(r->message, sizeof r->message, "%s: not oversized, retains %s B of %s B held (%.1f%%)",
            who, tm_commas(t->retained, a, sizeof a), tm_commas(t->held, b, sizeof b), pct);
    }
}

static void judge_max(struct judge *j, const struct snap_table *t, const char *who)
{
    const struct gate_config *g = j->g;
    char a[32], b[32], h[32], m[32];
    tm_human_bytes(t->retained, h, sizeof h);
    tm_human_bytes(g->max_retained, m, sizeof m);
    if (g->has_max) {
        int failed = t->retained > g->max_retained;
        struct gate_result *r = add(j, GATE_MAX_RETAINED, failed, t, NULL);
        if (!r) return;
        say(r->message, sizeof r->message, "%s: retains %s B %s --max-retained %s B", who,
            tm_commas(t->retained, a, sizeof a), failed ? ">" : "<=",
            tm_commas(g->max_retained, b, sizeof b));
        say(r->brief, sizeof r->brief, "%s retains %s > --max-retained %s", who, h, m);
    }
    if (g->has_ratio) {
        double ratio = t->held ? (double)t->retained / (double)t->held : 0;
        int failed = t->retained && ratio > g->max_ratio;
        struct gate_result *r = add(j, GATE_MAX_RATIO, failed, t, NULL);
        if (!r) return;
        say(r->message, sizeof r->message, "%s: retains %.1f%% of %s B held %s --max-retained-ratio %.1f%%",
            who, 100 * ratio, tm_commas(t->held, a, sizeof a), failed ? ">" : "<=",
            100 * g->max_ratio);
        say(r->brief, sizeof r->brief, "%s retains %.1f%% of what it holds > --max-retained-ratio %.1f%%",
            who, 100 * ratio, 100 * g->max_ratio);
    }
}

/* "+16,777,216 B, +100.1%" or "+16,777,216 B from 0" or "-512 B" or "=" */
static void change_text(uint64_t before, uint64_t after, char *buf, size_t len)
{
    char c[32];
    if (after == before) snprintf(buf, len, "no change");
    else if (after < before) snprintf(buf, len, "-%s B", tm_commas(before - after, c, sizeof c));
    else if (before == 0) snprintf(buf, len, "+%s B from 0", tm_commas(after, c, sizeof c));
    else
        snprintf(buf, len, "+%s B, +%.1f%%", tm_commas(after - before, c, sizeof c),
                 percent_of(after - before, before));
}

static void judge_increase(struct judge *j, const struct snap_table *t, const struct snap_table *o,
                           const char *who)
{
    const struct gate_config *g = j->g;
    char a[32], b[32], ch[64], tol[32], h[32] = "";
    tolerance_text(&g->max_increase, tol, sizeof tol);
    int failed = tolerance_exceeded(&g->max_increase, o->retained, t->retained, g->floor);
    struct gate_result *r = add(j, GATE_INCREASE, failed, t, o);
    if (!r) return;
    change_text(o->retained, t->retained, ch, sizeof ch);
    say(r->message, sizeof r->message, "%s: retained %s B, baseline %s B (%s) %s --max-increase %s",
        who, tm_commas(t->retained, a, sizeof a), tm_commas(o->retained, b, sizeof b), ch,
        failed ? ">" : "within", tol);
    if (t->retained > o->retained) tm_human_bytes(t->retained - o->retained, h, sizeof h);
    say(r->brief, sizeof r->brief, "%s retained +%s over the baseline (> --max-increase %s)", who,
        h, tol);
}

static void judge_new(struct judge *j, const struct snap_table *t, const char *who)
{
    char a[32], b[32], h[32];
    struct gate_result *r = add(j, GATE_NEW_TABLE, t->oversized, t, NULL);
    if (!r) return;
    tm_human_bytes(t->retained, h, sizeof h);
    say(r->message, sizeof r->message, "%s: new (not in the baseline), %s, retains %s B of %s B held (%.1f%%)",
        who, t->oversized ? "oversized" : "not oversized", tm_commas(t->retained, a, sizeof a),
        tm_commas(t->held, b, sizeof b), percent_of(t->retained, t->held));
    say(r->brief, sizeof r->brief, "new %s retains %s (oversized)", who, h);
}

static void judge_unlisted(struct judge *j, const struct snap_table *t, const struct snapshot *base,
                           const char *who)
{
    struct gate_result *r = add(j, GATE_INCREASE, 0, t, NULL);
    if (!r) return;
    r->status = GATE_SKIPPED;
    j->out->skipped++;
    say(r->message, sizeof r->message,
        "%s: not in the baseline (it lists %zu of %llu tables, --top %llu); not judged", who,
        base->nt, (unsigned long long)base->n_tables, (unsigned long long)base->top);
}

static void judge_total(struct judge *j, const struct snapshot *now, const struct snapshot *base)
{
    const struct gate_config *g = j->g;
    char a[32], b[32], ch[64], tol[32], h[32] = "";
    tolerance_text(&g->max_increase, tol, sizeof tol);
    int failed = tolerance_exceeded(&g->max_increase, base->total_retained,
                                       now->total_retained, g->floor);
    struct gate_result *r = add(j, GATE_TOTAL_INCREASE, failed, NULL, NULL);
    if (!r) return;
    change_text(base->total_retained, now->total_retained, ch, sizeof ch);
    say(r->message, sizeof r->message, "total retained %s B, baseline %s B (%s) %s --max-increase %s",
        tm_commas(now->total_retained, a, sizeof a), tm_commas(base->total_retained, b, sizeof b),
        ch, failed ? ">" : "within", tol);
    if (now->total_retained > base->total_retained)
        tm_human_bytes(now->total_retained - base->total_retained, h, sizeof h);
    say(r->brief, sizeof r->brief, "total retained +%s over the baseline (> --max-increase %s)", h,
        tol);
}

/* ---- the summary line ---------------------------------------------------- */

static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

static uint64_t most_retained(const struct snapshot *now)
{
    uint64_t most = 0;
    for (size_t i = 0; i < now->nt; i++)
        if (now->t[i].retained > most) most = now->t[i].retained;
    return most;
}

/* What held: one clause per kind of gate that ran. */
static void passed_clauses(const struct check_outcome *o, const struct gate_config *g,
                           const struct snapshot *now, char *buf, size_t len)
{
    char a[32], b[32], c[32];
    const char *sep = "";
    if (!g->has_baseline && !g->has_max && !g->has_ratio) {
        tm_human_bytes(g->min_retained, a, sizeof a);
        append(buf, len, "none is oversized (--min-retained %s, --min-ratio %g%%)", a,
               100 * g->min_ratio);
        sep = "; ";
    }
    if (g->has_max) {
        tm_human_bytes(g->max_retained, a, sizeof a);
        tm_human_bytes(most_retained(now), b, sizeof b);
        append(buf, len, "%snone retains more than --max-retained %s (the most: %s)", sep, a, b);
        sep = "; ";
    }
    if (g->has_ratio) {
        append(buf, len, "%snone retains more than --max-retained-ratio %g%% of what it holds", sep,
               100 * g->max_ratio);
        sep = "; ";
    }
    if (g->has_baseline) {
        tolerance_text(&g->max_increase, a, sizeof a);
        tm_human_bytes(o->total_retained, b, sizeof b);
        tm_human_bytes(o->baseline_total, c, sizeof c);
        append(buf, len, "%sno retained increase above --max-increase %s and no new oversized "
               "table (retained %s, baseline %s)", sep, a, b, c);
    }
    if (o->skipped)
        append(buf, len, "; %zu table%s not in the baseline not judged", o->skipped,
               o->skipped == 1 ? "" : "s");
}

static void summarize(struct check_outcome *o, const struct gate_config *g,
                      const struct snapshot *now)
{
    char *s = o->summary;
    size_t len = sizeof o->summary;
    s[0] = 0;
    const char *checked = o->tables == 1 ? "table" : "tables";
    if (!o->failed) {
        if (o->tables == 0 && !g->has_baseline) {
            if (now->merged)
                append(s, len, "check passed: no tables (annotated or recognised) in the run's "
                       "%zu traces", now->merged + 1);
            else
                append(s, len, "check passed: no tables (annotated or recognised) in this trace");
            return;
        }
        append(s, len, "check passed: %zu %s checked%s; ", o->tables, checked,
               g->has_baseline ? " against the baseline" : "");
        passed_clauses(o, g, now, s, len);
        return;
    }
    append(s, len, "check failed: ");
    if (o->tables_failed)
        append(s, len, "%zu of %zu %s failed: ", o->tables_failed, o->tables, checked);
    size_t shown = 0;
    for (size_t i = 0; i < o->n && shown < 2; i++)
        if (o->r[i].status == GATE_FAILED)
            append(s, len, "%s%s", shown++ ? "; " : "", o->r[i].brief);
    if (o->failed > shown)
        append(s, len, "; and %zu more failure%s", o->failed - shown,
               o->failed - shown == 1 ? "" : "s");
}

int gates_run(const struct snapshot *now, const struct snapshot *base, const struct gate_config *g,
              struct check_outcome *out)
{
    memset(out, 0, sizeof *out);
    struct judge j = {g, out, 0, 0};
    size_t *partner = NULL;
    if (base) {
        if (!(partner = malloc((now->nt ? now->nt : 1) * sizeof *partner)) ||
            snapshot_match(base, now, partner)) {
            free(partner);
            return -1;
        }
        out->has_baseline = 1;
        out->baseline_total = base->total_retained;
    }
    out->tables = now->nt;
    out->total_retained = now->total_retained;
    for (size_t i = 0; i < now->nt && !j.oom; i++) {
        const struct snap_table *t = &now->t[i];
        size_t before = out->failed;
        char who[320];
        name_of(t, who, sizeof who);
        if (!base && !g->has_max && !g->has_ratio) judge_oversized(&j, t, who);
        judge_max(&j, t, who);
        if (base && partner[i] != SNAP_NONE) judge_increase(&j, t, &base->t[partner[i]], who);
        else if (base && base->partial) judge_unlisted(&j, t, base, who);
        else if (base) judge_new(&j, t, who);
        if (out->failed > before) out->tables_failed++;
    }
    if (base && !j.oom) judge_total(&j, now, base);
    free(partner);
    if (j.oom) {
        gates_free(out);
        return -1;
    }
    summarize(out, g, now);
    return 0;
}

void gates_free(struct check_outcome *out)
{
    free(out->r);
    memset(out, 0, sizeof *out);
}
