/* analyzer/cli/cli.h - what the subcommands share: their entry points, error
 * output, and parsing of sizes, times and numbers given as flags. */
#ifndef TIDEMARK_ANALYZER_CLI_H
#define TIDEMARK_ANALYZER_CLI_H

#include <stdint.h>

/* Subcommands: argv[0] is the subcommand's name; return the exit status. */
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_top(int argc, char **argv);

/* "tidemark: <message>\n" on stderr: the one line every error is. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cli_is_help(const char *arg);

/* "1048576", "512K", "1MiB", "1.5 GiB" (binary units B/K/KiB/M/MiB/G/GiB/T/TiB).
 * 0 on success, -1 when it is not a size. */
int cli_parse_size(const char *s, uint64_t *out);
/* "1.5s", "200ms", "10us", "5ns", "2m"; a bare number is seconds. */
int cli_parse_time(const char *s, uint64_t *out_ns);
/* A finite non-negative decimal, optionally followed by "%" (ignored):
 * "12%" and "12" both give 12. For percentages that may pass 100. */
int cli_parse_double(const char *s, double *out);
/* A ratio: "R" with R in [0,1], or "P%" with P in [0,100] (gives P/100).
 * Every ratio flag takes this syntax. */
int cli_parse_ratio(const char *s, double *out);
/* The syntax, for a printf format (error messages). */
#define CLI_RATIO_SYNTAX "expected R in 0..1 or P%% in 0..100%%"
/* A non-negative integer. */
int cli_parse_uint(const char *s, uint64_t *out);

/* Takes the value of an option at argv[*i]: "--name=value" or "--name value".
 * Returns the value, or NULL if argv[*i] is not that option; when the value
 * is missing, *missing is set. Advances *i past a separate value. */
const char *cli_opt(int argc, char **argv, int *i, const char *name, int *missing);

#endif /* TIDEMARK_ANALYZER_CLI_H */
