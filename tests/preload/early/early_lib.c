/* tests/preload/early/early_lib.c - a DT_NEEDED library that allocates in its
 * constructor, before LD_PRELOAD's libtidemark.so has run its own (the
 * dynamic loader runs the constructors of a program's libraries before
 * those of a preloaded one that does not depend on them).
 *
 * Three blocks, each of a size nothing else in the test allocates:
 *   EARLY_KEPT_BYTES   kept for the whole run (a report lists it as still
 *                      allocated, at this constructor);
 *   EARLY_FREED_BYTES  freed later by the program (early_free_block);
 *   EARLY_LARGE_BYTES  kept, and large enough for the shim's content probes
 *                      (TIDEMARK_PROBE_MIN, 64 KiB): recorded by address in
 *                      every mode, as a table's array would be.
 * With EARLY_CTOR_FORK=1 in the environment the constructor then forks,
 * still before the shim's constructor: both processes go on to main
 * (early_ctor_child says which one this is). With EARLY_CTOR_EXIT=N it
 * calls exit(N) instead: the process ends before the shim's constructor
 * (and before main) ever runs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "early_lib.h"

static void *kept, *freed, *large;
static pid_t child = -1;

__attribute__((constructor)) static void early_lib_init(void)
{
    kept = malloc(EARLY_KEPT_BYTES);
    freed = malloc(EARLY_FREED_BYTES);
    large = calloc(1, EARLY_LARGE_BYTES);
    if (kept)
        memset(kept, 0x5a, EARLY_KEPT_BYTES);
    if (freed)
        memset(freed, 0xa5, EARLY_FREED_BYTES);
    const char *fork_here = getenv("EARLY_CTOR_FORK");
    if (fork_here && !strcmp(fork_here, "1"))
        child = fork();
    const char *exit_here = getenv("EARLY_CTOR_EXIT");
    if (exit_here)
        exit(atoi(exit_here));
}

int early_blocks_ok(void)
{
    return kept && freed && large;
}

void early_free_block(void)
{
    free(freed);
    freed = NULL;
}

pid_t early_ctor_child(void)
{
    return child;
}
