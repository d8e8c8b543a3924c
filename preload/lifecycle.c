/* preload/lifecycle.c - the shim's life around the program's: start, exit,
 * fork, exec, dlopen/dlclose, and the END record however the process ends.
 *
 *  - Start: on the first call of the malloc family (real.h's tmk_resolved),
 *    whichever constructor makes it: the loader runs the constructors of a
 *    program's libraries (libstdc++'s emergency pool, GLib's tables) before
 *    the shim's own, and their blocks are recorded like any other, with
 *    their stacks. Else in the shim's constructor. Nothing at all under
 *    AT_SECURE; else read the settings, create the file, scan the modules,
 *    install fork handlers, take over the ending signals (signals.c). The
 *    sampler thread starts in the shim's constructor at the earliest: not
 *    from inside another library's constructor, while the process is still
 *    being set up. A call from the loader before the C library's own start
 *    (no environ yet) does not start the shim; its constructor will.
 *  - Exit: the destructor of a preloaded library runs after the program's
 *    atexit handlers and destructors; it writes the final counts, a MEMORY
 *    sample and END(EXIT, status). An exit() before the shim's constructor
 *    ran (another library's constructor giving up) ends the trace at once:
 *    no destructor of the shim's would run. The status comes from exit()
 *    or from main's return (hooks.c wraps main through __libc_start_main).
 *    _exit/_Exit finish the trace first. quick_exit runs no destructor: a handler the
 *    shim registers with at_quick_exit at start (so it runs after the
 *    program's) finishes the trace with quick_exit's status.
 *  - exec* (wrapped in hooks.c): END(EXEC) first, every buffer written
 *    and emptied, the file left open (close-on-exec) with the writer lock
 *    held across the real call; the new image writes its own file. If the
 *    exec fails (it returns), tracing goes on in the same file: the next
 *    records follow END(EXEC), and the trace ends again later as the
 *    process does (tmk_exec_begin, tmk_exec_failed).
 *  - dlopen is not wrapped (a wrapper would change which object the loader
 *    sees as the caller, and so RUNPATH and $ORIGIN): modules.c notices the
 *    loader's adds/subs counters moving instead. dlclose (whose caller the
 *    loader ignores) is wrapped in hooks.c, only to move tmk_modules_gen: the
 *    stack caches drop their entries and the next stack checks the loaded
 *    objects (modules.c), so that no stack id spans two libraries that came
 *    to one address in turn.
 *  - fork: the child drops the parent's buffers, starts its own file (ppid
 *    in its header), re-announces modules and tables, restarts the sampler.
 *  - unshare, setns (wrapped in hooks.c): the sampler thread stops for the
 *    call and starts again after it (sampler.c), so that the kernel sees a
 *    single-threaded process when the program has one thread.
 *    A vfork/clone child (no fork handlers ran) is recognised by its pid and
 *    leaves the parent's file alone.
 *  - A signal that kills the process (SIGTERM, SIGINT, SIGHUP, SIGSEGV,
 *    SIGBUS, SIGFPE, SIGILL, SIGABRT at SIG_DFL): signals.c's handler calls
 *    tmk_finish_signal, which ends the trace as exit does, then the signal
 *    kills the process. From a thread that was inside the shim: only flush
 *    and END, once the writer lock is had within a few milliseconds (that
 *    thread may hold it, mid-flush); if not, a signal that can wait is
 *    asked to come back later (signals.c), a fault gives up the flush.
 *  - One ending at a time: the first claims it; a signal arriving while
 *    another thread ends the trace waits (bounded) for it to be done before
 *    it kills the process. While a thread ends the trace for exit or exec,
 *    SIGTERM, SIGINT and SIGHUP are blocked on it.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "internal.h"
#include "ptrmap.h"
#include "real.h"

volatile int tmk_state = TMK_STATE_OFF;
uint64_t tmk_start_ns;
pid_t tmk_pid;

enum { FINISH_NONE = 0, FINISH_BUSY = 1, FINISH_DONE = 2 };
static int finishing;  /* FINISH_* */
static pid_t finisher; /* the thread ending the trace */
static int exit_status;

