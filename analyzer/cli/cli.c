/* analyzer/cli/cli.c - flag parsing and error output shared by the subcommands. */
#include "cli.h"

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

/* Parses a leading non-negative decimal number; *end is what follows. */
static int leading_number(const char *s, double *v, const char **end)
{
    char *e;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') return -1;
    *v = strtod(s, &e);
    if (e == s || !isfinite(*v) || *v < 0) return -1;
    while (*e == ' ') e++;
    *end = e;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    static const struct { const char *unit; double mul; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1024.0}, {"kib", 1024.0}, {"m", 1048576.0},
        {"mib", 1048576.0}, {"g", 1073741824.0}, {"gib", 1073741824.0},
        {"t", 1099511627776.0}, {"tib", 1099511627776.0},
    };
    double v;
    const char *u;
    if (leading_number(s, &v, &u)) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(u, units[i].unit) == 0) {
            double b = v * units[i].mul;
            if (b >= 18446744073709551615.0) return -1;
            *out = (uint64_t)llround(b);
            return 0;
        }
    }
    return -1;
}

int cli_parse_time(const char *s, uint64_t *out_ns)
{
    static const struct { const char *unit; double mul; } units[] = {
        {"", 1e9}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}, {"m", 60e9}, {"min", 60e9},
    };
    double v;
    const char *u;
    if (leading_number(s, &v, &u)) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(u, units[i].unit) == 0) {
            double ns = v * units[i].mul;
            if (ns >= 18446744073709551615.0) return -1;
            *out_ns = (uint64_t)llround(ns);
            return 0;
        }
    }
    return -1;
}

int cli_parse_double(const char *s, double *out)
{
    const char *u;
    if (leading_number(s, out, &u)) return -1;
    return (*u == 0 || strcmp(u, "%") == 0) ? 0 : -1;
}

int cli_parse_ratio(const char *s, double *out)
{
    double v;
    const char *u;
    if (leading_number(s, &v, &u)) return -1;
    if (*u == 0 && v <= 1) *out = v;
    else if (strcmp(u, "%") == 0 && v <= 100) *out = v / 100;
    else return -1;
    return 0;
}

int cli_parse_uint(const char *s, uint64_t *out)
{
    char *e;
    if (!s || *s < '0' || *s > '9') return -1;
    unsigned long long v = strtoull(s, &e, 10);
    if (*e) return -1;
    *out = v;
    return 0;
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
