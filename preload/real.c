/* preload/real.c - the real functions behind the shim's wrappers: one
 * dlsym(RTLD_NEXT) helper that finds each once (tmk_next_fn), the malloc
 * family's found at start (tmk_resolve_real), and the bootstrap arena that
 * serves allocations before they are found (dlsym itself may allocate).
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "real.h"

void *(*tmk_real_malloc)(size_t);
void (*tmk_real_free)(void *);
size_t (*tmk_real_usable)(void *);
void *(*tmk_real_calloc)(size_t, size_t);
void *(*tmk_real_realloc)(void *, size_t);
int (*tmk_real_posix_memalign)(void **, size_t, size_t);
void *(*tmk_real_aligned_alloc)(size_t, size_t);
void *(*tmk_real_memalign)(size_t, size_t);
void *(*tmk_real_valloc)(size_t);
void *(*tmk_real_pvalloc)(size_t);

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

/* tmk_real_free, found last, says the others are there. */
void tmk_resolve_real(void)
{
    static int resolving;
    if (tmk_real_free || resolving) return;
    resolving = 1;
    tmk_real_calloc = (void *(*)(size_t, size_t))next_symbol("calloc");
    tmk_real_realloc = (void *(*)(void *, size_t))next_symbol("realloc");
    tmk_real_posix_memalign = (int (*)(void **, size_t, size_t))next_symbol("posix_memalign");
    tmk_real_aligned_alloc = (void *(*)(size_t, size_t))next_symbol("aligned_alloc");
    tmk_real_memalign = (void *(*)(size_t, size_t))next_symbol("memalign");
    tmk_real_valloc = (void *(*)(size_t))next_symbol("valloc");
    tmk_real_pvalloc = (void *(*)(size_t))next_symbol("pvalloc");
    tmk_real_usable = (size_t (*)(void *))next_symbol("malloc_usable_size");
    tmk_real_malloc = (void *(*)(size_t))next_symbol("malloc");
    void (*f)(void *) = (void (*)(void *))next_symbol("free");
    __atomic_store_n(&tmk_real_free, f, __ATOMIC_RELEASE);
    resolving = 0;
}

/* ---- the bootstrap arena ------------------------------------------------ */

uint8_t tmk_boot_arena[TMK_BOOT_BYTES] __attribute__((aligned(64)));
static size_t boot_used;

/* Never freed; the size sits in the 16 bytes before the block (tmk_boot_size). */
void *tmk_boot_alloc(size_t n, size_t align)
{
    if (align < 16) align = 16;
    size_t start = (__atomic_load_n(&boot_used, __ATOMIC_RELAXED) + 16 + align - 1) & ~(align - 1);
    if (n > TMK_BOOT_BYTES || start + n > TMK_BOOT_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    __atomic_store_n(&boot_used, start + n, __ATOMIC_RELAXED);
    memcpy(tmk_boot_arena + start - 16, &n, sizeof n);
    tmk_ptrset_filter_mark((uintptr_t)(tmk_boot_arena + start), 1); /* never freed */
    return tmk_boot_arena + start;
}
