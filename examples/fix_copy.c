/* fix_copy.c - the seed's "copy the map" cure: gomap_clone.
 *
 * After the traffic peak has gone, copy the live entries into a new map
 * sized for them (what a Go program does with a loop into make(map, len(m)))
 * and free the old one: its bucket array goes back to malloc. The new map
 * holds what Go's rules give for the live count: nothing for 0 entries, the
 * array for B = b_for_hint(live) otherwise. Same phases and lines as
 * seed_grow, plus the one after the cure.
 */
#include <stdint.h>
#include <stdio.h>

#include "example_common.h"

int main(int argc, char **argv)
{
    struct ex_args args;
    ex_parse_args(argc, argv, "fix_copy [--n N] [--keep K]", 1, &args);
    printf("fix_copy: %llu inserts of int64 -> [128]byte, map grown from empty, "
           "all but %llu deleted, then copied\n",
           (unsigned long long)args.n, (unsigned long long)args.keep);

    struct gomap_options opt = {.key_size = sizeof(int64_t), .value_size = 128,
                                .hash = ex_fixed_hash, .label = "fix_copy"};
    gomap *m = gomap_new(&opt);
    if (!m) ex_die_oom("gomap_new");
    ex_print_phase("after make:", m);

    ex_fill_then_drain(m, &args);

    /* The cure: a right-sized copy replaces the map. */
    gomap *copy = gomap_clone(m);
    if (!copy) ex_die_oom("gomap_clone");
    gomap_free(m);
    m = copy;
    ex_print_phase("after copy:", m);
    ex_print_shape(m);

    ex_keep_alive(m); /* the copy lives on, as the program's map */
    return ex_check_kept(m, &args);
}
