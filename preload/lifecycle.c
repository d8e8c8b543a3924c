/* preload/lifecycle.c - the shim's life around the program's: start, exit,
 * fork, exec, dlopen/dlclose, fatal signals.
 *
 *  - Start (constructor): nothing at all under AT_SECURE; else read the
 *    settings, create the file, scan the modules, install fork handlers and
 *    fatal-signal handlers, start the sampler.
 *  - Exit: the destructor of a preloaded library runs after the program's
 *    atexit handlers and destructors; it writes the final counts, a MEMORY
 *    sample and END(EXIT, status). The status comes from exit() or from
 *    main's return (we wrap main through __libc_start_main). _exit/_Exit
 *    finish the trace first. quick_exit runs no destructor: a handler the
 *    shim registers with at_quick_exit at start (so it runs after the
 *    program's) finishes the trace with quick_exit's status.
 *  - exec*: finish with END(EXEC) first; the new image writes its own file.
 *    If exec then fails, this process is no longer traced.
 *  - dlopen is not wrapped (a wrapper would change which object the loader
 *    sees as the caller, and so RUNPATH and $ORIGIN): modules.c notices the
 *    loader's adds/subs counters moving instead. dlclose (whose caller the
 *    loader ignores) is wrapped in stacks.c, only to drop the caller cache.
 *  - fork: the child drops the parent's buffers, starts its own file (ppid
 *    in its header), re-announces modules and tables, restarts the sampler.
 *    A vfork/clone child (no fork handlers ran) is recognised by its pid and
 *    leaves the parent's file alone.
 *  - SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, when their disposition is the
 *    default: flush what can be flushed, END(SIGNAL), then the signal is
 *    raised again with the default action. Other signals are not touched.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "internal.h"

volatile int tmk_state = TMK_STATE_OFF;
uint64_t tmk_start_ns;
pid_t tmk_pid;

static int finishing;
static int exit_status;
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};


/* Writes END as a block of its own for thread t (writer lock held). */
static void write_end_block(struct tmk_thread *t, enum tmk_end_why why, uint64_t status)
{
    uint8_t payload[32], *p = payload;
    uint64_t now = tmk_now();
    *p++ = TMK_REC_END;
    p = tmk_put_u(p, now > t->last_time ? now - t->last_time : 0);
    p = tmk_put_u(p, (uint64_t)why);
    p = tmk_put_u(p, status);
    tmk_writer_block(t->number, t->seq++, t->last_time, payload, (size_t)(p - payload));
}

void tmk_finish(enum tmk_end_why why, uint64_t status)
{
    /* A vfork child (_exit, or exec) shares the parent's memory: it must not
     * even mark the trace as finishing, so the pid is checked first. */
    if (tmk_state != TMK_STATE_ACTIVE || getpid() != tmk_pid) return;
    if (__atomic_exchange_n(&finishing, 1, __ATOMIC_ACQ_REL)) return;
    int saved = errno;
    int guard = tmk_tls.guard;
    int in_signal = why == TMK_END_SIGNAL;
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel); /* open, read: cancellation points */
    tmk_tls.guard = 2;
    struct tmk_thread *t = tmk_tls.t;
    if (!t) t = tmk_thread_attach();
    tmk_state = TMK_STATE_STOPPED; /* other threads stop recording */
    if (!in_signal) tmk_stacks_report();
    if (t && guard == 0 && !in_signal) {
        tmk_tables_sample(t, 0);
        tmk_memory_sample(t);
    }
    if (in_signal ? tmk_writer_trylock() == 0 : (tmk_writer_lock(), 1)) {
        tmk_threads_flush_all();
        if (t) write_end_block(t, why, status);
        tmk_writer_close();
        tmk_writer_unlock();
    }
    tmk_tls.guard = guard;
    pthread_setcancelstate(cancel, NULL);
    errno = saved;
}

/* ---- signals ------------------------------------------------------------ */

