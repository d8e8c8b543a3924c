/* analyzer/cli/cmd_report.c - `tidemark report TRACE`: analyze and render in one
 * of six formats. Also holds the analysis flags the other commands share
 * (cmd_parse_analysis_flag). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_common.h"
#include "output.h"
#include "report/report.h"
#include "model/table_rules.h"

static const char report_usage[] =
    "usage: tidemark report TRACE [options]\n"
    "Which tables grew for a peak and kept their memory, what to do, and the heap.\n"
    "\n"
    "  --format FMT        text (default), json, html, collapsed (flame graph\n"
    "                      stacks), pprof (gzipped profile.proto, needs -o),\n"
    "                      openmetrics (Prometheus text format)\n"
    "  -o, --output OUT    write to OUT instead of standard output (- : stdout)\n"
    "  --top N             list only the N tables retaining most and the N largest\n"
    "                      heap sites; 0 = all (default: all tables, 10 sites; json:\n"
    "                      all of both). The json says \"top\": N, and check/diff\n"
    "                      treat a table it leaves out as unknown\n"
    "  --weight W          collapsed: what a stack weighs: peak (default: bytes live\n"
    "                      at the heap's peak), end (bytes still allocated),\n"
    "                      alloc_bytes, allocs (allocations made), retained (tables'\n"
    "                      retained bytes); warns when the weight is empty\n"
    ANALYSIS_FLAGS_HELP
    "\n"
    "OUT appears whole or not at all: it is written under a temporary name beside\n"
    "it and renamed when complete; on a failure an existing OUT is left as it was.\n"
    "\n"
    "exit status: 0 written (a truncated trace gives a report with a warning),\n"
    "2 bad flag, unreadable trace, pprof to a terminal, or an output that cannot\n"
    "be written.\n";

typedef int (*renderer)(const struct tm_model *, const struct tm_report_opts *, FILE *);

static const struct {
    const char *name;
    renderer render;
    int binary; /* never written to a terminal */
} formats[] = {
    {"text", tm_report_text, 0},         {"json", tm_report_json, 0},
    {"html", tm_report_html, 0},         {"collapsed", tm_report_collapsed, 0},
    {"pprof", tm_report_pprof, 1},       {"openmetrics", tm_report_openmetrics, 0},
};

static int format_index(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(name, formats[i].name) == 0) return (int)i;
    return -1;
}

/* Says on stderr that the collapsed stacks of weight w are empty, and why. */
static void warn_empty_weight(const struct tm_model *m, enum tm_weight w)
{
    const char *why = w == TM_WEIGHT_RETAINED ? "no table retains bytes"
                      : m->heap.tracked       ? "the heap has no such bytes"
                                              : "the trace does not track the heap";
    fprintf(stderr, "tidemark: warning: --weight %s is empty: %s; the output has no stacks\n",
            tm_weight_name(w), why);
}

/* --rules FILE: its rules, then the built-in ones (they live as long as the
 * command: the model's tables point at them). */
static int load_rules(const char *path, struct tm_options *o)
{
    static struct tm_rules rules;
    char why[400];
    if (o->rules) {
        cli_error("--rules: given twice (put every rule in one file)");
        return -1;
    }
    if (tm_rules_load(&rules, path, why, sizeof why) || tm_rules_builtin(&rules, why, sizeof why)) {
        cli_error("--rules: %s", why);
        return -1;
    }
    o->rules = &rules;
    return 0;
}

int cmd_parse_analysis_flag(int argc, char **argv, int *i, struct tm_options *o, int *err)
{
    int missing = 0, bad = 0;
    const char *v;
    if ((v = cli_opt(argc, argv, i, "--at", &missing))) {
        if ((bad = cli_parse_time(v, &o->at))) cli_bad_value("--at", v, bad, CLI_TIME_EXPECTED);
    } else if ((v = cli_opt(argc, argv, i, "--min-retained", &missing))) {
        if ((bad = cli_parse_size(v, &o->min_retained)))
            cli_bad_value("--min-retained", v, bad, CLI_SIZE_EXPECTED);
    } else if ((v = cli_opt(argc, argv, i, "--min-ratio", &missing))) {
        if ((bad = cli_parse_ratio(v, &o->min_ratio)))
            cli_bad_value("--min-ratio", v, bad, CLI_RATIO_EXPECTED);
    } else if ((v = cli_opt(argc, argv, i, "--sysroot", &missing))) {
        o->sysroot = v;
    } else if ((v = cli_opt(argc, argv, i, "--rules", &missing))) {
        bad = load_rules(v, o);
    } else if ((v = cli_opt(argc, argv, i, "--source-root", &missing))) {
        static char root[PATH_MAX];
        if (!realpath(v, root)) {
            cli_error("--source-root: cannot use '%s': %s", v, strerror(errno));
            bad = 1;
        }
        o->source_root = root;
    } else if (strcmp(argv[*i], "--no-symbols") == 0) {
        o->symbolize = 0;
    } else {
        if (missing) {
            cli_error("%s: needs a value", argv[*i]);
            *err = 1;
            return 1;
        }
        return 0;
    }
    if (bad) *err = 1;
    return 1;
}

