/* analyzer/report/report_text.c - the terminal report: the verdict line, the tables
 * sorted by retained bytes (aligned columns), each oversized table's figures
 * and recommendations with bytes saved, then the heap summary. */
#include <stdio.h>
#include <string.h>

#include "model/table_rules.h"
#include "report.h"
#include "tidemark/trace_format.h"

#define commas tm_commas

static const char *hb(uint64_t v, char *buf, size_t len)
{
    tm_human_bytes(v, buf, len);
    return buf;
}

static const char *ht(uint64_t ns, char *buf, size_t len)
{
    tm_human_time(ns, buf, len);
    return buf;
}

/* No table oversized now, but n ended oversized: what the largest kept
 * until it was freed (a program that frees its tables as it ends). */
static void ended_oversized_line(const struct tm_model *m, size_t n, char *buf, size_t len)
{
    const struct tm_table *top = NULL;
    for (size_t i = 0; i < m->n_tables; i++)
        if (tm_table_ended_oversized(&m->tables[i]) &&
            (!top || m->tables[i].last_retained > top->last_retained))
            top = &m->tables[i];
    char h[32], t[32];
    tm_human_bytes(top->last_retained, h, sizeof h);
    tm_human_time(top->ended_t, t, sizeof t);
    snprintf(buf, len,
             "no table is oversized now (%zu table%s checked), but %zu %s oversized until freed; "
             "the largest retained %s until %s: %s",
             m->n_tables, m->n_tables == 1 ? "" : "s", n, n == 1 ? "was" : "were", h, t,
             top->site ? top->site : "?");
}

void tm_verdict_line(const struct tm_model *m, char *buf, size_t len)
{
    char h[32];
    if (m->n_oversized == 0) {
        size_t ended = 0;
        for (size_t i = 0; i < m->n_tables; i++) ended += tm_table_ended_oversized(&m->tables[i]);
        if (m->n_tables == 0)
            snprintf(buf, len, "no annotated tables in this trace");
        else if (ended)
            ended_oversized_line(m, ended, buf, len);
        else
            snprintf(buf, len, "no table is oversized (%zu table%s checked)",
                     m->n_tables, m->n_tables == 1 ? "" : "s");
        return;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < m->n_tables; i++)
        if (m->tables[i].verdict == TM_VERDICT_OVERSIZED) sum += m->tables[i].retained;
    tm_human_bytes(sum, h, sizeof h);
    const struct tm_table *top = &m->tables[0];
    for (size_t i = 0; i < m->n_tables; i++) /* sorted: the first oversized is the largest */
        if (m->tables[i].verdict == TM_VERDICT_OVERSIZED) {
            top = &m->tables[i];
            break;
        }
    /* "after deletes" only when every oversized table lost entries since
     * its peak; a table that never did (a size hint too large) holds more
     * than its entries need, and is not said to keep memory of deletes */
    int all_after_deletes = 1;
    for (size_t i = 0; i < m->n_tables; i++)
        if (m->tables[i].verdict == TM_VERDICT_OVERSIZED && !m->tables[i].after_deletes)
            all_after_deletes = 0;
    const char *site = top->site ? top->site : "?";
    if (m->n_oversized == 1)
        snprintf(buf, len, all_after_deletes ? "1 table retains %s after deletes: %s"
                                             : "1 table holds %s more than its live entries "
                                               "need: %s", h, site);
    else
        snprintf(buf, len, all_after_deletes ? "%zu tables retain %s after deletes; the largest: %s"
                                             : "%zu tables hold %s more than their live entries "
                                               "need; the largest: %s", m->n_oversized, h, site);
}

void tm_print_notices(const struct tm_model *m, const char *label, FILE *out)
{
    for (size_t k = 0; k < m->info.n_notices; k++)
        fprintf(out, "%s%s%s\n", label ? label : "", label ? ": " : "", m->info.notices[k]);
}

static void header(const struct tm_model *m, FILE *out)
{
    const struct tm_trace_info *i = &m->info;
    char d[32], a[32];
    fprintf(out, "trace %s: pid %u, %s mode, %s", i->path, i->pid, i->mode,
            ht(i->duration_ns, d, sizeof d));
    if (i->ended) {
        if (i->end_why == TMK_END_SIGNAL) fprintf(out, ", killed by signal %u", i->end_status);
        else if (i->end_why == TMK_END_EXEC) fprintf(out, ", ended by exec");
        else fprintf(out, ", exit status %u", i->end_status);
    }
    if (i->at < i->duration_ns) fprintf(out, "; evaluated at %s", ht(i->at, a, sizeof a));
    fputc('\n', out);
    tm_print_notices(m, NULL, out);
    if (i->truncated) fputs("warning: the trace is truncated; figures cover what was complete\n", out);
    for (size_t k = 0; k < i->n_warnings; k++) fprintf(out, "warning: %s\n", i->warnings[k]);
}

