/* analyzer/report/report_json.c - the JSON report, schema "tidemark.report/1",
 * minor 3 (docs/report-schema.md); also the JSON string escaping that the
 * check's JSON output shares (tm_json_string). Keys are fixed and always present, in a fixed
 * order; bytes and times are integers (times in ns since the trace start),
 * null for "never". Strings are escaped per RFC 8259; bytes that are not
 * valid UTF-8 become U+FFFD so the output is always valid JSON. The
 * `stacks` table holds every stack a listed table or site names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "model/stack_namer.h"
#include "model/table_rules.h"
#include "tidemark/trace_format.h"

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "0.1.0"
#endif

int tm_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    int n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!n || (n == 2 && s[0] < 0xc2) || (n == 4 && s[0] > 0xf4)) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    /* no overlong 3- and 4-byte forms, no surrogates, nothing past U+10FFFF */
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

void tm_write_utf8(FILE *out, const char *s, const char *invalid,
                   void (*ascii)(FILE *out, unsigned char c))
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        int n = tm_utf8_len(p);
        if (n == 0) {
            fputs(invalid, out);
            p++;
        } else if (n > 1) {
            fwrite(p, 1, (size_t)n, out);
            p += n;
        } else {
            ascii(out, *p++);
        }
    }
}

static void json_ascii(FILE *out, unsigned char c)
{
    if (c == '"') fputs("\\\"", out);
    else if (c == '\\') fputs("\\\\", out);
    else if (c == '\n') fputs("\\n", out);
    else if (c == '\t') fputs("\\t", out);
    else if (c < 0x20 || c == 0x7f) fprintf(out, "\\u%04x", c);
    else fputc(c, out);
}

void tm_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    tm_write_utf8(out, s, "\\ufffd", json_ascii);
    fputc('"', out);
}

#define jstr tm_json_string

static void jtime(FILE *out, uint64_t t)
{
    if (t == TM_NO_TIME) fputs("null", out);
    else fprintf(out, "%llu", (unsigned long long)t);
}

static void ju(FILE *out, const char *key, uint64_t v, int comma)
{
    fprintf(out, "\"%s\": %llu%s", key, (unsigned long long)v, comma ? ", " : "");
}

static const char *end_why_name(uint32_t why)
{
    return why == TMK_END_EXIT ? "exit" : why == TMK_END_EXEC ? "exec"
                                        : why == TMK_END_SIGNAL ? "signal" : "unknown";
}

static void trace_obj(const struct tm_model *m, FILE *out)
{
    const struct tm_trace_info *i = &m->info;
    fputs("  \"trace\": {\"path\": ", out);
    jstr(out, i->path);
    fprintf(out, ", \"version\": \"%u.%u\", \"mode\": ", i->version_major, i->version_minor);
    jstr(out, i->mode);
    fputs(", ", out);
    ju(out, "pid", i->pid, 1);
    ju(out, "ppid", i->ppid, 1);
    ju(out, "start_realtime_ns", i->start_realtime_ns, 1);
    ju(out, "sample_interval", i->sample_interval, 1);
    ju(out, "duration_ns", i->duration_ns, 1);
    ju(out, "at_ns", i->at, 1);
    fprintf(out, "\"ended\": %s, \"end_why\": ", i->ended ? "true" : "false");
    if (i->ended) jstr(out, end_why_name(i->end_why));
    else fputs("null", out);
    fputs(", \"end_status\": ", out);
    if (i->ended) fprintf(out, "%u", i->end_status);
    else fputs("null", out);
    fprintf(out, ", \"truncated\": %s, ", i->truncated ? "true" : "false");
    ju(out, "records", i->records, 1);
    ju(out, "blocks", i->blocks, 1);
    ju(out, "threads", i->threads, 1);
    ju(out, "lost_events", i->lost_events, 1);
    ju(out, "contradictions", i->contradictions, 1);
    fputs("\"warnings\": [", out);
    for (size_t k = 0; k < i->n_warnings; k++) {
        if (k) fputs(", ", out);
        jstr(out, i->warnings[k]);
    }
    fprintf(out, "], \"running\": %s, ", i->running ? "true" : "false");
    ju(out, "max_bytes", i->bound_bytes, 1);
    fputs("\"bound_soft_ns\": ", out);
    if (i->bound_soft_t != TM_NO_TIME) fprintf(out, "%llu", (unsigned long long)i->bound_soft_t);
    else fputs("null", out);
    fputs(", \"bound_stop_ns\": ", out);
    if (i->bound_stop_t != TM_NO_TIME) fprintf(out, "%llu", (unsigned long long)i->bound_stop_t);
    else fputs("null", out);
    fputs(", \"notices\": [", out);
    for (size_t k = 0; k < i->n_notices; k++) {
        if (k) fputs(", ", out);
        jstr(out, i->notices[k]);
    }
    fputs("], \"probes_refused\": ", out);
    char e[24];
    if (i->probes_refused) jstr(out, tm_probe_error_name(i->probes_refused, e, sizeof e));
    else fputs("null", out);
    fputs(", \"probes_refused_ns\": ", out);
    if (i->probes_refused) fprintf(out, "%llu", (unsigned long long)i->probes_refused_t);
    else fputs("null", out);
    fprintf(out, ", \"tables_unread\": %llu},\n", (unsigned long long)i->tables_unread);
}

