/* fix_shrink.c - a cure Go does not have: gomap_shrink, in place.
 *
 * After the traffic peak has gone, gomap_shrink rebuilds the map at the size
 * a fresh map for its live entries would have (Go's rules: nothing for 0
 * entries, the array for B = b_for_hint(live) otherwise) without a second
 * map handle: the program's pointer to the map stays valid. Same phases and
 * lines as seed_grow, plus the one after the cure.
 */
#include <stdint.h>
#include <stdio.h>

#include "example_common.h"

int main(int argc, char **argv)
{
    struct ex_args args;
    ex_parse_args(argc, argv, "fix_shrink [--n N] [--keep K]", 1, &args);
    printf("fix_shrink: %llu inserts of int64 -> [128]byte, map grown from empty, "
           "all but %llu deleted, then shrunk\n",
           (unsigned long long)args.n, (unsigned long long)args.keep);

    struct gomap_options opt = {.key_size = sizeof(int64_t), .value_size = 128,
                                .hash = ex_fixed_hash, .label = "fix_shrink"};
    gomap *m = gomap_new(&opt);
    if (!m) ex_die_oom("gomap_new");
    ex_print_phase("after make:", m);

    ex_fill_then_drain(m, &args);

    /* The cure, in place. */
    if (gomap_shrink(m) != 0) ex_die_oom("gomap_shrink");
    ex_print_phase("after shrink:", m);
    ex_print_shape(m);

    ex_keep_alive(m);
    return ex_check_kept(m, &args);
}
