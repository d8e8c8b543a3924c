/* preload/guard_stale.c - a guard or in_real left set by a call the program
 * jumped out of.
 *
 * A signal handler that interrupts the shim (or the real allocator) and
 * siglongjmp's out (interpreters and REPLs do, on SIGINT or SIGALRM) never
 * returns into the call it interrupted: the thread's guard stays at
 * TMK_GUARD_SHIM, or in_real above 0, for good, and every later call looks
 * like a handler's: served by sigalloc.c, counted as lost.
 *
 * A pass-through call (not recorded: tracing off or stopped) notes its
 * wrapper's CFA (its caller's stack pointer after the return) with in_real
 * (real_cfa). A handler's call is always
 * deeper than the call it interrupted (the handler's frames and the
 * kernel's signal frame lie below it), so is a call the real allocator
 * makes from inside: its CFA is below the one noted. A call whose CFA is
 * not below it comes after the noted call's frame was gone: jumped over.
 * Not so on the alternate signal stack (sigaltstack), which may lie
 * anywhere, nor out of libunwind (the loader's lock held for good).
 *
 * What is done then:
 *  - a pass-through call jumped out of (in_real alone): in_real is cleared
 *    and the wrapper makes its call again from the top (TMK_STALE); it was
 *    served apart for good, and once sigalloc.c's slots were gone the
 *    program's malloc returned NULL;
 *  - a recorded call jumped out of (guard set): nothing (a recorded call
 *    notes no CFA: its guard is never cleared). The jump may have left a
 *    lock held: one of the shim's (a block map shard) or glibc's
 *    arena lock, which the sampler thread makes glibc take where the
 *    program alone would not; clearing the guard made the next allocation
 *    wait for it for ever. The thread's calls are served apart and counted
 *    as lost from then on (the report says how many), slower, never stuck.
 *    A flush (the writer's lock) runs with the program's handlers held off
 *    (buffer.c), so a jump never leaves that lock held.
 */
#include <signal.h>

#include "guard.h"

static int on_altstack(void)
{
    stack_t alt;
    return sigaltstack(NULL, &alt) == 0 && (alt.ss_flags & SS_ONSTACK);
}

int tmk_guard_stale(uintptr_t cfa)
{
    struct tmk_tls *tl = &tmk_tls;
    /* out of the real allocator on a call that was not recorded (tracing
     * off or stopped): in_real alone was left set */
    if (tl->guard == TMK_GUARD_FREE && tl->in_real && cfa >= tl->real_cfa && !tl->in_unwind &&
        !on_altstack()) {
        tl->in_real = 0;
        return 1;
    }
    /* Out of a recorded call (guard set): the guard stays set (the thread's
     * calls are lost from now on, served apart by sigalloc.c), for the call
     * may have held one of the shim's locks (a block map shard: clearing the
     * guard made the next allocation wait for it for ever), or glibc's arena
     * lock (which the sampler thread makes glibc take): in_real stays too,
     * so that nothing served apart goes to the real allocator. */
    return 0;
}
