/* preload/hooks.c - every symbol the shim exports, each a thin wrapper: the
 * real function behind it (real.c) and the shim's part, which lives with
 * what it feeds (named at each group). The malloc family's steps around the
 * real call (guard, in_real, reentry) are inline in guard.h, so its fast
 * paths make no call but the real allocator's and the recording's.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guard.h"
#include "internal.h"
#include "real.h"
#include "tidemark/annotate.h"

/* The real function behind a wrapper, found once (tmk_next_fn). */
#define NEXT(type, name)                                                                      \
    ({                                                                                        \
        static void *next_;                                                                   \
        (type)tmk_next_fn(&next_, name);                                                      \
    })

/* ---- the malloc family: recorded by heap.c ----------------------------- */

/* An allocation for a signal handler that interrupted the real allocator or
 * the shim (sigalloc.c); counted as lost. When sigalloc.c has no room and
 * the real allocator is not interrupted, the real one serves it. */
static void *sig_alloc_lost(size_t n, size_t align, void *(*real)(size_t, size_t))
{
    if (tmk_tls.t) tmk_tls.t->lost++;
    void *p = tmk_sig_alloc(n, align);
    if (!p && !tmk_tls.in_real && (p = real(n, align)) != NULL) tmk_sig_note_lost(p);
    return p;
}

static void *real_malloc_aligned(size_t n, size_t align)
{
    return align <= 16 ? TMK_REAL(tmk_real_malloc(n)) : TMK_REAL(tmk_real_memalign(align, n));
}

/* Usable bytes of p, whoever owns it (p not NULL, not a boot block). */
static size_t usable_of(void *p)
{
    return tmk_sig_owns(p) ? tmk_sig_size(p) : tmk_real_usable(p);
}

/* Tables mode records only bucket arrays (announced by their tables) and
 * blocks of TIDEMARK_PROBE_MIN bytes or more: any other allocation, and a
 * free of an address the set's filter does not know (ptrset.c: it counts
 * tracked, bootstrap and sigalloc.c blocks) go straight to the allocator
 * before any other test (heap.c sets tmk_pass_below). A signal handler's
 * call on this path meets glibc as in any process with a second thread (the
 * sampler is one); the shim holds no lock of its own here. */
static inline int pass_alloc(size_t n)
{
    return n < tmk_pass_below;
}

static inline int pass_free(const void *p)
{
    return tmk_pass_below && !tmk_ptrset_may_hold((uintptr_t)p);
}

/* The malloc family's recording paths. Each is reached from its exported
 * front by a tail call (a jump): its return address, CFA and caller's %rbp
 * are the program's, as TMK_CALLER_SET expects. Were the call not a jump
 * (-O0), the caller would be the shim's own frame, which caller_cache.c
 * never caches: slower, never wrong (the fronts then keep their frame:
 * TMK_FRAMELESS). */
static TMK_NOINLINE void *malloc_recorded(size_t n)
{
    if (TMK_UNLIKELY(!tmk_resolved())) return tmk_boot_alloc(n, 16);
    if (TMK_REENTERED()) return TMK_STALE() ? malloc(n) : sig_alloc_lost(n, 16, real_malloc_aligned);
    if (!tmk_enter()) return TMK_REAL(tmk_real_malloc(n));
    TMK_CALLER_SET();
    void *p = TMK_REAL(tmk_real_malloc(n));
    if (TMK_LIKELY(p != NULL)) tmk_heap_on_alloc(p, n);
    tmk_leave();
    return p;
}

static TMK_NOINLINE void free_recorded(void *p)
{
    if (!p || TMK_UNLIKELY(tmk_is_boot(p))) return;
    if (TMK_UNLIKELY(!tmk_resolved())) return;
    if (tmk_free_elsewhere(p)) return;
    if (!tmk_enter()) {
        TMK_REAL_VOID(tmk_real_free(p));
        return;
    }
    tmk_heap_on_free(p);
    TMK_REAL_VOID(tmk_real_free(p));
    tmk_leave();
}

static void *real_calloc_1(size_t n, size_t align)
{
    (void)align;
    return TMK_REAL(tmk_real_calloc(1, n));
}

