/* tests/preload/dl_pair_b.c - the other plugin of shim_probe's dlswap (see
 * dl_pair_a.c): 222222 bytes, from a line dl_pair_a.c does not have. */
#include <stdlib.h>

/* A line or two more than dl_pair_a.c, so that the sites differ by line
 * as well as by file. */

__attribute__((noinline)) void *dl_pair_alloc(void)
{
    void *p = malloc(222222);
    __asm__ volatile("" ::: "memory");
    return p;
}
