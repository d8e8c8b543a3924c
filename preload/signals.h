/* preload/signals.h - signals.c's interface: the ending signals the shim
 * takes over, and the program's view of them through the wrapped
 * sigaction, signal and their kin (hooks.c).
 */
#ifndef TIDEMARK_PRELOAD_SIGNALS_H
#define TIDEMARK_PRELOAD_SIGNALS_H

#include <signal.h>

#include "compiler.h"

/* Takes over the ending signals the program left at SIG_DFL (at start). */
void tmk_signals_start(void) TMK_HIDDEN;
void tmk_signals_after_fork_child(void) TMK_HIDDEN;
/* SIGTERM, SIGINT, SIGHUP: the signals that ask a process to stop. */
void tmk_signals_stop_set(sigset_t *set) TMK_HIDDEN;
/* Holds off every signal but a fault's on this thread, the old mask in
 * `saved` (async-signal-safe): no handler runs, and none siglongjmp's out,
 * while the thread holds something a jump would leave held for good (the
 * writer's lock, a sigalloc slot being filled). */
void tmk_block_async_signals(sigset_t *saved) TMK_HIDDEN;

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

#endif /* TIDEMARK_PRELOAD_SIGNALS_H */
