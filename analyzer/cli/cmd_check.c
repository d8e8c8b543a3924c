/* analyzer/cli/cmd_check.c - `tidemark check TRACE`: gates for CI (gates.c) in
 * the format the CI reads (check_output.c).
 * Exit 0 = every gate holds, 1 = a gate failed (each failing table named with
 * its figures), 2 = cannot judge (bad flag, unreadable trace or baseline,
 * truncated trace or baseline without --allow-truncated, one whose
 * recognised tables the shim could not read without --allow-truncated, an
 * output that cannot be written). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_output.h"
#include "cli.h"
#include "cmd_common.h"
#include "gates.h"
#include "output.h"
#include "report/report.h"
#include "run.h"
#include "snapshot.h"

static const char check_usage[] =
    "usage: tidemark check TRACE|REPORT.json [gates] [output] [--allow-truncated]\n"
    "                      [--until-freed] [--one-trace]\n"
    "CI gate on tables that keep memory after deletes.\n"
    "\n"
    "A TRACE is judged with the other traces its run left beside it (the\n"
    "program's image after an exec: TRACE.1; its children's: TRACE.<pid>, or\n"
    "the template's %p), found by name and by the pid and parent in their\n"
    "headers; each is named in the output, its tables '... in TRACE.1'. A\n"
    "wrapper script's trace thus covers the program it started. A trace given\n"
    "as --baseline is taken so too.\n"
    "\n"
    "Without --baseline, a table fails when the report calls it oversized\n"
    "(--min-retained / --min-ratio below), unless an absolute gate is given:\n"
    "  --max-retained SIZE       fail when a table retains more than SIZE bytes\n"
    "                            (KiB, MiB, GiB accepted)\n"
    "  --max-retained-ratio R    fail when a table retains more than R of what it\n"
    "                            holds (R in 0..1, or a percentage P% in 0..100%)\n"
    "With a baseline, only regressions fail (and the absolute gates, if given):\n"
    "  --baseline REPORT.json    a saved `tidemark report --format json` (or a trace);\n"
    "                            tables match by kind and site (file:line relative\n"
    "                            to the source root), then label; one a --top\n"
    "                            report does not list is not judged\n"
    "  --max-increase SIZE|PCT%  fail when a table's retained bytes (or the total)\n"
    "                            grew by more than SIZE, or by more than PCT% of the\n"
    "                            baseline and at least --min-retained (default 10%);\n"
    "                            a table the baseline lacks fails when oversized\n"
    "  --max-growth PCT          the same as --max-increase PCT%\n"
    "Output:\n"
    "  --format FMT              text (default), json, github (workflow commands),\n"
    "                            junit (JUnit XML)\n"
    "  --junit FILE              also write JUnit XML to FILE (whole or not at all)\n"
    "  --allow-truncated         judge a truncated trace or baseline (what is\n"
    "                            complete), or one whose recognised tables the shim\n"
    "                            could not read (a seccomp filter), instead of\n"
    "                            refusing\n"
    "  --until-freed             judge a table freed while oversized (a program that\n"
    "                            frees its tables as it ends: CPython finalizing, C++\n"
    "                            leaving main) by what it retained until then, when\n"
    "                            it was seen oversized before its free\n"
    "  --one-trace               judge TRACE (and a trace baseline) alone, not the\n"
    "                            other traces of its run\n"
    ANALYSIS_FLAGS_HELP
    "\n"
    "exit status: 0 every gate holds over every trace of the run, 1 a gate failed\n"
    "(in any of them), 2 could not judge (bad flag, unreadable trace or baseline,\n"
    "one of the run's traces unreadable, truncated or with recognised tables that\n"
    "could not be read, without --allow-truncated) or could not write the\n"
    "results.\n";

typedef int (*check_renderer)(const struct check_outcome *, const struct check_context *, FILE *);

struct check_args {
    struct gate_config g;
    const char *trace, *baseline, *junit;
    check_renderer render;
    const char *increase_flag; /* --max-increase or --max-growth, when given */
    int allow_truncated;
    int until_freed;
    int one_trace; /* --one-trace: not the other traces of its run */
};

static int parse_format(const char *v, check_renderer *r)
{
    static const struct { const char *name; check_renderer fn; } formats[] = {
        {"text", check_render_text}, {"json", check_render_json},
        {"github", check_render_github}, {"junit", check_render_junit}};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(v, formats[i].name) == 0) {
            *r = formats[i].fn;
            return 0;
        }
    cli_error("--format: expected text, json, github or junit, got '%s'", v);
    return -1;
}

