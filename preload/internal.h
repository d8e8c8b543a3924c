/* preload/internal.h - what the shim's files share: the per-thread state, the
 * global state, and the functions each file exports to the others.
 *
 * Invariants that hold everywhere in preload/:
 *  - The shim never allocates through malloc; its own memory comes from
 *    arena.c (mmap). Code that may call out into libc/libunwind in a way
 *    that can allocate runs with the thread's guard set, so those calls pass
 *    straight through to the real allocator, untraced.
 *  - A thread's buffer is appended to only by its owning thread, with its
 *    guard set. `pos` is published after the record bytes are written, so a
 *    final flush from another thread always sees whole records.
 *  - The handoff (buffer.c): the owner is `busy` from tmk_reserve to
 *    tmk_publish; the sampler writes the buffer of a thread that is not busy
 *    and has written no block for TMK_HANDOFF_AGE_NS, holding `handoff`
 *    meanwhile; an owner that finds `handoff` set waits for the write.
 *  - Lock order: tables -> ptrset -> stacks (intern.c) -> modules -> threads -> writer
 *    -> arena (modules is only tried from allocation paths, for 2 ms at
 *    most). intern.c's list of ranges to forget: a spinlock taken holding
 *    stacks or modules (or neither), nothing taken inside it. cfi.c's registry
 *    lock: taken holding no other (or inside dl_iterate_phdr, after the
 *    loader's), arena after it. Every lock is
 *    taken only with the taking thread's guard set: a signal handler that
 *    allocates on that thread passes through and cannot deadlock on it.
 */
#ifndef TIDEMARK_PRELOAD_INTERNAL_H
#define TIDEMARK_PRELOAD_INTERNAL_H

#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "tidemark/trace_format.h"

#define TMK_EXPORT __attribute__((visibility("default")))
#define TMK_HIDDEN __attribute__((visibility("hidden")))
#define TMK_NOINLINE __attribute__((noinline))
/* A function without a frame of its own, whatever -fno-omit-frame-pointer
 * says (gcc; clang has no such attribute: preload/CMakeLists.txt builds
 * hooks.c with -momit-leaf-frame-pointer there). Only when
 * optimizing: at -O0 its tail calls are calls, and a frameless caller of
 * the recording path would hide its own caller from TIDEMARK_UNWIND=fp's
 * walk (the %rbp chain skips its return address). */
#if defined(__clang__) || !defined(__OPTIMIZE__)
#define TMK_FRAMELESS
#else
#define TMK_FRAMELESS __attribute__((optimize("omit-frame-pointer")))
#endif
#define TMK_LIKELY(x) __builtin_expect(!!(x), 1)
#define TMK_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- options.c ---------------------------------------------------------- */

enum tmk_mode { TMK_MODE_FULL = 0, TMK_MODE_TABLES = 1 };
enum tmk_unwinder { TMK_UNWIND_LIBUNWIND = 0, TMK_UNWIND_FP = 1, TMK_UNWIND_CFI = 2 };

#define TMK_DEPTH_DEFAULT 32
#define TMK_DEPTH_MAX 128

struct tmk_options {
    char output[4096];          /* TIDEMARK_OUTPUT template */
    enum tmk_mode mode;         /* TIDEMARK_MODE */
    enum tmk_unwinder unwinder; /* TIDEMARK_UNWIND */
    int unwind_verify;          /* TIDEMARK_UNWIND_VERIFY: cfi stacks compared with libunwind's */
    unsigned depth;             /* TIDEMARK_DEPTH, 1..TMK_DEPTH_MAX */
    unsigned interval_ms;       /* TIDEMARK_SAMPLE_INTERVAL */
    uint64_t sample_bytes;      /* TIDEMARK_SAMPLE_BYTES, 0 = record everything */
    int quiet;                  /* TIDEMARK_QUIET */
    int compress;               /* TIDEMARK_COMPRESS: zstd blocks (default: full mode) */
    int stack_cache;            /* TIDEMARK_STACK_CACHE: 0 off, 1 on (default), 2 on + counts */
    uint64_t probe_min;         /* TIDEMARK_PROBE_MIN: blocks probed from this size; 0 = none */
    uint64_t probe_bytes;       /* TIDEMARK_PROBE_BYTES: bytes probed a second at most */
    uint64_t max_bytes;         /* TIDEMARK_MAX_BYTES: 0 none, else >= TMK_MAX_BYTES_MIN */
    uint64_t block_map_bytes;   /* TIDEMARK_BLOCK_MAP_MIB: full mode's block map's fixed budget */
};

