/* preload/buffer.c - per-thread state and its record buffer.
 *
 * Each thread that records gets a struct tmk_thread (mmap'd, never freed,
 * reused through a pool after its thread exits) with a number, a heap
 * counter, a stack-id cache and a TMK_BUFFER_BYTES buffer, of which it
 * fills TMK_BUFFER_SMALL bytes a block until that fills up once; then the
 * whole of it, if fewer than TMK_BIG_BUFFERS threads do (given back when
 * the thread ends): what many threads keep resident stays small, and the
 * few busiest write large blocks (fewer writes, better compression). The
 * pages a buffer never filled stay untouched. Records go into
 * the buffer with no lock and no system call; a full buffer becomes one block
 * written with one writev under the writer mutex. On thread exit (pthread key
 * destructor) the buffer is flushed and the state goes back to the pool.
 *
 * Only the owner appends. Two other threads may write a buffer out, both
 * under the writer mutex (so a thread's blocks are written, and numbered, in
 * `seq` order whoever writes them):
 *  - the sampler, through the handoff (buffer.h): every
 *    TMK_HANDOFF_EVERY_NS it writes the buffer of each thread that has
 *    records, has written no block for TMK_HANDOFF_AGE_NS and is not between
 *    tmk_reserve and tmk_publish, and starts its next block exactly as the
 *    owner's own flush does (time_base = the last record's time, pointer
 *    deltas from 0). It holds `handoff` meanwhile; an owner (or a signal
 *    handler on its thread) that reserves then waits for the write. So a
 *    thread blocked in read, epoll_wait or pthread_cond_wait has its records
 *    on disk within about a second, and a process killed by any signal loses
 *    at most its last second. The pass holds the threads lock, then the
 *    writer lock (the lock order), and waits for no thread: a fork waits
 *    for the pass to end, so no handoff is pending in a child (whose states
 *    are reset anyway), and a thread that exits flushes under its own busy
 *    mark before its state goes back to the pool (a detached state is
 *    never asked for);
 *  - the final flush (exit, exec, fatal signal), which writes the published
 *    prefix [0, pos) of every buffer; it never resets pos, and no block is
 *    written after the final one because the writer is closed.
 *
 * The queued block. Compressing and writing a full block is the shim's
 * largest single cost on the program's thread after unwinding (W3: 10% of
 * the traced run, most of it zstd evicting the program's data from the
 * core's caches), so while the sampler runs, a thread whose buffer is full
 * does not write it: it queues it (out_*) and goes on in a free buffer from
 * the process's few spares, and the sampler, woken by a futex, compresses
 * and writes it on another core, then makes its buffer a spare. There are
 * at most SPARES_MAX spares (the sampler writes one block at a time): with
 * none left, a thread writes its own block as before, so a program of 64
 * threads does not pay a second buffer each. At most one block of a
 * thread is queued; every path that writes a thread's blocks writes its
 * queued one first (write_queued), so its blocks still reach the file in
 * seq order. A thread's buffer, the spares and the queue's fields change
 * only under the writer lock, so the final flush, which reads buf and pos
 * of running threads under that lock, sees a consistent pair. A thread's
 * own flush when it exits, the sampler's own, and everything before the
 * sampler starts or after it ends are written at once, as before.
 */
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

__thread struct tmk_tls tmk_tls __attribute__((tls_model("initial-exec")));

static pthread_mutex_t threads_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct tmk_thread *all_threads; /* published with release */
static struct tmk_thread *pool;
static uint32_t next_number = 1;
static int64_t retired_heap; /* heap counters of threads that exited */
static pthread_key_t thread_key;
int tmk_handoff_fenced;
static unsigned big_buffers;   /* threads whose cap is TMK_BUFFER_BYTES */
static unsigned blocks_queued; /* bumped per queued block: the sampler's futex word */
static int writer_up;          /* the sampler writes queued blocks */

/* Free buffers for a thread that queues its full one (writer lock held). */
#define SPARES_MAX 4
static uint8_t *spares[SPARES_MAX];
static int nspares, spares_made;

