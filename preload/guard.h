/* preload/guard.h - the steps every wrapper in hooks.c takes, inline (the
 * malloc family's fast paths must not gain a call): entering and leaving
 * the shim (the thread's guard, enum tmk_guard), the bracket around every
 * call into the real allocator (in_real), and telling a call from a signal
 * handler that interrupted either. docs/architecture.md ("Inside the shim")
 * has the rules.
 */
#ifndef TIDEMARK_PRELOAD_GUARD_H
#define TIDEMARK_PRELOAD_GUARD_H

#include <stdlib.h>

#include "internal.h"

/* The wrapper's CFA: its caller's stack pointer after the return (the
 * wrappers keep a frame pointer: one lea). A macro, so that it is the
 * wrapper's, wherever these steps are inlined. */
#define TMK_ENTRY_CFA() ((uintptr_t)__builtin_dwarf_cfa())

/* in_real left set by a pass-through call the program jumped out of
 * (guard_stale.c): cleared, 1; else 0. cfa: the current wrapper's. */
int tmk_guard_stale(uintptr_t cfa) TMK_HIDDEN __attribute__((cold));

/* On a reentered path: in_real was left by a call the program jumped out
 * of, and is now cleared; the wrapper then makes its call again, from the
 * top (a path of its own, so that the fast path, which knows the guard and
 * in_real clear, is as without the check). */
#define TMK_STALE() tmk_guard_stale(TMK_ENTRY_CFA())

/* Should this call be recorded? Otherwise it passes through; a call that
 * interrupted the shim on this thread is counted as lost. */
static inline __attribute__((always_inline)) int tmk_enter(void)
{
    struct tmk_tls *tl = &tmk_tls;
    if (TMK_LIKELY(tl->guard == TMK_GUARD_FREE && tmk_state == TMK_STATE_ACTIVE)) {
        tl->guard = TMK_GUARD_SHIM;
        return 1;
    }
    if (tl->guard == TMK_GUARD_SHIM && tl->t) tl->t->lost++;
    return 0;
}

/* Frees a handler deferred are done once the thread is out of both the
 * real allocator and the shim. */
static inline void tmk_drain_if_idle(void)
{
    if (TMK_UNLIKELY((uint32_t)tmk_tls.deferred_state != 0) && !tmk_tls.in_real &&
        tmk_tls.guard == TMK_GUARD_FREE)
        tmk_sig_drain();
}

static inline void tmk_leave(void)
{
    TMK_CALLER_CLEAR();
    tmk_tls.guard = TMK_GUARD_FREE;
    tmk_drain_if_idle();
}

/* An annotation call enters the shim: the thread state with the guard
 * set, or NULL when not recording. */
static inline __attribute__((always_inline)) struct tmk_thread *tmk_api_enter(void)
{
    if (tmk_state != TMK_STATE_ACTIVE || tmk_tls.guard != TMK_GUARD_FREE) return NULL;
    tmk_tls.guard = TMK_GUARD_SHIM;
    struct tmk_thread *t = tmk_tls.t;
    if (!t) t = tmk_thread_attach();
    if (!t) tmk_tls.guard = TMK_GUARD_FREE;
    return t;
}

static inline void tmk_api_leave(void)
{
    TMK_CALLER_CLEAR();
    tmk_tls.guard = TMK_GUARD_FREE;
}

/* ---- inside the real allocator ----------------------------------------- */

/* Every call into the real allocator is bracketed: a signal handler that
 * allocates on this thread meanwhile goes to sigalloc.c (TMK_REENTERED), and
 * frees it deferred are done once the call is out. */
static inline void tmk_real_begin(uintptr_t cfa)
{
    if (!tmk_tls.in_real) tmk_tls.real_cfa = cfa;
    tmk_tls.in_real++;
    __asm__ volatile("" ::: "memory");
}

static inline void tmk_real_end(void)
{
    __asm__ volatile("" ::: "memory");
    tmk_tls.in_real--;
    tmk_drain_if_idle();
}

#define TMK_REAL(call)                                                                        \
    ({                                                                                        \
        tmk_real_begin(TMK_ENTRY_CFA());                                                      \
        __typeof__(call) r_ = (call);                                                         \
        tmk_real_end();                                                                       \
        r_;                                                                                   \
    })

#define TMK_REAL_VOID(call)                                                                   \
    do {                                                                                      \
        tmk_real_begin(TMK_ENTRY_CFA());                                                      \
        call;                                                                                 \
        tmk_real_end();                                                                       \
    } while (0)

/* This call comes from a signal handler that interrupted the real allocator
 * or the shim's recording (TMK_GUARD_SHIM: the shim never allocates there)
 * on this thread. Its allocations come from sigalloc.c, untraced (their
 * frees are then known not to be recorded either); its frees are deferred.
 * Unless TMK_STALE(), which the reentered paths ask first. */
#define TMK_REENTERED() TMK_UNLIKELY(tmk_tls.in_real != 0 || tmk_tls.guard == TMK_GUARD_SHIM)


/* free() of memory the real allocator does not own, or made by a handler
 * that interrupted the real allocator or the shim: the free is done, and
 * recorded, once the thread is out. 1 when handled here. */
static inline __attribute__((always_inline)) int tmk_free_elsewhere(void *p)
{
    if (TMK_UNLIKELY(tmk_sig_owns(p))) {
        tmk_sig_release(p);
        return 1;
    }
    if (TMK_REENTERED()) {
        if (TMK_STALE()) free(p);
        else tmk_sig_defer_free(p);
        return 1;
    }
    return 0;
}

#endif /* TIDEMARK_PRELOAD_GUARD_H */
