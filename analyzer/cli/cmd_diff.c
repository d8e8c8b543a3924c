/* analyzer/cli/cmd_diff.c - `tidemark diff OLD NEW`: what changed per table
 * (matched by kind and site, then label: snapshot.h) and per allocation site
 * still holding bytes at the end. OLD and NEW are traces or JSON reports, in
 * any mix. A table on one side only is [new] or [gone], with "-" for the
 * side where it did not exist. --fail-on-increase makes it a gate.
 *
 * Only like with like: a side that does not track the heap (a tables-mode
 * or sampled trace, or its report) has its heap peak shown as "not tracked"
 * and no allocation site compared; a truncated side is said first, its heap
 * peak not compared, and the gate refuses it without --allow-truncated (as
 * check does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_common.h"
#include "gates.h"
#include "report/report.h"
#include "snapshot.h"

static const char diff_usage[] =
    "usage: tidemark diff OLD NEW [--fail-on-increase SIZE|PCT%] [--allow-truncated]\n"
    "                     [--until-freed] [analysis flags]\n"
    "What changed between two runs: per table (matched by kind and creation site,\n"
    "then label) retained and held bytes, and per allocation site the bytes still\n"
    "allocated at the end. OLD and NEW are traces or JSON reports. A site given\n"
    "with more leading directories on one side matches the same file:line on the\n"
    "other; a table missing from a --top report is shown as not listed (unknown).\n"
    "The heap of a tables-mode or sampled trace is not tracked: its peak and its\n"
    "sites are not compared. A truncated side is named first; its heap peak is not\n"
    "compared.\n"
    "  --fail-on-increase T  exit 1 when a table's retained bytes (or the total) grew\n"
    "                        by more than T: SIZE bytes, or PCT% of OLD's and at\n"
    "                        least --min-retained; a new table counts from 0\n"
    "  --allow-truncated     let --fail-on-increase judge a truncated OLD or NEW\n"
    "                        (what is complete) instead of refusing\n"
    "  --until-freed         compare a table freed while oversized (a program that\n"
    "                        frees its tables as it ends: CPython finalizing, C++\n"
    "                        leaving main) by what it held and retained until then,\n"
    "                        on both sides (as check --until-freed); its row says\n"
    "                        \"until freed\"\n"
    ANALYSIS_FLAGS_HELP
    "\n"
    "exit status: 0 compared (and nothing grew past --fail-on-increase), 1 an\n"
    "increase past --fail-on-increase, 2 bad flag, unreadable input, a truncated\n"
    "side with --fail-on-increase and without --allow-truncated, a report older\n"
    "than schema minor 2 with --until-freed, or an output that cannot be written.\n";

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

/* --until-freed: a side judged by what its table held until it was freed. */
static const char *until_freed_note(const struct snap_table *a, const struct snap_table *b)
{
    if (a && a->until_freed && b && b->until_freed) return "  (until freed)";
    if (a && a->until_freed) return "  (old: until freed)";
    return b && b->until_freed ? "  (new: until freed)" : "";
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
            printf("  %-40s [new] %10s -> %10s (new)  held - -> %s%s\n", t->site, "-",
                   hb(t->retained, b, sizeof b), hb(t->held, hb2, sizeof hb2),
                   until_freed_note(NULL, t));
        } else {
            const struct snap_table *p = &o->t[partner[i]];
            if (old_seen) old_seen[partner[i]] = 1;
            delta(d, sizeof d, p->retained, t->retained);
            printf("  %-40s %10s -> %10s (%s)  held %s -> %s%s\n", t->site,
                   hb(p->retained, a, sizeof a), hb(t->retained, b, sizeof b), d,
                   hb(p->held, ha, sizeof ha), hb(t->held, hb2, sizeof hb2),
                   until_freed_note(p, t));
        }
    }
    for (size_t i = 0; i < o->nt; i++) {
        if (!old_seen || old_seen[i]) continue;
        if (n->partial) print_unlisted(&o->t[i], "NEW (--top)", 1);
        else
            printf("  %-40s [gone] %10s -> %10s (gone)  held %s -> -%s\n", o->t[i].site,
                   hb(o->t[i].retained, a, sizeof a), "-", hb(o->t[i].held, ha, sizeof ha),
                   until_freed_note(&o->t[i], NULL));
    }
    free(old_seen);
}

/* "OLD is", "NEW is" or "OLD and NEW are" for the sides flagged; NULL when
 * neither is. */
static const char *sides(int old_side, int new_side)
{
    if (old_side && new_side) return "OLD and NEW are";
    return old_side ? "OLD is" : new_side ? "NEW is" : NULL;
}

static const char *untracked_why(const struct snapshot *o, const struct snapshot *n)
{
    return !o->heap_tracked && !n->heap_tracked ? "tables-mode or sampled traces"
                                                : "a tables-mode or sampled trace";
}

/* The heap peak, compared only when both sides track the heap and are
 * complete. */
static void print_heap_peak(const struct snapshot *o, const struct snapshot *n)
{
    char a[32], b[32], d[64];
    const char *untracked = sides(!o->heap_tracked, !n->heap_tracked);
    const char *truncated = sides(o->truncated, n->truncated);
    printf("heap peak: %s -> %s", o->heap_tracked ? hb(o->heap_peak, a, sizeof a) : "not tracked",
           n->heap_tracked ? hb(n->heap_peak, b, sizeof b) : "not tracked");
    if (untracked) {
        printf(" (not compared: %s %s)\n", untracked, untracked_why(o, n));
    } else if (truncated) {
        printf(" (not compared: %s truncated)\n", truncated);
    } else {
        delta(d, sizeof d, o->heap_peak, n->heap_peak);
        printf(" (%s)\n", d);
    }
}