static void *map_zeroed(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void put_thread_record(struct tmk_thread *t)
{
    char name[17] = {0};
    prctl(PR_GET_NAME, name, 0, 0, 0);
    size_t len = strnlen(name, 16);
    uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
    p = tmk_put_timed(t, p, TMK_REC_THREAD, tmk_now());
    p = tmk_put_u(p, (uint64_t)t->tid);
    p = tmk_put_u(p, len);
    memcpy(p, name, len);
    tmk_publish(t, p + len);
}

/* Gives t a fresh start: number, empty buffer, empty cache (lock held).
 * A state just mapped is all zero already: its stack-id cache (128 KiB) is
 * not cleared, so that only the pages a thread's stacks use become
 * resident (64 threads: 8 MiB less). */
static void thread_reset(struct tmk_thread *t, int fresh)
{
    t->number = next_number++;
    t->attached = 1;
    t->tid = gettid();
    t->heap = 0;
    t->lost = 0;
    t->pos = 0;
    t->cap = TMK_BUFFER_SMALL; /* a big one was given back when its thread ended */
    t->busy = 0;
    t->handoff = 0;
    t->flushed_ns = tmk_clock_ns();
    t->seq = 0;
    t->last_time = tmk_now();
    t->time_base = t->last_time;
    t->flush_at = t->time_base + TMK_FLUSH_AGE_NS;
    t->last_ptr = 0;
    t->out_queued = 0;
    t->rng = tmk_clock_ns() ^ ((uint64_t)t->tid << 32) ^ (uintptr_t)t;
    t->sample_left = 0;
    if (!fresh) memset(t->cache, 0, sizeof t->cache);
    tmk_caller_cache_thread_reset(t);
}

/* The calling thread's stack: the fp unwinder stays inside it, and
 * caller_cache.c's cache re-reads only words between the stack pointer and
 * its top (so never a word that could fault).
 *
 * pthread_getattr_np(self) holds the thread's own lock while it reallocs:
 * a thread whose first allocation comes from inside it (Rust's std asks for
 * every new thread's stack guard that way) would wait forever on that lock
 * here. So the shim wraps pthread_getattr_np (hooks.c) to know when it is inside, and
 * then leaves the bounds unknown (no caller cache, no frame-pointer walk
 * for those few allocations) until the thread's next allocation outside. */
static void find_stack_bounds(struct tmk_thread *t)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    t->stack_lo = t->stack_hi = 0;
    t->bounds_pending = tmk_tls.in_getattr > 0;
    if (t->bounds_pending || pthread_getattr_np(pthread_self(), &attr) != 0) return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        t->stack_lo = (uintptr_t)addr;
        t->stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

/* From inside the recording (guard TMK_GUARD_SHIM): glibc allocates in
 * pthread_getattr_np, and those calls are the shim's own (TMK_GUARD_CALL),
 * not a signal handler's. */
void tmk_thread_find_bounds(struct tmk_thread *t)
{
    enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL);
    find_stack_bounds(t);
    tmk_tls.guard = guard;
}

struct tmk_thread *tmk_thread_attach(void)
{
    enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL);
    pthread_mutex_lock(&threads_mutex);
    struct tmk_thread *t = pool;
    int fresh = !t;
    if (t) {
        pool = t->next_free;
    } else {
        t = map_zeroed(sizeof *t);
        if (t) t->buf = map_zeroed(TMK_BUFFER_BYTES);
        if (t && !t->buf) {
            munmap(t, sizeof *t);
            t = NULL;
        }
        if (t) {
            t->next_all = all_threads;
            __atomic_store_n(&all_threads, t, __ATOMIC_RELEASE);
        }
    }
    if (t) thread_reset(t, fresh);
    pthread_mutex_unlock(&threads_mutex);
    if (t) {
        find_stack_bounds(t);
        tmk_tls.t = t;
        pthread_setspecific(thread_key, t);
        put_thread_record(t);
    }
    tmk_tls.guard = guard;
    return t;
}

/* Thread exit: flush, give the state back. If the thread allocates again
 * later in its exit, it attaches anew and this runs once more. */
static void thread_detach(void *arg)
{
    struct tmk_thread *t = arg;
    enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL);
    if (t && t == tmk_tls.t) {
        tmk_thread_flush(t);
        if (t->pos) tmk_thread_flush(t); /* the LOST it opened the next block with */
        tmk_tls.t = NULL;
        pthread_mutex_lock(&threads_mutex);
        __atomic_add_fetch(&retired_heap, t->heap, __ATOMIC_RELAXED);
        t->heap = 0;
        t->attached = 0;
        if (t->cap == TMK_BUFFER_BYTES) __atomic_sub_fetch(&big_buffers, 1, __ATOMIC_RELAXED);
        t->cap = TMK_BUFFER_SMALL;
        t->next_free = pool;
        pool = t;
        pthread_mutex_unlock(&threads_mutex);
    }
    tmk_tls.guard = guard;
}

