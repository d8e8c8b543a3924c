/* analyzer/cmd_pending.c - temporary: commands whose code lands next. */
#include "cli.h"

static int pending(char **argv)
{
    cli_error("%s: not implemented yet in this build", argv[0]);
    return 2;
}

int cmd_run(int argc, char **argv) { (void)argc; return pending(argv); }
int cmd_check(int argc, char **argv) { (void)argc; return pending(argv); }
int cmd_diff(int argc, char **argv) { (void)argc; return pending(argv); }