static TMK_NOINLINE void *calloc_recorded(size_t n, size_t size)
{
    size_t total;
    if (TMK_UNLIKELY(!tmk_resolved())) {
        if (__builtin_mul_overflow(n, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return tmk_boot_alloc(total, 16); /* static memory: already zero */
    }
    if (TMK_REENTERED()) {
        if (TMK_STALE()) return calloc(n, size);
        if (__builtin_mul_overflow(n, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return sig_alloc_lost(total, 16, real_calloc_1); /* fresh mapping: zero */
    }
    if (!tmk_enter()) return TMK_REAL(tmk_real_calloc(n, size));
    TMK_CALLER_SET();
    void *p = TMK_REAL(tmk_real_calloc(n, size));
    if (p) tmk_heap_on_alloc(p, n * size);
    tmk_leave();
    return p;
}

/* realloc of a block the real allocator must not see (a bootstrap block, a
 * sigalloc.c block, or any block inside a reentrant call): a new block, a
 * copy, and a free of the old one. */
static void *realloc_by_copy(void *old, size_t have, size_t n)
{
    void *p = malloc(n);
    if (p) {
        memcpy(p, old, have < n ? have : n);
        free(old);
    }
    return p;
}

static TMK_NOINLINE void *realloc_recorded(void *old, size_t n)
{
    if (!old) return malloc(n);
    if (TMK_UNLIKELY(tmk_is_boot(old))) return realloc_by_copy(old, tmk_boot_size(old), n);
    if (TMK_UNLIKELY(!tmk_resolved())) return NULL;
    if (TMK_REENTERED() && TMK_STALE()) return realloc(old, n);
    if (TMK_UNLIKELY(tmk_sig_owns(old)) || TMK_REENTERED()) {
        if (n == 0) {
            free(old);
            return NULL;
        }
        return realloc_by_copy(old, usable_of(old), n);
    }
    if (!tmk_enter()) return TMK_REAL(tmk_real_realloc(old, n));
    TMK_CALLER_SET();
    struct tmk_heap_moving m;
    tmk_heap_realloc_take(old, &m);
    void *p = TMK_REAL(tmk_real_realloc(old, n));
    if (p || n == 0) { /* old was freed (glibc frees it for size 0) */
        tmk_heap_realloc_moved(&m);
        if (p) tmk_heap_on_alloc(p, n);
    } else { /* failed: old is as it was, and so is the trace */
        int saved = errno;
        tmk_heap_realloc_kept(&m);
        errno = saved;
    }
    tmk_leave();
    return p;
}

/* The exported fronts: tables mode's pass-through, else the recording
 * path. Frameless (TMK_FRAMELESS), so that passing costs a compare and the
 * jump to the real function. */
TMK_EXPORT TMK_FRAMELESS void *malloc(size_t n)
{
    if (pass_alloc(n)) return tmk_real_malloc(n);
    return malloc_recorded(n);
}

TMK_EXPORT TMK_FRAMELESS void free(void *p)
{
    if (pass_free(p)) {
        tmk_real_free(p);
        return;
    }
    free_recorded(p);
}

TMK_EXPORT TMK_FRAMELESS void *calloc(size_t n, size_t size)
{
    size_t total;
    if (!__builtin_mul_overflow(n, size, &total) && pass_alloc(total))
        return tmk_real_calloc(n, size);
    return calloc_recorded(n, size);
}

TMK_EXPORT TMK_FRAMELESS void *realloc(void *old, size_t n)
{
    if (pass_alloc(n) && pass_free(old)) return tmk_real_realloc(old, n);
    return realloc_recorded(old, n);
}

TMK_EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, total);
}

static int bad_alignment(size_t align)
{
    return align < sizeof(void *) || (align & (align - 1));
}

TMK_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (pass_alloc(n)) return tmk_real_posix_memalign(out, align, n);
    if (TMK_UNLIKELY(!tmk_resolved()) || TMK_REENTERED()) {
        if (tmk_resolved() && TMK_STALE()) return posix_memalign(out, align, n);
        if (bad_alignment(align)) return EINVAL;
        int saved = errno;
        void *p = !tmk_resolved() ? tmk_boot_alloc(n, align)
                                  : sig_alloc_lost(n, align, real_malloc_aligned);
        errno = saved;
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    if (!tmk_enter()) return TMK_REAL(tmk_real_posix_memalign(out, align, n));
    TMK_CALLER_SET();
    int rc = TMK_REAL(tmk_real_posix_memalign(out, align, n));
    if (rc == 0) tmk_heap_on_alloc(*out, n);
    tmk_leave();
    return rc;
}

/* The smallest power of two >= a (glibc rounds odd alignments up). */
static size_t pow2_at_least(size_t a)
{
    size_t p = 16;
    while (p < a && p < ((size_t)1 << 40)) p <<= 1;
    return p;
}

/* The aligned variants share one shape: call, record on success. */
#define ALIGNED_ENTRY(name, real, params, args, size, sig_align)                              \
    TMK_EXPORT void *name params                                                              \
    {                                                                                         \
        if (pass_alloc(size)) return real args;                                               \
        if (TMK_UNLIKELY(!tmk_resolved())) {                                                  \
            errno = ENOMEM;                                                                   \
            return NULL;                                                                      \
        }                                                                                     \
        if (TMK_REENTERED())                                                                  \
            return TMK_STALE() ? name args : sig_alloc_lost(size, sig_align, real_malloc_aligned); \
        if (!tmk_enter()) return TMK_REAL(real args);                                         \
        TMK_CALLER_SET();                                                                     \
        void *p = TMK_REAL(real args);                                                        \
        if (p) tmk_heap_on_alloc(p, size);                                                    \
        tmk_leave();                                                                          \
        return p;                                                                             \
    }

ALIGNED_ENTRY(aligned_alloc, tmk_real_aligned_alloc, (size_t align, size_t n), (align, n), n,
              pow2_at_least(align))
ALIGNED_ENTRY(memalign, tmk_real_memalign, (size_t align, size_t n), (align, n), n,
              pow2_at_least(align))
ALIGNED_ENTRY(valloc, tmk_real_valloc, (size_t n), (n), n, (size_t)getpagesize())
ALIGNED_ENTRY(pvalloc, tmk_real_pvalloc, (size_t n), (n), n, (size_t)getpagesize())

TMK_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p) return 0;
    if (tmk_is_boot(p)) return tmk_boot_size(p);
    if (TMK_UNLIKELY(!tmk_resolved())) return 0;
    return usable_of(p);
}