void tmk_thread_init_key(void)
{
    pthread_key_create(&thread_key, thread_detach);
}

/* A free buffer, or NULL (writer lock held). */
static uint8_t *spare_take(void)
{
    if (nspares) return spares[--nspares];
    if (spares_made == SPARES_MAX) return NULL;
    uint8_t *b = map_zeroed(TMK_BUFFER_BYTES);
    if (b) spares_made++;
    return b;
}

/* Writes t's queued block, if any, and keeps its buffer as a spare (writer
 * lock held). */
static void write_queued(struct tmk_thread *t)
{
    if (!__atomic_load_n(&t->out_queued, __ATOMIC_ACQUIRE)) return;
    tmk_writer_block(t->number, t->out_seq, t->out_time_base, t->out_buf, t->out_pos);
    spares[nspares++] = t->out_buf; /* it came from there, or took a spare's place */
    __atomic_store_n(&t->out_queued, 0, __ATOMIC_RELEASE);
}

/* The buffer is empty again: the next block starts (writer lock held). */
static void start_next_block(struct tmk_thread *t)
{
    __atomic_store_n(&t->pos, 0, __ATOMIC_RELAXED);
    t->time_base = t->last_time;
    t->flush_at = t->time_base + TMK_FLUSH_AGE_NS;
    t->last_ptr = 0;
    t->flushed_ns = tmk_clock_ns();
}

/* Writes t's queued block, then its records [0, pos) as its next block, and
 * starts the next one (writer lock held; the caller owns the buffer: its
 * owner, busy, or the sampler holding the handoff). */
static void write_block(struct tmk_thread *t, size_t pos)
{
    write_queued(t);
    if (pos) tmk_writer_block(t->number, t->seq++, t->time_base, t->buf, pos);
    start_next_block(t);
}