/* From a handler on a thread that was inside the shim (which may hold the
 * writer itself): how long to wait for the writer before asking to be called
 * again later (a signal that can wait), or before giving up on the final
 * flush (a fault); and how long to wait for another thread's ending. */
#define SIGNAL_WRITER_RETRY_NS 5000000ull
#define SIGNAL_WRITER_WAIT_NS 50000000ull
#define SIGNAL_FINISH_WAIT_NS 2000000000ull

/* Writes END as a block of its own for thread t, whose buffer is empty
 * (writer lock held). Its next block, if the trace goes on (a failed exec),
 * starts at END's time. */
static void write_end_block(struct tmk_thread *t, enum tmk_end_why why, uint64_t status)
{
    uint8_t payload[32], *p = payload;
    uint64_t now = tmk_now(), base = t->last_time;
    *p++ = TMK_REC_END;
    p = tmk_put_u(p, now > base ? now - base : 0);
    p = tmk_put_u(p, (uint64_t)why);
    p = tmk_put_u(p, status);
    tmk_writer_block(t->number, t->seq++, base, payload, (size_t)(p - payload));
    if (now > base) t->last_time = now;
    tmk_thread_block_restart(t);
}

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* The writer lock within ns; 0 when it stayed taken that long. */
static int writer_lock_within(uint64_t ns)
{
    uint64_t give_up = tmk_clock_ns() + ns;
    while (tmk_writer_trylock() != 0) {
        if (tmk_clock_ns() > give_up) return 0;
        pause_us(100);
    }
    return 1;
}

