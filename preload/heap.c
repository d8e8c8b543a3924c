/* preload/heap.c - the heap's records, written beside the maps they feed.
 *
 * Full mode without sampling writes the heap by info (ALLOC_INFO /
 * FREE_INFO, with a TICK per coarse-clock slot), and ptrmap.c remembers each
 * live block's info so that its free names it, whatever thread frees it.
 * Tables and sampled modes write by address (ALLOC / FREE) the blocks whose
 * free matters, and ptrset.c remembers them. Once the trace passed
 * TIDEMARK_MAX_BYTES's soft bound (bound.c), full mode writes no heap records
 * but bucket arrays' frees, and sampled mode takes no new samples. hooks.c
 * calls tmk_heap_on_alloc / tmk_heap_on_free with the guard at
 * TMK_GUARD_SHIM; docs/architecture.md ("Inside the shim") has the ordering
 * contract. A realloc's old block is taken out of the maps before the real
 * call and its free written only once the call worked: a failed realloc
 * leaves no record (tmk_heap_realloc_*).
 */
#include <string.h>

#include "internal.h"
#include "ptrmap.h"
#include "real.h"

size_t tmk_pass_below;

void tmk_heap_start(void)
{
    tmk_ptrmap_set_budget(tmk_opt.block_map_bytes);
    tmk_probe_start();
    if (tmk_opt.mode != TMK_MODE_TABLES || !tmk_real_free) return;
    tmk_pass_below = tmk_opt.probe_min ? tmk_opt.probe_min : SIZE_MAX;
}

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

static void record_free_at(struct tmk_thread *t, void *p, uint64_t now)
{
    uint8_t *q = tmk_reserve_at(t, TMK_RECORD_MAX, now);
    q = tmk_put_timed(t, q, TMK_REC_FREE, now);
    q = tmk_put_s(q, (int64_t)((uintptr_t)p - t->last_ptr));
    t->last_ptr = (uintptr_t)p;
    tmk_publish(t, q);
}

static void record_free(struct tmk_thread *t, void *p)
{
    record_free_at(t, p, tmk_now());
}

/* ALLOC_INFO or FREE_INFO of (size, stack) at the coarse time now, after a
 * TICK when the coarse clock moved. Inline: every allocation and free of
 * full mode comes here. */
static inline __attribute__((always_inline)) void
record_by_info(struct tmk_thread *t, enum tmk_record_type type, uint64_t size, uint32_t stack,
               uint64_t now)
{
    uint8_t *q = tmk_reserve_at(t, TMK_RECORD_MAX, now);
    q = tmk_put_tick(t, q, now);
    tmk_publish(t, tmk_put_by_info(q, type, size, stack));
}

/* The FREE of a block written by address, after its last probe (probe.c:
 * the probe at free) if it is a probed one, both at the same time. */
static void free_probed(struct tmk_thread *t, void *p)
{
    uint64_t now = tmk_now();
    if (tmk_probe_used) tmk_probe_freed(t, (uintptr_t)p, now);
    record_free_at(t, p, now);
}

/* -ln(u) for u in (0, 1], within 1e-12: ln u = e ln 2 + ln m with m in
 * [0.707, 1.414), ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172,
 * its series to s^11. The shim's own, so that it does not load libm (~320 KiB of a C
 * program's RSS) for this one call. */
static double neg_log(double u)
{
    uint64_t bits;
    memcpy(&bits, &u, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0xfffffffffffffull) | 0x3ff0000000000000ull;
    double m;
    memcpy(&m, &bits, sizeof m);
    if (m > 1.4142135623730951) { /* m / 2 in [0.707, 1): |s| <= 0.172 */
        m *= 0.5;
        e++;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double ln_m =
        2.0 * s *
        (1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 / 11)))));
    return -((double)e * 0.6931471805599453 + ln_m);
}