static void jstr_or_null(FILE *out, const char *s)
{
    if (s) jstr(out, s);
    else fputs("null", out);
}

static void table_obj(const struct tm_table *t, FILE *out)
{
    fputs("    {", out);
    ju(out, "id", t->id, 1);
    fputs("\"label\": ", out);
    jstr(out, t->label);
    fputs(", \"kind\": ", out);
    jstr(out, tm_table_kind_name(t->kind));
    fputs(", \"model\": ", out);
    jstr(out, tm_model_kind_name(t->model));
    fputs(", \"site\": ", out);
    jstr(out, t->site);
    fputs(", ", out);
    ju(out, "stack_id", t->stack_id, 1);
    fputs("\n     ", out);
    ju(out, "key_size", t->key_size, 1);
    ju(out, "value_size", t->value_size, 1);
    ju(out, "bucket_size", t->bucket_size, 1);
    ju(out, "slots_per_bucket", t->slots_per_bucket, 1);
    ju(out, "flags", t->flags, 1);
    ju(out, "hint", t->hint, 1);
    fputs("\"growth_rule\": ", out);
    if (t->grow_load_num || t->grow_load_den || t->grow_factor || t->min_buckets)
        fprintf(out, "{\"load_num\": %u, \"load_den\": %u, \"factor\": %u, \"min_buckets\": %u}",
                t->grow_load_num, t->grow_load_den, t->grow_factor, t->min_buckets);
    else
        fputs("null", out);
    fputs(", \"rule\": ", out); /* recognised, not annotated: the rule's name */
    jstr_or_null(out, t->rule ? t->rule->name : NULL);
    fputs(",\n     \"created_ns\": ", out);
    jtime(out, t->created_t);
    fputs(", \"ended_ns\": ", out);
    jtime(out, t->ended_t);
    fputs(", ", out);
    ju(out, "buckets", t->buckets_now, 1);
    ju(out, "buckets_peak", t->buckets_peak, 1);
    ju(out, "live", t->live_now, 1);
    ju(out, "live_low", t->live_lo, 1);
    ju(out, "live_peak", t->live_peak, 1);
    fputs("\"live_peak_ns\": ", out);
    jtime(out, t->live_peak_t);
    fprintf(out, ", \"live_peak_exact\": %s", t->live_peak_exact ? "true" : "false");
    fputs(",\n     ", out);
    ju(out, "held_bytes", t->held, 1);
    ju(out, "held_peak_bytes", t->held_peak, 1);
    fputs("\"held_peak_ns\": ", out);
    jtime(out, t->held_peak_t);
    fputs(", ", out);
    ju(out, "arrays_live", t->arrays_live, 1);
    ju(out, "growths", t->growths, 1);
    ju(out, "needed_bytes", t->needed, 1);
    fputs("\"needed_basis\": ", out);
    jstr(out, tm_needed_basis_name(t->needed_basis));
    fputs(", ", out);
    ju(out, "retained_bytes", t->retained, 1);
    fprintf(out, "\"retained_ratio\": %.4f, \"oversized_since_ns\": ",
            t->held ? (double)t->retained / (double)t->held : 0.0);
    jtime(out, t->oversized_since);
    fputs(",\n     ", out);
    ju(out, "last_live", t->last_live, 1);
    ju(out, "last_held_bytes", t->last_held, 1);
    ju(out, "last_needed_bytes", t->last_needed, 1);
    ju(out, "last_retained_bytes", t->last_retained, 1);
    fputs("\"last_oversized_since_ns\": ", out);
    jtime(out, t->last_oversized_since);
    fprintf(out, ", \"shrunk\": %s", t->shrunk ? "true" : "false");
    fputs(", \"verdict\": ", out);
    jstr(out, tm_verdict_name(t->verdict));
    fprintf(out, ", \"after_deletes\": %s", t->after_deletes ? "true" : "false");
    fputs(",\n     \"recommendations\": [", out);
    for (size_t k = 0; k < t->n_recs; k++) {
        fputs(k ? ",\n       {" : "\n       {", out);
        fputs("\"kind\": ", out);
        jstr(out, tm_rec_kind_name(t->recs[k].kind));
        fputs(", ", out);
        ju(out, "bytes_saved", t->recs[k].bytes_saved, 1);
        fputs("\"text\": ", out);
        jstr(out, t->recs[k].text);
        fputc('}', out);
    }
    fputs("],\n     \"timeline\": [", out);
    for (size_t k = 0; k < t->n_points; k++)
        fprintf(out, "%s[%llu, %llu, %llu]", k ? ", " : "",
                (unsigned long long)t->timeline[k].t, (unsigned long long)t->timeline[k].held,
                (unsigned long long)t->timeline[k].live);
    fputs("]}", out);
}