void cmd_default_source_root(struct tm_options *o)
{
    static char cwd[PATH_MAX];
    if (!o->source_root && getcwd(cwd, sizeof cwd)) o->source_root = cwd;
}

int cmd_load_model(const char *path, const struct tm_options *o, struct tm_model *m)
{
    char err[512];
    if (tm_analyze(path, o, m, err, sizeof err) != TM_EXIT_OK) {
        cli_error("%s: %s", path, err);
        return -1;
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    struct tm_options o;
    tm_options_default(&o);
    struct tm_report_opts ro = {0, TM_WEIGHT_PEAK, 1};
    const char *trace = NULL, *outpath = NULL, *format = "text", *v;
    int top_given = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0, err = 0;
        if (cli_is_help(argv[i])) {
            fputs(report_usage, stdout);
            return 0;
        }
        if ((v = cli_opt(argc, argv, &i, "--format", &missing))) {
            format = v;
        } else if ((v = cli_opt(argc, argv, &i, "-o", &missing)) ||
                   (v = cli_opt(argc, argv, &i, "--output", &missing))) {
            outpath = v;
        } else if ((v = cli_opt(argc, argv, &i, "--top", &missing))) {
            uint64_t n;
            if (cli_flag_uint("--top", v, 0, &n)) return 2;
            ro.top = (size_t)n;
            top_given = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--weight", &missing))) {
            if (tm_weight_parse(v, &ro.weight)) {
                cli_error("--weight: expected peak, end, alloc_bytes, allocs or retained, "
                          "got '%s'", v);
                return 2;
            }
        } else if (cmd_parse_analysis_flag(argc, argv, &i, &o, &err)) {
            if (err) return 2;
        } else if (missing) {
            cli_error("%s: needs a value", argv[i]);
            return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("report: unknown option '%s' (see tidemark report --help)", argv[i]);
            return 2;
        } else if (!trace) {
            trace = argv[i];
        } else {
            cli_error("report: one TRACE only ('%s' is extra)", argv[i]);
            return 2;
        }
    }
    int fmt = format_index(format);
    if (fmt < 0) {
        cli_error("--format: expected text, json, html, collapsed, pprof or openmetrics, "
                  "got '%s'", format);
        return 2;
    }
    if (!trace) {
        cli_error("report: missing TRACE (see tidemark report --help)");
        return 2;
    }
    int to_stdout = !outpath || strcmp(outpath, "-") == 0;
    if (formats[fmt].binary && to_stdout && isatty(STDOUT_FILENO)) {
        cli_error("--format %s is binary: give -o FILE (or redirect the output)", format);
        return 2;
    }
    /* --top shortens the heap's site lists too; the json lists them all
     * unless told. */
    if (top_given) o.top_sites = ro.top;
    else if (strcmp(format, "json") == 0) o.top_sites = 0;
    struct tm_model m;
    cmd_default_source_root(&o);
    if (cmd_load_model(trace, &o, &m)) return 2;
    if (formats[fmt].render == tm_report_collapsed && !tm_weight_total(&m, ro.weight))
        warn_empty_weight(&m, ro.weight);
    char what[32];
    snprintf(what, sizeof what, "the %s report", format);
    struct cli_output out;
    int rc = cli_output_open(&out, to_stdout ? NULL : outpath, what);
    if (rc == 0) rc = cli_output_close(&out, formats[fmt].render(&m, &ro, out.f) != 0);
    tm_model_free(&m);
    return rc ? 2 : 0;
}
