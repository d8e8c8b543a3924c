/* analyzer/cli/snapshot.c - see snapshot.h: the figures check and diff compare,
 * from a trace or a JSON report, and the matching of tables across runs. */
#include "snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json_read.h"
#include "read/reader.h"
#include "report/report.h"

#define MAX_REPORT_BYTES (256u << 20)

static int add_table(struct snapshot *s, const char *site, const char *label, const char *kind,
                     struct snap_table t)
{
    struct snap_table *v = realloc(s->t, (s->nt + 1) * sizeof *v);
    if (!v) return -1;
    s->t = v;
    t.site = strdup(site);
    t.label = strdup(label);
    t.kind = strdup(kind);
    s->t[s->nt++] = t; /* freed by snapshot_free, also when a strdup failed */
    return t.site && t.label && t.kind ? 0 : -1;
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
        struct snap_table st = {.id = t->id, .retained = t->retained, .held = t->held,
                                .needed = t->needed, .live = t->live_now,
                                .live_peak = t->live_peak,
                                .oversized = t->verdict == TM_VERDICT_OVERSIZED,
                                .after_deletes = t->after_deletes,
                                .ended = t->ended_t != TM_NO_TIME,
                                .ended_oversized = tm_table_kept_oversized(t),
                                .last_retained = t->last_retained,
                                .last_held = t->last_held};
        if (add_table(s, t->site, t->label, tm_table_kind_name(t->kind), st)) return -1;
    }
    for (size_t i = 0; i < m->heap.n_top_end; i++)
        if (add_site(s, m->heap.top_end[i].site, m->heap.top_end[i].bytes)) return -1;
    s->n_tables = m->n_tables;
    s->total_retained = m->total_retained;
    s->heap_peak = m->heap.peak_bytes;
    s->heap_in_use = m->heap.in_use;
    s->heap_tracked = m->heap.tracked;
    s->truncated = m->info.truncated;
    if (m->info.probes_refused) {
        char e[sizeof s->probes_refused];
        snprintf(s->probes_refused, sizeof s->probes_refused, "%s",
                 tm_probe_error_name(m->info.probes_refused, e, sizeof e));
    }
    s->tables_unread = m->info.tables_unread;
    return 0;
}

static int json_true(const struct jv *obj, const char *key, int dflt)
{
    const struct jv *v = json_get(obj, key);
    return v && v->type == J_BOOL ? v->b : dflt;
}

static int from_json(const struct jv *root, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    const struct jv *tables = json_get(root, "tables");
    for (size_t i = 0; tables && tables->type == J_ARR && i < tables->n; i++) {
        const struct jv *t = &tables->items[i];
        const char *verdict = json_s(t, "verdict", "");
        struct snap_table st = {.id = json_u(t, "id", 0),
                                .retained = json_u(t, "retained_bytes", 0),
                                .held = json_u(t, "held_bytes", 0),
                                .needed = json_u(t, "needed_bytes", 0),
                                .live = json_u(t, "live", 0),
                                .live_peak = json_u(t, "live_peak", 0),
                                .oversized = strcmp(verdict, "oversized") == 0};
        /* schema minor 0 had no after_deletes: the same rule from the figures */
        st.ended = strcmp(verdict, "ended") == 0 || strcmp(verdict, "leaked") == 0;
        st.after_deletes = json_true(t, "after_deletes", !st.ended && st.live < st.live_peak);
        /* minor 2: what an ended table kept until its end */
        const struct jv *since = json_get(t, "last_oversized_since_ns");
        st.ended_oversized = st.ended && since && since->type == J_NUM &&
                             json_u(t, "last_oversized_since_ns", 0) < json_u(t, "ended_ns", 0);
        st.last_retained = json_u(t, "last_retained_bytes", 0);
        st.last_held = json_u(t, "last_held_bytes", 0);
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
    s->heap_tracked = json_true(heap, "tracked", 1);
    const struct jv *trace = json_get(root, "trace");
    s->truncated = json_true(trace, "truncated", 0);
    /* minor 3: the shim could not read the tables' contents */
    snprintf(s->probes_refused, sizeof s->probes_refused, "%s",
             json_s(trace, "probes_refused", ""));
    s->tables_unread = json_u(trace, "tables_unread", 0);
    s->from_report = 1;
    s->minor = json_u(root, "schema_minor", 0);
    return 0;
}

int snapshot_judge_until_freed(struct snapshot *s, const char *cmd, const char *path)
{
    if (s->from_report && s->minor < 2) {
        cli_error("%s: %s is a report of schema minor %llu, without what ended tables held "
                  "right before (minor 2); cannot judge --until-freed (write it again with this "
                  "tidemark)", cmd, path, (unsigned long long)s->minor);
        return -1;
    }
    snapshot_until_freed(s);
    return 0;
}

void snapshot_until_freed(struct snapshot *s)
{
    for (size_t i = 0; i < s->nt; i++) {
        struct snap_table *t = &s->t[i];
        if (!t->ended_oversized) continue;
        t->retained = t->last_retained;
        t->held = t->last_held;
        t->ended = 0;
        t->oversized = 1;
        t->after_deletes = 1;
        t->until_freed = 1;
        s->total_retained += t->last_retained;
    }
}

void snapshot_rejudge(struct snapshot *s, uint64_t min_retained, double min_ratio)
{
    for (size_t i = 0; i < s->nt; i++) {
        struct snap_table *t = &s->t[i];
        t->oversized = !t->ended && t->retained > 0 && t->retained >= min_retained &&
                       (double)t->retained >= min_ratio * (double)t->held;
    }
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
    if (!schema || strcmp(schema, "tidemark.report/1") != 0) {
        cli_error("%s: not a tidemark report (schema '%s', expected tidemark.report/1)", path,
                  schema ? schema : "missing");
    } else if (from_json(root, s)) {
        cli_error("%s: out of memory", path);
        snapshot_free(s);
    } else {
        rc = 0;
    }
    json_free(root);
    return rc;
}

int snapshot_load(const char *path, const struct tm_options *o, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    char why[512];
    int fd = tm_open_input(path, why, sizeof why); /* never blocks on a FIFO */
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (fd >= 0) {
            snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
            close(fd);
        }
        cli_error("%s: %s", path, why);
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
    /* still running, TIDEMARK_MAX_BYTES: on stderr, out of check's JSON/JUnit */
    tm_print_notices(&m, path, stderr);
    int rc = snapshot_from_model(&m, s);
    tm_model_free(&m);
    if (rc) {
        cli_error("out of memory");
        snapshot_free(s);
    }
    return rc;
}

void snapshot_free(struct snapshot *s)
{
    for (size_t i = 0; i < s->nt; i++) {
        free(s->t[i].site);
        free(s->t[i].label);
        free(s->t[i].kind);
    }
    for (size_t i = 0; i < s->ns; i++) free(s->s[i].site);
    free(s->t);
    free(s->s);
    memset(s, 0, sizeof *s);
}

int snapshot_merge(struct snapshot *s, struct snapshot *from, const char *trace)
{
    struct snap_table *t = from->nt ? realloc(s->t, (s->nt + from->nt) * sizeof *t) : s->t;
    if (from->nt && !t) {
        snapshot_free(from);
        return -1;
    }
    s->t = t;
    for (size_t i = 0; i < from->nt; i++) {
        s->t[s->nt] = from->t[i];
        s->t[s->nt++].trace = trace;
    }
    from->nt = 0;
    s->total_retained += from->total_retained;
    s->n_tables += from->n_tables;
    s->tables_unread += from->tables_unread;
    if (!s->probes_refused[0]) memcpy(s->probes_refused, from->probes_refused, sizeof s->probes_refused);
    s->truncated |= from->truncated;
    s->merged += 1 + from->merged;
    snapshot_free(from);
    return 0;
}

/* ---- matching ------------------------------------------------------------ */

int snapshot_site_file_line(const char *site, size_t *file_len, uint64_t *line)
{
    const char *colon = strrchr(site, ':');
    if (!colon || colon == site || !colon[1]) return 0;
    uint64_t v = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > UINT64_MAX / 10 - 9) return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *file_len = (size_t)(colon - site);
    *line = v;
    return 1;
}