/* Bytes until the next sampled allocation: exponential, mean sample_bytes. */
static int64_t next_sample_gap(struct tmk_thread *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    double u = ((double)(t->rng >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double gap = neg_log(u) * (double)tmk_opt.sample_bytes;
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

/* Full mode: ALLOC by address for a block of TMK_INFO_SIZE_LIMIT bytes or
 * more, or of TIDEMARK_PROBE_MIN bytes or more, which is also registered
 * for the probes. The ptrmap marks the latter by address, so that its free
 * finds it there and only then looks in the probes' registry (whose lock
 * every thread shares). */
static void alloc_by_address(struct tmk_thread *t, void *p, size_t size, uint32_t stack)
{
    tmk_record_alloc(t, p, size, stack);
    if (!tmk_probed_size(size)) return;
    uint32_t was_stack, was_size;
    if (tmk_ptrmap_by_address((uintptr_t)p, &was_stack, &was_size) == 0)
        tmk_probe_add(t, (uintptr_t)p, size, stack);
}

/* Full mode: ALLOC_INFO of (size, stack), and p goes into the ptrmap with
 * them. A large block is written by address (above), and so is one the
 * ptrmap cannot hold (an address its entry cannot name, no info number, no
 * memory left, or the map at its budget: ptrmap.c); so are their frees. */
static void alloc_by_info(struct tmk_thread *t, void *p, size_t size)
{
    if (TMK_UNLIKELY(tmk_bound_reached)) return; /* TIDEMARK_MAX_BYTES: bound.c */
    tmk_ptrmap_prefetch((uintptr_t)p); /* its line comes while the stack is found */
    uint64_t now = tmk_now_coarse();
    uint32_t stack = tmk_stack_id(t);
    if (TMK_UNLIKELY((uint64_t)size >= TMK_INFO_SIZE_LIMIT || stack == TMK_PTRMAP_BY_ADDRESS ||
                     tmk_probed_size(size))) {
        alloc_by_address(t, p, size, stack);
        return;
    }
    uint32_t info = tmk_info_number_cached(t, (uint32_t)size, stack);
    if (TMK_UNLIKELY(tmk_ptrmap_put((uintptr_t)p, info, (uint32_t)size) != 0)) {
        tmk_record_alloc(t, p, size, stack);
        return;
    }
    record_by_info(t, TMK_REC_ALLOC_INFO, size, stack, now);
}

/* Full mode: FREE_INFO of the info p was allocated with, whatever thread
 * allocated it; FREE by address for a block marked by address (a table's
 * array, a probed block: written even past TIDEMARK_MAX_BYTES, as its
 * ALLOC was), and for a block the trace never saw allocated by info (the
 * map at its budget, from before tracing or a parent process, 4 GiB or
 * more, or a double free: the analyzer counts the last as an unknown free,
 * as the program's glibc may be about to say). */
static void free_by_info(struct tmk_thread *t, void *p)
{
    uint32_t stack, size;
    tmk_ptrmap_prefetch((uintptr_t)p); /* its line comes while the clock is read */
    uint64_t now = tmk_now_coarse();
    int known = tmk_ptrmap_take((uintptr_t)p, &stack, &size);
    if (known && stack == TMK_PTRMAP_BY_ADDRESS) {
        free_probed(t, p);
        return;
    }
    if (TMK_UNLIKELY(tmk_bound_reached)) return; /* TIDEMARK_MAX_BYTES: bound.c */
    if (!known) {
        record_free(t, p);
        return;
    }
    record_by_info(t, TMK_REC_FREE_INFO, size, stack, now);
}

void tmk_heap_on_alloc(void *p, size_t size)
{
    struct tmk_thread *t = tmk_tls.t;
    if (TMK_UNLIKELY(!t) && !(t = tmk_thread_attach())) return;
    if (TMK_LIKELY(tmk_heap_by_info())) {
        alloc_by_info(t, p, size);
        return;
    }
    /* Tables mode records only blocks of TIDEMARK_PROBE_MIN bytes or more
     * here (hooks.c passes the others by); the heap's total comes from the
     * allocator, sampled (sampler.c). The heap counter (MEMORY records) is
     * kept in sampled mode only: in full mode reading each block's size on
     * free cost ~10% of W1's time (the chunk header's cache miss, taken
     * before glibc's free would). */
    int probed = tmk_probed_size(size);
    if (tmk_opt.mode == TMK_MODE_TABLES && TMK_LIKELY(!probed)) return;
    size_t usable = tmk_real_usable(p);
    if (tmk_opt.mode != TMK_MODE_TABLES) {
        t->heap += (int64_t)usable;
        if (!probed && (!take_sample(t, size) || tmk_bound_reached)) return;
    }
    tmk_ptrset_add((uintptr_t)p, usable);
    uint32_t stack = tmk_stack_id(t);
    tmk_record_alloc(t, p, size, stack);
    if (probed) tmk_probe_add(t, (uintptr_t)p, size, stack);
}

void tmk_heap_on_free(void *p)
{
    struct tmk_thread *t = tmk_tls.t;
    if (TMK_UNLIKELY(!t) && !(t = tmk_thread_attach())) return;
    if (TMK_LIKELY(tmk_heap_by_info())) {
        free_by_info(t, p);
        return;
    }
    size_t usable = tmk_real_usable(p);
    if (tmk_opt.mode != TMK_MODE_TABLES) t->heap -= (int64_t)usable; /* sampled mode's counter */
    if (tmk_ptrset_used && tmk_ptrset_take((uintptr_t)p, usable)) free_probed(t, p);
}

/* ---- realloc: the old block's free, written only when the call worked ---- */

enum moving_how {
    MOVING_NONE,     /* nothing to write or restore (no thread state, not tracked) */
    MOVING_INFO,     /* full mode, by info: FREE_INFO of (size, stack) */
    MOVING_INFO_MUTE, /* by info, past TIDEMARK_MAX_BYTES's soft bound: no record */
    MOVING_MARKED,   /* full mode, marked by address (an array, a probed block) */
    MOVING_UNKNOWN,  /* full mode, not in the map: FREE by address */
    MOVING_SET,      /* tables or sampled mode, in the set: FREE by address */
};

/* A probed block being reallocated: its probe at free, now, while it is
 * still there to read, and it leaves the registry (before another thread
 * may get its address); back in if the call fails. */
static void leave_probes(struct tmk_thread *t, struct tmk_heap_moving *m)
{
    if (tmk_probe_used) m->probed = tmk_probe_freed(t, (uintptr_t)m->p, m->now);
}

/* Before the real realloc: old leaves the maps (so that another thread's
 * block at its address, once the call freed it, is not mistaken for it),
 * and the free's time is taken (before the memory goes back); no record. */
void tmk_heap_realloc_take(void *old, struct tmk_heap_moving *m)
{
    struct tmk_thread *t = tmk_tls.t;
    m->p = old;
    m->how = MOVING_NONE;
    m->usable = 0;
    m->probed = 0;
    if (TMK_UNLIKELY(!t) && !(t = tmk_thread_attach())) return;
    if (TMK_LIKELY(tmk_heap_by_info())) {
        tmk_ptrmap_prefetch((uintptr_t)old);
        m->now = tmk_now_coarse();
        if (!tmk_ptrmap_take((uintptr_t)old, &m->stack, &m->size)) {
            m->how = MOVING_UNKNOWN;
            m->now = tmk_now();
        } else if (m->stack == TMK_PTRMAP_BY_ADDRESS) {
            m->how = MOVING_MARKED;
            m->now = tmk_now();
            leave_probes(t, m);
        } else {
            m->how = tmk_bound_reached ? MOVING_INFO_MUTE : MOVING_INFO;
        }
        return;
    }
    m->now = tmk_now();
    m->usable = tmk_real_usable(old);
    if (tmk_ptrset_used && tmk_ptrset_take((uintptr_t)old, m->usable)) {
        m->how = MOVING_SET;
        leave_probes(t, m);
    }
}

/* The real realloc freed the old block (moved it, resized it in place, or
 * size 0): its free, at the time taken before the call. */
void tmk_heap_realloc_moved(const struct tmk_heap_moving *m)
{
    struct tmk_thread *t = tmk_tls.t;
    if (!t) return;
    if (!tmk_heap_by_info() && tmk_opt.mode != TMK_MODE_TABLES) /* sampled mode's counter */
        t->heap -= (int64_t)m->usable;
    switch (m->how) {
    case MOVING_INFO:
        record_by_info(t, TMK_REC_FREE_INFO, m->size, m->stack, m->now);
        break;
    case MOVING_MARKED:
    case MOVING_SET:
        record_free_at(t, m->p, m->now);
        break;
    case MOVING_UNKNOWN:
        if (!tmk_bound_reached) record_free_at(t, m->p, m->now);
        break;
    default:
        break;
    }
}

/* The real realloc failed: the old block is as it was, in the maps again;
 * nothing is written (errno is the caller's to keep). */
void tmk_heap_realloc_kept(const struct tmk_heap_moving *m)
{
    struct tmk_thread *t = tmk_tls.t;
    uint32_t stack, size;
    switch (m->how) {
    case MOVING_INFO:
    case MOVING_INFO_MUTE:
        if (tmk_ptrmap_put((uintptr_t)m->p, tmk_info_number_cached(t, m->size, m->stack),
                           m->size) == 0 ||
            m->how == MOVING_INFO_MUTE)
            break;
        /* No room in the map any more: from now on the block is known by
         * address, which the trace must say. */
        tmk_heap_realloc_moved(m);
        tmk_record_alloc(t, m->p, m->size, m->stack);
        break;
    case MOVING_MARKED:
        tmk_ptrmap_by_address((uintptr_t)m->p, &stack, &size);
        if (m->probed) tmk_probe_add(NULL, (uintptr_t)m->p, m->probed, 0);
        break;
    case MOVING_SET:
        tmk_ptrset_add((uintptr_t)m->p, m->usable);
        if (m->probed) tmk_probe_add(NULL, (uintptr_t)m->p, m->probed, 0);
        break;
    default:
        break;
    }
}
