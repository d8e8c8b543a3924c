/* analyzer/cli/cli.c - flag parsing and error output shared by the subcommands:
 * one parser per kind of value, and one way to say a value is wrong. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("tidemark: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Parses a leading non-negative decimal number, digits with at most one
 * '.' (no sign, exponent, hex, inf or nan); *end is what follows, spaces
 * skipped. */
static int leading_number(const char *s, double *v, const char **end)
{
    const char *p = s;
    size_t digits = 0;
    if (!s) return CLI_SYNTAX;
    for (; *p >= '0' && *p <= '9'; p++) digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++) digits++;
    if (digits == 0) return CLI_SYNTAX;
    *v = strtod(s, NULL); /* the C locale: tidemark never calls setlocale */
    while (*p == ' ') p++;
    *end = p;
    return isfinite(*v) ? 0 : CLI_TOO_LARGE;
}

struct cli_unit {
    const char *name;
    double mul;
};

/* v times the unit whose name is u (case-insensitive when icase), into
 * *out rounded; CLI_TOO_LARGE past 64 bits. */
static int scaled(double v, const char *u, const struct cli_unit *units, size_t n, int icase,
                  uint64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if ((icase ? strcasecmp(u, units[i].name) : strcmp(u, units[i].name)) != 0) continue;
        double x = v * units[i].mul;
        if (!(x < 18446744073709551615.0)) return CLI_TOO_LARGE;
        *out = (uint64_t)(x + 0.5); /* below 2^64 - 2048: no overflow */
        return 0;
    }
    return CLI_SYNTAX;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    static const struct cli_unit units[] = {
        {"", 1}, {"b", 1}, {"k", 1024.0}, {"kib", 1024.0}, {"m", 1048576.0},
        {"mib", 1048576.0}, {"g", 1073741824.0}, {"gib", 1073741824.0},
        {"t", 1099511627776.0}, {"tib", 1099511627776.0},
    };
    double v;
    const char *u;
    int rc = leading_number(s, &v, &u);
    if (rc == 0 || rc == CLI_TOO_LARGE) {
        uint64_t x;
        int unit = scaled(rc ? 1 : v, u, units, sizeof units / sizeof units[0], 1, &x);
        if (unit) return unit; /* not a unit: a syntax error first */
        if (rc == 0) *out = x;
    }
    return rc;
}

int cli_parse_time(const char *s, uint64_t *out_ns)
{
    static const struct cli_unit units[] = {
        {"", 1e9}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}, {"m", 60e9}, {"min", 60e9},
    };
    double v;
    const char *u;
    int rc = leading_number(s, &v, &u);
    if (rc == 0 || rc == CLI_TOO_LARGE) {
        uint64_t x;
        int unit = scaled(rc ? 1 : v, u, units, sizeof units / sizeof units[0], 0, &x);
        if (unit) return unit;
        if (rc == 0) *out_ns = x;
    }
    return rc;
}

int cli_parse_double(const char *s, double *out)
{
    const char *u;
    int rc = leading_number(s, out, &u);
    if (rc == 0 && *u != 0 && strcmp(u, "%") != 0) rc = CLI_SYNTAX;
    return rc;
}

int cli_parse_ratio(const char *s, double *out)
{
    double v;
    const char *u;
    if (leading_number(s, &v, &u)) return CLI_SYNTAX;
    if (*u == 0 && v <= 1) *out = v;
    else if (strcmp(u, "%") == 0 && v <= 100) *out = v / 100;
    else return CLI_SYNTAX;
    return 0;
}

int cli_parse_uint(const char *s, uint64_t *out)
{
    if (!s || !*s) return CLI_SYNTAX;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return CLI_SYNTAX;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE) return CLI_TOO_LARGE;
    *out = v;
    return 0;
}

int cli_bad_value(const char *flag, const char *value, int why, const char *expected)
{
    if (why == CLI_TOO_LARGE) cli_error("%s: '%s' is too large (expected %s)", flag, value, expected);
    else cli_error("%s: bad value '%s' (expected %s)", flag, value, expected);
    return -1;
}

int cli_flag_uint(const char *flag, const char *value, uint64_t min, uint64_t *out)
{
    char expected[64];
    uint64_t v = 0;
    int rc = cli_parse_uint(value, &v);
    if (rc == 0 && v >= min) {
        *out = v;
        return 0;
    }
    snprintf(expected, sizeof expected, "a whole number in %llu..%llu", (unsigned long long)min,
             (unsigned long long)UINT64_MAX);
    return cli_bad_value(flag, value, rc ? rc : CLI_SYNTAX, expected);
}

const char *cli_opt(int argc, char **argv, int *i, const char *name, int *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != 0) return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}
