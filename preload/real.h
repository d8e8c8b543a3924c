/* preload/real.h - real.c's interface: the real functions behind the
 * shim's wrappers, and the bootstrap arena that serves allocations before
 * the malloc family's are found.
 */
#ifndef TIDEMARK_PRELOAD_REAL_H
#define TIDEMARK_PRELOAD_REAL_H

#include "internal.h"

/* The next definition of name after the shim's (dlsym RTLD_NEXT, with the
 * guard at TMK_GUARD_CALL: dlsym may allocate), found once and kept in
 * *cache. Every real function behind a wrapper is found with it. */
void *tmk_next_fn(void **cache, const char *name) TMK_HIDDEN;

/* The real malloc family, found at start (or by the first allocation, when
 * another library's constructor allocates before the shim's): */
void tmk_resolve_real(void) TMK_HIDDEN;
extern void *(*tmk_real_malloc)(size_t) TMK_HIDDEN;
extern void (*tmk_real_free)(void *) TMK_HIDDEN; /* set last: the others are there */
extern size_t (*tmk_real_usable)(void *) TMK_HIDDEN;
extern void *(*tmk_real_calloc)(size_t, size_t) TMK_HIDDEN;
extern void *(*tmk_real_realloc)(void *, size_t) TMK_HIDDEN;
extern int (*tmk_real_posix_memalign)(void **, size_t, size_t) TMK_HIDDEN;
extern void *(*tmk_real_aligned_alloc)(size_t, size_t) TMK_HIDDEN;
extern void *(*tmk_real_memalign)(size_t, size_t) TMK_HIDDEN;
extern void *(*tmk_real_valloc)(size_t) TMK_HIDDEN;
extern void *(*tmk_real_pvalloc)(size_t) TMK_HIDDEN;

/* Are they found? Finds them if it can, and starts the shim then
 * (lifecycle.c): the first allocation is recorded. */
static inline int tmk_resolved(void)
{
    if (TMK_LIKELY(tmk_real_free != NULL)) return 1;
    tmk_start_early();
    return tmk_real_free != NULL;
}

/* The bootstrap arena: allocations before the real functions are found come
 * from it and are never freed. */
#define TMK_BOOT_BYTES (64u << 10)
extern uint8_t tmk_boot_arena[] TMK_HIDDEN; /* TMK_BOOT_BYTES */
void *tmk_boot_alloc(size_t n, size_t align) TMK_HIDDEN; /* NULL + ENOMEM when full */

/* Is p a bootstrap block? Written end first: gcc 12 then tests the start
 * first (objdump), so that free() of a heap block below the shim's data
 * costs one compare, as when the arena was a static of the file. */
static inline int tmk_is_boot(const void *p)
{
    return (const uint8_t *)p < tmk_boot_arena + TMK_BOOT_BYTES &&
           (const uint8_t *)p >= tmk_boot_arena;
}

/* A bootstrap block's size. */
static inline size_t tmk_boot_size(const void *p)
{
    size_t n;
    __builtin_memcpy(&n, (const uint8_t *)p - 16, sizeof n);
    return n;
}

#endif /* TIDEMARK_PRELOAD_REAL_H */
