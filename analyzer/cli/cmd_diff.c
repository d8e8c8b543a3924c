/* analyzer/cli/cmd_diff.c - `tidemark diff OLD NEW`: what changed per table
 * (matched by kind and site, then label: snapshot.h) and per allocation site
 * still holding bytes at the end. OLD and NEW are traces or JSON reports, in
 * any mix. A table on one side only is [new] or [gone], with "-" for the
 * side where it did not exist. --fail-on-increase makes it a gate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_common.h"
#include "gates.h"
#include "report/report.h"
#include "snapshot.h"

static const char diff_usage[] =
    "usage: tidemark diff OLD NEW [--fail-on-increase SIZE|PCT%] [analysis flags]\n"
    "What changed between two runs: per table (matched by kind and creation site,\n"
    "then label) retained and held bytes, and per allocation site the bytes still\n"
    "allocated at the end. OLD and NEW are traces or JSON reports. A site given\n"
    "with more leading directories on one side matches the same file:line on the\n"
    "other; a table missing from a --top report is shown as not listed (unknown).\n"
    "  --fail-on-increase T  exit 1 when a table's retained bytes (or the total) grew\n"
    "                        by more than T: SIZE bytes, or PCT% of OLD's and at\n"
    "                        least --min-retained; a new table counts from 0\n"
    ANALYSIS_FLAGS_HELP
    "\n"
    "exit status: 0 compared (and nothing grew past --fail-on-increase), 1 an\n"
    "increase past --fail-on-increase, 2 bad flag or unreadable input.\n";

/* "=", "+16.0 MiB, +100.2%", "+16.0 MiB" (from 0), "-255.0 MiB, -87.0%" */
static void delta(char *buf, size_t len, uint64_t a, uint64_t b)
{
    char h[32];
    if (a == b) {
        snprintf(buf, len, "=");
        return;
    }
    tm_human_bytes(a > b ? a - b : b - a, h, sizeof h);
    if (a == 0) snprintf(buf, len, "+%s", h);
    else
        snprintf(buf, len, "%s%s, %s%.1f%%", b > a ? "+" : "-", h, b > a ? "+" : "-",
                 100.0 * (double)(a > b ? a - b : b - a) / (double)a);
}

static const char *hb(uint64_t v, char *buf, size_t len)
{
    tm_human_bytes(v, buf, len);
    return buf;
}

/* A table listed on one side only, when the other side is a --top report
 * that may have left it out: its figures there are unknown. */
static void print_unlisted(const struct snap_table *t, const char *side, int old_side)
{
    char r[32], h[32];
    hb(t->retained, r, sizeof r);
    hb(t->held, h, sizeof h);
    if (old_side)
        printf("  %-40s [not listed in %s] %10s -> ?  held %s -> ?\n", t->site, side, r, h);
    else
        printf("  %-40s [not listed in %s] ? -> %10s  held ? -> %s\n", t->site, side, r, h);
}

static void print_tables(const struct snapshot *o, const struct snapshot *n, const size_t *partner)
{
    char a[32], b[32], d[64], ha[32], hb2[32];
    char *old_seen = calloc(o->nt ? o->nt : 1, 1);
    printf("tables (retained old -> new, held old -> new)\n");
    for (size_t i = 0; i < n->nt; i++) {
        const struct snap_table *t = &n->t[i];
        if (partner[i] == SNAP_NONE && o->partial) {
            print_unlisted(t, "OLD (--top)", 0);
        } else if (partner[i] == SNAP_NONE) {
            printf("  %-40s [new] %10s -> %10s (new)  held - -> %s\n", t->site, "-",
                   hb(t->retained, b, sizeof b), hb(t->held, hb2, sizeof hb2));
        } else {
            const struct snap_table *p = &o->t[partner[i]];
            if (old_seen) old_seen[partner[i]] = 1;
            delta(d, sizeof d, p->retained, t->retained);
            printf("  %-40s %10s -> %10s (%s)  held %s -> %s\n", t->site,
                   hb(p->retained, a, sizeof a), hb(t->retained, b, sizeof b), d,
                   hb(p->held, ha, sizeof ha), hb(t->held, hb2, sizeof hb2));
        }
    }
    for (size_t i = 0; i < o->nt; i++) {
        if (!old_seen || old_seen[i]) continue;
        if (n->partial) print_unlisted(&o->t[i], "NEW (--top)", 1);
        else
            printf("  %-40s [gone] %10s -> %10s (gone)  held %s -> -\n", o->t[i].site,
                   hb(o->t[i].retained, a, sizeof a), "-", hb(o->t[i].held, ha, sizeof ha));
    }
    free(old_seen);
}

