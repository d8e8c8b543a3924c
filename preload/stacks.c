/* preload/stacks.c - call stacks: unwinding and interning.
 *
 * Unwinding: libunwind's unw_backtrace (default) or a frame-pointer walk
 * (TIDEMARK_UNWIND=fp; stops at the first frame that does not look like one).
 * Leading frames inside the shim are dropped, then at most tmk_opt.depth
 * frames are kept, innermost first.
 *
 * libunwind validates memory by writing it into a pipe of its own, made on
 * first use with pipe2 and kept open in the program's descriptor space. The
 * shim's pipe/pipe2 move the descriptors of a pipe made during an unwind to
 * TMK_FD_FLOOR or above: at 3 and 4, a shell's `exec 4>file` put the
 * program's file where libunwind writes (and a program's input where it
 * reads). Pipes the program makes are untouched.
 *
 * Interning: each distinct stack gets a process-wide id (1-based) and one
 * STACK record, written by the thread that first met it. The global table
 * (uthash over the frame bytes, memory from arena.c) is behind a mutex; a
 * per-thread direct-mapped cache from the stack's 64-bit hash to its id keeps
 * the mutex off the common path. Two different stacks with the same 64-bit
 * hash would share an id through the cache; with n distinct stacks the odds
 * are about n^2 / 2^65.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) tmk_arena_alloc(sz)
#define uthash_free(ptr, sz) tmk_arena_free(ptr)
#include <uthash.h>

#define CAPTURE_SLACK 8 /* room for the shim's own frames */

struct stack_entry {
    UT_hash_handle hh;
    uint32_t id;
    uint32_t depth;
    uintptr_t frames[];
};

static pthread_mutex_t stacks_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct stack_entry *stacks;
static uint32_t next_stack_id = 1;

void tmk_stacks_lock(void) { pthread_mutex_lock(&stacks_mutex); }
void tmk_stacks_unlock(void) { pthread_mutex_unlock(&stacks_mutex); }

void tmk_stacks_init(void)
{
    tmk_modules_find_self();
    /* libunwind's global cache is behind a mutex taken inside every unwind:
     * a fork while another thread unwinds leaves the child's copy locked,
     * and the child's first malloc hangs. The per-thread cache takes no lock
     * (and costs the same, measured on W1). Setting it initializes
     * libunwind, which makes its validation pipe: in_unwind moves it out of
     * the program's descriptors as in an unwind. */
    int saved = errno;
    tmk_tls.in_unwind = 1;
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    tmk_tls.in_unwind = 0;
    errno = saved;
}

static int in_self(uintptr_t pc)
{
    return pc >= tmk_self_start && pc < tmk_self_end;
}

/* Walks saved frame pointers from here. Each frame is [saved fp, return
 * address]; a frame is accepted only if it lies above the previous one
 * within this thread's stack and is 16-byte aligned. */
__attribute__((noinline)) static int unwind_fp(struct tmk_thread *t, uintptr_t *out, int max)
{
    uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t lo = t->stack_lo, hi = t->stack_hi;
    int n = 0;
    while (n < max) {
        uintptr_t f = (uintptr_t)fp;
        if (f < lo || f + 16 > hi || (f & 15)) break;
        uintptr_t ret = fp[1];
        if (ret < 4096) break;
        out[n++] = ret;
        uintptr_t *next = (uintptr_t *)fp[0];
        if ((uintptr_t)next <= f) break;
        fp = next;
    }
    return n;
}

static int capture(struct tmk_thread *t, uintptr_t *out, int max)
{
    if (tmk_opt.unwinder == TMK_UNWIND_FP) return unwind_fp(t, out, max);
    /* The guard stays 1: what libunwind allocates on a thread's first use
     * (its per-thread cache key) comes from sigalloc.c like a handler's, and
     * a handler interrupting the unwind is told apart from libunwind.
     * libunwind's first use in a process leaves errno = EAGAIN: the
     * program's errno is put back. */
    int saved = errno, cancel;
    /* libunwind's validation reads and writes its pipe: cancellation points
     * that must not end the program's thread inside malloc */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    tmk_tls.in_unwind = 1;
    int n = unw_backtrace((void **)out, max);
    tmk_tls.in_unwind = 0;
    pthread_setcancelstate(cancel, NULL);
    errno = saved;
    return n < 0 ? 0 : n;
}

/* ---- libunwind's pipe ------------------------------------------------------ */