static void on_fatal_signal(int sig)
{
    tmk_finish(TMK_END_SIGNAL, (uint64_t)sig);
    /* SA_RESETHAND put back the default: raise it again. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signal_handlers(void)
{
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(fatal_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

/* ---- fork --------------------------------------------------------------- */

static int fork_guard;

static void before_fork(void)
{
    fork_guard = tmk_tls.guard;
    tmk_tls.guard = 2;
    tmk_stacks_before_fork();
    tmk_tables_lock();
    tmk_ptrset_lock();
    tmk_stacks_lock();
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
    tmk_stacks_unlock();
    tmk_ptrset_unlock();
    tmk_tables_unlock();
    tmk_stacks_after_fork_parent();
    tmk_tls.guard = fork_guard;
}

static void after_fork_child(void)
{
    int was_active = tmk_state == TMK_STATE_ACTIVE;
    tmk_arena_after_fork_child();
    tmk_ptrset_after_fork_child();
    tmk_ptrmap_after_fork_child();
    tmk_writer_after_fork_child();
    tmk_stacks_after_fork_child();
    tmk_modules_after_fork_child();
    tmk_state = TMK_STATE_STOPPED;
    tmk_pid = getpid();
    tmk_start_ns = tmk_clock_ns();
    tmk_threads_after_fork_child();
    finishing = 0;
    struct tmk_thread *t = tmk_tls.t;
    if (t)
        tmk_thread_name(t, NULL);
    else
        t = tmk_thread_attach();
    if (was_active && t && tmk_writer_open() == 0) {
        tmk_modules_scan(t);
        tmk_tables_after_fork_child(t);
        tmk_state = TMK_STATE_ACTIVE;
        tmk_sampler_start();
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

__attribute__((constructor)) static void tmk_init(void)
{
    if (tmk_state != TMK_STATE_OFF) return;
    tmk_resolve_real();
    if (getauxval(AT_SECURE)) {
        tmk_state = TMK_STATE_STOPPED;
        return;
    }
    int saved = errno;
    int guard = tmk_tls.guard;
    tmk_tls.guard = 2;
    tmk_options_read();
    tmk_lineage_detect(); /* before anything is said or written */
    tmk_pid = getpid();
    tmk_start_ns = tmk_clock_ns();
    tmk_stacks_init();
    tmk_thread_init_key();
    if (tmk_writer_open() != 0) {
        tmk_state = TMK_STATE_STOPPED;
    } else {
        struct tmk_thread *t = tmk_thread_attach();
        if (t) tmk_modules_scan(t);
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        at_quick_exit(on_quick_exit);
        install_signal_handlers();
        tmk_state = TMK_STATE_ACTIVE;
        tmk_sampler_start();
    }
    tmk_tls.guard = guard;
    errno = saved;
}

__attribute__((destructor)) static void tmk_fini(void)
{
    tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)exit_status);
}

static void *next_symbol(const char *name)
{
    int guard = tmk_tls.guard;
    tmk_tls.guard = 2;
    void *f = dlsym(RTLD_NEXT, name);
    tmk_tls.guard = guard;
    return f;
}

#define REAL(type, name) ((type)next_symbol(name))

TMK_EXPORT void exit(int status)
{
    exit_status = status;
    REAL(void (*)(int), "exit")(status);
    __builtin_unreachable();
}

TMK_EXPORT void quick_exit(int status)
{
    exit_status = status;
    REAL(void (*)(int), "quick_exit")(status);
    __builtin_unreachable();
}

TMK_EXPORT void _exit(int status)
{
    tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)status);
    REAL(void (*)(int), "_exit")(status);
    __builtin_unreachable();
}

TMK_EXPORT void _Exit(int status)
{
    tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)status);
    REAL(void (*)(int), "_Exit")(status);
    __builtin_unreachable();
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int wrapped_main(int argc, char **argv, char **envp)
{
    exit_status = real_main(argc, argv, envp);
    return exit_status;
}

typedef int (*start_main_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
                             void (*)(void), void *);

TMK_EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                                 void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    real_main = main;
    return REAL(start_main_fn, "__libc_start_main")(wrapped_main, argc, argv, init, fini,
                                                    rtld_fini, stack_end);
}

/* ---- exec --------------------------------------------------------------- */

static void before_exec(void)
{
    if (tmk_state == TMK_STATE_ACTIVE && getpid() == tmk_pid) tmk_finish(TMK_END_EXEC, 0);
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);

TMK_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    before_exec();
    return REAL(execve_fn, "execve")(path, argv, envp);
}

TMK_EXPORT int execv(const char *path, char *const argv[])
{
    before_exec();
    return REAL(execv_fn, "execv")(path, argv);
}

TMK_EXPORT int execvp(const char *file, char *const argv[])
{
    before_exec();
    return REAL(execv_fn, "execvp")(file, argv);
}

TMK_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    before_exec();
    return REAL(execve_fn, "execvpe")(file, argv, envp);
}

TMK_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    before_exec();
    return REAL(int (*)(int, char *const[], char *const[]), "fexecve")(fd, argv, envp);
}

/* execl, execlp, execle: gather the variadic arguments into an argv. */
#define GATHER_ARGS(arg0, ap, argv)                                                           \
    size_t argc_ = 1;                                                                         \
    va_start(ap, arg0);                                                                       \
    while (va_arg(ap, char *)) argc_++;                                                       \
    va_end(ap);                                                                               \
    char *argv[argc_ + 1];                                                                    \
    argv[0] = (char *)(arg0);                                                                 \
    va_start(ap, arg0);                                                                       \
    for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap, char *);

TMK_EXPORT int execl(const char *path, const char *arg0, ...)
{
    va_list ap;
    GATHER_ARGS(arg0, ap, argv);
    va_end(ap);
    return execv(path, argv);
}

TMK_EXPORT int execlp(const char *file, const char *arg0, ...)
{
    va_list ap;
    GATHER_ARGS(arg0, ap, argv);
    va_end(ap);
    return execvp(file, argv);
}

TMK_EXPORT int execle(const char *path, const char *arg0, ...)
{
    va_list ap;
    GATHER_ARGS(arg0, ap, argv);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}
