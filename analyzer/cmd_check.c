/* analyzer/cmd_check.c - `tidemark check TRACE`: gates for CI.
 * Exit 0 = every gate holds, 1 = a gate failed (each failing table named with
 * its figures on stdout), 2 = cannot judge (bad flag, unreadable trace or
 * baseline, truncated trace without --allow-truncated). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_common.h"
#include "report.h"
#include "snapshot.h"

static const char check_usage[] =
    "usage: tidemark check TRACE [gates] [--allow-truncated]\n"
    "CI gate on tables that keep memory after deletes.\n"
    "\n"
    "  --max-retained SIZE       fail when a table retains more than SIZE bytes\n"
    "                            (KiB, MiB, GiB accepted)\n"
    "  --max-retained-ratio R    fail when a table retains more than R of what it\n"
    "                            holds (R in 0..1, or a percentage P% in 0..100%)\n"
    "  --baseline REPORT.json    compare with a saved `tidemark report --format json`\n"
    "                            (tables match by site's last path component, label,\n"
    "                            kind; one a --top report does not list is not judged)\n"
    "  --max-growth PCT          with --baseline (an error without it): fail when a\n"
    "                            table's retained bytes (or the total) grew by more\n"
    "                            than PCT percent (default 10)\n"
    "  --allow-truncated         judge a truncated trace instead of refusing\n"
    "Without --max-retained and --max-retained-ratio, a table fails when the report\n"
    "calls it oversized (--min-retained / --min-ratio below).\n"
    ANALYSIS_FLAGS_HELP
    "\n"
    "exit status: 0 every gate holds, 1 a gate failed, 2 could not judge.\n";

struct gates {
    int has_max, has_ratio, has_growth;
    uint64_t max_retained;
    double max_ratio, max_growth;
    const char *baseline;
    int allow_truncated;
};

static const char *cm(uint64_t v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

static int judge_table(const struct snap_table *t, const struct gates *g)
{
    char a[40], b[40];
    double ratio = t->held ? (double)t->retained / (double)t->held : 0;
    int failed = 0;
    if (g->has_max && t->retained > g->max_retained) {
        printf("FAIL table %llu %s: retains %s B > --max-retained %s B\n",
               (unsigned long long)t->id, t->site, cm(t->retained, a), cm(g->max_retained, b));
        failed = 1;
    }
    if (g->has_ratio && t->retained && ratio > g->max_ratio) {
        printf("FAIL table %llu %s: retains %.1f%% of %s B held > --max-retained-ratio %.1f%%\n",
               (unsigned long long)t->id, t->site, 100 * ratio, cm(t->held, a),
               100 * g->max_ratio);
        failed = 1;
    }
    if (!g->has_max && !g->has_ratio && t->oversized) {
        printf("FAIL table %llu %s: oversized, retains %s B of %s B held (%.1f%%)\n",
               (unsigned long long)t->id, t->site, cm(t->retained, a), cm(t->held, b),
               100 * ratio);
        failed = 1;
    }
    return failed;
}

static int judge_baseline(const struct snapshot *now, const struct snapshot *base,
                          const struct gates *g)
{
    char a[40], b[40];
    int failed = 0;
    double f = 1 + g->max_growth / 100;
    for (size_t i = 0; i < now->nt; i++) {
        const struct snap_table *t = &now->t[i];
        const struct snap_table *o = snapshot_find(base, t->key);
        if (!o && base->partial) {
            printf("note: table %llu %s: not in the baseline (it lists %zu of %llu tables, "
                   "--top %llu); not judged\n",
                   (unsigned long long)t->id, t->site, base->nt,
                   (unsigned long long)base->n_tables, (unsigned long long)base->top);
            continue;
        }
        uint64_t before = o ? o->retained : 0;
        if (t->retained > before && (double)t->retained > (double)before * f) {
            printf("FAIL table %llu %s: retained %s B, baseline %s B (+%.1f%% > %.1f%%)\n",
                   (unsigned long long)t->id, t->site, cm(t->retained, a), cm(before, b),
                   before ? 100.0 * ((double)t->retained / (double)before - 1) : 100.0,
                   g->max_growth);
            failed = 1;
        }
    }
    if (now->total_retained > base->total_retained &&
        (double)now->total_retained > (double)base->total_retained * f) {
        printf("FAIL total retained %s B, baseline %s B (more than +%.1f%%)\n",
               cm(now->total_retained, a), cm(base->total_retained, b), g->max_growth);
        failed = 1;
    }
    return failed;
}

static int parse(int argc, char **argv, struct gates *g, struct tm_options *o, const char **trace)
{
    const char *v;
    for (int i = 1; i < argc; i++) {
        int missing = 0, err = 0;
        if ((v = cli_opt(argc, argv, &i, "--max-retained-ratio", &missing))) {
            if (cli_parse_ratio(v, &g->max_ratio)) {
                cli_error("--max-retained-ratio: bad value '%s' (" CLI_RATIO_SYNTAX ")", v);
                return -1;
            }
            g->has_ratio = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--max-retained", &missing))) {
            if (cli_parse_size(v, &g->max_retained)) goto bad;
            g->has_max = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--baseline", &missing))) {
            g->baseline = v;
        } else if ((v = cli_opt(argc, argv, &i, "--max-growth", &missing))) {
            if (cli_parse_double(v, &g->max_growth)) goto bad;
            g->has_growth = 1;
        } else if (strcmp(argv[i], "--allow-truncated") == 0) {
            g->allow_truncated = 1;
        } else if (report_parse_common(argc, argv, &i, o, &err)) {
            if (err) return -1;
        } else if (missing) {
            cli_error("%s: needs a value", argv[i]);
            return -1;
        } else if (argv[i][0] == '-') {
            cli_error("check: unknown option '%s' (see tidemark check --help)", argv[i]);
            return -1;
        } else if (!*trace) {
            *trace = argv[i];
        } else {
            cli_error("check: one TRACE only ('%s' is extra)", argv[i]);
            return -1;
        }
        continue;
bad:
        cli_error("%s: bad value '%s'", argv[i][0] == '-' ? argv[i] : argv[i - 1], v);
        return -1;
    }
    if (!*trace) {
        cli_error("check: missing TRACE (see tidemark check --help)");
        return -1;
    }
    if (g->has_growth && !g->baseline) {
        cli_error("--max-growth needs --baseline REPORT (it is the growth over the baseline)");
        return -1;
    }
    return 0;
}

int cmd_check(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            fputs(check_usage, stdout);
            return 0;
        }
    struct gates g = {0};
    g.max_growth = 10;
    struct tm_options o;
    tm_options_default(&o);
    const char *trace = NULL;
    if (parse(argc, argv, &g, &o, &trace)) return 2;
    struct tm_model m;
    if (load_model(trace, &o, &m)) return 2;
    if (m.info.truncated && !g.allow_truncated) {
        cli_error("check: %s is truncated; cannot judge (pass --allow-truncated to judge "
                  "what is complete)", trace);
        tm_model_free(&m);
        return 2;
    }
    tm_print_notices(&m, trace, stdout); /* still running, TIDEMARK_MAX_BYTES */
    struct snapshot now, base;
    if (snapshot_from_model(&m, &now)) {
        cli_error("out of memory");
        tm_model_free(&m);
        return 2;
    }
    int failed = 0;
    for (size_t i = 0; i < now.nt; i++) failed |= judge_table(&now.t[i], &g);
    if (g.baseline) {
        if (snapshot_load(g.baseline, &o, &base)) {
            snapshot_free(&now);
            tm_model_free(&m);
            return 2;
        }
        failed |= judge_baseline(&now, &base, &g);
        snapshot_free(&base);
    }
    char line[512];
    tm_verdict_line(&m, line, sizeof line);
    /* The FAIL lines above name each failing table; the verdict counts them. */
    printf("%s: %s\n", failed ? "check failed" : "check passed", line);
    snapshot_free(&now);
    tm_model_free(&m);
    if (fflush(stdout)) return 2;
    return failed ? 1 : 0;
}