static void wake_writer(void)
{
    __atomic_add_fetch(&blocks_queued, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &blocks_queued, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The owner's full buffer goes to the sampler (writer lock held): 0, or -1
 * when it must be written now (no sampler, no spare). */
static int queue_block(struct tmk_thread *t)
{
    if (!__atomic_load_n(&writer_up, __ATOMIC_ACQUIRE) || !t->pos) return -1;
    write_queued(t); /* the sampler is behind: this thread writes its previous block */
    uint8_t *next = spare_take();
    if (!next) return -1;
    t->out_buf = t->buf;
    t->out_pos = t->pos;
    t->out_seq = t->seq++;
    t->out_time_base = t->time_base;
    t->buf = next;
    start_next_block(t);
    __atomic_store_n(&t->out_queued, 1, __ATOMIC_RELEASE);
    return 0;
}

/* The owner's flush (busy, no handoff pending): the block (queued for the
 * sampler when `queue` and it can be), then a LOST record opening the next
 * one when events were dropped. */
static void flush_own(struct tmk_thread *t, int queue)
{
    int saved = errno;
    sigset_t mask;
    tmk_block_async_signals(&mask); /* a jump out would leave the writer's lock held */
    tmk_writer_lock();
    int queued = queue && queue_block(t) == 0;
    if (!queued) write_block(t, t->pos);
    tmk_writer_unlock();
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    if (queued) wake_writer();
    if (t->lost && tmk_state == TMK_STATE_ACTIVE) {
        uint8_t *p = t->buf;
        p = tmk_put_timed(t, p, TMK_REC_LOST, tmk_now());
        p = tmk_put_u(p, t->lost);
        t->lost = 0;
        __atomic_store_n(&t->pos, (size_t)(p - t->buf), __ATOMIC_RELEASE); /* still busy */
    }
    errno = saved;
}

/* The sampler is writing this buffer: at most one block's compression and
 * write away. */
static void wait_handoff(const struct tmk_thread *t)
{
    while (tmk_handoff_asked(t)) sched_yield();
}

/* t filled its small buffer: it fills the whole mapping from now on, if
 * fewer than TMK_BIG_BUFFERS threads do, and if a block that size is at
 * most a sixteenth of TIDEMARK_MAX_BYTES (so that the bound's last eighth,
 * bound.c, holds two blocks: a 1 MiB bound keeps 64 KiB blocks). 1 when it
 * grew. */
static int grow_cap(struct tmk_thread *t)
{
    if (t->cap == TMK_BUFFER_BYTES) return 0;
    if (tmk_opt.max_bytes && tmk_opt.max_bytes / 16 < TMK_BUFFER_BYTES) return 0;
    unsigned n = __atomic_load_n(&big_buffers, __ATOMIC_RELAXED);
    while (n < TMK_BIG_BUFFERS)
        if (__atomic_compare_exchange_n(&big_buffers, &n, n + 1, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            t->cap = TMK_BUFFER_BYTES;
            return 1;
        }
    return 0;
}

void tmk_reserve_slow(struct tmk_thread *t, size_t need, uint64_t now, int timed)
{
    wait_handoff(t);
    if (t->pos + need > t->cap) {
        if (!grow_cap(t) || t->pos + need > t->cap) flush_own(t, 1);
    } else if (timed && now > t->flush_at) {
        if (t->pos)
            flush_own(t, 1);
        else
            t->flush_at = now + TMK_FLUSH_AGE_NS;
    }
}

void tmk_thread_flush(struct tmk_thread *t)
{
    tmk_busy_begin(t);
    wait_handoff(t);
    flush_own(t, 0);
    __atomic_store_n(&t->busy, 0, __ATOMIC_RELEASE);
}

/* ---- the sampler's side of the handoff ----------------------------------- */

#define HANDOFF_BATCH 64 /* buffers asked for per barrier */

void tmk_handoff_init(void)
{
    int saved = errno;
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    int ok = cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
             syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    tmk_handoff_fenced = !ok;
    errno = saved;
}

/* Every thread that was busy before this returns is seen busy after it;
 * every thread that sets busy after it sees the handoffs asked before it.
 * -1 when membarrier failed (nothing may be taken then). */
static int handoff_barrier(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (tmk_handoff_fenced) return 0; /* the owners fence themselves */
    return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0 ? 0 : -1;
}

/* Asks for the buffers of up to HANDOFF_BATCH threads from *it on that have
 * records and wrote no block for TMK_HANDOFF_AGE_NS; *it moves past them
 * (threads and writer locks held). */
static size_t ask_stale(struct tmk_thread **it, const struct tmk_thread *self, uint64_t now,
                        uint64_t min_age_ns, struct tmk_thread **asked)
{
    size_t n = 0;
    struct tmk_thread *t = *it;
    for (; t && n < HANDOFF_BATCH; t = t->next_all) {
        if (t == self || !t->attached || !__atomic_load_n(&t->pos, __ATOMIC_ACQUIRE) ||
            now - t->flushed_ns < min_age_ns)
            continue;
        __atomic_store_n(&t->handoff, 1, __ATOMIC_RELAXED);
        asked[n++] = t;
    }
    *it = t;
    return n;
}

size_t tmk_threads_handoff(struct tmk_thread *self, uint64_t min_age_ns)
{
    int saved = errno;
    struct tmk_thread *asked[HANDOFF_BATCH];
    size_t left = 0;
    pthread_mutex_lock(&threads_mutex);
    tmk_writer_lock();
    struct tmk_thread *it = all_threads;
    uint64_t now = tmk_clock_ns();
    size_t n;
    while ((n = ask_stale(&it, self, now, min_age_ns, asked)) > 0) {
        int ok = handoff_barrier() == 0;
        for (size_t i = 0; i < n; i++) {
            struct tmk_thread *t = asked[i];
            if (ok && !__atomic_load_n(&t->busy, __ATOMIC_ACQUIRE))
                write_block(t, __atomic_load_n(&t->pos, __ATOMIC_ACQUIRE));
            else
                left++;
            __atomic_store_n(&t->handoff, 0, __ATOMIC_RELEASE);
        }
    }
    tmk_writer_unlock();
    pthread_mutex_unlock(&threads_mutex);
    errno = saved;
    return left;
}

void tmk_thread_block_restart(struct tmk_thread *t)
{
    start_next_block(t);
}

/* The events t dropped since its last flush (a flush puts them in a LOST
 * opening the next block): a block of their own at the end, beside the
 * buffer (the thread may still run). */
static void write_lost(struct tmk_thread *t)
{
    uint64_t n = t->lost;
    if (!n) return;
    uint8_t rec[1 + 2 * TMK_VARINT_MAX], *p = rec;
    *p++ = TMK_REC_LOST;
    p = tmk_put_u(p, 0); /* at the block's time */
    p = tmk_put_u(p, n);
    t->lost = 0;
    tmk_writer_block(t->number, t->seq++, tmk_now(), rec, (size_t)(p - rec));
}

void tmk_threads_flush_all(struct tmk_thread *self, int others)
{
    for (struct tmk_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t;
         t = t->next_all) {
        size_t pos = __atomic_load_n(&t->pos, __ATOMIC_ACQUIRE);
        if (t == self) {
            write_block(t, pos);
            write_lost(t);
            continue;
        }
        write_queued(t);
        if (!others) continue;
        if (pos) tmk_writer_block(t->number, t->seq++, t->time_base, t->buf, pos);
        write_lost(t);
    }
}

/* ---- the sampler's side of the queued blocks ------------------------------ */

void tmk_threads_write_queued(void)
{
    for (struct tmk_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t;
         t = t->next_all) {
        if (!__atomic_load_n(&t->out_queued, __ATOMIC_ACQUIRE)) continue;
        tmk_writer_lock();
        write_queued(t);
        tmk_writer_unlock();
    }
}

void tmk_blocks_wake(void)
{
    wake_writer();
}

unsigned tmk_blocks_queued_count(void)
{
    return __atomic_load_n(&blocks_queued, __ATOMIC_ACQUIRE);
}

void tmk_blocks_wait(unsigned seen, uint64_t ns)
{
    int saved = errno;
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    syscall(SYS_futex, &blocks_queued, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    errno = saved;
}

void tmk_blocks_writer_up(int up)
{
    __atomic_store_n(&writer_up, up, __ATOMIC_RELEASE);
}

int64_t tmk_threads_heap(void)
{
    int64_t sum = __atomic_load_n(&retired_heap, __ATOMIC_RELAXED);
    for (struct tmk_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t;
         t = t->next_all)
        if (t->attached) sum += __atomic_load_n(&t->heap, __ATOMIC_RELAXED);
    return sum;
}

/* Bounded: a thread stopped inside libunwind (a debugger, SIGSTOP) must not
 * hang the program's fork; it gets the old risk instead. */
void tmk_threads_wait_unwinds(void)
{
    uint64_t give_up = tmk_clock_ns() + 1000000000u;
    for (struct tmk_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t;
         t = t->next_all) {
        if (t == tmk_tls.t) continue;
        while (__atomic_load_n(&t->in_libunwind, __ATOMIC_SEQ_CST) && tmk_clock_ns() < give_up)
            sched_yield();
    }
}

void tmk_threads_lock(void) { pthread_mutex_lock(&threads_mutex); }
void tmk_threads_unlock(void) { pthread_mutex_unlock(&threads_mutex); }

/* In a forked child only the forking thread runs: every other state goes to
 * the pool, the forking thread's state restarts as thread 1 of the new file
 * (its buffered records belong to the parent's file). */
void tmk_threads_after_fork_child(void)
{
    pthread_mutex_init(&threads_mutex, NULL);
    struct tmk_thread *self = tmk_tls.t;
    pool = NULL;
    next_number = 1;
    big_buffers = 0; /* the states below restart small */
    writer_up = 0; /* no sampler here until the child's starts */
    for (struct tmk_thread *t = all_threads; t; t = t->next_all) {
        /* the parent's queued block: its sampler writes it; here a spare */
        if (t->out_queued) spares[nspares++] = t->out_buf;
        t->out_queued = 0;
        if (t == self) continue;
        retired_heap += t->heap;
        t->heap = 0;
        t->pos = 0;
        t->cap = TMK_BUFFER_SMALL;
        t->busy = 0;
        t->handoff = 0;
        t->attached = 0;
        t->next_free = pool;
        pool = t;
    }
    if (self) {
        int64_t heap = self->heap;
        thread_reset(self, 0);
        self->heap = heap;
    }
}

/* Emits the THREAD record of the current thread again (new file). */
void tmk_thread_name(struct tmk_thread *t, const char *name)
{
    if (name) prctl(PR_SET_NAME, name, 0, 0, 0);
    put_thread_record(t);
}
