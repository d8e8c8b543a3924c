/* preload/real.c - the real functions behind the shim's wrappers: one
 * dlsym(RTLD_NEXT) helper that finds each once.
 */
#include <dlfcn.h>

#include "internal.h"

/* dlsym may allocate: its allocations pass through, untraced. */
static void *next_symbol(const char *name)
{
    enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL);
    void *f = dlsym(RTLD_NEXT, name);
    tmk_tls.guard = guard;
    return f;
}

void *tmk_next_fn(void **cache, const char *name)
{
    void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!f) {
        f = next_symbol(name);
        __atomic_store_n(cache, f, __ATOMIC_RELEASE);
    }
    return f;
}