#define TMK_MAX_BYTES_MIN (1ull << 20)

extern struct tmk_options tmk_opt TMK_HIDDEN;

/* Full mode without sampling: the heap is written by info (ALLOC_INFO,
 * FREE_INFO) and blocks are tracked in ptrmap.c. */
static inline int tmk_heap_by_info(void)
{
    return tmk_opt.mode == TMK_MODE_FULL && !tmk_opt.sample_bytes;
}

void tmk_options_read(void) TMK_HIDDEN;
/* One line on stderr ("tidemark: " + msg + "\n") unless quiet, or unless
 * this process is a descendant of a traced one (see trace_name.c). */
void tmk_warn(const char *msg, const char *arg1, const char *arg2) TMK_HIDDEN;
/* Who this process is, once known: a descendant says nothing; a later image
 * (after exec) does not repeat the settings lines; the process the user
 * started says the settings lines held until now. */
void tmk_speech_settle(int descendant, int later_image) TMK_HIDDEN;
/* Appends strerror's C-locale text for err (allocation-free); returns new n. */
size_t tmk_errno_append(char *out, size_t n, size_t cap, int err) TMK_HIDDEN;

/* ---- trace_name.c: who this process is, which file it writes ------------ */

/* At start, after the settings: a relative TIDEMARK_OUTPUT made absolute
 * (tmk_opt.output; never the environment), then who this process is. */
void tmk_lineage_detect(void) TMK_HIDDEN;
void tmk_lineage_forked(void) TMK_HIDDEN; /* in a forked child */
/* Creates this process's trace file; its name in path. fd, or -1 with errno
 * (ELOOP: a symlink there; EEXIST: a non-regular file, or 99 suffixes taken). */
int tmk_trace_create(char *path, size_t cap) TMK_HIDDEN;

/* ---- arena.c: the shim's own allocator (mmap-backed) -------------------- */

void *tmk_arena_alloc(size_t bytes) TMK_HIDDEN;   /* zeroed */
void tmk_arena_free(void *p) TMK_HIDDEN;
void tmk_arena_after_fork_child(void) TMK_HIDDEN;
void tmk_arena_lock(void) TMK_HIDDEN;
void tmk_arena_unlock(void) TMK_HIDDEN;
/* Whole pages in a mapping of their own, zeroed, no header (bytes rounded up
 * to pages): for tables that grow by replacement and must give their old
 * memory back. NULL when the kernel says no. */
void *tmk_pages_map(size_t bytes) TMK_HIDDEN;
void tmk_pages_unmap(void *p, size_t bytes) TMK_HIDDEN;
/* Gives the pages back but keeps the range mapped: it reads as zeros. */
void tmk_pages_forget(void *p, size_t bytes) TMK_HIDDEN;

/* ---- per-thread state (buffer.c) ---------------------------------------- */

#define TMK_STACK_CACHE 8192 /* entries of the per-thread stack-id cache */
#define TMK_BUFFER_BYTES (256u << 10) /* a buffer's mapping: the most a block holds */
/* A thread fills TMK_BUFFER_SMALL bytes of it until it first fills that
 * much; then the whole of it if fewer than TMK_BIG_BUFFERS threads do
 * (buffer.c): a program of 64 threads does not keep 16 MiB of buffers. */
#define TMK_BUFFER_SMALL (64u << 10)
#define TMK_BIG_BUFFERS 4
#define TMK_RECORD_MAX 64 /* room any fixed-size record needs */


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
    int read;
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
    /* infos.c's numbers, which never change meaning: kept across a state's
     * reuse and a fork */
    struct tmk_info_cache_entry infos[TMK_INFO_CACHE];
};

/* What the caller of an exported entry point looks like: the key of
 * caller_cache.c's cache. ra == 0: unknown (tmk_stack_id unwinds as
 * before). */
