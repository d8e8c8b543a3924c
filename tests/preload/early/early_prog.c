/* tests/preload/early/early_prog.c - links early_lib (DT_NEEDED), whose
 * constructor allocated three blocks before the shim started; frees one of
 * them, and allocates a control block of its own that the shim must see.
 * Prints "ok" when the library's blocks exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "early_lib.h"

int main(void)
{
    char *mine = malloc(EARLY_MAIN_BYTES);
    if (!mine || !early_blocks_ok()) {
        fprintf(stderr, "early_prog: no memory\n");
        return 1;
    }
    memset(mine, 1, EARLY_MAIN_BYTES);
    early_free_block();
    puts("ok");
    return mine[EARLY_MAIN_BYTES - 1] == 1 ? 0 : 1; /* `mine` is kept */
}
