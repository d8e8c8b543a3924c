/* preload/signals.c - the signals that end a process, handled so that the
 * trace ends cleanly and the program cannot tell.
 *
 * Eight signals: SIGTERM, SIGINT, SIGHUP (a program is asked to stop) and
 * SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT (it crashed). While the program's
 * disposition of one is SIG_DFL, the kernel holds the shim's handler
 * instead; it ends the trace (lifecycle.c's tmk_finish_signal: every
 * buffer flushed, END(SIGNAL, sig)), puts SIG_DFL back and raises the signal
 * again, so the process dies of it with the same wait status. When the
 * signal interrupted a thread inside the shim that holds the writer
 * (mid-flush), SIGTERM, SIGINT and SIGHUP come back a millisecond later
 * instead (a one-shot kernel timer), once that thread has let go. A signal the
 * program ignores, handles or blocks is never touched: SIG_IGN (also when
 * inherited across exec) and the program's own handlers are really
 * installed, as the program gave them; a blocked signal (sigwait, signalfd)
 * never reaches a handler.
 *
 * The program's view: sigaction, __sigaction, signal, bsd_signal, ssignal,
 * sysv_signal, __sysv_signal, sigset, sigignore and siginterrupt are
 * wrapped (hooks.c; the logic is here). For a signal the shim holds, each slot keeps the program's view:
 * what sigaction(sig, NULL, &old) showed when the shim took over (at start:
 * the disposition the process began with; later: the SIG_DFL action the
 * program itself installed, read back from the kernel, so flags, mask and
 * restorer are exactly the kernel's). sigaction answers from the view, and
 * sigset (which also changes the thread's mask) is built on it; the other
 * functions (which glibc implements with its internal sigaction, out of
 * reach) run against the kernel with the view put back in it first, so
 * their results are glibc's own. Afterwards, when the kernel holds SIG_DFL,
 * the shim takes the signal over again. Between the two the kernel holds the
 * program's SIG_DFL: a signal arriving in those microseconds kills the
 * process as it would without the shim, without END.
 *
 * Wrappers block every signal on their thread and take a spinlock (no
 * handler can re-enter them on that thread); the handler is async-signal-
 * safe (no malloc, no lock it could already hold). A vfork child shares the
 * slots but not the dispositions: its calls go straight to glibc, leave the
 * slots alone, and show the shim's handler as SIG_DFL. Not covered: the raw
 * rt_sigaction system call and glibc's compat-only sigvec, which see the
 * shim's handler for a signal left at SIG_DFL; and a program's SA_RESETHAND
 * handler, after which the kernel's SIG_DFL is not the shim's (that signal
 * then kills without END).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "real.h"

static const int held_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGSEGV,
                                   SIGBUS,  SIGFPE, SIGILL, SIGABRT};
#define N_HELD (sizeof held_signals / sizeof held_signals[0])

struct slot {
    int ours;              /* the kernel holds the shim's handler */
    struct sigaction view; /* what the program sees while ours */
};
static struct slot slots[N_HELD];
static int managing; /* the shim holds signals (set at start, kept in children) */
static pid_t lock_owner;
static struct sigaction shim_action;
static void on_signal(int sig, siginfo_t *info, void *context);

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*handler_fn)(int, sighandler_t);
typedef int (*int_fn)(int);
typedef int (*int2_fn)(int, int);

/* The real functions, in the order of enum tmk_sig_fn (signals.h). */
static const char *const real_names[TMK_SIG_N] = {
    "sigaction", "__sigaction", "signal", "bsd_signal", "ssignal", "sysv_signal",
    "__sysv_signal", "sigset", "sigignore", "siginterrupt"};
static void *real_fns[TMK_SIG_N];

/* The real function i. Resolved at start; a call before that (another
 * library's constructor) resolves it there, outside any handler. */
static void *real(enum tmk_sig_fn i)
{
    return tmk_next_fn(&real_fns[i], real_names[i]);
}

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return ((sigaction_fn)real(TMK_SIG_SIGACTION))(sig, act, old);
}

static struct slot *slot_of(int sig)
{
    for (size_t i = 0; i < N_HELD; i++)
        if (held_signals[i] == sig) return &slots[i];
    return NULL;
}

/* The slots are this process's; not in a vfork (or CLONE_VM) child, which
 * shares them with its parent but has dispositions of its own. */
static int managed_here(void)
{
    return __atomic_load_n(&managing, __ATOMIC_ACQUIRE) && getpid() == tmk_pid;
}

/* In such a child, a disposition the parent gave the shim reads as the
 * program's SIG_DFL. */
static sighandler_t as_program_sees(sighandler_t h)
{
    return h == (sighandler_t)(void (*)(void))on_signal ? SIG_DFL : h;
}

/* ---- the lock ----------------------------------------------------------- */

/* A spinlock taken with every signal blocked on the thread. Its owner's tid
 * is the lock word: a child forked while another thread held it (fork
 * handlers reset it; a raw fork does not) takes it over once that thread
 * does not exist in its process. */