struct tmk_caller {
    uintptr_t ra;  /* __builtin_return_address(0) of the exported function */
    uintptr_t cfa; /* its __builtin_dwarf_cfa(): the caller's %rsp after the return */
    uintptr_t rbp; /* the caller's %rbp at the call */
};

#define TMK_DEFERRED_MAX 32 /* frees a signal handler may leave for later */

/* What the thread is doing, as the shim's entry points see it. */
enum tmk_guard {
    TMK_GUARD_FREE = 0,   /* the program's own code: its calls are recorded */
    TMK_GUARD_SHIM = 1,   /* inside the shim's recording, which never allocates:
                             an allocation now comes from a signal handler */
    TMK_GUARD_CALL = 2,   /* inside a call the shim makes (libc, dlsym): its
                             allocations pass through to the real allocator */
    TMK_GUARD_THREAD = 3, /* a thread of the shim's own (the sampler): the same */
};

/* The thread-local part, initial-exec TLS: one load reaches it. */
struct tmk_tls {
    struct tmk_thread *t;
    enum tmk_guard guard;
    int in_real; /* inside the real allocator (a handler must not reenter it) */
    int in_unwind; /* inside libunwind (unwind_nofd.c: its pipe has no descriptor) */
    int in_getattr; /* inside pthread_getattr_np (hooks.c; buffer.c: it holds the thread's lock) */
    struct tmk_caller caller; /* set by TMK_CALLER_SET in the shim, cleared on leaving */
    uint64_t deferred_state;            /* sigalloc.c: generation << 32 | count */
    void *deferred[TMK_DEFERRED_MAX];   /* sigalloc.c: frees left for later */
};
extern __thread struct tmk_tls tmk_tls TMK_HIDDEN __attribute__((tls_model("initial-exec")));

/* Sets the thread's guard to g; returns the one it replaces, for the caller
 * to put back. */
static inline enum tmk_guard tmk_guard_swap(enum tmk_guard g)
{
    enum tmk_guard was = tmk_tls.guard;
    tmk_tls.guard = g;
    return was;
}

enum tmk_state {
    TMK_STATE_OFF = 0,     /* not initialized yet */
    TMK_STATE_ACTIVE = 1,  /* recording */
    TMK_STATE_STOPPED = 2, /* finished, failed, or disabled: pass through */
    TMK_STATE_STARTING = 3, /* one thread is starting the shim: pass through */
};
extern volatile int tmk_state TMK_HIDDEN;
extern uint64_t tmk_start_ns TMK_HIDDEN;  /* CLOCK_MONOTONIC at start */
extern pid_t tmk_pid TMK_HIDDEN;          /* the process the file belongs to */

static inline uint64_t tmk_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Event time: ns since the file's start. */
static inline uint64_t tmk_now(void)
{
    return tmk_clock_ns() - tmk_start_ns;
}

/* In an exported entry point, once its guard is TMK_GUARD_SHIM: says who
 * called it, for the tmk_stack_id calls of this entry. It must be written in the exported
 * function itself. __builtin_frame_address(0) makes gcc give that function a
 * frame pointer (push %rbp; mov %rsp,%rbp at entry), so the word there is
 * the caller's %rbp (objdump-checked with gcc 12 -O2; caller_cache.c also checks
 * all three words against libunwind before it caches anything). Every way
 * out that set it clears caller.ra (tmk_leave() and tmk_api_leave() in
 * guard.h): a later tmk_stack_id can never use a stale caller. */
#define TMK_CALLER_SET()                                                                      \
    do {                                                                                      \
        void *const *fp_ = __builtin_frame_address(0);                                        \
        tmk_tls.caller.ra = (uintptr_t)__builtin_return_address(0);                           \
        tmk_tls.caller.cfa = (uintptr_t)__builtin_dwarf_cfa();                                \
        tmk_tls.caller.rbp = (uintptr_t)fp_[0];                                               \
    } while (0)
#define TMK_CALLER_CLEAR() (tmk_tls.caller.ra = 0)

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

/* CLOCK_MONOTONIC_COARSE as an event time (ns since the file's start, 0
 * before it): the kernel's tick, read without the TSC (14 cycles here
 * against 65 for CLOCK_MONOTONIC). One global value for every CPU, so it
 * never runs backwards from one thread to another. */
static inline uint64_t tmk_now_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return ns > tmk_start_ns ? ns - tmk_start_ns : 0;
}