/* ---- the annotation API (annotate.h): recorded by tables.c -------------- */

/* TMK_CALLER_SET takes this function's return address: it must run in the
 * exported function itself, hence a macro rather than a helper. */
#define TABLE_NEW_BODY(addr, info, info_size)                                                 \
    do {                                                                                      \
        int saved = errno;                                                                    \
        struct tmk_thread *t = tmk_api_enter();                                               \
        if (!t) return;                                                                       \
        TMK_CALLER_SET();                                                                     \
        tmk_tables_new(t, addr, info, info_size);                                             \
        tmk_api_leave();                                                                      \
        errno = saved;                                                                        \
    } while (0)

/* Programs built against annotate.h version 1: their struct ends before the
 * growth rule. */
static void api_table_new(const void *addr, const struct tmk_table_info *info)
{
    TABLE_NEW_BODY(addr, info, TMK__TABLE_INFO_SIZE_V1);
}

static void api_table_new_sized(const void *addr, const struct tmk_table_info *info,
                                size_t info_size)
{
    TABLE_NEW_BODY(addr, info, info_size);
}

/* tmk_table_count (peak = 0) and tmk_table_peak (peak = 1). */
static void api_counter(const void *addr, const void *at, unsigned width, int peak)
{
    int saved = errno;
    struct tmk_thread *t = tmk_api_enter();
    if (!t) return;
    tmk_tables_counter(t, addr, at, width, peak);
    tmk_api_leave();
    errno = saved;
}

static void api_table_count(const void *addr, const void *count, unsigned width)
{
    api_counter(addr, count, width, 0);
}

static void api_table_peak(const void *addr, const void *peak, unsigned width)
{
    api_counter(addr, peak, width, 1);
}

