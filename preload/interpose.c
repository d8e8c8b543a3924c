/* preload/interpose.c - the malloc family, as the program sees it.
 *
 * Each entry point calls the real allocator (found with dlsym(RTLD_NEXT))
 * and records what happened: in full mode by info (ALLOC_INFO / FREE_INFO,
 * with ptrmap.c remembering each live block's info), in tables and sampled
 * modes by address, for the blocks whose free matters (ptrset.c). Once the
 * trace passed TIDEMARK_MAX_BYTES's soft bound (bound.c), full mode writes
 * no heap records but bucket arrays' frees, and sampled mode takes no new
 * samples. Ordering contract (trace_format.h): an allocation's time is taken after the real
 * allocator returned, a free's time before the memory goes back; realloc is
 * a free of old (time before) then an allocation of new (time after).
 *
 * Caller: every allocating entry says who called it (TMK_CALLER_SET, right
 * after its guard is set; leave() clears it), the key of caller_cache.c's cache.
 *
 * Guard (internal.h's enum tmk_guard): every entry sets the thread's guard
 * while inside. A call that finds TMK_GUARD_CALL or TMK_GUARD_THREAD (the
 * shim's own use of libc, the sampler thread) goes straight to the real
 * allocator, untraced. A call that finds TMK_GUARD_SHIM (the shim never
 * allocates there) or finds the thread inside the real allocator (in_real,
 * set around every real call) comes from a signal handler: its allocations
 * are served by sigalloc.c (the real allocator is not reentrant) and count
 * as LOST; its frees are deferred until the thread is out, then recorded.
 * Before dlsym has resolved the real functions, allocations come from a small
 * static bootstrap arena; frees of that memory are ignored.
 *
 * errno: the real allocator's errno is what the program sees; everything the
 * shim does after it saves and restores errno around its system calls.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void *(*tmk_real_malloc)(size_t);
void (*tmk_real_free)(void *);
size_t (*tmk_real_usable)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

/* ---- bootstrap arena ---------------------------------------------------- */

#define BOOT_BYTES (64u << 10)
static uint8_t boot_arena[BOOT_BYTES] __attribute__((aligned(64)));
static size_t boot_used;

static int is_boot(const void *p)
{
    return (const uint8_t *)p >= boot_arena && (const uint8_t *)p < boot_arena + BOOT_BYTES;
}

/* Never freed; the size sits in the 16 bytes before the block. */
static void *boot_alloc(size_t n, size_t align)
{
    if (align < 16) align = 16;
    size_t start = (__atomic_load_n(&boot_used, __ATOMIC_RELAXED) + 16 + align - 1) & ~(align - 1);
    if (n > BOOT_BYTES || start + n > BOOT_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    __atomic_store_n(&boot_used, start + n, __ATOMIC_RELAXED);
    memcpy(boot_arena + start - 16, &n, sizeof n);
    return boot_arena + start;
}

static size_t boot_size(const void *p)
{
    size_t n;
    memcpy(&n, (const uint8_t *)p - 16, sizeof n);
    return n;
}

/* ---- resolving the real functions --------------------------------------- */

void tmk_resolve_real(void)
{
    static int resolving;
    if (tmk_real_free || resolving) return;
    resolving = 1;
    enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL);
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    real_valloc = dlsym(RTLD_NEXT, "valloc");
    real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
    tmk_real_usable = dlsym(RTLD_NEXT, "malloc_usable_size");
    tmk_real_malloc = dlsym(RTLD_NEXT, "malloc");
    void (*f)(void *) = dlsym(RTLD_NEXT, "free");
    __atomic_store_n(&tmk_real_free, f, __ATOMIC_RELEASE);
    tmk_tls.guard = guard;
    resolving = 0;
}

static int resolved(void)
{
    if (TMK_LIKELY(tmk_real_free != NULL)) return 1;
    tmk_resolve_real();
    return tmk_real_free != NULL;
}

/* ---- records ------------------------------------------------------------ */

void tmk_record_alloc(struct tmk_thread *t, void *p, size_t size, uint32_t stack)
{
    uint64_t now = tmk_now();
    uint8_t *q = tmk_reserve_at(t, TMK_RECORD_MAX, now);
    q = tmk_put_timed(t, q, TMK_REC_ALLOC, now);
    q = tmk_put_s(q, (int64_t)((uintptr_t)p - t->last_ptr));
    q = tmk_put_u(q, size);
    q = tmk_put_u(q, stack);
    t->last_ptr = (uintptr_t)p;
    tmk_publish(t, q);
}

static void record_free(struct tmk_thread *t, void *p)
{
    uint64_t now = tmk_now();
    uint8_t *q = tmk_reserve_at(t, TMK_RECORD_MAX, now);
    q = tmk_put_timed(t, q, TMK_REC_FREE, now);
    q = tmk_put_s(q, (int64_t)((uintptr_t)p - t->last_ptr));
    t->last_ptr = (uintptr_t)p;
    tmk_publish(t, q);
}