static void table_rows(const struct tm_model *m, size_t n, FILE *out)
{
    int w = 4;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(m->tables[i].site);
        if (l > w) w = l;
    }
    if (w > 48) w = 48;
    int kw = 7; /* "generic"; "recognised" when a table was found by a rule */
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(tm_table_kind_name(m->tables[i].kind)) > kw)
            kw = (int)strlen(tm_table_kind_name(m->tables[i].kind));
    fprintf(out, "\n%-4s %-*s %-*s %10s %10s %10s %10s %10s %10s  %s\n", "id", kw, "kind", w, "site",
            "live", "peak live", "buckets", "held", "needed", "retained", "verdict");
    for (size_t i = 0; i < n; i++) {
        const struct tm_table *t = &m->tables[i];
        char h[32], nd[32], r[32];
        fprintf(out, "%-4llu %-*s %-*.*s %10llu %10llu %10llu %10s %10s %10s  %s\n",
                (unsigned long long)t->id, kw, tm_table_kind_name(t->kind), w, w, t->site,
                (unsigned long long)t->live_now, (unsigned long long)t->live_peak,
                (unsigned long long)t->buckets_now, hb(t->held, h, sizeof h),
                hb(t->needed, nd, sizeof nd), hb(t->retained, r, sizeof r),
                tm_verdict_name(t->verdict));
    }
}

static void table_detail(const struct tm_model *m, const struct tm_table *t, FILE *out)
{
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(out, "\ntable %llu", (unsigned long long)t->id);
    if (t->label[0]) fprintf(out, " \"%s\"", t->label);
    fprintf(out, " (%s, model %s) created at %s\n", tm_table_kind_name(t->kind),
            tm_model_kind_name(t->model), t->site);
    if (t->rule)
        fprintf(out, "  not annotated: recognised by rule %s; %llu growth%s seen\n", t->rule->name,
                (unsigned long long)t->growths, t->growths == 1 ? "" : "s");
    else
        fprintf(out, "  key %u B, value %u B, bucket %u B, hint %llu; %llu growth%s\n", t->key_size,
                t->value_size, t->bucket_size, (unsigned long long)t->hint,
                (unsigned long long)t->growths, t->growths == 1 ? "" : "s");
    /* the largest count sampled is a lower bound of the peak, unless the
     * counts are estimates (non-empty buckets' upper end): then "~" */
    enum tm_peak_kind peak = tm_table_peak_kind(t);
    fprintf(out, "  peak: %s%llu live%s at %s; %s held at %s (%llu buckets)\n",
            peak == TM_PEAK_EXACT ? "" : peak == TM_PEAK_ESTIMATED ? "~" : ">= ",
            (unsigned long long)t->live_peak,
            peak == TM_PEAK_EXACT       ? ""
            : peak == TM_PEAK_ESTIMATED ? " (estimated from sampled non-empty buckets)"
                                        : " (sampled)",
            ht(t->live_peak_t, a, sizeof a),
            hb(t->held_peak, b, sizeof b), ht(t->held_peak_t, c, sizeof c),
            (unsigned long long)t->buckets_peak);
    fprintf(out, "  now:  %llu live, %s held (%s B), needed %s, retained %s B (%.0f%%)\n",
            (unsigned long long)t->live_now, hb(t->held, a, sizeof a), commas(t->held, b, sizeof b),
            hb(t->needed, c, sizeof c), commas(t->retained, d, sizeof d),
            t->held ? 100.0 * (double)t->retained / (double)t->held : 0.0);
    if (t->oversized_since != TM_NO_TIME)
        fprintf(out, "  oversized since %s (for %s)\n", ht(t->oversized_since, a, sizeof a),
                ht(m->info.at - t->oversized_since, e, sizeof e));
    if (tm_table_ended_oversized(t)) {
        fprintf(out, "  ended at %s; right before: %llu live, %s held, needed %s, retained %s B "
                     "(%.0f%%),\n", ht(t->ended_t, a, sizeof a), (unsigned long long)t->last_live,
                hb(t->last_held, b, sizeof b), hb(t->last_needed, c, sizeof c),
                commas(t->last_retained, d, sizeof d),
                t->last_held ? 100.0 * (double)t->last_retained / (double)t->last_held : 0.0);
        if (t->last_oversized_since < t->ended_t)
            fprintf(out, "  oversized from %s until it ended (for %s)\n",
                    ht(t->last_oversized_since, a, sizeof a),
                    ht(t->ended_t - t->last_oversized_since, e, sizeof e));
        else
            fputs("  (its entries were counted as it was freed: since when it held so few is "
                  "not known)\n", out);
    } else if (t->shrunk) {
        fprintf(out, "  shrunk by its owner at %s (a rehash to a smaller array: its arrays are now "
                     "below the probe size, not followed): not freed while oversized\n",
                ht(t->ended_t, a, sizeof a));
    }
    if (t->rule && t->live_lo < t->live_now)
        fprintf(out, "  note: live counted from non-empty buckets: between %llu and %llu "
                     "(the larger, for well-mixed hashes, is used)\n",
                (unsigned long long)t->live_lo, (unsigned long long)t->live_now);
    if (t->needed_basis == TM_NEEDED_HISTORY)
        fprintf(out, "  needed: what it held when it last had %llu entries on the way up\n",
                (unsigned long long)t->live_now);
    else if (t->model == TM_MODEL_GENERIC)
        fputs("  note: unknown table kind, generic model (live entries x slot size)\n", out);
    if (t->model == TM_MODEL_RULE)
        fprintf(out, "  growth rule: grows past %u/%u load to x%u buckets, from %u\n",
                t->grow_load_num, t->grow_load_den, t->grow_factor,
                t->min_buckets ? t->min_buckets : 1);
    for (size_t k = 0; k < t->n_recs; k++)
        fprintf(out, "  %zu. saves %s (%s B): %s\n", k + 1,
                hb(t->recs[k].bytes_saved, a, sizeof a),
                commas(t->recs[k].bytes_saved, b, sizeof b), t->recs[k].text);
}

