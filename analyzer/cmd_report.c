/* analyzer/cmd_report.c - `tidemark report TRACE`: analyze and render in one
 * of four formats. Also holds the analysis flags the other commands share
 * (report_parse_common). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_common.h"
#include "report.h"

static const char report_usage[] =
    "usage: tidemark report TRACE [options]\n"
    "Which tables grew for a peak and kept their memory, what to do, and the heap.\n"
    "\n"
    "  --format FMT        text (default), json, html, collapsed\n"
    "  -o, --output OUT    write to OUT instead of standard output\n"
    "  --top N             show only the N tables retaining most (default: all); the\n"
    "                      json says \"top\": N, and check/diff treat a table it\n"
    "                      leaves out as unknown\n"
    "  --at TIME           evaluate at TIME since the start (1.5s, 200ms, 10us, 5ns)\n"
    "  --weight W          collapsed: weight stacks by retained (default) or peak bytes\n"
    ANALYSIS_FLAGS_HELP
    "\n"
    "exit status: 0 written (a truncated trace gives a report with a warning),\n"
    "2 bad flag or unreadable trace.\n";

int report_parse_common(int argc, char **argv, int *i, struct tm_options *o, int *err)
{
    int missing = 0;
    const char *v;
    if ((v = cli_opt(argc, argv, i, "--at", &missing))) {
        if (cli_parse_time(v, &o->at)) goto bad;
    } else if ((v = cli_opt(argc, argv, i, "--min-retained", &missing))) {
        if (cli_parse_size(v, &o->min_retained)) goto bad;
    } else if ((v = cli_opt(argc, argv, i, "--min-ratio", &missing))) {
        if (cli_parse_ratio(v, &o->min_ratio)) {
            cli_error("--min-ratio: bad value '%s' (" CLI_RATIO_SYNTAX ")", v);
            *err = 1;
        }
    } else if ((v = cli_opt(argc, argv, i, "--sysroot", &missing))) {
        o->sysroot = v;
    } else if ((v = cli_opt(argc, argv, i, "--source-root", &missing))) {
        static char root[PATH_MAX];
        if (!realpath(v, root)) {
            cli_error("--source-root: cannot use '%s': %s", v, strerror(errno));
            *err = 1;
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
    return 1;
bad:
    cli_error("%s: bad value '%s'", argv[*i - (strchr(argv[*i], '=') ? 0 : 1)], v);
    *err = 1;
    return 1;
}

void default_source_root(struct tm_options *o)
{
    static char cwd[PATH_MAX];
    if (!o->source_root && getcwd(cwd, sizeof cwd)) o->source_root = cwd;
}

int load_model(const char *path, const struct tm_options *o, struct tm_model *m)
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
    struct tm_report_opts ro = {0, TM_WEIGHT_RETAINED, 1};
    const char *trace = NULL, *outpath = NULL, *format = "text", *v;
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
            if (cli_parse_uint(v, &n)) {
                cli_error("--top: bad value '%s'", v);
                return 2;
            }
            ro.top = (size_t)n;
        } else if ((v = cli_opt(argc, argv, &i, "--weight", &missing))) {
            if (strcmp(v, "retained") == 0) ro.weight = TM_WEIGHT_RETAINED;
            else if (strcmp(v, "peak") == 0) ro.weight = TM_WEIGHT_PEAK;
            else {
                cli_error("--weight: expected retained or peak, got '%s'", v);
                return 2;
            }
        } else if (report_parse_common(argc, argv, &i, &o, &err)) {
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
    int (*render)(const struct tm_model *, const struct tm_report_opts *, FILE *) = NULL;
    if (strcmp(format, "text") == 0) render = tm_report_text;
    else if (strcmp(format, "json") == 0) render = tm_report_json;
    else if (strcmp(format, "html") == 0) render = tm_report_html;
    else if (strcmp(format, "collapsed") == 0) render = tm_report_collapsed;
    else {
        cli_error("--format: expected text, json, html or collapsed, got '%s'", format);
        return 2;
    }
    if (!trace) {
        cli_error("report: missing TRACE (see tidemark report --help)");
        return 2;
    }
    struct tm_model m;
    default_source_root(&o);
    if (load_model(trace, &o, &m)) return 2;
    FILE *out = stdout;
    if (outpath && strcmp(outpath, "-") != 0 && !(out = fopen(outpath, "w"))) {
        cli_error("cannot write %s: %s", outpath, strerror(errno));
        tm_model_free(&m);
        return 2;
    }
    int rc = render(&m, &ro, out);
    if (out != stdout ? fclose(out) != 0 : fflush(out) != 0) rc = -1;
    tm_model_free(&m);
    if (rc) {
        cli_error("cannot write the %s report%s%s", format, outpath ? " to " : "",
                  outpath ? outpath : "");
        return 2;
    }
    return 0;
}
