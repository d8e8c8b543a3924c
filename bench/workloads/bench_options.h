/* bench/workloads/bench_options.h - the workloads' command lines: "--NAME
 * VALUE" pairs, each VALUE a decimal number (strtoull). Each workload checks
 * its own values and prints its own usage line.
 */
#ifndef BENCH_OPTIONS_H
#define BENCH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bench_option {
    const char *name; /* "--allocs" */
    uint64_t *value;
};

/* argv's pairs into the options' values; -1 on a name no option has or a
 * name without its value. */
static inline int bench_options(int argc, char **argv, const struct bench_option *opt, size_t n)
{
    for (int i = 1; i < argc; i += 2) {
        size_t k = 0;
        while (k < n && strcmp(argv[i], opt[k].name) != 0) k++;
        if (k == n || i + 1 >= argc) return -1;
        *opt[k].value = strtoull(argv[i + 1], NULL, 10);
    }
    return 0;
}

#endif /* BENCH_OPTIONS_H */