#define DIFF_SITES 10 /* sites shown of each side, the largest */

static void print_sites(const struct snapshot *o, const struct snapshot *n)
{
    char a[32], b[32], d[64];
    const char *untracked = sides(!o->heap_tracked, !n->heap_tracked);
    if (untracked) {
        printf("allocation sites: not compared (%s %s)\n", untracked, untracked_why(o, n));
        return;
    }
    printf("allocation sites (bytes still allocated at the end, old -> new)\n");
    /* both sides list every site (a trace is read so, a report lists them
     * all unless --top): the largest DIFF_SITES of each side are shown */
    size_t shown = 0;
    for (size_t i = 0; i < n->ns && i < DIFF_SITES; i++, shown++) {
        const struct snap_site *s = &n->s[i], *p = snapshot_site(o, s->site);
        if (!p) {
            printf("  %-40s %10s -> %10s (new)\n", s->site, "-", hb(s->bytes, b, sizeof b));
            continue;
        }
        delta(d, sizeof d, p->bytes, s->bytes);
        printf("  %-40s %10s -> %10s (%s)\n", s->site, hb(p->bytes, a, sizeof a),
               hb(s->bytes, b, sizeof b), d);
    }
    for (size_t i = 0; i < o->ns && i < DIFF_SITES; i++)
        if (!snapshot_site(n, o->s[i].site)) {
            printf("  %-40s %10s -> %10s (gone)\n", o->s[i].site, hb(o->s[i].bytes, a, sizeof a),
                   "-");
            shown++;
        }
    size_t all = n->ns > o->ns ? n->ns : o->ns;
    if (all > shown) printf("  (%zu more sites not shown)\n", all - shown);
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

struct diff_args {
    const char *paths[2]; /* OLD, NEW */
    struct tolerance tol;
    int has_tol, allow_truncated, until_freed;
};

static int parse(int argc, char **argv, struct tm_options *opt, struct diff_args *d)
{
    int np = 0;
    for (int i = 1; i < argc; i++) {
        int err = 0, missing = 0;
        const char *v;
        if (strcmp(argv[i], "--allow-truncated") == 0) {
            d->allow_truncated = 1;
        } else if (strcmp(argv[i], "--until-freed") == 0) {
            d->until_freed = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--fail-on-increase", &missing))) {
            int bad = tolerance_parse(v, &d->tol);
            if (bad) return cli_bad_value("--fail-on-increase", v, bad, TOLERANCE_EXPECTED);
            d->has_tol = 1;
        } else if (cmd_parse_analysis_flag(argc, argv, &i, opt, &err)) {
            if (err) return -1;
        } else if (missing) {
            cli_error("%s: needs a value", argv[i]);
            return -1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("diff: unknown option '%s' (see tidemark diff --help)", argv[i]);
            return -1;
        } else if (np < 2) {
            d->paths[np++] = argv[i];
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

/* --fail-on-increase on a truncated side: refused (2) unless
 * --allow-truncated; 0 when it may judge. */
static int judgeable(const struct diff_args *d, const struct snapshot *o, const struct snapshot *n)
{
    if (!d->has_tol || d->allow_truncated || (!o->truncated && !n->truncated)) return 0;
    cli_error("diff: %s %s is truncated; cannot judge an increase (pass --allow-truncated to "
              "judge what is complete)", o->truncated ? "OLD" : "NEW",
              o->truncated ? d->paths[0] : d->paths[1]);
    return -1;
}

static void print_truncated(const struct diff_args *d, const struct snapshot *o,
                            const struct snapshot *n)
{
    if (o->truncated)
        printf("warning: OLD %s is truncated; its figures cover what was complete\n", d->paths[0]);
    if (n->truncated)
        printf("warning: NEW %s is truncated; its figures cover what was complete\n", d->paths[1]);
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
    struct diff_args d = {{NULL, NULL}, {0, 0, 0}, 0, 0, 0};
    if (parse(argc, argv, &opt, &d)) return 2;
    cmd_default_source_root(&opt);
    opt.top_sites = 0; /* every site, as a JSON report lists them: compared whole */
    struct snapshot o, n;
    if (snapshot_load(d.paths[0], &opt, &o)) return 2;
    if (snapshot_load(d.paths[1], &opt, &n)) {
        snapshot_free(&o);
        return 2;
    }
    if (d.until_freed && (snapshot_judge_until_freed(&o, "diff", d.paths[0]) ||
                          snapshot_judge_until_freed(&n, "diff", d.paths[1]))) {
        snapshot_free(&o);
        snapshot_free(&n);
        return 2;
    }
    size_t *partner = malloc((n.nt ? n.nt : 1) * sizeof *partner);
    int rc = 2;
    if (!partner || snapshot_match(&o, &n, partner)) {
        cli_error("out of memory");
    } else if (judgeable(&d, &o, &n) == 0) {
        char a[32], b[32], dl[64];
        print_truncated(&d, &o, &n);
        delta(dl, sizeof dl, o.total_retained, n.total_retained);
        printf("retained by tables: %s -> %s (%s)\n", hb(o.total_retained, a, sizeof a),
               hb(n.total_retained, b, sizeof b), dl);
        print_heap_peak(&o, &n);
        print_tables(&o, &n, partner);
        print_sites(&o, &n);
        rc = d.has_tol && increases(&o, &n, partner, &d.tol, opt.min_retained);
    }
    free(partner);
    snapshot_free(&o);
    snapshot_free(&n);
    return rc; /* main says when standard output failed */
}