/* ---- writer.c ----------------------------------------------------------- */

int tmk_writer_open(void) TMK_HIDDEN; /* 0 ok, -1 (warned, tracing off) */
void tmk_writer_lock(void) TMK_HIDDEN;
int tmk_writer_trylock(void) TMK_HIDDEN;
void tmk_writer_unlock(void) TMK_HIDDEN;
int tmk_writer_held_here(void) TMK_HIDDEN; /* this thread holds the lock (a handler asks) */
/* Writes one block (writer lock held). Returns 0, or -1 when tracing stopped. */
int tmk_writer_block(uint32_t thread, uint64_t seq, uint64_t time_base, const uint8_t *payload,
                     size_t size) TMK_HIDDEN;
void tmk_writer_close(void) TMK_HIDDEN; /* writer lock held */
void tmk_writer_after_fork_child(void) TMK_HIDDEN;

/* compress.c: a block's bytes to store (writer lock held): its records,
 * or one zstd frame of them in the compressor's buffer when smaller (flags
 * TMK_BLOCK_ZSTD); *size becomes the stored size. */
void tmk_compress_init(void) TMK_HIDDEN; /* once, before the first block */
const uint8_t *tmk_compress_block(uint32_t thread, const uint8_t *payload, size_t *size,
                                  uint32_t *flags) TMK_HIDDEN;
/* Does thread's next block use the literal setup (for tests)? */
int tmk_compress_literal_choice(uint32_t thread) TMK_HIDDEN;

/* The trace file's descriptor sits at this number or above when the
 * descriptor limit leaves room (writer.c). */
#define TMK_FD_HIGH 1024

/* ---- spinlocks (ptrmap.c's shards, probe.c's registry) ------------------ */

/* A lock held for a few instructions: spins, then yields (the holder may
 * have been preempted). The wait is out of line (spin.c), so that taking a
 * free lock adds no saved register to the functions that take it. */
void tmk_spin_wait(int *word) TMK_HIDDEN;
static inline void tmk_spin_lock(int *word)
{
    if (TMK_UNLIKELY(__atomic_exchange_n(word, 1, __ATOMIC_ACQUIRE))) tmk_spin_wait(word);
}

static inline void tmk_spin_unlock(int *word)
{
    __atomic_store_n(word, 0, __ATOMIC_RELEASE);
}

/* ---- probe.c ------------------------------------------------------------ */

/* Is this a block whose contents are probed (a live block of probe_min
 * bytes or more)? Such blocks are written by address in every mode. */
static inline int tmk_probed_size(size_t size)
{
    return tmk_opt.probe_min && size >= tmk_opt.probe_min;
}
extern int tmk_probe_used TMK_HIDDEN; /* a block was ever registered */
/* p (size bytes, allocated from stack) joins the probes' registry; t, the
 * allocating thread (or NULL), remembers it as its newest (tmk_probe_freed:
 * resizes). */
void tmk_probe_add(struct tmk_thread *t, uintptr_t p, uint64_t size, uint32_t stack) TMK_HIDDEN;
void tmk_probe_remove(uintptr_t p) TMK_HIDDEN;
void tmk_probe_start(void) TMK_HIDDEN; /* the probes at free get their first second's bytes */
/* p is being freed: its last probe (within the budget) at time now (its
 * FREE's), and it leaves the registry. Its size there, or 0 when absent. */
uint64_t tmk_probe_freed(struct tmk_thread *t, uintptr_t p, uint64_t now) TMK_HIDDEN;
/* The sampler's pass, at most once a second (guard set). */
void tmk_probe_sample(struct tmk_thread *t) TMK_HIDDEN;
/* The last pass at exit, over every block (guard set). */
void tmk_probe_final(struct tmk_thread *t) TMK_HIDDEN;
void tmk_probe_after_fork_child(void) TMK_HIDDEN;

/* ---- bound.c: TIDEMARK_MAX_BYTES ---------------------------------------- */

#define TMK_BOUND_STOP_MAX 40 /* bytes of a stop block's payload */
extern int tmk_bound_reached TMK_HIDDEN; /* the file passed bound - bound / 8 */
void tmk_bound_start(void) TMK_HIDDEN;   /* a new file, its header written */
/* Before a block of `bytes` (header and stored payload), writer lock held:
 * 1 = write it; 0 = write the stop block (tmk_bound_stop_payload) in its
 * place, and stop. */
