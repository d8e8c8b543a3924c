/* preload/sigalloc.c - the malloc family for a signal handler that
 * interrupted the real allocator on its own thread.
 *
 * glibc's malloc is not reentrant: a handler that allocates while its thread
 * is inside malloc either corrupts the heap (single-threaded process) or
 * deadlocks on the arena lock the interrupted call holds. The shim's sampler
 * thread makes every traced process multi-threaded, so without this file a
 * program whose handlers allocate would hang under the shim. The malloc
 * wrappers (hooks.c, guard.h) mark the thread (tmk_tls.in_real) around
 * every call into the real allocator; a call that finds the mark set comes
 * here instead:
 *
 *  - allocations get a private anonymous mapping each (zeroed, any
 *    alignment), noted in a fixed lock-free registry so that free(),
 *    realloc() and malloc_usable_size() recognise them from any thread;
 *  - a free of real-allocator memory is deferred: pushed on the thread's own
 *    list and done through free() once the interrupted call has left the
 *    real allocator (tmk_sig_drain). So is a free by a handler that
 *    interrupted the shim's own recording (TMK_GUARD_SHIM): done then, it is also
 *    recorded, and the trace does not lose the free of a traced block.
 *  - when no mapping can be had (all SIG_SLOTS taken: a handler that keeps
 *    its blocks; mmap failing), a handler that interrupted the shim, not the
 *    real allocator, gets its block from the real allocator (hooks.c), noted
 *    here (tmk_sig_note_lost) so that its free is not recorded either: it
 *    goes to the real allocator from here, deferred like the others while
 *    the thread is inside the real allocator or the shim.
 * Everything here is async-signal-safe: atomics, mmap, munmap; no lock. It
 * costs two system calls per such allocation, which only happens when a
 * signal lands inside malloc. These allocations are not traced (the
 * interrupted thread counts them as LOST when it was recording), and
 * neither are their frees (a free of a block the trace never allocated).
 *
 * The deferred list: deferred_state packs (generation << 32 | count). A push
 * happens only while in_real > 0 or guard == TMK_GUARD_SHIM, and a pop only while both
 * are clear, on the same thread; the generation makes a pop that a nested
 * handler overtook retry instead of freeing a stale slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"
#include "real.h"
#include "signals.h"

#define SIG_SLOTS 1024
#define SIG_HEADER 16 /* bytes kept free before the first user byte */
#define SLOT_BUSY ((uintptr_t)1)

struct sig_slot {
    uintptr_t ptr; /* user pointer; 0 free; SLOT_BUSY being filled/emptied */
    void *base;
    size_t len;    /* of the mapping */
    size_t size;   /* usable bytes */
};

static struct sig_slot slots[SIG_SLOTS];
static unsigned slots_top; /* slots [0, top) have ever been used */
static int live;           /* mappings and noted real blocks not yet released */

/* Real blocks of lost allocations: an open-addressing set of addresses,
 * probed LOST_PROBE slots from a block's home at most. A removal leaves a
 * hole (never 0 again: a concurrent insertion beyond it stays findable);
 * an insertion takes the first empty slot or hole. 128 KiB of .bss, touched
 * only when used. */
#define LOST_BITS 14
#define LOST_SLOTS ((size_t)1 << LOST_BITS)
#define LOST_PROBE 64
#define LOST_HOLE ((uintptr_t)1)
static uintptr_t lost_blocks[LOST_SLOTS]; /* 0 empty, LOST_HOLE, else a block */

static size_t page_size(void)
{
    static size_t page;
    if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

static int claim_slot(void)
{
    for (unsigned i = 0; i < SIG_SLOTS; i++) {
        uintptr_t expect = 0;
        if (__atomic_compare_exchange_n(&slots[i].ptr, &expect, SLOT_BUSY, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            unsigned top = __atomic_load_n(&slots_top, __ATOMIC_RELAXED);
            while (top < i + 1 &&
                   !__atomic_compare_exchange_n(&slots_top, &top, i + 1, 0, __ATOMIC_ACQ_REL,
                                                __ATOMIC_RELAXED)) {
            }
            return (int)i;
        }
    }
    return -1;
}

/* A slot claimed, its mapping made and published, with the program's
 * handlers held off: a handler that siglongjmp'ed out between the claim
 * and the publication left the slot taken for good (a program whose timer
 * jumps out of its loop, once its thread's calls come here, lost a slot a
 * jump: after 1,024, malloc returned NULL). Two more system calls to the
 * mmap's: this path is rare, and slow anyway. */
static void *map_block(size_t len, size_t align)
{
    sigset_t mask;
    tmk_block_async_signals(&mask);
    void *user = NULL;
    int i = claim_slot();
    void *base = i < 0 ? MAP_FAILED
                       : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base != MAP_FAILED) {
        uintptr_t at = ((uintptr_t)base + SIG_HEADER + align - 1) & ~(uintptr_t)(align - 1);
        slots[i].base = base;
        slots[i].len = len;
        slots[i].size = (uintptr_t)base + len - at;
        __atomic_add_fetch(&live, 1, __ATOMIC_ACQ_REL);
        tmk_ptrset_filter_mark(at, 1); /* free() must not pass it to the real allocator */
        __atomic_store_n(&slots[i].ptr, at, __ATOMIC_RELEASE);
        user = (void *)at;
    } else if (i >= 0) {
        __atomic_store_n(&slots[i].ptr, 0, __ATOMIC_RELEASE);
    }
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    return user;
}

void *tmk_sig_alloc(size_t size, size_t align)
{
    int saved = errno;
    if (align < 16) align = 16;
    size_t page = page_size();
    if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) goto nomem;
    void *user = map_block((SIG_HEADER + align + size + page - 1) & ~(page - 1), align);
    if (!user) goto nomem;
    errno = saved;
    return user;
nomem:
    errno = ENOMEM;
    return NULL;
}

