/* preload/guard_stale.c - a thread's guard left set by a call the program
 * jumped out of.
 *
 * A signal handler that interrupts the shim (or the real allocator) and
 * siglongjmp's out (interpreters and REPLs do, on SIGINT or SIGALRM) never
 * returns into the call it interrupted: the thread's guard stays at
 * TMK_GUARD_SHIM, and in_real above 0, for good. Every later call would
 * then look like a handler's: served by sigalloc.c, counted as lost, slow
 * and untraced.
 *
 * tmk_enter notes the wrapper's CFA (its caller's stack pointer after the
 * return) with the guard. A handler's call is always deeper than the call
 * it interrupted (the handler's frames and the kernel's signal frame lie
 * below it on the stack), and so is a call the real allocator makes from
 * inside (in_real: served apart, as a handler's): its CFA is below the one
 * noted. A call whose CFA is not below it was made after that call's frame
 * was gone: the guard is stale, and is cleared here. Not so on the alternate signal stack
 * (sigaltstack), which may lie anywhere: a handler there is a handler, and
 * a stale guard is cleared there by the next call from the thread's own
 * stack. A program that jumped out and then allocates only from frames
 * deeper than the one it jumped out of has its calls counted as lost until
 * one comes from no deeper than that.
 *
 * What a jump leaves locked stays locked: out of glibc's malloc in a
 * locked part (the sampler thread makes the process multi-threaded, so
 * glibc locks its arena where a single-threaded program would not), or out
 * of a lock the shim holds, the thread's next call waits for ever. Natively
 * such a jump is undefined too; in the fast paths (glibc's tcache, the
 * shim's per-thread buffer) nothing is locked, and the thread goes on. The
 * shim's long locked parts on a program's thread: a flush (the writer's
 * lock) runs with the program's handlers held off (buffer.c); a jump out of
 * libunwind (in_unwind: the loader's lock) leaves the guard set as before
 * (the thread's calls lost, not waiting for ever); the short ones (a new
 * stack's interning, the block map's shard locks) are not known here.
 *
 * The fast paths pay two instructions (tmk_enter computes the CFA from
 * the frame pointer and stores it); the check runs only when the guard or in_real is found
 * set, which is otherwise a handler's call (a system call, sigaltstack,
 * only when the CFA is not below: rare), and the wrapper whose
 * guard was stale makes its call again from the top (TMK_STALE).
 */
#include <signal.h>

#include "guard.h"

int tmk_guard_stale(uintptr_t cfa)
{
    struct tmk_tls *tl = &tmk_tls;
    if (tl->guard != TMK_GUARD_SHIM || cfa < tl->guard_cfa) return 0;
    /* out of libunwind, holding the loader's lock (dl_iterate_phdr) for
     * good: the thread goes on as before, its calls lost */
    if (tl->in_unwind) return 0;
    stack_t alt;
    if (sigaltstack(NULL, &alt) == 0 && (alt.ss_flags & SS_ONSTACK)) return 0;
    tl->guard = TMK_GUARD_FREE;
    tl->in_real = 0;
    TMK_CALLER_CLEAR();
    tmk_drain_if_idle(); /* the frees deferred meanwhile */
    return 1;
}
