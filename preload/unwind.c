/* preload/unwind.c - unwinding: libunwind's set-up, the frame-pointer walk
 * (TIDEMARK_UNWIND=fp), the bracket around every libunwind call
 * (tmk_unw_enter; tmk_unw_leave and tmk_capture are inline in unwind.h),
 * and the fork handshake that keeps a child from inheriting libunwind's
 * cache mutex locked. docs/architecture.md, "Inside the shim", has the
 * reasons.
 */
#include <sched.h>

#include "cfi.h"
#include "unwind.h"

void tmk_unwind_init(void)
{
    tmk_modules_find_self();
    /* libunwind's global cache is behind a mutex taken in every dwarf step.
     * The per-thread cache would take none, but libunwind builds without
     * __thread support (Debian's 1.6.2) quietly make it the global one: the
     * fork handshake at tmk_unw_enter is what keeps a child from inheriting
     * that mutex locked. Setting the policy initializes libunwind, which
     * makes its validation pipe: in_unwind gives it no descriptor, as in an
     * unwind (unwind_nofd.c). */
    int saved = errno;
    tmk_unwind_nofd_init();
    tmk_tls.in_unwind = 1;
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    tmk_tls.in_unwind = 0;
    errno = saved;
}

/* Walks saved frame pointers from here. Each frame is [saved fp, return
 * address]; a frame is accepted only if it lies above the previous one
 * within this thread's stack and is 16-byte aligned. */
__attribute__((noinline)) int tmk_unwind_fp(struct tmk_thread *t, uintptr_t *out, int max)
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

/* Around every libunwind call. The guard stays TMK_GUARD_SHIM: what
 * libunwind allocates on a thread's first use (its per-thread cache key)
 * comes from sigalloc.c like a handler's, and a handler interrupting the
 * unwind is told apart from libunwind. libunwind's validation reads and
 * writes its pipe: cancellation points that must not end the program's
 * thread inside malloc. libunwind's first use in a process leaves errno =
 * EAGAIN: the program's errno is put back.
 *
 * Fork: every dwarf step (unw_backtrace meeting a new address, each step of
 * the caller cache's walk) takes libunwind's global cache mutex, and a child
 * forked while another thread held it hung in its first unwind. Handshake
 * (seq_cst, so that one side sees the other): a thread sets in_libunwind,
 * then looks at fork_waiting; the fork prepare handler sets fork_waiting,
 * then waits for every other thread's in_libunwind to drop. */
static int fork_waiting;

void tmk_unw_enter(struct tmk_thread *t, struct tmk_unw_bracket *b)
{
    b->saved_errno = errno;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &b->cancel);
    tmk_tls.in_unwind = 1;
    for (;;) {
        __atomic_store_n(&t->in_libunwind, 1, __ATOMIC_SEQ_CST);
        if (TMK_LIKELY(!__atomic_load_n(&fork_waiting, __ATOMIC_SEQ_CST))) break;
        __atomic_store_n(&t->in_libunwind, 0, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&fork_waiting, __ATOMIC_ACQUIRE)) sched_yield();
    }
}

/* Also the CFI unwinder's registry lock (cfi.c): a child must not inherit
 * it taken, nor a registry half changed. */
void tmk_unwind_before_fork(void)
{
    __atomic_store_n(&fork_waiting, 1, __ATOMIC_SEQ_CST);
    tmk_threads_wait_unwinds();
    tmk_cfi_before_fork();
}

void tmk_unwind_after_fork_parent(void)
{
    tmk_cfi_after_fork_parent();
    __atomic_store_n(&fork_waiting, 0, __ATOMIC_RELEASE);
}

void tmk_unwind_after_fork_child(void)
{
    tmk_cfi_after_fork_child();
    tmk_cfi_verify_after_fork_child();
    fork_waiting = 0;
}