static const char *without_dot_slash(const char *s)
{
    while (s[0] == '.' && s[1] == '/') s += 2;
    return s;
}

/* a and b (n bytes each at most) name the same path: equal, or one is the
 * other with leading directories. */
static int same_path(const char *a, size_t la, const char *b, size_t lb)
{
    if (la < lb) {
        const char *t = a;
        size_t tl = la;
        a = b, la = lb, b = t, lb = tl;
    }
    /* a is the longer one */
    return memcmp(a + la - lb, b, lb) == 0 && (la == lb || a[la - lb - 1] == '/');
}

static int same_site(const char *a, const char *b)
{
    a = without_dot_slash(a);
    b = without_dot_slash(b);
    return same_path(a, strlen(a), b, strlen(b));
}

static const char *last_component(const char *site)
{
    const char *slash = strrchr(site, '/');
    return slash ? slash + 1 : site;
}

static int same_last_component(const char *a, const char *b)
{
    return strcmp(last_component(a), last_component(b)) == 0;
}

/* The same file by its name (last component), the line aside. */
static int same_file(const char *a, const char *b)
{
    size_t fa, fb;
    uint64_t la, lb;
    if (!snapshot_site_file_line(a, &fa, &la) || !snapshot_site_file_line(b, &fb, &lb)) return 0;
    const char *na = last_component(a), *nb = last_component(b);
    size_t ka = fa - (size_t)(na - a), kb = fb - (size_t)(nb - b);
    return ka == kb && memcmp(na, nb, ka) == 0;
}

enum pass { BY_SITE_LABEL, BY_SITE, BY_NAME_LABEL, BY_FILE_LABEL };

static int pairs(enum pass p, const struct snap_table *a, const struct snap_table *b)
{
    if (strcmp(a->kind, b->kind) != 0) return 0;
    if (p != BY_SITE && strcmp(a->label, b->label) != 0) return 0;
    switch (p) {
    case BY_SITE_LABEL:
    case BY_SITE: return same_site(a->site, b->site);
    case BY_NAME_LABEL: return same_last_component(a->site, b->site);
    case BY_FILE_LABEL: return same_file(a->site, b->site);
    }
    return 0;
}

int snapshot_match(const struct snapshot *old, const struct snapshot *cur, size_t *partner)
{
    char *used = calloc(old->nt ? old->nt : 1, 1);
    if (!used) return -1;
    for (size_t i = 0; i < cur->nt; i++) partner[i] = SNAP_NONE;
    for (enum pass p = BY_SITE_LABEL; p <= BY_FILE_LABEL; p++)
        for (size_t i = 0; i < cur->nt; i++) {
            if (partner[i] != SNAP_NONE) continue;
            for (size_t j = 0; j < old->nt; j++)
                if (!used[j] && pairs(p, &cur->t[i], &old->t[j])) {
                    partner[i] = j;
                    used[j] = 1;
                    break;
                }
        }
    free(used);
    return 0;
}

const struct snap_site *snapshot_site(const struct snapshot *s, const char *site)
{
    for (size_t i = 0; i < s->ns; i++)
        if (same_site(s->s[i].site, site)) return &s->s[i];
    for (size_t i = 0; i < s->ns; i++)
        if (same_last_component(s->s[i].site, site)) return &s->s[i];
    return NULL;
}
