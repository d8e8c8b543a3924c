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

/* Parsers of flag values: 0 and the value in *out, or CLI_SYNTAX (not a
 * value of that kind), or CLI_TOO_LARGE (one, but past 64 bits: never taken
 * as the largest). A number is decimal digits with at most one '.': no sign,
 * exponent or hex. */
#define CLI_SYNTAX (-1)
#define CLI_TOO_LARGE (-2)
/* "1048576", "512K", "1MiB", "1.5 GiB" (binary units B/K/KiB/M/MiB/G/GiB/T/TiB,
 * any case), rounded to whole bytes. */
int cli_parse_size(const char *s, uint64_t *out);
#define CLI_SIZE_EXPECTED "a size below 16 EiB such as 4096, 64KiB or 1.5GiB"
/* "1.5s", "200ms", "10us", "5ns", "2m" or "2min"; a bare number is seconds. */
int cli_parse_time(const char *s, uint64_t *out_ns);
#define CLI_TIME_EXPECTED "a time below 584 years such as 1.5s, 200ms, 10us, 5ns or 2min"
/* A non-negative decimal, optionally followed by "%" (ignored): "12%" and
 * "12" both give 12. For percentages that may pass 100. */
int cli_parse_double(const char *s, double *out);
#define CLI_PERCENT_EXPECTED "a percentage such as 10 or 2.5%"
/* A ratio: "R" with R in [0,1], or "P%" with P in [0,100] (gives P/100).
 * Every ratio flag takes this syntax. */
int cli_parse_ratio(const char *s, double *out);
#define CLI_RATIO_EXPECTED "R in 0..1 or P% in 0..100%"
/* A non-negative integer. */
int cli_parse_uint(const char *s, uint64_t *out);

/* The one error line for a flag's value that a parser refused with `why`
 * (or that is out of the flag's own bounds: CLI_SYNTAX): "FLAG: bad value
 * 'V' (expected EXPECTED)" or "FLAG: 'V' is too large (expected EXPECTED)".
 * FLAG is the option's name, without any "=VALUE". Returns -1. */
int cli_bad_value(const char *flag, const char *value, int why, const char *expected);
/* A whole-number flag: its value, at least min, in *out; else the error is
 * said (cli_bad_value) and -1 returned. */
int cli_flag_uint(const char *flag, const char *value, uint64_t min, uint64_t *out);

/* Takes the value of an option at argv[*i]: "--name=value" or "--name value".
 * Returns the value, or NULL if argv[*i] is not that option; when the value
 * is missing, *missing is set. Advances *i past a separate value. */
const char *cli_opt(int argc, char **argv, int *i, const char *name, int *missing);

#endif /* TIDEMARK_ANALYZER_CLI_H */
