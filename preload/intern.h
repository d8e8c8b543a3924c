/* preload/intern.h - the inline half of intern.c: a stack's 64-bit hash and
 * its id through the thread's hash cache, in front of intern.c's table.
 * Inline because tmk_stack_id (caller_cache.c) must not put a frame of its
 * own under libunwind's unwind.
 */
#ifndef TIDEMARK_PRELOAD_INTERN_H
#define TIDEMARK_PRELOAD_INTERN_H

#include "internal.h"

/* A stack's hash, one frame at a time (the CFI walk hashes as it goes):
 * tmk_hash_start, tmk_hash_step per frame, tmk_hash_end. */
#define TMK_HASH_START 0x9E3779B97F4A7C15ull

static inline uint64_t tmk_hash_step(uint64_t h, uintptr_t frame)
{
    h = (h ^ frame) * 0xff51afd7ed558ccdull;
    return h << 31 | h >> 33; /* the multiply's well-mixed high bits come down */
}

static inline uint64_t tmk_hash_end(uint64_t h, int n)
{
    h = tmk_hash_step(h, (uintptr_t)n);
    h ^= h >> 29; /* a last mix: the low bits index the caches */
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    return h ? h : 1;
}

static inline uint64_t tmk_hash_frames(const uintptr_t *f, int n)
{
    uint64_t h = TMK_HASH_START;
    for (int i = 0; i < n; i++) h = tmk_hash_step(h, f[i]);
    return tmk_hash_end(h, n);
}

/* The id of frames f[0, n) (hash h) from the process-wide table, added
 * there (with its STACK record) when new; 0 when out of memory. */
uint32_t tmk_intern(struct tmk_thread *t, const uintptr_t *f, int n, uint64_t h) TMK_HIDDEN;

/* The id of frames f[0, n), n > 0, whose tmk_hash_frames is h: the thread's
 * hash cache, else the global table (which checks the modules before it adds
 * a stack, so that a new object's MODULE comes first). */
static inline __attribute__((always_inline)) uint32_t tmk_id_of_frames(struct tmk_thread *t,
                                                                       const uintptr_t *f, int n,
                                                                       uint64_t h)
{
    struct tmk_stack_cache_entry *c = &t->cache[h & (TMK_STACK_CACHE - 1)];
    if (TMK_LIKELY(c->hash == h)) return c->id;
    uint32_t id = tmk_intern(t, f, n, h);
    if (id) {
        c->hash = h;
        c->id = id;
    }
    return id;
}

/* Before a stack is taken (tmk_stack_id): when the loaded objects may have
 * changed since this thread last looked (tmk_modules_gen moved: a dlclose,
 * a scan that found a change), they are checked (MODULE_GONE and MODULE
 * records), the stacks of objects unloaded forgotten and the thread's hash
 * cache emptied if any was. Otherwise one compare. */
void tmk_stacks_resync(struct tmk_thread *t) TMK_HIDDEN;

static inline __attribute__((always_inline)) void tmk_stacks_sync(struct tmk_thread *t)
{
    if (TMK_UNLIKELY(t->modules_seen != __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE)))
        tmk_stacks_resync(t);
}

#endif /* TIDEMARK_PRELOAD_INTERN_H */