static void api_table_array(const void *addr, const void *array, size_t bytes, size_t buckets,
                            unsigned reason)
{
    int saved = errno;
    struct tmk_thread *t = tmk_api_enter();
    if (!t) return;
    TMK_CALLER_SET();
    tmk_tables_array(t, addr, array, bytes, buckets, reason);
    tmk_api_leave();
    errno = saved;
}

static void api_table_end(const void *addr)
{
    int saved = errno;
    struct tmk_thread *t = tmk_api_enter();
    if (!t) return;
    tmk_tables_end(t, addr);
    tmk_api_leave();
    errno = saved;
}

TMK_EXPORT const struct tmk_annotate_api tidemark_annotate_api = {
    .version = TMK_ANNOTATE_VERSION,
    .size = sizeof(struct tmk_annotate_api),
    .table_new = api_table_new,
    .table_count = api_table_count,
    .table_array = api_table_array,
    .table_end = api_table_end,
    .table_peak = api_table_peak,
    .table_new_sized = api_table_new_sized,
};

/* ---- exit, main, exec: the trace's end, lifecycle.c --------------------- */

TMK_EXPORT void exit(int status)
{
    tmk_exit_status_note(status);
    NEXT(void (*)(int), "exit")(status);
    __builtin_unreachable();
}

TMK_EXPORT void quick_exit(int status)
{
    tmk_exit_status_note(status);
    NEXT(void (*)(int), "quick_exit")(status);
    __builtin_unreachable();
}

TMK_EXPORT void _exit(int status)
{
    tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)status);
    NEXT(void (*)(int), "_exit")(status);
    __builtin_unreachable();
}

TMK_EXPORT void _Exit(int status)
{
    tmk_finish(TMK_END_EXIT, (uint64_t)(unsigned)status);
    NEXT(void (*)(int), "_Exit")(status);
    __builtin_unreachable();
}

typedef int (*start_main_fn)(tmk_main_fn, int, char **, void (*)(void), void (*)(void),
                             void (*)(void), void *);

TMK_EXPORT int __libc_start_main(tmk_main_fn main, int argc, char **argv, void (*init)(void),
                                 void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    return NEXT(start_main_fn, "__libc_start_main")(tmk_main_wrap(main), argc, argv, init, fini,
                                                    rtld_fini, stack_end);
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

/* The trace ends before the real exec (END(EXEC)); when the exec returns,
 * it failed, and tracing goes on (lifecycle.c). The real function is found
 * first: its lookup may allocate. errno is the real exec's. A whole PATH
 * search (execvp) is one attempt. */
#define EXEC_BODY(real, args)                                                                 \
    do {                                                                                      \
        int begun_ = tmk_exec_begin();                                                        \
        int rc_ = (real)args;                                                                 \
        tmk_exec_failed(begun_);                                                              \
        return rc_;                                                                           \
    } while (0)

TMK_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    execve_fn f = NEXT(execve_fn, "execve");
    EXEC_BODY(f, (path, argv, envp));
}

TMK_EXPORT int execv(const char *path, char *const argv[])
{
    execv_fn f = NEXT(execv_fn, "execv");
    EXEC_BODY(f, (path, argv));
}

TMK_EXPORT int execvp(const char *file, char *const argv[])
{
    execv_fn f = NEXT(execv_fn, "execvp");
    EXEC_BODY(f, (file, argv));
}

TMK_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    execve_fn f = NEXT(execve_fn, "execvpe");
    EXEC_BODY(f, (file, argv, envp));
}

TMK_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    fexecve_fn f = NEXT(fexecve_fn, "fexecve");
    EXEC_BODY(f, (fd, argv, envp));
}