static void lock_signals(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, saved);
    pid_t me = gettid();
    for (unsigned spins = 1;; spins++) {
        pid_t owner = 0;
        if (__atomic_compare_exchange_n(&lock_owner, &owner, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        if (spins % 1024) continue;
        if (syscall(SYS_tgkill, getpid(), owner, 0) != 0 && errno == ESRCH &&
            __atomic_compare_exchange_n(&lock_owner, &owner, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        sched_yield();
    }
}

static void unlock_signals(const sigset_t *saved)
{
    __atomic_store_n(&lock_owner, 0, __ATOMIC_RELEASE);
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* ---- taking a signal over ----------------------------------------------- */

/* The kernel holds SIG_DFL, the program's: the shim's handler goes in its
 * place, and the program's action (as the kernel stored it) is the view. */
static void take_over(int sig, struct slot *s)
{
    if (real_sigaction(sig, &shim_action, &s->view) == 0) s->ours = 1;
}

static int same_action(const struct sigaction *a, const struct sigaction *b)
{
    return a->sa_handler == b->sa_handler && a->sa_flags == b->sa_flags &&
           a->sa_restorer == b->sa_restorer &&
           memcmp(&a->sa_mask, &b->sa_mask, sizeof(unsigned long)) == 0; /* the kernel's part */
}

/* Around a libc function that reads or changes sig's disposition in ways
 * the shim does not repeat (signal, sigset, siginterrupt, ...). */
struct hold {
    struct slot *slot;
    int was_ours;
    struct sigaction installed; /* the view as the kernel held it during the call */
    sigset_t mask;
};

/* Puts the program's view back in the kernel. Returns 0 for a signal the
 * shim does not handle (call the real function alone). */
static int hold_begin(int sig, struct hold *h)
{
    h->slot = slot_of(sig);
    if (!h->slot || !managed_here()) return 0;
    int saved = errno;
    lock_signals(&h->mask);
    h->was_ours = h->slot->ours;
    if (h->was_ours) {
        real_sigaction(sig, &h->slot->view, NULL);
        real_sigaction(sig, NULL, &h->installed);
        h->slot->ours = 0;
    }
    errno = saved;
    return 1;
}

/* Takes the signal over again if the kernel now holds SIG_DFL. The view
 * stays as it was when the call left the disposition as it found it (the
 * one the process started with shows no SA_RESTORER; glibc would add it). */
static void hold_end(int sig, struct hold *h)
{
    int saved = errno;
    struct sigaction cur;
    memset(&cur, 0, sizeof cur);
    if (real_sigaction(sig, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL) {
        struct sigaction view = h->slot->view;
        take_over(sig, h->slot);
        if (h->was_ours && same_action(&cur, &h->installed)) h->slot->view = view;
    }
    unlock_signals(&h->mask);
    errno = saved;
}

/* ---- the handler -------------------------------------------------------- */

/* Dies of sig with its default action, as the process would have. */
static void die_of(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction(sig, &dfl, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
}

/* SIGTERM, SIGINT, SIGHUP can wait a little; a fault cannot. */
static int can_wait(int sig)
{
    return sig == SIGTERM || sig == SIGINT || sig == SIGHUP;
}

#define RETRY_NS 1000000L   /* a signal asked to come back, comes back after */
#define RETRIES_MAX 200     /* then the trace ends without its last flush */

static int retry_timer[3]; /* per can_wait signal: kernel timer id + 1 */
static int retries;

/* Has sig sent to the process again in RETRY_NS, from a one-shot timer (a
 * raw kernel timer: glibc's timer_create may allocate). 0 if it cannot. */
static int send_again_soon(int sig)
{
    int *slot = &retry_timer[sig == SIGTERM ? 0 : sig == SIGINT ? 1 : 2];
    if (__atomic_add_fetch(&retries, 1, __ATOMIC_RELAXED) > RETRIES_MAX) return 0;
    int id = __atomic_load_n(slot, __ATOMIC_ACQUIRE) - 1;
    if (id < 0) {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = sig;
        int made;
        if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &made) != 0) return 0;
        int none = 0;
        if (!__atomic_compare_exchange_n(slot, &none, made + 1, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            syscall(SYS_timer_delete, made); /* another thread made one first */
        id = __atomic_load_n(slot, __ATOMIC_ACQUIRE) - 1;
    }
    struct itimerspec when = {{0, 0}, {0, RETRY_NS}};
    return syscall(SYS_timer_settime, id, 0, &when, NULL) == 0;
}

/* Ends the trace, then dies of sig. A thread interrupted inside the shim
 * while it held the writer (mid-flush) cannot flush: for a signal that can
 * wait, the handler returns (the thread finishes its flush and goes on) and
 * the signal comes back a millisecond later, as if sent then. */
static void on_signal(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    int saved = errno;
    if (!tmk_finish_signal(sig, can_wait(sig))) {
        if (send_again_soon(sig)) {
            errno = saved;
            return;
        }
        tmk_finish_signal(sig, 0);
    }
    die_of(sig);
}

/* ---- start, fork -------------------------------------------------------- */

void tmk_signals_start(void)
{
    for (int i = 0; i < TMK_SIG_N; i++) real((enum tmk_sig_fn)i);
    memset(&shim_action, 0, sizeof shim_action);
    shim_action.sa_sigaction = on_signal;
    shim_action.sa_flags = SA_SIGINFO | SA_RESTART;
    tmk_signals_stop_set(&shim_action.sa_mask); /* one ending at a time per thread */
    sigset_t saved;
    lock_signals(&saved);
    for (size_t i = 0; i < N_HELD; i++) {
        struct sigaction cur;
        memset(&cur, 0, sizeof cur);
        if (real_sigaction(held_signals[i], NULL, &cur) == 0 && cur.sa_handler == SIG_DFL)
            take_over(held_signals[i], &slots[i]);
    }
    __atomic_store_n(&managing, 1, __ATOMIC_RELEASE);
    unlock_signals(&saved);
}

void tmk_signals_stop_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

void tmk_block_async_signals(sigset_t *saved)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    sigset_t async;
    sigfillset(&async);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(&async, faults[i]);
    pthread_sigmask(SIG_BLOCK, &async, saved);
}

/* Only the forking thread runs in the child: no one else holds the lock. */
void tmk_signals_after_fork_child(void)
{
    lock_owner = 0;
    memset(retry_timer, 0, sizeof retry_timer); /* timers are not inherited */
    retries = 0;
}

/* ---- the wrapped functions (hooks.c calls these) ------------------------ */

int tmk_signals_sigaction(enum tmk_sig_fn which, int sig, const struct sigaction *act,
                          struct sigaction *old)
{
    sigaction_fn f = (sigaction_fn)real(which);
    struct slot *s = slot_of(sig);
    if (!s || !managed_here()) {
        int rc = f(sig, act, old);
        if (rc == 0 && old) old->sa_handler = as_program_sees(old->sa_handler);
        return rc;
    }
    int to_default = act && act->sa_handler == SIG_DFL; /* before old (may be act) is written */
    int saved = errno;
    sigset_t mask;
    lock_signals(&mask);
    int rc;
    if (!s->ours) {
        rc = f(sig, act, old);
    } else {
        struct sigaction view = s->view;
        rc = act ? f(sig, act, NULL) : 0;
        if (rc == 0 && act) s->ours = 0;
        if (rc == 0 && old) *old = view;
    }
    if (rc != 0) saved = errno;
    if (rc == 0 && to_default) take_over(sig, s);
    unlock_signals(&mask);
    errno = saved;
    return rc;
}

sighandler_t tmk_signals_handler(enum tmk_sig_fn which, int sig, sighandler_t handler)
{
    handler_fn f = (handler_fn)real(which);
    struct hold h;
    if (!hold_begin(sig, &h)) return as_program_sees(f(sig, handler));
    sighandler_t r = f(sig, handler);
    hold_end(sig, &h);
    return r;
}

/* sigset reads and changes the thread's mask, which the wrappers block:
 * for a held signal it is done here, as POSIX says (and glibc does), on the
 * wrapped sigaction. */
sighandler_t tmk_signals_sigset(int sig, sighandler_t disposition)
{
    if (!slot_of(sig) || !managed_here())
        return as_program_sees(((handler_fn)real(TMK_SIG_SIGSET))(sig, disposition));
    sigset_t one, was;
    sigemptyset(&one);
    sigaddset(&one, sig);
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    memset(&old, 0, sizeof old);
    if (disposition == SIG_HOLD) {
        if (pthread_sigmask(SIG_BLOCK, &one, &was) != 0) return SIG_ERR;
        if (sigismember(&was, sig)) return SIG_HOLD;
        return tmk_signals_sigaction(TMK_SIG_SIGACTION, sig, NULL, &old) == 0 ? old.sa_handler
                                                                             : SIG_ERR;
    }
    act.sa_handler = disposition;
    sigemptyset(&act.sa_mask);
    if (tmk_signals_sigaction(TMK_SIG_SIGACTION, sig, &act, &old) != 0) return SIG_ERR;
    if (pthread_sigmask(SIG_UNBLOCK, &one, &was) != 0) return SIG_ERR;
    return sigismember(&was, sig) ? SIG_HOLD : old.sa_handler;
}

int tmk_signals_sigignore(int sig)
{
    int_fn f = (int_fn)real(TMK_SIG_SIGIGNORE);
    struct hold h;
    if (!hold_begin(sig, &h)) return f(sig);
    int r = f(sig);
    hold_end(sig, &h);
    return r;
}

int tmk_signals_siginterrupt(int sig, int flag)
{
    int2_fn f = (int2_fn)real(TMK_SIG_SIGINTERRUPT);
    struct hold h;
    if (!hold_begin(sig, &h)) return f(sig, flag);
    int r = f(sig, flag);
    hold_end(sig, &h);
    return r;
}
