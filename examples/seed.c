/* seed.c - the seed article's Go programs, in C with gomap.
 *
 * The article (a Go map that never shrinks) runs, in Go 1.19:
 *
 *     m := make(map[int][N]byte, hint)   // printAlloc()
 *     for i := 0; i < n; i++ { m[i] = [N]byte{} }          // printAlloc()
 *     for i := 0; i < n; i++ { delete(m, i) }
 *     runtime.GC()                                          // printAlloc()
 *     runtime.KeepAlive(m)
 *
 * and prints 0/461/293 MB (N = 128, hint 0), 293/293/293 MB (N = 128,
 * hint 1,000,000) and 0/197/38 MB (N = 129: values over 128 bytes are stored
 * as pointers to separate allocations). This file is built three times
 * (examples/CMakeLists.txt), like changing the article's constants:
 *
 *   seed_grow       SEED_VALUE_SIZE=128  SEED_PRESIZED=0
 *   seed_presized   SEED_VALUE_SIZE=128  SEED_PRESIZED=1  (hint = n)
 *   seed_indirect   SEED_VALUE_SIZE=129  SEED_PRESIZED=0
 *
 * C has no garbage collector: what gomap frees is gone at once, so the heap
 * figures need no runtime.GC(). See docs/examples.md for the figures beside
 * Go's.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "example_common.h"

#ifndef SEED_VALUE_SIZE
#error "build with -DSEED_VALUE_SIZE=128 or 129 (see examples/CMakeLists.txt)"
#endif
#ifndef SEED_PRESIZED
#define SEED_PRESIZED 0
#endif
#ifndef SEED_NAME
#define SEED_NAME "seed"
#endif

int main(int argc, char **argv)
{
    struct ex_args args;
    ex_parse_args(argc, argv, SEED_NAME " [--n N] [--keep K]", 1, &args);
    printf("%s: %llu inserts of int64 -> [%d]byte, %s, then all", SEED_NAME,
           (unsigned long long)args.n, SEED_VALUE_SIZE,
           SEED_PRESIZED ? "map made with hint n" : "map grown from empty");
    if (args.keep) printf(" but the last %llu", (unsigned long long)args.keep);
    printf(" deleted\n");

    /* make(map[int64][N]byte, hint) */
    struct gomap_options opt = {
        .key_size = sizeof(int64_t),
        .value_size = SEED_VALUE_SIZE,
        .hint = SEED_PRESIZED ? args.n : 0,
        .hash = ex_fixed_hash, /* NULL would pick gomap's seeded default */
        .label = SEED_NAME,    /* the table's name in tidemark's report */
    };
    gomap *m = gomap_new(&opt);
    if (!m) ex_die_oom("gomap_new");
    ex_print_phase("after make:", m);

    /* m[i] = [N]byte{}: gomap_put returns the zeroed value slot of a new
     * key; the article stores an all-zero array, so there is nothing to
     * copy. The peak is sampled after each insert. */
    struct ex_peak peak = {0};
    for (int64_t i = 0; i < (int64_t)args.n; i++) {
        if (!gomap_put(m, &i)) ex_die_oom("gomap_put");
        ex_peak_update(&peak, m);
    }
    ex_print_phase("after inserts:", m);
    ex_print_shape(m);

    /* delete(m, i): clears the slot (and frees an indirect value), never
     * the bucket array. --keep K keeps the last K keys, as the fix examples
     * do, so that a report on this program predicts what they measure. */
    for (int64_t i = 0; i < (int64_t)(args.n - args.keep); i++)
        gomap_delete(m, &i);
    ex_print_phase("after deletes:", m);
    ex_print_peak(&peak);

    /* runtime.KeepAlive(m): the map lives on until the process exits. */
    ex_keep_alive(m);
    return 0;
}
