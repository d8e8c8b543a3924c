/* tests/preload/dl_pair_a.c - one of two plugins that shim_probe's dlswap
 * loads in turn at the same address (stacks_test.py case_dl_same_address):
 * the same function name as dl_pair_b.c, another size and another line, so
 * that a site named after the wrong one of them shows. */
#include <stdlib.h>

__attribute__((noinline)) void *dl_pair_alloc(void)
{
    void *p = malloc(111111);
    __asm__ volatile("" ::: "memory"); /* not a tail call: keep this frame */
    return p;
}
