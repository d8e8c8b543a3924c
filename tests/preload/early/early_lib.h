/* tests/preload/early/early_lib.h - the early-allocating library's interface
 * and the sizes of its blocks (early_test.py looks for these sizes). */
#ifndef EARLY_LIB_H
#define EARLY_LIB_H

#include <sys/types.h>

#define EARLY_KEPT_BYTES 12345
#define EARLY_FREED_BYTES 777
#define EARLY_LARGE_BYTES 100003
#define EARLY_MAIN_BYTES 5555 /* the control: allocated by main, after the shim's start */

int early_blocks_ok(void);
void early_free_block(void);
/* With EARLY_CTOR_FORK=1: the constructor's fork() result (0 in the child);
 * -1 without. */
pid_t early_ctor_child(void);

#endif
