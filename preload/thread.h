/* preload/thread.h - a thread's state (struct tmk_thread, buffer.c) and its
 * per-thread caches, and buffer.c's functions over the threads: attaching
 * one, its stack bounds, flushing, the queued blocks, names, the threads'
 * lock. Appending records to a thread's buffer: buffer.h.
 */
#ifndef TIDEMARK_PRELOAD_THREAD_H
#define TIDEMARK_PRELOAD_THREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "compiler.h"
#include "tls.h"

#define TMK_STACK_CACHE 8192 /* entries of the per-thread stack-id cache */
/* A plain unwind's frames (caller_cache.c): TMK_DEPTH_MAX +
 * TMK_CAPTURE_SLACK, checked there. */
#define TMK_FRAMES_SCRATCH 136

struct tmk_stack_cache_entry {
    uint64_t hash;
    uint32_t id;
};

#define TMK_INFO_CACHE 256 /* entries of the per-thread info-number cache */

struct tmk_info_cache_entry {
    uint64_t pair; /* stack << 32 | size */
    uint32_t number; /* infos.c's number of the pair; 0 = empty */
};

/* A stack's newest two probed blocks on a thread, and whether one of that
 * stack was read at free (probe.c). */
#define TMK_PROBE_SITE_BITS 4
struct tmk_probe_site {
    uint32_t stack;
    int read; /* blocks of the stack read at free (counted up to 2) */
    uint64_t last_gen, prev_gen;
};

struct tmk_thread {
    struct tmk_thread *next_all;  /* every state ever made, never unlinked */
    struct tmk_thread *next_free; /* pool of detached states */
    uint32_t number;              /* 1-based, unique within the file */
    int attached;                 /* owned by a running thread */
    pid_t tid;
    int64_t heap;                 /* usable bytes allocated - freed here */
    uint64_t lost;                /* events dropped, not yet reported */
    struct tmk_probe_site probe_sites[1u << TMK_PROBE_SITE_BITS]; /* probe.c: resizes */

    uint8_t *buf;                 /* TMK_BUFFER_BYTES, mmap'd on first use */
    size_t pos;                   /* published end of whole records */
    size_t cap;                   /* pos stays within: TMK_BUFFER_SMALL or _BYTES (owner's) */
    int busy;                     /* owner between tmk_reserve and tmk_publish */
    int handoff;                  /* the sampler asked for, or holds, the buffer */
    uint64_t flushed_ns;          /* CLOCK_MONOTONIC of its last block (writer lock) */
    uint64_t seq;                 /* next block's seq */
    uint64_t time_base;           /* the current block's time_base */
    uint64_t flush_at;            /* time_base + TMK_FLUSH_AGE_NS */
    uint64_t last_time;           /* time of the last timed record */
    uintptr_t last_ptr;           /* ptr of the last ALLOC/FREE in the block */

    /* A full block queued for the sampler to compress and write (buffer.c,
     * "The queued block"): set, and read, under the writer lock. */
    uint8_t *out_buf;             /* the queued block's records (its buffer becomes a spare) */
    size_t out_pos;
    uint64_t out_seq, out_time_base;
    int out_queued;               /* 1 while the block waits to be written */

    int64_t sample_left;          /* bytes until the next sampled allocation */
    uint64_t rng;

    uintptr_t stack_lo, stack_hi; /* this thread's stack (0, 0 = unknown) */
    int bounds_pending;           /* stack_lo/hi still to be found (tmk_thread_find_bounds) */
    int in_libunwind;             /* unwind.c: inside libunwind; a fork waits for 0 */
    struct tmk_caller_cache *callers; /* caller_cache.c; NULL until first used */
    struct tmk_cfi_cache *cfi;        /* cfi.c: return address -> rule; NULL until first used */
    uint32_t modules_seen;    /* tmk_modules_gen when its stacks last looked (intern.c) */
    uint32_t modules_gave_up; /* tmk_modules_gen when that look did not wait longer */
    uint32_t stacks_epoch;    /* intern.c's forgetting its cache reflects */
    struct tmk_stack_cache_entry cache[TMK_STACK_CACHE];
    /* caller_cache.c: the frames of a plain unwind, here rather than on
     * the program's stack (1 KiB; RLIMIT_STACK may be 20 KiB). One stack at
     * a time per thread: a signal handler that interrupts the shim records
     * nothing (guard.h). */
    uintptr_t frames[TMK_FRAMES_SCRATCH];
    /* infos.c's numbers, which never change meaning: kept across a state's
     * reuse and a fork */
    struct tmk_info_cache_entry infos[TMK_INFO_CACHE];
};

struct tmk_thread *tmk_thread_attach(void) TMK_HIDDEN; /* guard must be set */
/* Finds the thread's stack bounds if its attach could not (guard set). */
void tmk_thread_find_bounds(struct tmk_thread *t) TMK_HIDDEN;
static inline void tmk_thread_bounds_due(struct tmk_thread *t)
{
    if (TMK_UNLIKELY(t->bounds_pending) && !tmk_tls.in_getattr) tmk_thread_find_bounds(t);
}
void tmk_thread_init_key(void) TMK_HIDDEN;
void tmk_thread_flush(struct tmk_thread *t) TMK_HIDDEN; /* own buffer, whole */
/* Writes the records of self (the caller's own buffer, then emptied for
 * the records that follow) and every thread's queued block; with `others`,
 * every other thread's buffer too, as it is (writer lock held; at the end:
 * the others no longer record, or will never be heard of again). */
void tmk_threads_flush_all(struct tmk_thread *self, int others) TMK_HIDDEN;
/* t's empty buffer starts its next block at t's last time (writer lock
 * held, t the caller's own): after a block written outside the buffer. */
void tmk_thread_block_restart(struct tmk_thread *t) TMK_HIDDEN;
/* The sampler: writes every queued block (takes the writer lock per block).
 * tmk_blocks_wait sleeps up to ns, less when a block is queued meanwhile;
 * `seen` is tmk_blocks_queued_count() read before the last write pass. */
void tmk_threads_write_queued(void) TMK_HIDDEN;
unsigned tmk_blocks_queued_count(void) TMK_HIDDEN;
void tmk_blocks_wait(unsigned seen, uint64_t ns) TMK_HIDDEN;
void tmk_blocks_wake(void) TMK_HIDDEN; /* ends the sampler's wait now */
/* The sampler is there to write queued blocks (1) or not (0: the owners
 * write their own, as before it starts, after it ends, in a forked child). */
void tmk_blocks_writer_up(int up) TMK_HIDDEN;
void tmk_threads_after_fork_child(void) TMK_HIDDEN;
int64_t tmk_threads_heap(void) TMK_HIDDEN;
void tmk_thread_name(struct tmk_thread *t, const char *name) TMK_HIDDEN;
void tmk_threads_lock(void) TMK_HIDDEN;
void tmk_threads_unlock(void) TMK_HIDDEN;
/* Waits (at most about a second) until no thread but the caller has
 * in_libunwind set. */
void tmk_threads_wait_unwinds(void) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_THREAD_H */
