/* preload/unwind.h - the inline half of unwind.c: capturing the current
 * call's return addresses, and the bracket around every libunwind call.
 * Inline because tmk_stack_id (caller_cache.c) must not put a frame of its
 * own under libunwind's unwind. docs/architecture.md ("Inside the shim")
 * says why the bracket is what it is.
 */
#ifndef TIDEMARK_PRELOAD_UNWIND_H
#define TIDEMARK_PRELOAD_UNWIND_H

#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>

#include "internal.h"

#define TMK_CAPTURE_SLACK 8 /* room for the shim's own frames */

/* Is pc in the shim's own code? Leading frames there are dropped. */
static inline int tmk_in_self(uintptr_t pc)
{
    return pc >= tmk_self_start && pc < tmk_self_end;
}

/* The current stack pointer. */
static inline uintptr_t tmk_stack_pointer(void)
{
    uintptr_t sp;
#if defined(__x86_64__)
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
#else
    sp = (uintptr_t)__builtin_frame_address(0);
#endif
    return sp;
}

/* What tmk_unw_enter saved, for tmk_unw_leave to put back. */
struct tmk_unw_bracket {
    int saved_errno, cancel;
};

/* Before a libunwind call: errno saved, cancellation off, in_unwind set,
 * and the fork handshake's in_libunwind (waits while a fork is preparing). */
void tmk_unw_enter(struct tmk_thread *t, struct tmk_unw_bracket *b) TMK_HIDDEN;

static inline void tmk_unw_leave(struct tmk_thread *t, const struct tmk_unw_bracket *b)
{
    __atomic_store_n(&t->in_libunwind, 0, __ATOMIC_RELEASE);
    tmk_tls.in_unwind = 0;
    pthread_setcancelstate(b->cancel, NULL);
    errno = b->saved_errno;
}

/* The frame-pointer walk (TIDEMARK_UNWIND=fp): up to max return addresses. */
int tmk_unwind_fp(struct tmk_thread *t, uintptr_t *out, int max) TMK_HIDDEN;

/* Up to max return addresses of the current call, innermost first (the
 * shim's own leading frames included). */
static inline __attribute__((always_inline)) int tmk_capture(struct tmk_thread *t, uintptr_t *out,
                                                              int max)
{
    if (tmk_opt.unwinder == TMK_UNWIND_FP) return tmk_unwind_fp(t, out, max);
    /* libunwind: its own choice, and the CFI unwinder's fallback */
    struct tmk_unw_bracket b;
    tmk_unw_enter(t, &b);
    int n = unw_backtrace((void **)out, max);
    tmk_unw_leave(t, &b);
    return n < 0 ? 0 : n;
}

/* The program's part of the current call's stack: captured into raw (room
 * for TMK_DEPTH_MAX + TMK_CAPTURE_SLACK), the shim's leading frames
 * skipped (*skip of them), at most TIDEMARK_DEPTH frames from raw + *skip;
 * returns their count (0 or more). */
static inline __attribute__((always_inline)) int tmk_capture_program(struct tmk_thread *t,
                                                                      uintptr_t *raw, int *skip)
{
    int n = tmk_capture(t, raw, (int)tmk_opt.depth + TMK_CAPTURE_SLACK);
    int k = 0;
    while (k < n && tmk_in_self(raw[k])) k++;
    *skip = k;
    n -= k;
    return n > (int)tmk_opt.depth ? (int)tmk_opt.depth : n;
}

#endif /* TIDEMARK_PRELOAD_UNWIND_H */