static int find(const void *p)
{
    unsigned top = __atomic_load_n(&slots_top, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < top; i++)
        if (__atomic_load_n(&slots[i].ptr, __ATOMIC_ACQUIRE) == (uintptr_t)p) return (int)i;
    return -1;
}

static size_t lost_home(uintptr_t a)
{
    return (size_t)(((uint64_t)a >> 4) * 0x9E3779B97F4A7C15ull >> (64 - LOST_BITS));
}

void tmk_sig_note_lost(void *p)
{
    uintptr_t a = (uintptr_t)p;
    size_t home = lost_home(a);
    for (size_t i = 0; i < LOST_PROBE; i++) {
        uintptr_t *s = &lost_blocks[(home + i) & (LOST_SLOTS - 1)];
        uintptr_t v = __atomic_load_n(s, __ATOMIC_ACQUIRE);
        if ((v == 0 || v == LOST_HOLE) &&
            __atomic_compare_exchange_n(s, &v, a, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&live, 1, __ATOMIC_ACQ_REL);
            tmk_ptrset_filter_mark(a, 1); /* free() must come here, in tables mode too */
            return;
        }
    }
    /* no room: its free will be recorded, of a block the trace never allocated */
}

/* The set's slot holding p, or NULL. */
static uintptr_t *lost_slot(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    size_t home = lost_home(a);
    for (size_t i = 0; i < LOST_PROBE; i++) {
        uintptr_t *s = &lost_blocks[(home + i) & (LOST_SLOTS - 1)];
        uintptr_t v = __atomic_load_n(s, __ATOMIC_ACQUIRE);
        if (v == a) return s;
        if (v == 0) return NULL;
    }
    return NULL;
}

/* A noted real block back to the real allocator, unrecorded; while this
 * thread is inside the real allocator or the shim, deferred (still noted:
 * the deferred free() comes back here). */
static void release_lost(void *p)
{
    uintptr_t *s = lost_slot(p);
    if (!s) return;
    if (TMK_REENTERED()) {
        tmk_sig_defer_free(p);
        return;
    }
    uintptr_t expect = (uintptr_t)p;
    if (!__atomic_compare_exchange_n(s, &expect, LOST_HOLE, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    __atomic_sub_fetch(&live, 1, __ATOMIC_ACQ_REL);
    tmk_ptrset_filter_mark((uintptr_t)p, 0);
    TMK_REAL_VOID(tmk_real_free(p));
}

int tmk_sig_owns(const void *p)
{
    if (TMK_LIKELY(__atomic_load_n(&live, __ATOMIC_ACQUIRE) == 0)) return 0;
    return find(p) >= 0 || lost_slot(p) != NULL;
}

size_t tmk_sig_size(const void *p)
{
    int i = find(p);
    if (i >= 0) return slots[i].size;
    return lost_slot(p) ? tmk_real_usable((void *)p) : 0;
}

void tmk_sig_release(void *p)
{
    int i = find(p);
    if (i < 0) {
        release_lost(p);
        return;
    }
    int saved = errno;
    sigset_t mask;
    tmk_block_async_signals(&mask); /* as map_block: a jump would keep the slot */
    uintptr_t expect = (uintptr_t)p;
    if (__atomic_compare_exchange_n(&slots[i].ptr, &expect, SLOT_BUSY, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
        munmap(slots[i].base, slots[i].len);
        __atomic_sub_fetch(&live, 1, __ATOMIC_ACQ_REL);
        tmk_ptrset_filter_mark((uintptr_t)p, 0);
        __atomic_store_n(&slots[i].ptr, 0, __ATOMIC_RELEASE);
    }
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    errno = saved;
}

/* ---- deferred frees ------------------------------------------------------- */

void tmk_sig_defer_free(void *p)
{
    struct tmk_tls *tl = &tmk_tls;
    uint64_t s = __atomic_load_n(&tl->deferred_state, __ATOMIC_RELAXED);
    for (;;) {
        uint32_t n = (uint32_t)s;
        if (n >= TMK_DEFERRED_MAX) return; /* full: leaked rather than deadlocked */
        uint64_t next = ((s >> 32) + 1) << 32 | (n + 1);
        if (__atomic_compare_exchange_n(&tl->deferred_state, &s, next, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            tl->deferred[n] = p;
            return;
        }
    }
}

void tmk_sig_drain(void)
{
    struct tmk_tls *tl = &tmk_tls;
    int saved = errno;
    for (;;) {
        uint64_t s = __atomic_load_n(&tl->deferred_state, __ATOMIC_ACQUIRE);
        uint32_t n = (uint32_t)s;
        if (n == 0) break;
        void *p = tl->deferred[n - 1];
        uint64_t next = ((s >> 32) + 1) << 32 | (n - 1);
        if (__atomic_compare_exchange_n(&tl->deferred_state, &s, next, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            free(p);
    }
    errno = saved;
}