static int claim_finish(void)
{
    int none = FINISH_NONE;
    if (!__atomic_compare_exchange_n(&finishing, &none, FINISH_BUSY, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return 0;
    finisher = gettid();
    return 1;
}

/* Before an exec, the other threads' buffers are written through the
 * handoff (buffer.c), which empties them safely: a thread inside
 * tmk_reserve..tmk_publish is asked again, 100 us later, for 20 ms at most
 * (one still inside then, stopped say, keeps its records in its buffer).
 * They go on recording meanwhile (into their buffers: their blocks wait for
 * the writer lock, which the exec holds): should the exec fail, nothing they
 * did is missing, and nothing is written twice; should it succeed, what they
 * did since is lost with them, as the exec ends them. */
#define EXEC_HANDOFF_TRIES 200

static void hand_off_others(struct tmk_thread *self)
{
    for (int i = 0; i < EXEC_HANDOFF_TRIES && tmk_threads_handoff(self, 0) > 0; i++)
        pause_us(100);
}

/* Final counts, flush every buffer, END, close. `handler`: from a signal
 * handler, whose thread may have been inside the shim (guard set): then only
 * what needs no lock it could hold (flush and END). `writer`: 1 the caller
 * took the writer lock, 0 take it here, -1 it cannot be had (no flush).
 * The final MEMORY sample never asks the allocator (sampler.c): exit,
 * _exit, quick_exit and exec may come from a handler that interrupted the
 * allocator on this thread (tables mode's pass-through leaves no mark),
 * which then holds the arena lock mallinfo2 waits for. `keep` (exec, writer
 * 0): the other threads keep recording (hand_off_others), and the file
 * stays open with the writer lock held, for tmk_exec_failed. */
static void end_trace(enum tmk_end_why why, uint64_t status, int handler, int writer, int keep)
{
    int saved = errno;
    enum tmk_guard guard = tmk_tls.guard;
    int clean = guard == TMK_GUARD_FREE || !handler; /* no lock of the shim held here */
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel); /* open, read: cancellation points */
    tmk_tls.guard = TMK_GUARD_CALL;
    struct tmk_thread *t = tmk_tls.t;
    if (!t && clean) t = tmk_thread_attach();
    if (!keep) tmk_state = TMK_STATE_STOPPED; /* other threads stop recording */
    if (clean) tmk_caller_cache_report();
    if (t && guard == TMK_GUARD_FREE) {
        tmk_tables_sample(t, 0);
        tmk_probe_final(t);
        tmk_memory_sample(t, TMK_HEAP_LAST);
    }
    if (keep) hand_off_others(t);
    if (writer == 0) tmk_writer_lock();
    if (writer >= 0) {
        tmk_threads_flush_all(t, !keep);
        if (t) write_end_block(t, why, status);
        if (!keep) {
            tmk_writer_close();
            tmk_writer_unlock();
        }
    }
    __atomic_store_n(&finishing, FINISH_DONE, __ATOMIC_RELEASE);
    tmk_tls.guard = guard;
    pthread_setcancelstate(cancel, NULL);
    errno = saved;
}

/* The writer lock for a thread whose handler interrupted the shim (guard
 * set): 1 taken, -1 not within `ns` (this very thread may hold it, inside
 * the block the handler interrupted: then nothing more is written). */
static int writer_lock_interrupted(uint64_t ns)
{
    return writer_lock_within(ns) ? 1 : -1;
}

void tmk_finish(enum tmk_end_why why, uint64_t status)
{
    /* A vfork child (_exit, or exec) shares the parent's memory: it must not
     * even mark the trace as finishing, so the pid is checked first. */
    if (tmk_state != TMK_STATE_ACTIVE || getpid() != tmk_pid) return;
    sigset_t stop, old;
    tmk_signals_stop_set(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    /* _exit, _Exit or exec from a signal handler that interrupted the shim
     * on this thread, which may be inside a block's write with the writer
     * lock: ended as from a fatal signal's handler, never waiting on
     * itself (no more blocks when it holds the lock, a bounded wait when
     * it was about to take it). */
    int inside = tmk_tls.guard == TMK_GUARD_SHIM;
    int writer = tmk_writer_held_here() ? -1
                 : inside               ? writer_lock_interrupted(SIGNAL_WRITER_WAIT_NS)
                                        : 0;
    if (claim_finish())
        end_trace(why, status, inside, writer, 0);
    else if (writer > 0)
        tmk_writer_unlock();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Another thread is ending the trace: lets it finish before the signal
 * kills the process (bounded: that thread may wait for a lock this one
 * holds). */
static void wait_for_finisher(void)
{
    if (__atomic_load_n(&finishing, __ATOMIC_ACQUIRE) != FINISH_BUSY || finisher == gettid())
        return;
    uint64_t give_up = tmk_clock_ns() + SIGNAL_FINISH_WAIT_NS;
    while (__atomic_load_n(&finishing, __ATOMIC_ACQUIRE) == FINISH_BUSY &&
           tmk_clock_ns() < give_up)
        pause_us(1000);
}

int tmk_finish_signal(int sig, int can_wait)
{
    if (getpid() != tmk_pid) return 1; /* a vfork child: the parent's trace */
    int writer = 0;
    if (tmk_state == TMK_STATE_ACTIVE && tmk_tls.guard != TMK_GUARD_FREE) {
        writer = writer_lock_interrupted(can_wait ? SIGNAL_WRITER_RETRY_NS : SIGNAL_WRITER_WAIT_NS);
        if (writer < 0 && can_wait) return 0;
    }
    if (tmk_state == TMK_STATE_ACTIVE && claim_finish()) {
        end_trace(TMK_END_SIGNAL, (uint64_t)sig, 1, writer, 0);
        return 1;
    }
    if (writer > 0) tmk_writer_unlock();
    wait_for_finisher();
    return 1;
}

/* The sampler thread starts in the shim's own constructor at the earliest:
 * a start from the first allocation may be inside another library's
 * constructor, which the loader runs before the rest of the process is
 * initialized. Once recording and once the constructor ran, whichever comes
 * last (another thread may be starting the shim while the constructor
 * runs: seq_cst, so that one of the two sees both), once per process. */
static int constructed;     /* the shim's constructor ran */
static int sampler_started; /* in this process */

static void sampler_start_when_ready(void)
{
    if (!__atomic_load_n(&constructed, __ATOMIC_SEQ_CST) ||
        __atomic_load_n(&tmk_state, __ATOMIC_SEQ_CST) != TMK_STATE_ACTIVE ||
        __atomic_exchange_n(&sampler_started, 1, __ATOMIC_SEQ_CST))
        return;
    tmk_sampler_start();
}

/* ---- fork --------------------------------------------------------------- */

static enum tmk_guard fork_guard;

static void before_fork(void)
{
    fork_guard = tmk_guard_swap(TMK_GUARD_CALL);
    tmk_unwind_before_fork();
    tmk_tables_lock();
    tmk_ptrset_lock();
    tmk_intern_lock();
    tmk_modules_lock();
    tmk_threads_lock();
    tmk_writer_lock();
    tmk_arena_lock();
}

static void after_fork_parent(void)
{
    tmk_arena_unlock();
    tmk_writer_unlock();
    tmk_threads_unlock();
    tmk_modules_unlock();
    tmk_intern_unlock();
    tmk_ptrset_unlock();
    tmk_tables_unlock();
    tmk_unwind_after_fork_parent();
    tmk_tls.guard = fork_guard;
}

static void after_fork_child(void)
{
    int was_active = tmk_state == TMK_STATE_ACTIVE;
    tmk_arena_after_fork_child();
    tmk_ptrset_after_fork_child();
    tmk_ptrmap_after_fork_child();
    tmk_probe_after_fork_child();
    tmk_writer_after_fork_child();
    tmk_unwind_after_fork_child();
    tmk_caller_cache_after_fork_child();
    tmk_intern_after_fork_child();
    tmk_modules_after_fork_child();
    tmk_state = TMK_STATE_STOPPED;
    tmk_pid = getpid();
    tmk_start_ns = tmk_clock_ns();
    tmk_threads_after_fork_child();
    tmk_signals_after_fork_child();
    tmk_sampler_after_fork_child();
    finishing = FINISH_NONE;
    finisher = 0;
    struct tmk_thread *t = tmk_tls.t;
    if (t)
        tmk_thread_name(t, NULL);
    else
        t = tmk_thread_attach();
    if (was_active && t && tmk_writer_open() == 0) {
        tmk_modules_scan(t);
        tmk_tables_after_fork_child(t);
        sampler_started = 0;
        __atomic_store_n(&tmk_state, TMK_STATE_ACTIVE, __ATOMIC_SEQ_CST);
        sampler_start_when_ready();
    } else {
        tmk_tables_after_fork_child(NULL);
    }
    tmk_tls.guard = fork_guard;
}

/* ---- start and exit ----------------------------------------------------- */

static void on_quick_exit(void)
{
    tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)exit_status);
}

/* The C library's own start (environ, program_invocation_short_name) is
 * done: it runs before every constructor of another library, so only a call
 * from the loader itself comes earlier. */
static int libc_started(void)
{
    return __environ != NULL;
}

/* Settings, lineage, file, modules, fork and signal handlers: everything
 * recording needs. Once, by whichever thread gets there first; another
 * thread's calls pass through meanwhile (TMK_STATE_STARTING). */
static void start(void)
{
    int off = TMK_STATE_OFF;
    if (!__atomic_compare_exchange_n(&tmk_state, &off, TMK_STATE_STARTING, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    tmk_resolve_real();
    if (getauxval(AT_SECURE)) {
        tmk_state = TMK_STATE_STOPPED;
        return;
    }
    int saved = errno;
    enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL);
    tmk_options_read();
    tmk_lineage_detect(); /* before anything is said or written */
    tmk_pid = getpid();
    tmk_start_ns = tmk_clock_ns();
    tmk_unwind_init();
    tmk_thread_init_key();
    if (tmk_writer_open() != 0) {
        tmk_state = TMK_STATE_STOPPED;
    } else {
        struct tmk_thread *t = tmk_thread_attach();
        if (t) tmk_modules_scan(t);
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        at_quick_exit(on_quick_exit);
        tmk_signals_start();
        tmk_heap_start(); /* the block map's budget, tables mode's pass-through: before recording starts */
        __atomic_store_n(&tmk_state, TMK_STATE_ACTIVE, __ATOMIC_SEQ_CST);
        sampler_start_when_ready();
    }
    tmk_tls.guard = guard;
    errno = saved;
}

void tmk_start_early(void)
{
    tmk_resolve_real();
    /* Inside the resolution (dlsym allocating): the bootstrap arena serves. */
    if (!__atomic_load_n(&tmk_real_free, __ATOMIC_ACQUIRE)) return;
    if (tmk_state == TMK_STATE_OFF && libc_started()) start();
}

__attribute__((constructor)) static void tmk_init(void)
{
    __atomic_store_n(&constructed, 1, __ATOMIC_SEQ_CST);
    start();
    /* Started earlier: the sampler now (pthread_create's allocations are
     * the shim's). */
    enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL);
    sampler_start_when_ready();
    tmk_tls.guard = guard;
}

__attribute__((destructor)) static void tmk_fini(void)
{
    tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)exit_status);
}

