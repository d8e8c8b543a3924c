/* preload/tls.h - the thread-local part of a thread's state (tmk_tls, in
 * initial-exec TLS: one load reaches it, defined in buffer.c): the thread's
 * guard (enum tmk_guard; guard.h has the steps that use it), its flags
 * (in_real, in_unwind, in_getattr), the caller of the exported entry point
 * it is in (TMK_CALLER_SET) and the frees a signal handler deferred.
 */
#ifndef TIDEMARK_PRELOAD_TLS_H
#define TIDEMARK_PRELOAD_TLS_H

#include <stdint.h>

#include "compiler.h"

struct tmk_thread;

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
    /* The CFA of the wrapper whose pass-through call (guard free, not
     * recorded) set in_real (its caller's stack pointer after the return).
     * A later entry whose CFA is not below it is no handler of that call:
     * the call is gone, jumped over (guard_stale.c). */
    uintptr_t real_cfa;
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

#endif /* TIDEMARK_PRELOAD_TLS_H */
