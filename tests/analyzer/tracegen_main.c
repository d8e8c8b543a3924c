/* tests/analyzer/tracegen_main.c - `tracegen SCENARIO OUT`: writes a
 * synthetic trace (see tracegen.c) for the shell-driven tests. */
#include <stdio.h>
#include <string.h>

#include "tracegen.h"
#include "tidemark/trace_format.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tracegen seed|seedovf|presized|indirect|two|threads|info|info1|infolate|newer|noend OUT\n");
        return 2;
    }
    const char *s = argv[1];
    struct tg *g = NULL;
    if (strcmp(s, "seed") == 0) g = tg_scenario_seed(128, 0, 0);
    else if (strcmp(s, "seedovf") == 0) g = tg_scenario_seed_overflow(128);
    else if (strcmp(s, "presized") == 0) g = tg_scenario_seed(128, 1000000, 0);
    else if (strcmp(s, "indirect") == 0) g = tg_scenario_seed(129, 0, 0);
    else if (strcmp(s, "two") == 0) g = tg_scenario_two_tables();
    else if (strcmp(s, "threads") == 0) g = tg_scenario_threads();
    else if (strcmp(s, "info") == 0) g = tg_scenario_info();
    else if (strcmp(s, "info1") == 0) g = tg_scenario_info_v1();
    else if (strcmp(s, "infolate") == 0) g = tg_scenario_info_late();
    else if (strcmp(s, "newer") == 0) {
        g = tg_scenario_threads();
        tg_set_version(g, TMK_TRACE_VERSION_MAJOR + 1, 3);
    } else if (strcmp(s, "noend") == 0) {
        g = tg_new(0);
        tg_alloc(g, 1, 10, 0x1000, 64, 0);
    }
    if (!g) {
        fprintf(stderr, "tracegen: unknown scenario '%s'\n", s);
        return 2;
    }
    int rc = tg_write(g, argv[2]);
    tg_destroy(g);
    if (rc) {
        perror(argv[2]);
        return 1;
    }
    return 0;
}
