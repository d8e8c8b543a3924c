/* analyzer/snapshot.c - see snapshot.h. */
#include "snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_read.h"
#include "report.h"

#define MAX_REPORT_BYTES (256u << 20)

static char *make_key(const struct snapshot *s, const char *site, const char *label,
                      const char *kind)
{
    char base[1024];
    snprintf(base, sizeof base, "%s|%s|%s", snapshot_site_key(site), label, kind);
    size_t n = 0, bl = strlen(base);
    for (size_t i = 0; i < s->nt; i++)
        if (strncmp(s->t[i].key, base, bl) == 0 && s->t[i].key[bl] == '#') n++;
    char key[1100];
    snprintf(key, sizeof key, "%s#%zu", base, n);
    return strdup(key);
}

static int add_table(struct snapshot *s, const char *site, const char *label, const char *kind,
                     struct snap_table t)
{
    struct snap_table *v = realloc(s->t, (s->nt + 1) * sizeof *v);
    if (!v) return -1;
    s->t = v;
    t.key = make_key(s, site, label, kind);
    t.site = strdup(site);
    t.label = strdup(label);
    if (!t.key || !t.site || !t.label) return -1;
    s->t[s->nt++] = t;
    return 0;
}

static int add_site(struct snapshot *s, const char *site, uint64_t bytes)
{
    struct snap_site *v = realloc(s->s, (s->ns + 1) * sizeof *v);
    if (!v) return -1;
    s->s = v;
    if (!(v[s->ns].site = strdup(site))) return -1;
    v[s->ns++].bytes = bytes;
    return 0;
}

int snapshot_from_model(const struct tm_model *m, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < m->n_tables; i++) {
        const struct tm_table *t = &m->tables[i];
        struct snap_table st = {NULL, NULL, NULL, t->id, t->retained, t->held, t->needed,
                                t->live_now, t->live_peak, t->verdict == TM_VERDICT_OVERSIZED};
        if (add_table(s, t->site, t->label, tm_table_kind_name(t->kind), st)) return -1;
    }
    for (size_t i = 0; i < m->heap.n_top_end; i++)
        if (add_site(s, m->heap.top_end[i].site, m->heap.top_end[i].bytes)) return -1;
    s->n_tables = m->n_tables;
    s->total_retained = m->total_retained;
    s->heap_peak = m->heap.peak_bytes;
    s->heap_in_use = m->heap.in_use;
    s->truncated = m->info.truncated;
    return 0;
}

static int from_json(const struct jv *root, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    const struct jv *tables = json_get(root, "tables");
    for (size_t i = 0; tables && tables->type == J_ARR && i < tables->n; i++) {
        const struct jv *t = &tables->items[i];
        const char *verdict = json_s(t, "verdict", "");
        struct snap_table st = {NULL, NULL, NULL, json_u(t, "id", 0),
                                json_u(t, "retained_bytes", 0), json_u(t, "held_bytes", 0),
                                json_u(t, "needed_bytes", 0), json_u(t, "live", 0),
                                json_u(t, "live_peak", 0), strcmp(verdict, "oversized") == 0};
        if (add_table(s, json_s(t, "site", "?"), json_s(t, "label", ""),
                      json_s(t, "kind", "?"), st))
            return -1;
    }
    const struct jv *heap = json_get(root, "heap");
    const struct jv *sites = json_get(heap, "top_at_end");
    for (size_t i = 0; sites && sites->type == J_ARR && i < sites->n; i++)
        if (add_site(s, json_s(&sites->items[i], "site", "?"), json_u(&sites->items[i], "bytes", 0)))
            return -1;
    const struct jv *summary = json_get(root, "summary");
    s->total_retained = json_u(summary, "retained_bytes", 0);
    s->n_tables = json_u(summary, "tables", s->nt);
    s->top = json_u(summary, "top", 0);
    /* also a report from before "top" existed: fewer tables than counted */
    s->partial = s->n_tables > s->nt;
    s->heap_peak = json_u(heap, "peak_bytes", 0);
    s->heap_in_use = json_u(heap, "in_use_bytes", 0);
    const struct jv *tr = json_get(json_get(root, "trace"), "truncated");
    s->truncated = tr && tr->type == J_BOOL && tr->b;
    return 0;
}

static int load_json(const char *path, FILE *f, struct snapshot *s)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = cap > MAX_REPORT_BYTES ? NULL : realloc(buf, cap);
            if (!b) {
                free(buf);
                cli_error("%s: report too large", path);
                return -1;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    char err[200];
    struct jv *root = json_parse(buf, n, err, sizeof err);
    free(buf);
    if (!root) {
        cli_error("%s: not a JSON report (%s)", path, err);
        return -1;
    }
    const char *schema = json_s(root, "schema", NULL);
    int rc = -1;
    if (!schema || strcmp(schema, "tidemark.report/1") != 0)
        cli_error("%s: not a tidemark report (schema '%s', expected tidemark.report/1)", path,
                  schema ? schema : "missing");
    else if (from_json(root, s))
        cli_error("%s: out of memory", path);
    else
        rc = 0;
    json_free(root);
    return rc;
}

int snapshot_load(const char *path, const struct tm_options *o, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\t' || c == '\r') {}
    if (c == '{') {
        rewind(f);
        int rc = load_json(path, f, s);
        fclose(f);
        return rc;
    }
    fclose(f);
    struct tm_model m;
    char err[512];
    if (tm_analyze(path, o, &m, err, sizeof err) != TM_EXIT_OK) {
        cli_error("%s: %s", path, err);
        return -1;
    }
    tm_print_notices(&m, path, stdout); /* diff: still running, TIDEMARK_MAX_BYTES */
    int rc = snapshot_from_model(&m, s);
    tm_model_free(&m);
    if (rc) cli_error("out of memory");
    return rc;
}

void snapshot_free(struct snapshot *s)
{
    for (size_t i = 0; i < s->nt; i++) {
        free(s->t[i].key);
        free(s->t[i].site);
        free(s->t[i].label);
    }
    for (size_t i = 0; i < s->ns; i++) free(s->s[i].site);
    free(s->t);
    free(s->s);
    memset(s, 0, sizeof *s);
}

const struct snap_table *snapshot_find(const struct snapshot *s, const char *key)
{
    for (size_t i = 0; i < s->nt; i++)
        if (strcmp(s->t[i].key, key) == 0) return &s->t[i];
    return NULL;
}

const char *snapshot_site_key(const char *site)
{
    const char *slash = strrchr(site, '/');
    return slash ? slash + 1 : site;
}

const struct snap_site *snapshot_site(const struct snapshot *s, const char *site)
{
    const char *key = snapshot_site_key(site);
    for (size_t i = 0; i < s->ns; i++)
        if (strcmp(snapshot_site_key(s->s[i].site), key) == 0) return &s->s[i];
    return NULL;
}