/* Bytes until the next sampled allocation: exponential, mean sample_bytes. */
static int64_t next_sample_gap(struct tmk_thread *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    double u = ((double)(t->rng >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double gap = -log(u) * (double)tmk_opt.sample_bytes;
    return gap < 1.0 ? 1 : (int64_t)gap;
}

/* Sampled mode: is this allocation one of the samples? */
static int take_sample(struct tmk_thread *t, size_t size)
{
    t->sample_left -= (int64_t)size;
    if (t->sample_left > 0) return 0;
    do t->sample_left += next_sample_gap(t); while (t->sample_left <= 0);
    return 1;
}

/* Full mode: ALLOC_INFO of (size, stack), and p goes into the ptrmap with
 * them. A block of TMK_INFO_SIZE_LIMIT bytes or more is written by address
 * (ALLOC), and so is its free; one that cannot be tracked (no memory for the
 * map) is counted as lost. */
static void alloc_by_info(struct tmk_thread *t, void *p, size_t size)
{
    if (TMK_UNLIKELY(tmk_bound_reached)) return; /* TIDEMARK_MAX_BYTES: bound.c */
    uint64_t now = tmk_now_coarse();
    uint32_t stack = tmk_stack_id(t);
    if (TMK_UNLIKELY((uint64_t)size >= TMK_INFO_SIZE_LIMIT || stack == TMK_PTRMAP_BY_ADDRESS ||
                     tmk_probed_size(size))) {
        tmk_record_alloc(t, p, size, stack);
        if (tmk_probed_size(size)) tmk_probe_add((uintptr_t)p, size);
        return;
    }
    if (TMK_UNLIKELY(tmk_ptrmap_put((uintptr_t)p, stack, (uint32_t)size) != 0)) {
        t->lost++;
        return;
    }
    uint8_t *q = tmk_reserve_at(t, TMK_RECORD_MAX, now);
    q = tmk_put_tick(t, q, now);
    tmk_publish(t, tmk_put_by_info(q, TMK_REC_ALLOC_INFO, size, stack));
}

/* Full mode: FREE_INFO of the info p was allocated with, whatever thread
 * allocated it; FREE by address for a table's array, and for a block the
 * trace never saw allocated by info (from before tracing or a parent
 * process, 4 GiB or more, or a double free: the analyzer counts the last as
 * an unknown free, as the program's glibc may be about to say). */
static void free_by_info(struct tmk_thread *t, void *p)
{
    uint32_t stack, size;
    int known = tmk_ptrmap_take((uintptr_t)p, &stack, &size);
    if (known && stack == TMK_PTRMAP_BY_ADDRESS) {
        record_free(t, p); /* a table's array */
        return;
    }
    if (TMK_UNLIKELY(tmk_bound_reached)) return; /* TIDEMARK_MAX_BYTES: bound.c */
    if (!known) {
        record_free(t, p);
        if (tmk_probe_used) tmk_probe_remove((uintptr_t)p);
        return;
    }
    uint64_t now = tmk_now_coarse();
    uint8_t *q = tmk_reserve_at(t, TMK_RECORD_MAX, now);
    q = tmk_put_tick(t, q, now);
    tmk_publish(t, tmk_put_by_info(q, TMK_REC_FREE_INFO, size, stack));
}

/* After the real allocator returned p (guard set). */
static void on_alloc(void *p, size_t size)
{
    struct tmk_thread *t = tmk_tls.t;
    if (TMK_UNLIKELY(!t) && !(t = tmk_thread_attach())) return;
    if (TMK_LIKELY(tmk_heap_by_info())) {
        alloc_by_info(t, p, size);
        return;
    }
    /* The heap counter (MEMORY records) is kept only where the trace does
     * not give the analyzer every block: in tables and sampled modes. In
     * full mode reading each block's size on free cost ~10% of W1's time
     * (the chunk header's cache miss, taken before glibc's free would). */
    size_t usable = tmk_real_usable(p);
    t->heap += (int64_t)usable;
    int probed = tmk_probed_size(size);
    if (!probed && (tmk_opt.mode == TMK_MODE_TABLES || !take_sample(t, size) || tmk_bound_reached))
        return;
    tmk_ptrset_add((uintptr_t)p, usable);
    tmk_record_alloc(t, p, size, tmk_stack_id(t));
    if (probed) tmk_probe_add((uintptr_t)p, size);
}

/* Before the real free of p, p != NULL (guard set). */
static void on_free(void *p)
{
    struct tmk_thread *t = tmk_tls.t;
    if (TMK_UNLIKELY(!t) && !(t = tmk_thread_attach())) return;
    if (TMK_LIKELY(tmk_heap_by_info())) {
        free_by_info(t, p);
        return;
    }
    size_t usable = tmk_real_usable(p);
    t->heap -= (int64_t)usable;
    if (tmk_ptrset_used && tmk_ptrset_take((uintptr_t)p, usable)) {
        record_free(t, p);
        if (tmk_probe_used) tmk_probe_remove((uintptr_t)p);
    }
}

/* Should this call be recorded? Otherwise it passes through; a call that
 * interrupted the shim on this thread is counted as lost. */
static inline int enter(void)
{
    struct tmk_tls *tl = &tmk_tls;
    if (TMK_LIKELY(tl->guard == TMK_GUARD_FREE && tmk_state == TMK_STATE_ACTIVE)) {
        tl->guard = TMK_GUARD_SHIM;
        return 1;
    }
    if (tl->guard == TMK_GUARD_SHIM && tl->t) tl->t->lost++;
    return 0;
}

static inline void drain_if_idle(void);

static inline void leave(void)
{
    TMK_CALLER_CLEAR();
    tmk_tls.guard = TMK_GUARD_FREE;
    drain_if_idle();
}

/* ---- inside the real allocator ----------------------------------------- */

/* Every call into the real allocator is bracketed: a signal handler that
 * allocates on this thread meanwhile goes to sigalloc.c (REENTERED), and
 * frees it deferred are done once the call is out. */
static inline void real_begin(void)
{
    tmk_tls.in_real++;
    __asm__ volatile("" ::: "memory");
}

/* Frees a handler deferred are done once the thread is out of both the
 * real allocator and the shim. */
static inline void drain_if_idle(void)
{
    if (TMK_UNLIKELY((uint32_t)tmk_tls.deferred_state != 0) && !tmk_tls.in_real &&
        tmk_tls.guard == TMK_GUARD_FREE)
        tmk_sig_drain();
}

static inline void real_end(void)
{
    __asm__ volatile("" ::: "memory");
    tmk_tls.in_real--;
    drain_if_idle();
}

#define REAL(call)                                                                            \
    ({                                                                                        \
        real_begin();                                                                         \
        __typeof__(call) r_ = (call);                                                         \
        real_end();                                                                           \
        r_;                                                                                   \
    })

#define REAL_VOID(call)                                                                       \
    do {                                                                                      \
        real_begin();                                                                         \
        call;                                                                                 \
        real_end();                                                                           \
    } while (0)

/* This call comes from a signal handler that interrupted the real allocator
 * or the shim's recording (TMK_GUARD_SHIM: the shim never allocates there) on this
 * thread. Its allocations come from sigalloc.c, untraced (their frees are
 * then known not to be recorded either); its frees are deferred. */
#define REENTERED() TMK_UNLIKELY(tmk_tls.in_real != 0 || tmk_tls.guard == TMK_GUARD_SHIM)

/* An allocation for such a handler; counted as lost. When sigalloc.c has no
 * room and the real allocator is not interrupted, the real one serves it. */
static void *sig_alloc_lost(size_t n, size_t align, void *(*real)(size_t, size_t))
{
    if (tmk_tls.t) tmk_tls.t->lost++;
    void *p = tmk_sig_alloc(n, align);
    if (!p && !tmk_tls.in_real) p = real(n, align);
    return p;
}

static void *real_malloc_aligned(size_t n, size_t align)
{
    return align <= 16 ? REAL(tmk_real_malloc(n)) : REAL(real_memalign(align, n));
}

/* free() of memory the real allocator does not own, or made by a handler
 * that interrupted the real allocator or the shim: the free is done, and
 * recorded, once the thread is out. 1 when handled here. */
static inline int free_elsewhere(void *p)
{
    if (TMK_UNLIKELY(tmk_sig_owns(p))) {
        tmk_sig_release(p);
        return 1;
    }
    if (REENTERED()) {
        tmk_sig_defer_free(p);
        return 1;
    }
    return 0;
}

/* Usable bytes of p, whoever owns it (p not NULL, not a boot block). */
static size_t usable_of(void *p)
{
    return tmk_sig_owns(p) ? tmk_sig_size(p) : tmk_real_usable(p);
}

/* ---- the interposed functions ------------------------------------------- */

TMK_EXPORT void *malloc(size_t n)
{
    if (TMK_UNLIKELY(!resolved())) return boot_alloc(n, 16);
    if (REENTERED()) return sig_alloc_lost(n, 16, real_malloc_aligned);
    if (!enter()) return REAL(tmk_real_malloc(n));
    TMK_CALLER_SET();
    void *p = REAL(tmk_real_malloc(n));
    if (TMK_LIKELY(p != NULL)) on_alloc(p, n);
    leave();
    return p;
}

TMK_EXPORT void free(void *p)
{
    if (!p || TMK_UNLIKELY(is_boot(p))) return;
    if (TMK_UNLIKELY(!resolved())) return;
    if (free_elsewhere(p)) return;
    if (!enter()) {
        REAL_VOID(tmk_real_free(p));
        return;
    }
    on_free(p);
    REAL_VOID(tmk_real_free(p));
    leave();
}

static void *real_calloc_1(size_t n, size_t align)
{
    (void)align;
    return REAL(real_calloc(1, n));
}

TMK_EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (TMK_UNLIKELY(!resolved())) {
        if (__builtin_mul_overflow(n, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return boot_alloc(total, 16); /* static memory: already zero */
    }
    if (REENTERED()) {
        if (__builtin_mul_overflow(n, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return sig_alloc_lost(total, 16, real_calloc_1); /* fresh mapping: zero */
    }
    if (!enter()) return REAL(real_calloc(n, size));
    TMK_CALLER_SET();
    void *p = REAL(real_calloc(n, size));
    if (p) on_alloc(p, n * size);
    leave();
    return p;
}

/* realloc of a block the real allocator must not see (a bootstrap block, a
 * sigalloc.c block, or any block inside a reentrant call): a new block, a
 * copy, and a free of the old one. */
static void *realloc_by_copy(void *old, size_t have, size_t n)
{
    void *p = malloc(n);
    if (p) {
        memcpy(p, old, have < n ? have : n);
        free(old);
    }
    return p;
}

TMK_EXPORT void *realloc(void *old, size_t n)
{
    if (!old) return malloc(n);
    if (TMK_UNLIKELY(is_boot(old))) return realloc_by_copy(old, boot_size(old), n);
    if (TMK_UNLIKELY(!resolved())) return NULL;
    if (TMK_UNLIKELY(tmk_sig_owns(old)) || REENTERED()) {
        if (n == 0) {
            free(old);
            return NULL;
        }
        return realloc_by_copy(old, usable_of(old), n);
    }
    if (!enter()) return REAL(real_realloc(old, n));
    TMK_CALLER_SET();
    on_free(old);
    void *p = REAL(real_realloc(old, n));
    if (p) {
        on_alloc(p, n);
    } else if (n != 0) {
        /* Failed: old is still allocated; say so again. */
        int saved = errno;
        on_alloc(old, tmk_real_usable(old));
        errno = saved;
    }
    leave();
    return p;
}

TMK_EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, total);
}

static int bad_alignment(size_t align)
{
    return align < sizeof(void *) || (align & (align - 1));
}

TMK_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (TMK_UNLIKELY(!resolved()) || REENTERED()) {
        if (bad_alignment(align)) return EINVAL;
        int saved = errno;
        void *p = !resolved() ? boot_alloc(n, align) : sig_alloc_lost(n, align, real_malloc_aligned);
        errno = saved;
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    if (!enter()) return REAL(real_posix_memalign(out, align, n));
    TMK_CALLER_SET();
    int rc = REAL(real_posix_memalign(out, align, n));
    if (rc == 0) on_alloc(*out, n);
    leave();
    return rc;
}

/* The smallest power of two >= a (glibc rounds odd alignments up). */
static size_t pow2_at_least(size_t a)
{
    size_t p = 16;
    while (p < a && p < ((size_t)1 << 40)) p <<= 1;
    return p;
}

/* The aligned variants share one shape: call, record on success. */
#define ALIGNED_ENTRY(name, real, params, args, size, sig_align)                              \
    TMK_EXPORT void *name params                                                              \
    {                                                                                         \
        if (TMK_UNLIKELY(!resolved())) {                                                      \
            errno = ENOMEM;                                                                   \
            return NULL;                                                                      \
        }                                                                                     \
        if (REENTERED()) return sig_alloc_lost(size, sig_align, real_malloc_aligned);         \
        if (!enter()) return REAL(real args);                                                 \
        TMK_CALLER_SET();                                                                     \
        void *p = REAL(real args);                                                            \
        if (p) on_alloc(p, size);                                                             \
        leave();                                                                              \
        return p;                                                                             \
    }

ALIGNED_ENTRY(aligned_alloc, real_aligned_alloc, (size_t align, size_t n), (align, n), n,
              pow2_at_least(align))
ALIGNED_ENTRY(memalign, real_memalign, (size_t align, size_t n), (align, n), n,
              pow2_at_least(align))
ALIGNED_ENTRY(valloc, real_valloc, (size_t n), (n), n, (size_t)getpagesize())
ALIGNED_ENTRY(pvalloc, real_pvalloc, (size_t n), (n), n, (size_t)getpagesize())

TMK_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p) return 0;
    if (is_boot(p)) return boot_size(p);
    if (TMK_UNLIKELY(!resolved())) return 0;
    return usable_of(p);
}