/* ---- what the wrappers of exit, main and exec* tell (hooks.c) ----------- */

void tmk_exit_status_note(int status)
{
    exit_status = status;
    /* exit() from a constructor before the shim's (a library giving up
     * early): no destructor of the shim will run, the trace ends here. */
    if (!constructed) tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)status);
}

static tmk_main_fn real_main;

static int wrapped_main(int argc, char **argv, char **envp)
{
    exit_status = real_main(argc, argv, envp);
    return exit_status;
}

tmk_main_fn tmk_main_wrap(tmk_main_fn program_main)
{
    real_main = program_main;
    return wrapped_main;
}

/* exec*: the trace ends with END(EXEC), as the new image will have it, but
 * the file stays open (close-on-exec: a successful exec closes it) and the
 * writer lock stays held, so that nothing is written after END while the
 * exec is under way. The other threads go on recording into their buffers;
 * this one's calls (a signal handler's) pass through meanwhile. From a
 * signal handler that interrupted the shim on this thread, the trace ends
 * for good (tmk_finish). */
int tmk_exec_begin(void)
{
    if (tmk_state != TMK_STATE_ACTIVE || getpid() != tmk_pid) return 0;
    if (tmk_tls.guard != TMK_GUARD_FREE) {
        tmk_finish(TMK_END_EXEC, 0);
        return 0;
    }
    sigset_t stop, old;
    tmk_signals_stop_set(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    int begun = claim_finish();
    if (begun) {
        end_trace(TMK_END_EXEC, 0, 0, 0, 1);
        tmk_tls.guard = TMK_GUARD_CALL;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL); /* the new image gets the program's mask */
    return begun;
}

/* The exec returned: it failed, and the process goes on, traced in the same
 * file: its END(EXEC) is followed by the rest (docs/trace-format.md), and
 * the trace ends again as the process does. */
void tmk_exec_failed(int begun)
{
    if (!begun) return;
    int saved = errno, cancel;
    sigset_t stop, old;
    tmk_signals_stop_set(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    finisher = 0;
    __atomic_store_n(&finishing, FINISH_NONE, __ATOMIC_RELEASE);
    /* The lock was taken with cancellation off (end_trace): this thread's
     * state stays as it is now. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    tmk_writer_unlock();
    pthread_setcancelstate(cancel, NULL);
    tmk_tls.guard = TMK_GUARD_FREE;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
}