/* One flag at argv[*i]: 1 taken, 0 not check's own, -1 bad (said). */
static int parse_own(int argc, char **argv, int *i, struct check_args *a, int *missing)
{
    const char *v;
    int bad = 0;
    if ((v = cli_opt(argc, argv, i, "--max-retained-ratio", missing))) {
        if ((bad = cli_parse_ratio(v, &a->g.max_ratio)))
            cli_bad_value("--max-retained-ratio", v, bad, CLI_RATIO_EXPECTED);
        a->g.has_ratio = 1;
    } else if ((v = cli_opt(argc, argv, i, "--max-retained", missing))) {
        if ((bad = cli_parse_size(v, &a->g.max_retained)))
            cli_bad_value("--max-retained", v, bad, CLI_SIZE_EXPECTED);
        a->g.has_max = 1;
    } else if ((v = cli_opt(argc, argv, i, "--baseline", missing))) {
        a->baseline = v;
    } else if ((v = cli_opt(argc, argv, i, "--max-increase", missing))) {
        if ((bad = tolerance_parse(v, &a->g.max_increase)))
            cli_bad_value("--max-increase", v, bad, TOLERANCE_EXPECTED);
        a->increase_flag = "--max-increase";
    } else if ((v = cli_opt(argc, argv, i, "--max-growth", missing))) {
        a->g.max_increase = (struct tolerance){1, 0, 0};
        if ((bad = cli_parse_double(v, &a->g.max_increase.percent)))
            cli_bad_value("--max-growth", v, bad, CLI_PERCENT_EXPECTED);
        a->increase_flag = "--max-growth";
    } else if ((v = cli_opt(argc, argv, i, "--format", missing))) {
        bad = parse_format(v, &a->render);
    } else if ((v = cli_opt(argc, argv, i, "--junit", missing))) {
        a->junit = v;
    } else if (strcmp(argv[*i], "--allow-truncated") == 0) {
        a->allow_truncated = 1;
    } else if (strcmp(argv[*i], "--until-freed") == 0) {
        a->until_freed = 1;
    } else if (strcmp(argv[*i], "--one-trace") == 0) {
        a->one_trace = 1;
    } else {
        return 0;
    }
    return bad ? -1 : 1;
}

static int parse(int argc, char **argv, struct check_args *a, struct tm_options *o)
{
    for (int i = 1; i < argc; i++) {
        int missing = 0, err = 0, own = parse_own(argc, argv, &i, a, &missing);
        if (own < 0) return -1;
        if (own) continue;
        if (cmd_parse_analysis_flag(argc, argv, &i, o, &err)) {
            if (err) return -1;
        } else if (missing) {
            cli_error("%s: needs a value", argv[i]);
            return -1;
        } else if (argv[i][0] == '-') {
            cli_error("check: unknown option '%s' (see tidemark check --help)", argv[i]);
            return -1;
        } else if (!a->trace) {
            a->trace = argv[i];
        } else {
            cli_error("check: one TRACE only ('%s' is extra)", argv[i]);
            return -1;
        }
    }
    if (!a->trace) {
        cli_error("check: missing TRACE (see tidemark check --help)");
        return -1;
    }
    if (a->increase_flag && !a->baseline) {
        cli_error("%s needs --baseline REPORT (it is the increase over the baseline)",
                  a->increase_flag);
        return -1;
    }
    return 0;
}

static int write_junit(const char *path, const struct check_outcome *c,
                       const struct check_context *x)
{
    struct cli_output out;
    if (cli_output_open(&out, path, "the JUnit XML")) return -1;
    return cli_output_close(&out, check_render_junit(c, x, out.f) != 0);
}

/* --until-freed (snapshot.h): 1 when refused (said). */
static int until_freed(const struct check_args *a, struct snapshot *s, const char *path)
{
    return a->until_freed && snapshot_judge_until_freed(s, "check", path) != 0;
}

/* The other traces of a run (load_run). */
struct run_others {
    char **path;
    size_t n;
};

static void others_free(struct run_others *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->path[i]);
    free(r->path);
    memset(r, 0, sizeof *r);
}

/* The shim could not read the program's memory, and tables nobody
 * annotated are in the trace: their live counts are unknown, so is
 * whether they are oversized (1 when refused so; said). */