int tmk_bound_admit(size_t bytes) TMK_HIDDEN;
size_t tmk_bound_stop_payload(uint8_t out[TMK_BOUND_STOP_MAX], uint64_t time_base) TMK_HIDDEN;
uint8_t *tmk_bound_put_soft(uint8_t *p) TMK_HIDDEN; /* BOUND(SOFT) at p */

/* ---- unwind_nofd.c: libunwind's validation pipe without a descriptor --- */

/* Finds the real syscall/pipe2/pipe before any unwind. */
void tmk_unwind_nofd_init(void) TMK_HIDDEN;
/* syscall, pipe2, pipe as the program gets them (hooks.c): inside one of
 * the shim's unwinds, sentinels and a readability check instead. */
long tmk_nofd_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) TMK_HIDDEN;
int tmk_nofd_pipe2(int fds[2], int flags) TMK_HIDDEN;
int tmk_nofd_pipe(int fds[2]) TMK_HIDDEN;

/* ---- the stack of a call: unwind.c, intern.c, caller_cache.c (cfi.c's walk:
 * cfi.h) ------------------------------------------------------------------ */

/* The stack of the current call (guard set; 0 = none). With tmk_tls.caller
 * set, through the caller cache when it can (caller_cache.c). */
uint32_t tmk_stack_id(struct tmk_thread *t) TMK_HIDDEN;

/* unwind.c: libunwind's set-up, at start. */
void tmk_unwind_init(void) TMK_HIDDEN;
/* Fork prepare (before any shim lock): waits until no other thread is
 * inside libunwind, whose global cache mutex a child must not inherit
 * locked; no thread enters until tmk_unwind_after_fork_parent or the
 * child's tmk_unwind_after_fork_child. */
void tmk_unwind_before_fork(void) TMK_HIDDEN;
void tmk_unwind_after_fork_parent(void) TMK_HIDDEN;
void tmk_unwind_after_fork_child(void) TMK_HIDDEN;

/* intern.c: the stacks table's mutex; a forked child's file starts with no
 * stacks. */
void tmk_intern_lock(void) TMK_HIDDEN;
void tmk_intern_unlock(void) TMK_HIDDEN;
void tmk_intern_after_fork_child(void) TMK_HIDDEN;
/* modules.c found an object unloaded (its mutex held): the stacks with a
 * frame in [start, end) are to be forgotten before any stack is interned
 * (every thread's, intern.h's tmk_stacks_sync). */
void tmk_intern_forget(uintptr_t start, uintptr_t end) TMK_HIDDEN;
/* A thread state starts anew (its stack-id cache is empty). */
void tmk_intern_thread_reset(struct tmk_thread *t) TMK_HIDDEN;

/* An address range: an object's [start, end) (modules.c, stackstore.c). */
struct tmk_range {
    uintptr_t start, end; /* [start, end) */
};

/* stackstore.c: the interned stacks, compactly (intern.c's lock held).
 * Frames f[0, n) (0 <= n <= TMK_DEPTH_MAX) of hash h: find gives their id or
 * 0; add (when find said 0) stores them under the next id (1, 2, ...), 0
 * when out of memory. frames writes up to cap frames of id to out and gives
 * the stack's depth (also of a forgotten one), -1 for an id never given.
 * bytes: the memory the store has mapped. reset forgets every stack and
 * gives the memory back. */
uint32_t tmk_store_find(const uintptr_t *f, int n, uint64_t h) TMK_HIDDEN;
uint32_t tmk_store_add(const uintptr_t *f, int n, uint64_t h) TMK_HIDDEN;
int tmk_store_frames(uint32_t id, uintptr_t *out, int cap) TMK_HIDDEN;
size_t tmk_store_bytes(void) TMK_HIDDEN;
void tmk_store_reset(void) TMK_HIDDEN;
/* Forgets every stack with a frame in one of r[0, n) (objects unloaded):
 * find no longer gives them, add gives them new ids; others keep theirs.
 * Returns how many were forgotten. */
size_t tmk_store_forget(const struct tmk_range *r, int n) TMK_HIDDEN;