/* Found when first needed: the program may make a pipe before the shim's
 * constructor ran. */
static void *next_fn(void **cache, const char *name)
{
    void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!f) {
        int guard = tmk_tls.guard;
        tmk_tls.guard = 2; /* dlsym may allocate */
        f = dlsym(RTLD_NEXT, name);
        tmk_tls.guard = guard;
        __atomic_store_n(cache, f, __ATOMIC_RELEASE);
    }
    return f;
}

static int move_high(int fd, int cloexec)
{
    int high = fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, TMK_FD_FLOOR);
    if (high < 0) return fd;
    close(fd);
    return high;
}

static int pipe_made(int rc, int fds[2], int flags)
{
    if (rc == 0 && tmk_tls.in_unwind) {
        int saved = errno;
        fds[0] = move_high(fds[0], flags & O_CLOEXEC);
        fds[1] = move_high(fds[1], flags & O_CLOEXEC);
        errno = saved;
    }
    return rc;
}

TMK_EXPORT int pipe2(int fds[2], int flags)
{
    static void *real;
    int (*f)(int[2], int) = (int (*)(int[2], int))next_fn(&real, "pipe2");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return pipe_made(f(fds, flags), fds, flags);
}

TMK_EXPORT int pipe(int fds[2])
{
    static void *real;
    int (*f)(int[2]) = (int (*)(int[2]))next_fn(&real, "pipe");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return pipe_made(f(fds), fds, 0);
}

static uint64_t hash_frames(const uintptr_t *f, int n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    for (int i = 0; i < n; i++) {
        h ^= f[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static void put_stack_record(struct tmk_thread *t, uint32_t id, const uintptr_t *f, int n)
{
    uint8_t *p = tmk_reserve(t, 16 + (size_t)n * TMK_VARINT_MAX);
    *p++ = TMK_REC_STACK;
    p = tmk_put_u(p, id);
    p = tmk_put_u(p, (uint64_t)n);
    uintptr_t prev = 0;
    for (int i = 0; i < n; i++) {
        p = tmk_put_s(p, (int64_t)(f[i] - prev));
        prev = f[i];
    }
    tmk_publish(t, p);
}

/* Slow path: find or add the stack in the global table. */
static uint32_t intern(struct tmk_thread *t, const uintptr_t *f, int n)
{
    struct stack_entry *e;
    size_t key_len = (size_t)n * sizeof(uintptr_t);
    uint32_t id = 0;
    pthread_mutex_lock(&stacks_mutex);
    HASH_FIND(hh, stacks, f, key_len, e);
    if (e) {
        id = e->id;
    } else if ((e = tmk_arena_alloc(sizeof *e + key_len)) != NULL) {
        e->id = next_stack_id++;
        e->depth = (uint32_t)n;
        memcpy(e->frames, f, key_len);
        HASH_ADD_KEYPTR(hh, stacks, e->frames, key_len, e);
        id = e->id;
        put_stack_record(t, id, f, n);
    }
    pthread_mutex_unlock(&stacks_mutex);
    return id;
}

uint32_t tmk_stack_id(struct tmk_thread *t)
{
    uintptr_t raw[TMK_DEPTH_MAX + CAPTURE_SLACK];
    int n = capture(t, raw, (int)tmk_opt.depth + CAPTURE_SLACK);
    int skip = 0;
    while (skip < n && in_self(raw[skip])) skip++;
    const uintptr_t *f = raw + skip;
    n -= skip;
    if (n > (int)tmk_opt.depth) n = (int)tmk_opt.depth;
    if (n <= 0) return 0;
    uint64_t h = hash_frames(f, n);
    struct tmk_stack_cache_entry *c = &t->cache[h & (TMK_STACK_CACHE - 1)];
    if (TMK_LIKELY(c->hash == h)) return c->id;
    tmk_modules_scan_if_changed(t);
    uint32_t id = intern(t, f, n);
    if (id) {
        c->hash = h;
        c->id = id;
    }
    return id;
}

/* The child's file starts with no stacks defined: forget them all. */
void tmk_stacks_after_fork_child(void)
{
    struct stack_entry *e, *tmp;
    pthread_mutex_init(&stacks_mutex, NULL);
    HASH_ITER(hh, stacks, e, tmp) {
        HASH_DEL(stacks, e);
        tmk_arena_free(e);
    }
    stacks = NULL;
    next_stack_id = 1;
}
