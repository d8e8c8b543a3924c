/* preload/buffer.h - appending records to a thread's buffer (buffer.c):
 * its sizes, tmk_reserve .. tmk_publish (inline: every record of the
 * malloc family's fast paths goes through them), a timed record's type and
 * dt, the TICK before a heap record by info; and the handoff that puts
 * every record on disk within about a second.
 */
#ifndef TIDEMARK_PRELOAD_BUFFER_H
#define TIDEMARK_PRELOAD_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "thread.h"
#include "tidemark/trace_format.h"

#define TMK_BUFFER_BYTES (256u << 10) /* a buffer's mapping: the most a block holds */
/* A thread fills TMK_BUFFER_SMALL bytes of it until it first fills that
 * much; then the whole of it if fewer than TMK_BIG_BUFFERS threads do
 * (buffer.c): a program of 64 threads does not keep 16 MiB of buffers. */
#define TMK_BUFFER_SMALL (64u << 10)
#define TMK_BIG_BUFFERS 4
#define TMK_RECORD_MAX 64 /* room any fixed-size record needs */

/* ---- the handoff (buffer.c) ----
 * Every record is on disk within about a second, also from a thread that
 * then blocks for hours: the sampler writes the buffer of a thread that has
 * records, has written no block for TMK_HANDOFF_AGE_NS and is not inside
 * tmk_reserve..tmk_publish. The owner's side costs two plain stores and one
 * load per record: it marks itself busy (a relaxed store), then reads
 * `handoff`; the sampler sets `handoff`, then makes every running thread of
 * the process pass a full memory barrier (membarrier(2), private expedited)
 * before it reads `busy`. So either the sampler sees the owner busy (and
 * lets the buffer be), or the owner sees `handoff` (and waits until the
 * block is written, tmk_reserve_slow). Without membarrier (old kernels,
 * seccomp) tmk_handoff_fenced is set before the sampler starts and the owner
 * puts a full fence between its store and its load instead. */
#define TMK_HANDOFF_AGE_NS 800000000ull   /* a block at least this often */
#define TMK_HANDOFF_EVERY_NS 100000000ull /* the sampler looks this often */
extern int tmk_handoff_fenced TMK_HIDDEN;
void tmk_handoff_init(void) TMK_HIDDEN;   /* before the sampler starts */
/* A pass over the other threads than self (takes threads, then writer):
 * writes the buffers that have waited min_age_ns (the sampler's pass:
 * TMK_HANDOFF_AGE_NS; before an exec: 0). Returns how many it had to leave
 * because their owner was inside tmk_reserve..tmk_publish. */
size_t tmk_threads_handoff(struct tmk_thread *self, uint64_t min_age_ns) TMK_HIDDEN;
/* tmk_reserve's rare path: waits out a handoff, flushes when the buffer is
 * short or (timed) its block is TMK_FLUSH_AGE_NS old. */
void tmk_reserve_slow(struct tmk_thread *t, size_t need, uint64_t now, int timed) TMK_HIDDEN;

static inline void tmk_busy_begin(struct tmk_thread *t)
{
    __atomic_store_n(&t->busy, 1, __ATOMIC_RELAXED);
    if (TMK_UNLIKELY(tmk_handoff_fenced)) __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* The sampler's membarrier orders the store before the load for the
     * CPU; this keeps the compiler's order too, and only for these two
     * words (a full compiler barrier made it reload the buffer's pointers). */
    __asm__ volatile("" : "+m"(t->busy), "+m"(t->handoff));
}

static inline int tmk_handoff_asked(const struct tmk_thread *t)
{
    return __atomic_load_n(&t->handoff, __ATOMIC_ACQUIRE);
}

/* Room for `need` more bytes in t's buffer (flushes when short). Every
 * append is tmk_reserve (or tmk_reserve_at), the record, tmk_publish. */
static inline uint8_t *tmk_reserve(struct tmk_thread *t, size_t need)
{
    tmk_busy_begin(t);
    if (TMK_UNLIKELY(tmk_handoff_asked(t) || t->pos + need > t->cap))
        tmk_reserve_slow(t, need, 0, 0);
    return t->buf + t->pos;
}

#define TMK_FLUSH_AGE_NS 1000000000ull

/* tmk_reserve for a heap record at time now: also flushes a block whose
 * first record is more than TMK_FLUSH_AGE_NS old, so that a thread the
 * sampler never finds outside the shim still writes a block a second. */
static inline uint8_t *tmk_reserve_at(struct tmk_thread *t, size_t need, uint64_t now)
{
    tmk_busy_begin(t);
    if (TMK_UNLIKELY(tmk_handoff_asked(t) || t->pos + need > t->cap ||
                     now > t->flush_at))
        tmk_reserve_slow(t, need, now, 1);
    return t->buf + t->pos;
}

static inline void tmk_publish(struct tmk_thread *t, uint8_t *end)
{
    __atomic_store_n(&t->pos, (size_t)(end - t->buf), __ATOMIC_RELEASE);
    __atomic_store_n(&t->busy, 0, __ATOMIC_RELEASE);
}

/* Writes type + dt for a timed record. */
static inline uint8_t *tmk_put_timed(struct tmk_thread *t, uint8_t *p, uint8_t type,
                                     uint64_t now)
{
    *p++ = type;
    uint64_t dt = now > t->last_time ? now - t->last_time : 0;
    if (now > t->last_time) t->last_time = now;
    return tmk_put_u(p, dt);
}

/* Before a heap record that has no dt of its own (ALLOC_INFO, FREE_INFO),
 * now from tmk_now_coarse(): a TICK when the coarse clock moved past the
 * block's time. Such a record's time is then never later than the event,
 * and an event a coarse tick later always reads as later, whatever threads
 * they ran on (the coarse clock is one value for every CPU). */
static inline uint8_t *tmk_put_tick(struct tmk_thread *t, uint8_t *p, uint64_t now)
{
    if (TMK_LIKELY(now <= t->last_time)) return p;
    return tmk_put_timed(t, p, TMK_REC_TICK, now);
}

#endif /* TIDEMARK_PRELOAD_BUFFER_H */