/* caller_cache.c: a thread state starts anew (buffer.c's thread_reset): its
 * caller cache forgets every entry (stack ids restart in a forked child's
 * file), and so does intern.c's view of it. */
void tmk_caller_cache_thread_reset(struct tmk_thread *t) TMK_HIDDEN;
/* TIDEMARK_STACK_CACHE=2: one stderr line with the caller cache's counts. */
void tmk_caller_cache_report(void) TMK_HIDDEN;
void tmk_caller_cache_after_fork_child(void) TMK_HIDDEN;


/* ---- modules.c ---------------------------------------------------------- */

/* [start, end) of an object's PT_LOAD segments (end 0: none). */
static inline void tmk_module_range(const struct dl_phdr_info *info, uintptr_t *start,
                                    uintptr_t *end)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (s < lo) lo = s;
        if (s + ph->p_memsz > hi) hi = s + ph->p_memsz;
    }
    *start = lo == UINTPTR_MAX ? 0 : lo;
    *end = hi;
}

void tmk_modules_scan(struct tmk_thread *t) TMK_HIDDEN;        /* emits MODULE/_GONE */
void tmk_modules_scan_if_changed(struct tmk_thread *t) TMK_HIDDEN;
/* The loader's counters read, a scan when they moved: with
 * TMK_CHECK_ALWAYS, else only when no check completed since tmk_modules_gen
 * last moved. The mutex is tried, for about 2 ms with TMK_CHECK_PATIENT.
 * 0, or -1 when another thread held it. */
#define TMK_CHECK_ALWAYS 1
#define TMK_CHECK_PATIENT 2
int tmk_modules_check(struct tmk_thread *t, int how) TMK_HIDDEN;
void tmk_modules_lock(void) TMK_HIDDEN;
void tmk_modules_unlock(void) TMK_HIDDEN;
void tmk_modules_after_fork_child(void) TMK_HIDDEN;
/* Bumped whenever the loaded objects may have changed (every scan that
 * found a change, every dlclose): code at an address may be other code. */
extern uint32_t tmk_modules_gen TMK_HIDDEN;
/* [start, end) of the shim's own code, to drop its frames from stacks. */
extern uintptr_t tmk_self_start TMK_HIDDEN, tmk_self_end TMK_HIDDEN;
void tmk_modules_find_self(void) TMK_HIDDEN;

/* ---- sigalloc.c: the malloc family inside a handler that interrupted the
 * real allocator on its thread (async-signal-safe, untraced) -------------- */

void *tmk_sig_alloc(size_t size, size_t align) TMK_HIDDEN; /* zeroed; NULL + ENOMEM */
int tmk_sig_owns(const void *p) TMK_HIDDEN;    /* one load when none are live */
size_t tmk_sig_size(const void *p) TMK_HIDDEN; /* usable bytes */
void tmk_sig_release(void *p) TMK_HIDDEN;         /* unrecorded: a mapping, or a noted block */
/* A real-allocator block a handler got when no mapping could be had (a lost
 * allocation): tmk_sig_owns then owns it too, so that its free is not
 * recorded. */
void tmk_sig_note_lost(void *p) TMK_HIDDEN;
void tmk_sig_defer_free(void *p) TMK_HIDDEN;   /* real memory freed by such a handler */
void tmk_sig_drain(void) TMK_HIDDEN;           /* does the deferred frees (in_real == 0) */

/* ---- ptrset.c: addresses whose free must be recorded -------------------- */

void tmk_ptrset_add(uintptr_t p, size_t usable) TMK_HIDDEN;  /* caller holds no lock */
int tmk_ptrset_take(uintptr_t p, size_t usable) TMK_HIDDEN;  /* 1 if p was in, now removed */
int tmk_ptrset_contains(uintptr_t p) TMK_HIDDEN;
extern volatile int tmk_ptrset_used TMK_HIDDEN;              /* anything ever added */
/* The set's filter (ptrset.c): per hash slot of an address, how many of
 * the set's addresses, bootstrap blocks (real.c) and sigalloc.c blocks fall
 * there. 0: p is none of them, an ordinary block of the real allocator;
 * the free of such a block in tables mode asks nothing more. */