/* A heap list: bytes (the list's figure) and allocations made from the
 * site's stacks over the whole run, not those live. */
static void site_list(const char *title, const struct tm_site *s, size_t n, FILE *out)
{
    if (!n) return;
    fprintf(out, "  %s:\n", title);
    fprintf(out, "    %10s  %16s  %s\n", "bytes", "allocations made", "site");
    for (size_t i = 0; i < n; i++) {
        char h[32];
        fprintf(out, "    %10s  %16llu  %s\n", hb(s[i].bytes, h, sizeof h),
                (unsigned long long)s[i].allocs, s[i].site);
    }
}

static void heap_summary(const struct tm_model *m, FILE *out)
{
    const struct tm_heap *h = &m->heap;
    char a[32], b[32], c[32], d[32], e[32];
    fputs("\nheap\n", out);
    if (!h->tracked) {
        fputs("  not tracked (mode tables or sampled trace)\n", out);
    } else {
        fprintf(out, "  peak %s (%s B) at %s; in use %s (%s B), %llu allocations live now\n",
                hb(h->peak_bytes, a, sizeof a), commas(h->peak_bytes, d, sizeof d),
                ht(h->peak_t, b, sizeof b), hb(h->in_use, c, sizeof c),
                commas(h->in_use, e, sizeof e), (unsigned long long)h->live_allocs);
        fprintf(out, "  %llu allocations made (%s, %s B), %llu frees\n",
                (unsigned long long)h->allocs, hb(h->alloc_bytes, a, sizeof a),
                commas(h->alloc_bytes, d, sizeof d), (unsigned long long)h->frees);
        site_list("top sites by bytes at the heap's peak", h->top_peak, h->n_top_peak, out);
        site_list("top sites by bytes still allocated", h->top_end, h->n_top_end, out);
    }
    if (h->rss_peak) fprintf(out, "  peak RSS %s\n", hb(h->rss_peak, a, sizeof a));
}

int tm_report_text(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    char line[512];
    tm_verdict_line(m, line, sizeof line);
    fprintf(out, "%s\n", line);
    header(m, out);
    size_t n = m->n_tables;
    if (o && o->top && o->top < n) n = o->top;
    if (n) {
        table_rows(m, n, out);
        for (size_t i = 0; i < n; i++)
            if (m->tables[i].verdict == TM_VERDICT_OVERSIZED || m->tables[i].n_recs ||
                tm_table_ended_oversized(&m->tables[i]))
                table_detail(m, &m->tables[i], out);
        if (n < m->n_tables) fprintf(out, "(%zu more tables not shown)\n", m->n_tables - n);
    }
    heap_summary(m, out);
    return ferror(out) ? -1 : 0;
}
