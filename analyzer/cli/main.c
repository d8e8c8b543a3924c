/* analyzer/cli/main.c - the `tidemark` command: dispatches to a subcommand
 * (cmd_*.c), prints the top-level help (or a command's) and the version, and
 * fails (2) when what it printed could not be written (output.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "tidemark/trace_format.h"

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "0.1.0"
#endif

static const char usage[] =
    "usage: tidemark COMMAND [ARGS]\n"
    "Finds hash tables that grew for a peak and kept their bucket memory.\n"
    "\n"
    "commands:\n"
    "  run [-o FILE] [--mode full|tables] -- PROGRAM ARGS...\n"
    "                 run PROGRAM under the tidemark shim, then summarize its trace\n"
    "  report TRACE   tables, retained bytes, recommendations, heap summary\n"
    "                 (--format text|json|html|collapsed|pprof|openmetrics, -o OUT,\n"
    "                 --top N, --at TIME)\n"
    "  check TRACE    CI gate on retained bytes / ratio / growth against a baseline\n"
    "  diff OLD NEW   what changed per table and per allocation site\n"
    "                 (traces or JSON reports)\n"
    "  dump TRACE     every record as text\n"
    "  top TRACE      a running program's tables and heap, refreshed until it ends\n"
    "                 (--interval TIME, --iterations N)\n"
    "\n"
    "  tidemark COMMAND --help   details and flags of a command\n"
    "  tidemark help COMMAND     the same\n"
    "  tidemark --version\n"
    "\n"
    "exit status:\n"
    "  0  success (check: every gate holds; run: the program's own status;\n"
    "     top: the program ended or N refreshes were shown)\n"
    "  1  check: a gate failed (each failing table is named with its figures);\n"
    "     diff --fail-on-increase: an increase past it\n"
    "  2  could not do it: bad flag, unreadable or invalid trace, newer trace\n"
    "     version, an output that cannot be written (standard output, -o FILE),\n"
    "     or (check, diff's gate) a truncated trace without --allow-truncated,\n"
    "     (check) recognised tables the shim could not read, likewise\n"
    "  run passes the program's exit status through (128+N when killed by signal N).\n";

static const struct {
    const char *name;
    int (*fn)(int, char **);
} cmds[] = {
    {"run", cmd_run}, {"report", cmd_report}, {"check", cmd_check},
    {"diff", cmd_diff}, {"dump", cmd_dump}, {"top", cmd_top},
};

static int (*find_command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(name, cmds[i].name) == 0) return cmds[i].fn;
    return NULL;
}

/* `tidemark --help|-h|help [COMMAND]`: the usage, or COMMAND's. */
static int help(int argc, char **argv)
{
    if (argc > 3) {
        cli_error("%s takes one COMMAND at most ('%s' is extra)", argv[1], argv[3]);
        return 2;
    }
    if (argc == 2) {
        fputs(usage, stdout);
        return 0;
    }
    int (*fn)(int, char **) = find_command(argv[2]);
    if (!fn) {
        cli_error("unknown command '%s' (see tidemark --help)", argv[2]);
        return 2;
    }
    char *args[] = {argv[2], "--help", NULL};
    return fn(2, args);
}

static int version(int argc, char **argv)
{
    if (argc > 2) {
        cli_error("%s takes no operand ('%s' is extra)", argv[1], argv[2]);
        return 2;
    }
    printf("tidemark %s (trace format %d.%d)\n", TIDEMARK_VERSION, TMK_TRACE_VERSION_MAJOR,
           TMK_TRACE_VERSION_MINOR);
    return 0;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (cli_is_help(cmd) || strcmp(cmd, "help") == 0) return help(argc, argv);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) return version(argc, argv);
    int (*fn)(int, char **) = find_command(cmd);
    if (fn) return fn(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see tidemark --help)", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    cli_output_init();
    int rc = dispatch(argc, argv);
    /* whatever the command, output it could not write is a failure (2) */
    return cli_stdout_check() ? 2 : rc;
}