#define TMK_PTRSET_FILTER_BITS 16
#define TMK_PTRSET_FILTER_SLOTS (1u << TMK_PTRSET_FILTER_BITS)
extern uint8_t tmk_ptrset_filter[TMK_PTRSET_FILTER_SLOTS] TMK_HIDDEN;
static inline size_t tmk_ptrset_filter_slot(uintptr_t p)
{
    return (size_t)(((uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - TMK_PTRSET_FILTER_BITS));
}
void tmk_ptrset_filter_mark(uintptr_t p, int up) TMK_HIDDEN; /* async-signal-safe */
static inline int tmk_ptrset_may_hold(uintptr_t p)
{
    return __atomic_load_n(&tmk_ptrset_filter[tmk_ptrset_filter_slot(p)], __ATOMIC_RELAXED) != 0;
}
void tmk_ptrset_lock(void) TMK_HIDDEN;
void tmk_ptrset_unlock(void) TMK_HIDDEN;
void tmk_ptrset_after_fork_child(void) TMK_HIDDEN;

/* ---- tables.c ----------------------------------------------------------- */

/* The annotation API's calls (hooks.c enters the shim, sets the caller,
 * and calls these with the guard at TMK_GUARD_SHIM): */
struct tmk_table_info;
/* tmk_table_new: reads info_size bytes of *info at most. */
void tmk_tables_new(struct tmk_thread *t, const void *addr, const struct tmk_table_info *info,
                    size_t info_size) TMK_HIDDEN;
/* tmk_table_count (peak = 0) and tmk_table_peak (peak = 1). */
void tmk_tables_counter(struct tmk_thread *t, const void *addr, const void *at, unsigned width,
                        int peak) TMK_HIDDEN;
void tmk_tables_array(struct tmk_thread *t, const void *addr, const void *array, size_t bytes,
                      size_t buckets, unsigned reason) TMK_HIDDEN;
void tmk_tables_end(struct tmk_thread *t, const void *addr) TMK_HIDDEN;

void tmk_tables_sample(struct tmk_thread *t, int only_changed) TMK_HIDDEN; /* TABLE_COUNTs */
void tmk_tables_lock(void) TMK_HIDDEN;
void tmk_tables_unlock(void) TMK_HIDDEN;
void tmk_tables_after_fork_child(struct tmk_thread *t) TMK_HIDDEN;
void tmk_sampler_start(void) TMK_HIDDEN;
/* A MEMORY record. In tables mode the heap figure is the allocator's
 * (mallinfo2, under its arena locks): read when due by the sampler thread
 * (TMK_HEAP_WHEN_DUE), never by another (TMK_HEAP_LAST: the last figure
 * read, no record when none was). Any other thread may be a signal
 * handler's (exit, _exit, quick_exit, exec, a fatal signal) that
 * interrupted the allocator on its thread, which holds the lock: tables
 * mode's pass-through leaves no mark to tell. */
enum tmk_heap_read { TMK_HEAP_WHEN_DUE, TMK_HEAP_LAST };
void tmk_memory_sample(struct tmk_thread *t, enum tmk_heap_read read) TMK_HIDDEN;

/* ---- heap.c: the heap's records ---------------------------------------- */

/* Tables mode's pass-through (hooks.c): an allocation below it, and a free
 * of an address no set holds, go straight to the real allocator. 0 outside
 * tables mode; set by tmk_heap_start once the real functions are found and
 * the settings read, which also gives the block map its budget. */
extern size_t tmk_pass_below TMK_HIDDEN;
void tmk_heap_start(void) TMK_HIDDEN;
/* After the real allocator returned p (guard TMK_GUARD_SHIM). */
void tmk_heap_on_alloc(void *p, size_t size) TMK_HIDDEN;
/* Before the real free of p, p != NULL (guard TMK_GUARD_SHIM). */
void tmk_heap_on_free(void *p) TMK_HIDDEN;
/* Records an ALLOC by address with the given stack (guard set). */
void tmk_record_alloc(struct tmk_thread *t, void *p, size_t size, uint32_t stack) TMK_HIDDEN;
/* realloc's old block (guard TMK_GUARD_SHIM): taken before the real call,
 * then either moved (the call freed it: its free is written, with the time
 * taken before the call) or kept (the call failed: it is tracked again as
 * it was, and the trace has no record of the call). */
struct tmk_heap_moving {
    void *p;
    uint64_t now;          /* the free's time */
    uint32_t stack, size;  /* by info: the block's info */
    size_t usable;         /* tables and sampled modes */
    uint64_t probed;       /* its size in the probes' registry, which it left; 0 */
    int how;               /* heap.c's enum moving_how */
};
void tmk_heap_realloc_take(void *old, struct tmk_heap_moving *m) TMK_HIDDEN;
void tmk_heap_realloc_moved(const struct tmk_heap_moving *m) TMK_HIDDEN;
void tmk_heap_realloc_kept(const struct tmk_heap_moving *m) TMK_HIDDEN;

/* ---- lifecycle.c -------------------------------------------------------- */

/* The first call of the malloc family (real.h's tmk_resolved): finds the
 * real functions and starts recording at once, whichever constructor is
 * running (the shim's own may come after other libraries'). */
void tmk_start_early(void) TMK_HIDDEN;

/* Ends the trace: final counts, END, flush every buffer, close. Once. The
 * final MEMORY record's heap in tables mode is the last one read (sampler.c). */
void tmk_finish(enum tmk_end_why why, uint64_t status) TMK_HIDDEN;
/* The same from the handler of a signal about to kill the process:
 * END(SIGNAL, sig). Async-signal-safe; waits (bounded) for another thread
 * that is ending the trace. Returns 0, having done nothing, when can_wait
 * and the writer lock stayed taken (this thread, inside the shim, may hold
 * it): the caller has the signal come back later. */
int tmk_finish_signal(int sig, int can_wait) TMK_HIDDEN;
/* exit() and quick_exit() are about to run with this status: the END the
 * destructor or the at_quick_exit handler writes says it. */
void tmk_exit_status_note(int status) TMK_HIDDEN;
/* __libc_start_main: the main to start instead of the program's, which it
 * calls and whose return it notes as the exit status. */
typedef int (*tmk_main_fn)(int, char **, char **);
tmk_main_fn tmk_main_wrap(tmk_main_fn program_main) TMK_HIDDEN;
/* Before an exec: END(EXEC) (the new image writes its own file), the file
 * left open (it closes on exec) and the writer lock held across the exec.
 * Returns 1 when tmk_exec_failed must follow if the exec returns. */
int tmk_exec_begin(void) TMK_HIDDEN;
/* The exec returned (it failed): tracing goes on in the same file (errno
 * kept). `begun` is what tmk_exec_begin returned. */
void tmk_exec_failed(int begun) TMK_HIDDEN;

/* ---- signals.c ---------------------------------------------------------- */

/* Takes over the ending signals the program left at SIG_DFL (at start). */
void tmk_signals_start(void) TMK_HIDDEN;
void tmk_signals_after_fork_child(void) TMK_HIDDEN;
/* SIGTERM, SIGINT, SIGHUP: the signals that ask a process to stop. */
void tmk_signals_stop_set(sigset_t *set) TMK_HIDDEN;

/* The wrapped functions (hooks.c), each with its real one. */
enum tmk_sig_fn {
    TMK_SIG_SIGACTION, TMK_SIG___SIGACTION, TMK_SIG_SIGNAL, TMK_SIG_BSD_SIGNAL,
    TMK_SIG_SSIGNAL, TMK_SIG_SYSV_SIGNAL, TMK_SIG___SYSV_SIGNAL, TMK_SIG_SIGSET,
    TMK_SIG_SIGIGNORE, TMK_SIG_SIGINTERRUPT, TMK_SIG_N
};
/* sigaction and __sigaction: the program's view of a signal the shim holds. */
int tmk_signals_sigaction(enum tmk_sig_fn which, int sig, const struct sigaction *act,
                          struct sigaction *old) TMK_HIDDEN;
/* signal, bsd_signal, ssignal, sysv_signal, __sysv_signal. */
sighandler_t tmk_signals_handler(enum tmk_sig_fn which, int sig, sighandler_t handler) TMK_HIDDEN;
sighandler_t tmk_signals_sigset(int sig, sighandler_t disposition) TMK_HIDDEN;
int tmk_signals_sigignore(int sig) TMK_HIDDEN;
int tmk_signals_siginterrupt(int sig, int flag) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_INTERNAL_H */