static void sites_arr(const char *key, const struct tm_site *s, size_t n, FILE *out)
{
    fprintf(out, "    \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n      {" : "\n      {", out);
        fputs("\"site\": ", out);
        jstr(out, s[i].site);
        fputs(", ", out);
        ju(out, "stack_id", s[i].stack_id, 1);
        ju(out, "bytes", s[i].bytes, 1);
        ju(out, "allocs", s[i].allocs, 0);
        fputc('}', out);
    }
    fputs("]", out);
}

static void heap_obj(const struct tm_model *m, FILE *out)
{
    const struct tm_heap *h = &m->heap;
    fprintf(out, "  \"heap\": {\"tracked\": %s, ", h->tracked ? "true" : "false");
    ju(out, "peak_bytes", h->peak_bytes, 1);
    fputs("\"peak_ns\": ", out);
    jtime(out, h->peak_t);
    fputs(", ", out);
    ju(out, "in_use_bytes", h->in_use, 1);
    ju(out, "live_allocs", h->live_allocs, 1);
    ju(out, "allocs", h->allocs, 1);
    ju(out, "frees", h->frees, 1);
    ju(out, "alloc_bytes", h->alloc_bytes, 1);
    ju(out, "rss_peak_bytes", h->rss_peak, 0);
    fputs(",\n", out);
    sites_arr("top_by_peak", h->top_peak, h->n_top_peak, out);
    fputs(",\n", out);
    sites_arr("top_at_end", h->top_end, h->n_top_end, out);
    fputs(",\n    \"timeline\": [", out);
    for (size_t k = 0; k < h->n_points; k++)
        fprintf(out, "%s[%llu, %llu, %llu]", k ? ", " : "",
                (unsigned long long)h->timeline[k].t, (unsigned long long)h->timeline[k].heap,
                (unsigned long long)h->timeline[k].rss);
    fputs("]},\n", out);
}

