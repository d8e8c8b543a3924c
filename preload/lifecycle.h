/* preload/lifecycle.h - lifecycle.c's interface: the shim's state
 * (tmk_state, tmk_pid), starting, ending the trace (exit, a fatal signal),
 * the program's main and exec.
 */
#ifndef TIDEMARK_PRELOAD_LIFECYCLE_H
#define TIDEMARK_PRELOAD_LIFECYCLE_H

#include <stdint.h>
#include <sys/types.h>

#include "compiler.h"
#include "tidemark/trace_format.h"

enum tmk_state {
    TMK_STATE_OFF = 0,     /* not initialized yet */
    TMK_STATE_ACTIVE = 1,  /* recording */
    TMK_STATE_STOPPED = 2, /* finished, failed, or disabled: pass through */
    TMK_STATE_STARTING = 3, /* one thread is starting the shim: pass through */
};
extern volatile int tmk_state TMK_HIDDEN;
extern pid_t tmk_pid TMK_HIDDEN;          /* the process the file belongs to */

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

#endif /* TIDEMARK_PRELOAD_LIFECYCLE_H */
