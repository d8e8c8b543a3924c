/* preload/hooks.c - every symbol the shim exports, as a thin wrapper: the
 * real function (real.c) and the shim's part (the file named at each).
 */
#include "internal.h"

/* The caller cache keys on code addresses: once an object is unloaded, other
 * code may come to the same addresses. The generation moves as soon as the
 * real dlclose returns (modules.c's scans move it too, later). */
TMK_EXPORT int dlclose(void *handle)
{
    static void *real;
    int (*f)(void *) = (int (*)(void *))tmk_next_fn(&real, "dlclose");
    if (!f) return -1;
    int rc = f(handle);
    __atomic_add_fetch(&tmk_modules_gen, 1, __ATOMIC_SEQ_CST);
    return rc;
}
