/* analyzer/cmd_diff.c - `tidemark diff OLD NEW`: what changed per table
 * (matched by site, label and kind) and per allocation site still holding
 * bytes at the end. OLD and NEW are traces or JSON reports, in any mix. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_common.h"
#include "report.h"
#include "snapshot.h"

static const char diff_usage[] =
    "usage: tidemark diff OLD NEW [analysis flags]\n"
    "What changed between two runs: per table (matched by creation site, label\n"
    "and kind) retained and held bytes, and per allocation site the bytes still\n"
    "allocated at the end. OLD and NEW are traces or JSON reports. Sites match\n"
    "by their last path component, whatever directory each report was made in;\n"
    "a table missing from a --top report is shown as not listed (unknown).\n"
    ANALYSIS_FLAGS_HELP
    "\n"
    "exit status: 0 compared, 2 bad flag or unreadable input.\n";

static void delta(char *buf, size_t len, uint64_t a, uint64_t b)
{
    char h[32];
    tm_human_bytes(a > b ? a - b : b - a, h, sizeof h);
    snprintf(buf, len, "%s%s", a == b ? "" : b > a ? "+" : "-", a == b ? "=" : h);
}

/* A table listed on one side only, when the other side is a --top report
 * that may have left it out: its figures there are unknown. */
static void print_unlisted(const struct snap_table *t, const char *side, int old_side)
{
    char r[32], h[32];
    tm_human_bytes(t->retained, r, sizeof r);
    tm_human_bytes(t->held, h, sizeof h);
    if (old_side)
        printf("  %-40s [not listed in %s] %10s -> ?  held %s -> ?\n", t->site, side, r, h);
    else
        printf("  %-40s [not listed in %s] ? -> %10s  held ? -> %s\n", t->site, side, r, h);
}

static void print_tables(const struct snapshot *o, const struct snapshot *n)
{
    char a[32], b[32], d[48], ha[32], hb[32];
    printf("tables (retained old -> new, held old -> new)\n");
    for (size_t i = 0; i < n->nt; i++) {
        const struct snap_table *t = &n->t[i], *p = snapshot_find(o, t->key);
        if (!p && o->partial) {
            print_unlisted(t, "OLD (--top)", 0);
            continue;
        }
        uint64_t r0 = p ? p->retained : 0, h0 = p ? p->held : 0;
        tm_human_bytes(r0, a, sizeof a);
        tm_human_bytes(t->retained, b, sizeof b);
        tm_human_bytes(h0, ha, sizeof ha);
        tm_human_bytes(t->held, hb, sizeof hb);
        delta(d, sizeof d, r0, t->retained);
        printf("  %-40s %s%10s -> %10s (%s)  held %s -> %s\n", t->site, p ? "" : "[new] ", a, b,
               d, ha, hb);
    }
    for (size_t i = 0; i < o->nt; i++)
        if (!snapshot_find(n, o->t[i].key) && n->partial)
            print_unlisted(&o->t[i], "NEW (--top)", 1);
        else if (!snapshot_find(n, o->t[i].key)) {
            tm_human_bytes(o->t[i].retained, a, sizeof a);
            printf("  %-40s [gone] %10s -> 0 B\n", o->t[i].site, a);
        }
}

static void print_sites(const struct snapshot *o, const struct snapshot *n)
{
    char a[32], b[32], d[48];
    printf("allocation sites (bytes still allocated at the end, old -> new)\n");
    for (size_t i = 0; i < n->ns; i++) {
        const struct snap_site *s = &n->s[i], *p = snapshot_site(o, s->site);
        uint64_t b0 = p ? p->bytes : 0;
        tm_human_bytes(b0, a, sizeof a);
        tm_human_bytes(s->bytes, b, sizeof b);
        delta(d, sizeof d, b0, s->bytes);
        printf("  %-40s %10s -> %10s (%s)\n", s->site, a, b, d);
    }
    for (size_t i = 0; i < o->ns; i++)
        if (!snapshot_site(n, o->s[i].site)) {
            tm_human_bytes(o->s[i].bytes, a, sizeof a);
            printf("  %-40s %10s -> 0 B (gone)\n", o->s[i].site, a);
        }
}

int cmd_diff(int argc, char **argv)
{
    struct tm_options opt;
    tm_options_default(&opt);
    const char *paths[2] = {NULL, NULL};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        int err = 0;
        if (cli_is_help(argv[i])) {
            fputs(diff_usage, stdout);
            return 0;
        }
        if (report_parse_common(argc, argv, &i, &opt, &err)) {
            if (err) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("diff: unknown option '%s' (see tidemark diff --help)", argv[i]);
            return 2;
        } else if (np < 2) {
            paths[np++] = argv[i];
        } else {
            cli_error("diff: expected OLD and NEW ('%s' is extra)", argv[i]);
            return 2;
        }
    }
    if (np != 2) {
        cli_error("diff: expected OLD and NEW (see tidemark diff --help)");
        return 2;
    }
    struct snapshot o, n;
    if (snapshot_load(paths[0], &opt, &o)) return 2;
    if (snapshot_load(paths[1], &opt, &n)) {
        snapshot_free(&o);
        return 2;
    }
    char a[32], b[32], d[48];
    tm_human_bytes(o.total_retained, a, sizeof a);
    tm_human_bytes(n.total_retained, b, sizeof b);
    delta(d, sizeof d, o.total_retained, n.total_retained);
    printf("retained by tables: %s -> %s (%s)\n", a, b, d);
    tm_human_bytes(o.heap_peak, a, sizeof a);
    tm_human_bytes(n.heap_peak, b, sizeof b);
    delta(d, sizeof d, o.heap_peak, n.heap_peak);
    printf("heap peak: %s -> %s (%s)\n", a, b, d);
    print_tables(&o, &n);
    print_sites(&o, &n);
    snapshot_free(&o);
    snapshot_free(&n);
    return fflush(stdout) ? 2 : 0;
}