/* glibc 2.34 and later; before, the system call's own ENOSYS. */
TMK_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                        int flags)
{
    execveat_fn f = NEXT(execveat_fn, "execveat");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    EXEC_BODY(f, (dirfd, path, argv, envp, flags));
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

/* ---- unshare, setns: the sampler thread stopped around them, sampler.c --- */

/* Stopped only around the calls the kernel refuses to a multi-threaded
 * process (which: sampler.c). errno is the real call's. */
static int unshare_paused(int flags)
{
    int (*f)(int) = NEXT(int (*)(int), "unshare");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    int paused = tmk_sampler_pause_for_unshare(flags);
    int rc = f(flags), err = errno;
    tmk_sampler_resume(paused);
    errno = err;
    return rc;
}

static int setns_paused(int fd, int type)
{
    int (*f)(int, int) = NEXT(int (*)(int, int), "setns");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    int paused = tmk_sampler_pause_for_setns(fd, type);
    int rc = f(fd, type), err = errno;
    tmk_sampler_resume(paused);
    errno = err;
    return rc;
}

TMK_EXPORT int unshare(int flags)
{
    return unshare_paused(flags);
}

TMK_EXPORT int setns(int fd, int type)
{
    return setns_paused(fd, type);
}

/* ---- pthread_getattr_np: a thread's stack bounds, buffer.c --------------- */

/* It holds the thread's own lock while it reallocs: buffer.c must not ask
 * it for the bounds of a thread whose allocation comes from inside it. */
TMK_EXPORT int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
    int (*f)(pthread_t, pthread_attr_t *) =
        NEXT(int (*)(pthread_t, pthread_attr_t *), "pthread_getattr_np");
    if (!f) return ENOSYS;
    tmk_tls.in_getattr++;
    int rc = f(th, attr);
    tmk_tls.in_getattr--;
    return rc;
}

/* ---- dlclose: the modules' generation (modules.c) ----------------------- */

/* The stack caches and the stack ids key on code addresses: once an object
 * is unloaded, other code may come to the same addresses. The generation
 * moves as soon as the real dlclose returns (modules.c's scans move it too,
 * later): the caches drop their entries, and the next stack any thread takes
 * checks the loaded objects first (MODULE_GONE, MODULE, then new ids). */
TMK_EXPORT int dlclose(void *handle)
{
    int (*f)(void *) = NEXT(int (*)(void *), "dlclose");
    if (!f) return -1;
    int rc = f(handle);
    __atomic_add_fetch(&tmk_modules_gen, 1, __ATOMIC_SEQ_CST);
    return rc;
}

/* ---- syscall, pipe2, pipe: libunwind's pipe without a descriptor,
 * unwind_nofd.c (and syscall(SYS_unshare), syscall(SYS_setns), as above) -- */

TMK_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_unshare) return unshare_paused((int)a1); /* the wrappers above */
    if (nr == SYS_setns) return setns_paused((int)a1, (int)a2);
    return tmk_nofd_syscall(nr, a1, a2, a3, a4, a5, a6);
}

TMK_EXPORT int pipe2(int fds[2], int flags)
{
    return tmk_nofd_pipe2(fds, flags);
}

TMK_EXPORT int pipe(int fds[2])
{
    return tmk_nofd_pipe(fds);
}

/* ---- the ending signals' dispositions: the program's view, signals.c ---- */

TMK_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return tmk_signals_sigaction(TMK_SIG_SIGACTION, sig, act, old);
}

TMK_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return tmk_signals_sigaction(TMK_SIG___SIGACTION, sig, act, old);
}

TMK_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    return tmk_signals_handler(TMK_SIG_SIGNAL, sig, handler);
}

TMK_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
    return tmk_signals_handler(TMK_SIG_BSD_SIGNAL, sig, handler);
}

TMK_EXPORT sighandler_t ssignal(int sig, sighandler_t handler)
{
    return tmk_signals_handler(TMK_SIG_SSIGNAL, sig, handler);
}

TMK_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
    return tmk_signals_handler(TMK_SIG_SYSV_SIGNAL, sig, handler);
}

TMK_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
    return tmk_signals_handler(TMK_SIG___SYSV_SIGNAL, sig, handler);
}

TMK_EXPORT sighandler_t sigset(int sig, sighandler_t disposition)
{
    return tmk_signals_sigset(sig, disposition);
}

TMK_EXPORT int sigignore(int sig)
{
    return tmk_signals_sigignore(sig);
}

TMK_EXPORT int siginterrupt(int sig, int flag)
{
    return tmk_signals_siginterrupt(sig, flag);
}