/* ---- stacks -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The nonzero stack ids the listed tables and sites name, sorted, unique. */
static size_t listed_stacks(const struct tm_model *m, size_t n_tables, uint64_t **out)
{
    const struct tm_heap *h = &m->heap;
    uint64_t *ids = malloc((n_tables + h->n_top_peak + h->n_top_end + 1) * sizeof *ids);
    *out = ids;
    if (!ids) return 0;
    size_t n = 0;
    for (size_t i = 0; i < n_tables; i++) ids[n++] = m->tables[i].stack_id;
    for (size_t i = 0; i < h->n_top_peak; i++) ids[n++] = h->top_peak[i].stack_id;
    for (size_t i = 0; i < h->n_top_end; i++) ids[n++] = h->top_end[i].stack_id;
    qsort(ids, n, sizeof *ids, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] && (!k || ids[k - 1] != ids[i])) ids[k++] = ids[i];
    return k;
}


static void frame_obj(const struct tm_frame_info *f, FILE *out)
{
    fputs("{\"function\": ", out);
    jstr_or_null(out, f->function);
    fputs(", \"file\": ", out);
    jstr_or_null(out, f->file);
    fprintf(out, ", \"line\": %u, \"module\": ", f->line);
    jstr_or_null(out, f->module);
    fprintf(out, ", \"address\": %llu, \"inlined\": %s}", (unsigned long long)f->addr,
            f->inlined ? "true" : "false");
}

static void stacks_arr(const struct tm_model *m, size_t n_tables, FILE *out)
{
    uint64_t *ids;
    size_t n = listed_stacks(m, n_tables, &ids);
    struct tm_stack_namer *names = n ? tm_stack_namer_new(m) : NULL;
    fputs("  \"stacks\": [", out);
    for (size_t i = 0; i < n; i++) {
        const struct tm_frame_info *f;
        const struct tm_stack *st = tm_model_stack(m, ids[i]);
        size_t depth = st ? tm_stack_namer_expand(names, st, &f) : 0;
        fprintf(out, "%s    {\"id\": %llu, \"frames\": [", i ? ",\n" : "\n",
                (unsigned long long)ids[i]);
        for (size_t k = 0; k < depth; k++) {
            fputs(k ? ",\n      " : "\n      ", out);
            frame_obj(&f[k], out);
        }
        fputs("]}", out);
    }
    fputs(n ? "\n  ]\n" : "]\n", out);
    tm_stack_namer_free(names);
    free(ids);
}

int tm_report_json(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    char line[512];
    tm_verdict_line(m, line, sizeof line);
    fputs("{\n  \"schema\": \"tidemark.report/1\",\n  \"schema_minor\": " TM_REPORT_SCHEMA_MINOR
          ",\n  \"tidemark_version\": ", out);
    jstr(out, TIDEMARK_VERSION);
    fputs(",\n", out);
    trace_obj(m, out);
    fprintf(out, "  \"thresholds\": {\"min_retained_bytes\": %llu, \"min_retained_ratio\": %.4f},\n",
            (unsigned long long)m->opts.min_retained, m->opts.min_ratio);
    fputs("  \"source_root\": ", out);
    if (m->opts.source_root) jstr(out, m->opts.source_root);
    else fputs("null", out);
    fputs(",\n", out);
    fputs("  \"summary\": {\"verdict\": ", out);
    jstr(out, line);
    fputs(", ", out);
    ju(out, "tables", m->n_tables, 1);
    ju(out, "oversized", m->n_oversized, 1);
    ju(out, "retained_bytes", m->total_retained, 1);
    ju(out, "top", o ? o->top : 0, 0);
    fputs("},\n  \"tables\": [", out);
    size_t n = m->n_tables;
    if (o && o->top && o->top < n) n = o->top;
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n" : "\n", out);
        table_obj(&m->tables[i], out);
    }
    fputs(n ? "\n  ],\n" : "],\n", out);
    heap_obj(m, out);
    stacks_arr(m, n, out);
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}
