/* tests/format/tracegen_main.c - `tracegen SCENARIO OUT`: writes a
 * synthetic trace (scenarios.h) for the script-driven tests.
 * `tracegen mixed OUT [MINOR [ZSTD]]`: the small 3.1 trace of damage tests
 * (3.MINOR, zstd frames when ZSTD is not 0).
 * `tracegen serial OUT [THREADS [KIB]]`: threads one after the other, each
 * one block of KIB KiB of records (64 threads, 960 KiB).
 * `tracegen bomb OUT [THREADS [KIND [MIB [MINOR]]]]`: the decompression
 * bomb, 64 threads of 64 MiB of zeros in a 3.1 trace by default; KIND
 * ticks or ext fill them with valid records (TICKs, extended records). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios.h"
#include "tidemark/trace_format.h"

int main(int argc, char **argv)
{
    int extra = argc > 3 && (strcmp(argv[1], "bomb") == 0 ? argc <= 7
                             : strcmp(argv[1], "mixed") == 0 || strcmp(argv[1], "serial") == 0
                                 ? argc <= 5
                                 : 0);
    if (argc != 3 && !extra) {
        fprintf(stderr, "usage: tracegen seed|seedtables|seedsampled|seedovf|presized|indirect|two|freed|freedfull|threads|info|info1|infolate|newer|noend|execfail|execfail-exit|mixed OUT\n"
                        "       tracegen mixed OUT [MINOR [ZSTD]]\n"
                        "       tracegen serial OUT [THREADS [KIB]]\n"
                        "       tracegen bomb OUT [THREADS [zeros|ticks|ext [MIB [MINOR]]]]\n");
        return 2;
    }
    const char *s = argv[1];
    struct tg *g = NULL;
    if (strcmp(s, "seed") == 0) g = tg_scenario_seed(128, 0, 0);
    else if (strcmp(s, "seedtables") == 0) g = tg_scenario_seed_flags(TMK_FILE_MODE_TABLES);
    else if (strcmp(s, "seedsampled") == 0) g = tg_scenario_seed_flags(TMK_FILE_SAMPLED);
    else if (strcmp(s, "seedovf") == 0) g = tg_scenario_seed_overflow(128);
    else if (strcmp(s, "presized") == 0) g = tg_scenario_seed(128, 1000000, 0);
    else if (strcmp(s, "indirect") == 0) g = tg_scenario_seed(129, 0, 0);
    else if (strcmp(s, "two") == 0) g = tg_scenario_two_tables();
    else if (strcmp(s, "freed") == 0) g = tg_scenario_freed(0);
    else if (strcmp(s, "freedfull") == 0) g = tg_scenario_freed(400000);
    else if (strcmp(s, "threads") == 0) g = tg_scenario_threads();
    else if (strcmp(s, "info") == 0) g = tg_scenario_info();
    else if (strcmp(s, "info1") == 0) g = tg_scenario_info_v1();
    else if (strcmp(s, "infolate") == 0) g = tg_scenario_info_late();
    else if (strcmp(s, "newer") == 0) {
        g = tg_scenario_threads();
        tg_set_version(g, TMK_TRACE_VERSION_MAJOR + 1, 3);
    } else if (strcmp(s, "mixed") == 0) { /* mixed OUT [MINOR [ZSTD]] */
        uint16_t minor = argc > 3 ? (uint16_t)strtoul(argv[3], NULL, 0) : 1;
        g = tg_scenario_mixed(minor, argc > 4 && strcmp(argv[4], "0") != 0);
    } else if (strcmp(s, "serial") == 0) { /* serial OUT [THREADS [KIB]] */
        unsigned long th = argc > 3 ? strtoul(argv[3], NULL, 0) : 64;
        unsigned long kib = argc > 4 ? strtoul(argv[4], NULL, 0) : 960;
        if (th == 0 || th > TG_MAX_THREADS || kib == 0 || kib > 4096) {
            fprintf(stderr, "tracegen serial: THREADS 1..%d, KIB 1..4096\n", TG_MAX_THREADS);
            return 2;
        }
        g = tg_scenario_serial((uint32_t)th, kib << 10);
    } else if (strcmp(s, "bomb") == 0) {
        unsigned long th = argc > 3 ? strtoul(argv[3], NULL, 0) : 64;
        const char *kind = argc > 4 ? argv[4] : "zeros";
        unsigned long mib = argc > 5 ? strtoul(argv[5], NULL, 0) : 64;
        /* zeros: no record at all; ticks: TICK, dt 3, 2 bytes each; ext: an
         * extended record of 128 bytes (type 0x8f, assigned to nothing:
         * skipped) */
        uint8_t pattern[128] = {0};
        size_t plen = 1;
        if (strcmp(kind, "ticks") == 0) {
            pattern[0] = TMK_REC_TICK;
            pattern[1] = 3;
            plen = 2;
        } else if (strcmp(kind, "ext") == 0) {
            pattern[0] = 0x8f;
            pattern[1] = sizeof pattern - 2;
            plen = sizeof pattern;
        } else if (strcmp(kind, "zeros") != 0) {
            th = 0;
        }
        if (th == 0 || th > TG_MAX_THREADS || mib == 0 || mib > 64) {
            fprintf(stderr, "tracegen bomb: THREADS 1..%d, KIND zeros|ticks|ext, MIB 1..64\n",
                    TG_MAX_THREADS);
            return 2;
        }
        uint16_t minor = argc > 6 ? (uint16_t)strtoul(argv[6], NULL, 0) : 1;
        g = tg_scenario_bomb((uint32_t)th, pattern, plen, mib << 20, minor);
    } else if (strcmp(s, "noend") == 0) {
        g = tg_new(0);
        tg_alloc(g, 1, 10, 0x1000, 64, 0);
    } else if (strcmp(s, "execfail") == 0) {
        /* END(EXEC), then the same thread goes on (the exec failed), and the
         * file stops there: a process still running, or cut short */
        g = tg_new(0);
        tg_alloc(g, 1, 10, 0x1000, 64, 0);
        tg_end(g, 1, 20, TMK_END_EXEC, 0);
        tg_alloc(g, 1, 30, 0x2000, 64, 0);
    } else if (strcmp(s, "execfail-exit") == 0) {
        /* the same, then the process exits: the last END is the trace's */
        g = tg_new(0);
        tg_alloc(g, 1, 10, 0x1000, 64, 0);
        tg_end(g, 1, 20, TMK_END_EXEC, 0);
        tg_alloc(g, 1, 30, 0x2000, 64, 0);
        tg_end(g, 1, 40, TMK_END_EXIT, 3);
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
