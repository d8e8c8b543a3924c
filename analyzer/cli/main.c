/* analyzer/cli/main.c - the `tidemark` command: dispatches to a subcommand
 * (cmd_*.c), prints the top-level help and the version. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
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
    "                 (--format text|json|html|collapsed, -o OUT, --top N, --at TIME)\n"
    "  check TRACE    CI gate on retained bytes / ratio / growth against a baseline\n"
    "  diff OLD NEW   what changed per table and per allocation site\n"
    "                 (traces or JSON reports)\n"
    "  dump TRACE     every record as text\n"
    "  top TRACE      a running program's tables and heap, refreshed until it ends\n"
    "                 (--interval TIME, --iterations N)\n"
    "\n"
    "  tidemark COMMAND --help   details and flags of a command\n"
    "  tidemark --version\n"
    "\n"
    "exit status:\n"
    "  0  success (check: every gate holds; run: the program's own status;\n"
    "     top: the program ended or N refreshes were shown)\n"
    "  1  check: a gate failed (each failing table is named with its figures)\n"
    "  2  could not do it: bad flag, unreadable or invalid trace, newer trace\n"
    "     version, or (check) a truncated trace without --allow-truncated\n"
    "  run passes the program's exit status through (128+N when killed by signal N).\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (cli_is_help(cmd) || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("tidemark %s (trace format %d.%d)\n", TIDEMARK_VERSION, TMK_TRACE_VERSION_MAJOR,
               TMK_TRACE_VERSION_MINOR);
        return 0;
    }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"run", cmd_run}, {"report", cmd_report}, {"check", cmd_check},
        {"diff", cmd_diff}, {"dump", cmd_dump}, {"top", cmd_top},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0) return cmds[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see tidemark --help)", cmd);
    return 2;
}