static void print_sites(const struct snapshot *o, const struct snapshot *n)
{
    char a[32], b[32], d[64];
    printf("allocation sites (bytes still allocated at the end, old -> new)\n");
    for (size_t i = 0; i < n->ns; i++) {
        const struct snap_site *s = &n->s[i], *p = snapshot_site(o, s->site);
        if (!p) {
            printf("  %-40s %10s -> %10s (new)\n", s->site, "-", hb(s->bytes, b, sizeof b));
            continue;
        }
        delta(d, sizeof d, p->bytes, s->bytes);
        printf("  %-40s %10s -> %10s (%s)\n", s->site, hb(p->bytes, a, sizeof a),
               hb(s->bytes, b, sizeof b), d);
    }
    for (size_t i = 0; i < o->ns; i++)
        if (!snapshot_site(n, o->s[i].site))
            printf("  %-40s %10s -> %10s (gone)\n", o->s[i].site, hb(o->s[i].bytes, a, sizeof a),
                   "-");
}

/* --fail-on-increase: one line per increase past the tolerance; 1 if any. */
static int increases(const struct snapshot *o, const struct snapshot *n, const size_t *partner,
                     const struct tolerance *tol, uint64_t floor)
{
    char t[32], d[64];
    int found = 0;
    tolerance_text(tol, t, sizeof t);
    for (size_t i = 0; i < n->nt; i++) {
        if (partner[i] == SNAP_NONE && o->partial) continue; /* unknown in OLD */
        uint64_t before = partner[i] == SNAP_NONE ? 0 : o->t[partner[i]].retained;
        if (!tolerance_exceeded(tol, before, n->t[i].retained, floor)) continue;
        delta(d, sizeof d, before, n->t[i].retained);
        printf("increase: %s%s retained %s > --fail-on-increase %s\n",
               partner[i] == SNAP_NONE ? "new table " : "", n->t[i].site, d, t);
        found = 1;
    }
    if (tolerance_exceeded(tol, o->total_retained, n->total_retained, floor)) {
        delta(d, sizeof d, o->total_retained, n->total_retained);
        printf("increase: total retained %s > --fail-on-increase %s\n", d, t);
        found = 1;
    }
    return found;
}

static int parse(int argc, char **argv, struct tm_options *opt, const char **paths,
                 struct tolerance *tol, int *has_tol)
{
    int np = 0;
    for (int i = 1; i < argc; i++) {
        int err = 0, missing = 0;
        const char *v;
        if ((v = cli_opt(argc, argv, &i, "--fail-on-increase", &missing))) {
            if (tolerance_parse(v, tol)) {
                cli_error("--fail-on-increase: bad value '%s' (expected SIZE or PCT%%)", v);
                return -1;
            }
            *has_tol = 1;
        } else if (cmd_parse_analysis_flag(argc, argv, &i, opt, &err)) {
            if (err) return -1;
        } else if (missing) {
            cli_error("%s: needs a value", argv[i]);
            return -1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("diff: unknown option '%s' (see tidemark diff --help)", argv[i]);
            return -1;
        } else if (np < 2) {
            paths[np++] = argv[i];
        } else {
            cli_error("diff: expected OLD and NEW ('%s' is extra)", argv[i]);
            return -1;
        }
    }
    if (np != 2) {
        cli_error("diff: expected OLD and NEW (see tidemark diff --help)");
        return -1;
    }
    return 0;
}

int cmd_diff(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            fputs(diff_usage, stdout);
            return 0;
        }
    struct tm_options opt;
    tm_options_default(&opt);
    const char *paths[2] = {NULL, NULL};
    struct tolerance tol;
    int has_tol = 0;
    if (parse(argc, argv, &opt, paths, &tol, &has_tol)) return 2;
    cmd_default_source_root(&opt);
    struct snapshot o, n;
    if (snapshot_load(paths[0], &opt, &o)) return 2;
    if (snapshot_load(paths[1], &opt, &n)) {
        snapshot_free(&o);
        return 2;
    }
    size_t *partner = malloc((n.nt ? n.nt : 1) * sizeof *partner);
    if (!partner || snapshot_match(&o, &n, partner)) {
        cli_error("out of memory");
        free(partner);
        snapshot_free(&o);
        snapshot_free(&n);
        return 2;
    }
    char a[32], b[32], d[64];
    delta(d, sizeof d, o.total_retained, n.total_retained);
    printf("retained by tables: %s -> %s (%s)\n", hb(o.total_retained, a, sizeof a),
           hb(n.total_retained, b, sizeof b), d);
    delta(d, sizeof d, o.heap_peak, n.heap_peak);
    printf("heap peak: %s -> %s (%s)\n", hb(o.heap_peak, a, sizeof a), hb(n.heap_peak, b, sizeof b),
           d);
    print_tables(&o, &n, partner);
    print_sites(&o, &n);
    int grew = has_tol && increases(&o, &n, partner, &tol, opt.min_retained);
    free(partner);
    snapshot_free(&o);
    snapshot_free(&n);
    return fflush(stdout) ? 2 : grew ? 1 : 0;
}