static int unread_tables(const struct check_args *a, const struct snapshot *s,
                         const char *what, const char *path)
{
    if (a->allow_truncated || !s->tables_unread) return 0;
    cli_error("check: %s%s: the shim could not read the program's memory (process_vm_readv: "
              "%s; a seccomp filter?), so %llu recognised table%s could not be counted; "
              "cannot judge (pass --allow-truncated to judge what is known)",
              what, path, s->probes_refused[0] ? s->probes_refused : "refused",
              (unsigned long long)s->tables_unread, s->tables_unread == 1 ? "" : "s");
    return 1;
}

/* One trace or report, refused (said; -1, s freed) when it cannot be
 * judged. `what` is "" or "the baseline ". */
static int load_one(const struct check_args *a, const struct tm_options *o, const char *path,
                    const char *what, struct snapshot *s)
{
    if (snapshot_load(path, o, s)) return -1;
    if (until_freed(a, s, path)) goto refused;
    /* a report's verdicts were made with its thresholds; these flags rule */
    if (!*what && s->from_report) snapshot_rejudge(s, o->min_retained, o->min_ratio);
    if (s->truncated && !a->allow_truncated) {
        /* a baseline's figures stop where it was cut: any growth over them is noise */
        cli_error("check: %s%s is truncated; cannot judge (pass --allow-truncated to judge "
                  "what is complete)", what, path);
        goto refused;
    }
    if (unread_tables(a, s, what, path)) goto refused;
    return 0;
refused:
    snapshot_free(s);
    return -1;
}

/* A trace and, unless --one-trace, the other traces of its run
 * (run_traces_of: the program's image after an exec, its children's),
 * judged as one: their tables merged into s, each naming its trace. The
 * other paths go to *others (freed by others_free). -1 when refused. */
static int load_run(const struct check_args *a, const struct tm_options *o, const char *path,
                    const char *what, struct snapshot *s, struct run_others *others)
{
    memset(others, 0, sizeof *others);
    if (load_one(a, o, path, what, s)) return -1;
    if (a->one_trace || s->from_report) return 0;
    if (run_traces_of(path, &others->path, &others->n)) goto oom;
    for (size_t i = 0; i < others->n; i++) {
        struct snapshot more;
        if (load_one(a, o, others->path[i], what, &more)) goto refused;
        if (snapshot_merge(s, &more, others->path[i])) goto oom;
    }
    return 0;
oom:
    cli_error("out of memory");
refused:
    snapshot_free(s);
    others_free(others);
    return -1;
}

/* Loads what check judges; 2 when it cannot. */
static int load(const struct check_args *a, const struct tm_options *o, struct snapshot *now,
                struct snapshot *base, struct run_others *now_others,
                struct run_others *base_others)
{
    memset(base, 0, sizeof *base);
    memset(base_others, 0, sizeof *base_others);
    if (load_run(a, o, a->trace, "", now, now_others)) return 2;
    if (a->baseline && load_run(a, o, a->baseline, "the baseline ", base, base_others)) {
        snapshot_free(now);
        others_free(now_others);
        return 2;
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
    struct check_args a = {.render = check_render_text};
    a.g.max_increase = (struct tolerance){1, 0, 10};
    struct tm_options o;
    tm_options_default(&o);
    if (parse(argc, argv, &a, &o)) return 2;
    cmd_default_source_root(&o);
    a.g.has_baseline = a.baseline != NULL;
    a.g.floor = o.min_retained;
    a.g.min_retained = o.min_retained;
    a.g.min_ratio = o.min_ratio;
    struct snapshot now, base;
    struct run_others others, base_others;
    if (load(&a, &o, &now, &base, &others, &base_others)) return 2;
    struct check_outcome c;
    int rc = 2;
    if (gates_run(&now, a.baseline ? &base : NULL, &a.g, &c)) {
        cli_error("out of memory");
    } else {
        struct check_context x = {a.trace, a.baseline, o.source_root, &a.g,
                                  (const char *const *)others.path, others.n};
        /* the renderers fail only when standard output does; a check whose
         * results cannot be shown writes no JUnit file that would say it ran */
        a.render(&c, &x, stdout);
        int bad = cli_stdout_check() != 0;
        if (!bad && a.junit) bad = write_junit(a.junit, &c, &x);
        rc = bad ? 2 : c.failed ? 1 : 0;
        gates_free(&c);
    }
    snapshot_free(&now);
    snapshot_free(&base);
    others_free(&others);
    others_free(&base_others);
    return rc;
}
