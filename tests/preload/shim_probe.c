/* tests/preload/shim_probe.c - the program the shim's tests run under
 * LD_PRELOAD: one subcommand per situation (the *_test.py scripts drive
 * them and read the traces back with tmkcat). Each subcommand checks what the
 * program itself can see (return values, errno, alignment) and exits 1 with
 * a "CHECK failed" line (tests/check.h) when something is off; what only
 * the trace can show is printed as "key=value" lines for the driver.
 *
 * Sizes 600..631 are used only by the stress workload, 7777 only by the
 * dlopen'ed library, 111111, 222222 by dlswap's two plugins and 5001, 5002
 * by sigalrm-keep's handler, so the trace's records of them can be counted
 * apart.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A failed check goes to stdout, which the test scripts show: stderr is
 * the shim's. */
#define CHECK_OUT stdout
#include "check.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keeps the compiler from dropping a malloc/free pair. */
static void *volatile sink;

/* One malloc and one free of n bytes that the compiler cannot remove. */
__attribute__((noinline)) static void churn(size_t n)
{
    void *volatile p = malloc(n);
    free(p);
}

/* ---- aligned: every aligned entry point, alignment honoured, size recorded */

static void report_alloc(const char *fn, void *p, size_t size)
{
    printf("alloc=%s %p %zu\n", fn, p, size);
}

/* The allocator through pointers the compiler cannot see through: clang
 * assumes malloc and friends never write errno and would fold the errno
 * checks below (and may drop pairs it can see). */
static void *(*volatile v_malloc)(size_t) = malloc;
static void *(*volatile v_calloc)(size_t, size_t) = calloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void *(*volatile v_reallocarray)(void *, size_t, size_t) = reallocarray;
static void (*volatile v_free)(void *) = free;
static int (*volatile v_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile v_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile v_memalign)(size_t, size_t) = memalign;
static void *(*volatile v_valloc)(size_t) = valloc;
static void *(*volatile v_pvalloc)(size_t) = pvalloc;

static volatile size_t bad_align = 3; /* not a literal: compilers reject it */

static int cmd_aligned(void)
{
    static const size_t aligns[] = {8, 16, 32, 64, 256, 4096, 65536};
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t a = aligns[i], n = 100 + i * 37;
        void *p = NULL;
        errno = 1234;
        int rc = v_posix_memalign(&p, a, n);
        CHECK(rc == 0 && p && ((uintptr_t)p % a) == 0, "v_posix_memalign(%zu) rc %d p %p", a, rc, p);
        CHECK(errno == 1234, "posix_memalign changed errno to %d", errno);
        report_alloc("posix_memalign", p, n);
        v_free(p);

        p = v_aligned_alloc(a, a * 3);
        CHECK(p && ((uintptr_t)p % a) == 0, "v_aligned_alloc(%zu) %p", a, p);
        report_alloc("aligned_alloc", p, a * 3);
        v_free(p);

        p = v_memalign(a, n + 1);
        CHECK(p && ((uintptr_t)p % a) == 0, "v_memalign(%zu) %p", a, p);
        report_alloc("memalign", p, n + 1);
        v_free(p);
    }
    void *p = v_valloc(1000);
    CHECK(p && ((uintptr_t)p % (uintptr_t)page) == 0, "valloc %p", p);
    report_alloc("valloc", p, 1000);
    v_free(p);
    p = v_pvalloc(1000);
    CHECK(p && ((uintptr_t)p % (uintptr_t)page) == 0, "pvalloc %p", p);
    CHECK(malloc_usable_size(p) >= (size_t)page, "pvalloc usable %zu", malloc_usable_size(p));
    report_alloc("pvalloc", p, 1000);
    v_free(p);

    /* Bad alignments fail as glibc says, and are not recorded. */
    void *q = (void *)0x1;
    CHECK(v_posix_memalign(&q, 3, 10) == EINVAL && q == (void *)0x1, "v_posix_memalign(3)");
    CHECK(v_posix_memalign(&q, sizeof(void *) / 2, 10) == EINVAL, "v_posix_memalign(4)");
    /* glibc's own answer (2.36 rounds the alignment up, 2.38 says EINVAL):
     * the driver compares this line with a run without the shim */
    errno = 0;
    sink = v_aligned_alloc(bad_align, 12);
    printf("aligned_alloc_bad=%s errno=%d\n", sink ? "ok" : "null", errno);
    v_free(sink);
    return check_failures != 0;
}

/* ---- edge: v_realloc(p, 0), v_free(NULL), calloc overflow, errno ------------ */

static void *errno_thread(void *arg)
{
    (void)arg;
    /* The thread's first allocation makes the shim set up its state. */
    errno = 4321;
    void *p = v_malloc(40);
    int e1 = errno;
    v_free(p);
    int e2 = errno;
    return (void *)(intptr_t)(e1 == 4321 && e2 == 4321);
}

/* Sizes the compiler cannot see, for the overflow checks. */
static volatile size_t half_max = SIZE_MAX / 2, three = 3, two33 = (size_t)1 << 33,
                       huge = SIZE_MAX - 4096;

static int cmd_edge(void)
{
    /* v_realloc(p, 0) frees p and returns NULL (glibc) */
    void *p = v_malloc(333);
    CHECK(p != NULL, "malloc");
    printf("realloc0=%p\n", p);
    void *r = v_realloc(p, 0);
    CHECK(r == NULL, "v_realloc(p, 0) returned %p", r);

    /* v_realloc(NULL, n) is malloc */
    p = v_realloc(NULL, 444);
    CHECK(p != NULL, "v_realloc(NULL, 444)");
    printf("reallocnull=%p\n", p);
    v_free(p);

    errno = 77;
    v_free(NULL);
    CHECK(errno == 77, "v_free(NULL) changed errno to %d", errno);

    errno = 0;
    p = v_calloc(half_max, three);
    CHECK(p == NULL && errno == ENOMEM, "calloc overflow %p errno %d", p, errno);
    errno = 0;
    p = v_calloc(two33, two33);
    CHECK(p == NULL && errno == ENOMEM, "calloc overflow 2 %p errno %d", p, errno);
    errno = 0;
    p = v_reallocarray(NULL, half_max, three);
    CHECK(p == NULL && errno == ENOMEM, "reallocarray overflow %p errno %d", p, errno);
    errno = 0;
    p = v_malloc(huge);
    CHECK(p == NULL && errno == ENOMEM, "huge malloc %p errno %d", p, errno);

    /* a block of 4 GiB and more: no info holds its size, so full mode writes
     * it by address (never touched: only address space) */
    p = v_malloc(two33 + 16);
    CHECK(p != NULL, "malloc(2^33 + 16)");
    printf("big=%p\n", p);
    v_free(p);

    /* calloc memory is zero */
    unsigned char *z = v_calloc(1000, 3);
    CHECK(z != NULL, "calloc");
    for (size_t i = 0; z && i < 3000; i++)
        if (z[i]) {
            CHECK(0, "calloc byte %zu not zero", i);
            break;
        }
    v_free(z);

    /* errno survives successful calls, including ones that make the shim
     * meet a new stack, flush, or grow its tables */
    for (int i = 0; i < 20000; i++) {
        errno = 1000 + i;
        void *a = v_malloc((size_t)(i % 5000) + 1);
        CHECK(errno == 1000 + i, "malloc changed errno to %d", errno);
        void *b = v_realloc(a, (size_t)(i % 300) + 2000);
        CHECK(errno == 1000 + i, "realloc changed errno to %d", errno);
        void *c = v_calloc(3, (size_t)i % 70 + 1);
        CHECK(errno == 1000 + i, "calloc changed errno to %d", errno);
        v_free(b);
        v_free(c);
        CHECK(errno == 1000 + i, "free changed errno to %d", errno);
        if (check_failures) break;
    }
    pthread_t th;
    void *ok = NULL;
    pthread_create(&th, NULL, errno_thread, NULL);
    pthread_join(th, &ok);
    CHECK(ok == (void *)1, "errno changed in a new thread's first malloc/free");

    /* malloc_usable_size passes through */
    p = v_malloc(100);
    CHECK(malloc_usable_size(p) >= 100, "usable %zu", malloc_usable_size(p));
    CHECK(malloc_usable_size(NULL) == 0, "usable(NULL)");
    v_free(p);
    return check_failures != 0;
}

/* ---- fork, fork+exec, system, vfork ------------------------------------- */

static int wait_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The parent's end of fork, forkexec and chdir-fork: the child (what) must
 * exit with want; prints both pids for the driver. */
static int reap_child(pid_t pid, int want, const char *what)
{
    int st = wait_status(pid);
    CHECK(st == want, "%s status %d", what, st);
    printf("parent=%d\nforked=%d\n", (int)getpid(), (int)pid);
    return check_failures != 0;
}

static int cmd_fork(void)
{
    sink = malloc(1111);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 100; i++) churn(2222);
        printf("child=%d\n", (int)getpid());
        fflush(stdout);
        exit(3);
    }
    for (int i = 0; i < 10; i++) churn(3333);
    return reap_child(pid, 3, "child");
}

static int cmd_forkexec(const char *self)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        churn(10);
        execl(self, self, "exec-child", (char *)NULL);
        _exit(126);
    }
    return reap_child(pid, 4, "exec'ed child");
}

/* Changes directory to dir, then forks: the child's trace goes beside the
 * parent's, whatever the working directory (a relative TIDEMARK_OUTPUT is
 * resolved once, at start). Prints TIDEMARK_OUTPUT as each process sees it:
 * the shim never changes the environment. */
static int cmd_chdir_fork(const char *dir)
{
    sink = malloc(1111);
    CHECK(chdir(dir) == 0, "chdir(%s)", dir);
    const char *env = getenv("TIDEMARK_OUTPUT");
    printf("env=%s\n", env ? env : "(unset)");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 10; i++) churn(2222);
        env = getenv("TIDEMARK_OUTPUT");
        printf("childenv=%s\n", env ? env : "(unset)");
        exit(0);
    }
    return reap_child(pid, 0, "child");
}

/* ---- exec-fail: an exec that fails, and the program goes on -------------- */

/* One exec* of something that cannot run, the way `how` names; returns what
 * it returned (-1) with its errno. */
static int exec_missing(const char *how)
{
    static char *const argv[] = {"missing", NULL};
    char *const envp[] = {"A=1", NULL};
    if (!strcmp(how, "execve")) return execve("/nonexistent/prog", argv, envp);
    if (!strcmp(how, "execv")) return execv("/nonexistent/prog", argv);
    if (!strcmp(how, "execl")) return execl("/nonexistent/prog", "prog", (char *)NULL);
    if (!strcmp(how, "execle")) return execle("/nonexistent/prog", "prog", (char *)NULL, envp);
    if (!strcmp(how, "execvp")) return execvp("no-such-command-tidemark", argv);
    if (!strcmp(how, "execlp")) return execlp("no-such-command-tidemark", "x", (char *)NULL);
    if (!strcmp(how, "execvpe")) return execvpe("no-such-command-tidemark", argv, envp);
    if (!strcmp(how, "execveat")) return execveat(AT_FDCWD, "/nonexistent/prog", argv, envp, 0);
    if (!strcmp(how, "fexecve")) { /* a file that is not executable: EACCES */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int rc = fexecve(fd, argv, envp);
        int e = errno;
        close(fd);
        errno = e;
        return rc;
    }
    errno = EINVAL;
    return -2;
}

static volatile int exec_fail_stop;

/* Allocates and frees until told to stop: a thread busy in the shim while
 * another one's exec fails. */
static void *exec_fail_churner(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&exec_fail_stop, __ATOMIC_RELAXED)) churn(3003);
    return NULL;
}

/* 5 blocks of 1001 bytes, the failed exec (`times` times; with a thread
 * churning 3003 bytes meanwhile when `threads`), 7 blocks of 1002 bytes,
 * then exit 3: every block is in the trace, and so is the exit status.
 * Prints the exec's return value and errno, to compare with a run without
 * the shim. */
static int cmd_exec_fail(const char *how, int times, int threads)
{
    for (int i = 0; i < 5; i++) sink = malloc(1001);
    pthread_t th;
    if (threads) CHECK(pthread_create(&th, NULL, exec_fail_churner, NULL) == 0, "thread");
    int rc = 0, err = 0;
    for (int i = 0; i < times; i++) {
        errno = 0;
        rc = exec_missing(how);
        err = errno;
        churn(3003);
    }
    if (threads) {
        __atomic_store_n(&exec_fail_stop, 1, __ATOMIC_RELAXED);
        pthread_join(th, NULL);
    }
    for (int i = 0; i < 7; i++) sink = malloc(1002);
    printf("rc=%d\nerrno=%d\npid=%d\n", rc, err, (int)getpid());
    fflush(stdout);
    exit(check_failures ? 1 : 3);
}

static int cmd_exec_child(void)
{
    for (int i = 0; i < 5; i++) churn(4444);
    printf("execchild=%d\n", (int)getpid());
    return 4;
}

static int cmd_system(void)
{
    fflush(stdout);
    int st = system("echo from-sh; exit 5");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "system status %#x", st);
    printf("parent=%d\n", (int)getpid());
    return check_failures != 0;
}

/* A vfork child shares the parent's memory until it execs or _exits: what
 * the shim does in it must not end the parent's trace. */
static int cmd_vfork(void)
{
    churn(5555);
    pid_t pid = vfork();
    if (pid == 0) _exit(9);
    int st = wait_status(pid);
    CHECK(st == 9, "vfork child status %d", st);
    pid = vfork();
    if (pid == 0) {
        execl("/nonexistent/program", "x", (char *)NULL);
        _exit(8);
    }
    st = wait_status(pid);
    CHECK(st == 8, "vfork+failed exec status %d", st);
    for (int i = 0; i < 1000; i++) churn(6666); /* after: must be in the trace */
    return check_failures != 0;
}

/* ---- dlopen ------------------------------------------------------------- */

static int cmd_dlopen(const char *lib, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        CHECK(h != NULL, "dlopen %s: %s", lib, dlerror());
        if (!h) return 1;
        void *(*f)(void) = (void *(*)(void))dlsym(h, "dl_lib_alloc");
        CHECK(f != NULL, "dlsym");
        void *p = f();
        CHECK(p != NULL, "dl_lib_alloc");
        free(p);
        CHECK(dlclose(h) == 0, "dlclose");
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return check_failures != 0;
}

/* ---- dlswap: two plugins loaded in turn at the same address ------------ */

/* Copies file `from` to `to` through a new file renamed over it (a plugin
 * rebuilt in place); 0 or -1. No malloc: the trace counts this program's
 * allocations. */
static int copy_file(const char *from, const char *to)
{
    char tmp[4096], buf[8192];
    snprintf(tmp, sizeof tmp, "%s.new", to);
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    ssize_t n = 0;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) n = -1;
    int ok = in >= 0 && out >= 0 && n == 0;
    if (in >= 0) close(in);
    if (out >= 0 && close(out)) ok = 0;
    return ok && rename(tmp, to) == 0 ? 0 : -1;
}

/* Loads lib (copied to `as` first when as is not NULL), calls its
 * dl_pair_alloc `calls` times from one call site (the blocks are kept: the
 * stack caches meet that stack again), unloads it; *base gets its load
 * bias. */
static int load_call_unload(const char *lib, const char *as, int calls, uintptr_t *base)
{
    if (as && copy_file(lib, as)) {
        CHECK(0, "copy %s to %s", lib, as);
        return -1;
    }
    void *h = dlopen(as ? as : lib, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL, "dlopen %s: %s", lib, dlerror());
    if (!h) return -1;
    struct link_map *lm = NULL;
    CHECK(dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm, "dlinfo %s", lib);
    *base = lm ? (uintptr_t)lm->l_addr : 0;
    void *(*f)(void) = (void *(*)(void))dlsym(h, "dl_pair_alloc");
    CHECK(f != NULL, "dlsym dl_pair_alloc in %s", lib);
    for (int i = 0; f && i < calls; i++) sink = f(); /* kept: the report's sites hold them */
    CHECK(dlclose(h) == 0, "dlclose %s", lib);
    return 0;
}

/* Libraries a and b (each exporting dl_pair_alloc) loaded, called `calls`
 * times and unloaded in turn, `rounds` times each; with `as`, both are
 * copied to that one path before each load (a plugin rebuilt and
 * reloaded). Prints same_base=1 when every load of both had the same bias. */
static int cmd_dlswap(const char *a, const char *b, int rounds, int calls, const char *as)
{
    uintptr_t first = 0, base = 0;
    int same = 1;
    for (int i = 0; i < rounds; i++) {
        for (int k = 0; k < 2; k++) {
            if (load_call_unload(k ? b : a, as, calls, &base)) return 1;
            if (!first) first = base;
            same &= base == first;
        }
    }
    printf("same_base=%d\n", same);
    return check_failures != 0;
}

/* ---- signals: malloc from a handler while the main thread mallocs -------- */

/* SIGALRM to handler, interrupted calls restarted. */
static void catch_sigalrm(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
}

static volatile sig_atomic_t handled;
static void *handoff;  /* allocated by the main loop, freed by the handler */
static void *kept;     /* reallocated by the handler, freed at the end */

static void alarm_handler(int sig)
{
    (void)sig;
    int saved = errno;
    void *p = malloc(48 + (handled & 63));
    if (p) memset(p, 1, 48);
    free(p);
    free(__atomic_exchange_n(&handoff, NULL, __ATOMIC_ACQ_REL));
    void *k = realloc(kept, 16 + (size_t)(handled % 3000));
    if (k) {
        memset(k, 2, 16);
        kept = k;
    }
    char *c = calloc(10, 10);
    if (c && c[99]) abort(); /* calloc memory is zero */
    free(c);
    handled++;
    errno = saved;
}

/* A handler that ends the process with _exit (as a SIGTERM handler does)
 * at the n-th timer signal, wherever the main thread is: maybe inside the
 * shim, holding its writer lock in the middle of a flush. */
static volatile sig_atomic_t exit_after;
static volatile sig_atomic_t exit_by_exit; /* exit() instead of _exit() */

static void exit_handler(int sig)
{
    (void)sig;
    if (++handled >= exit_after) {
        if (exit_by_exit) exit(0); /* not async-signal-safe, yet common */
        _exit(0);
    }
}

static int cmd_alarm_exit(int n, int locked)
{
    exit_after = n;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = exit_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 20}, {0, 20}};
    setitimer(ITIMER_REAL, &it, NULL);
    if (!locked)
        for (unsigned long i = 0;; i++) churn(i % 64 + 1);
    /* Blocks too big for the tcache, below tables mode's 64 KiB: the main
     * thread is mostly inside glibc holding its arena's lock. */
    void *keep[64] = {0};
    for (unsigned long i = 0;; i++) {
        free(keep[i % 64]);
        keep[i % 64] = malloc(2000 + (i * 7919) % 50000);
    }
    return 0;
}

static int cmd_sigalrm(double seconds)
{
    catch_sigalrm(alarm_handler);
    struct itimerval it = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &it, NULL);
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    unsigned long loops = 0;
    void *keep[64] = {0};
    while (now_ns() < end) {
        for (int i = 0; i < 64; i++) {
            free(keep[i]);
            keep[i] = malloc((size_t)((loops * 7 + (unsigned)i * 13) % 2000) + 1);
        }
        if (!__atomic_load_n(&handoff, __ATOMIC_ACQUIRE)) {
            void *h = malloc(100 + loops % 500);
            void *expect = NULL;
            if (!__atomic_compare_exchange_n(&handoff, &expect, h, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_RELAXED))
                free(h);
        }
        loops++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    for (int i = 0; i < 64; i++) free(keep[i]);
    free(handoff);
    free(kept);
    printf("signals=%d\nloops=%lu\n", (int)handled, loops);
    CHECK(handled > 100, "only %d signals handled", (int)handled);
    return check_failures != 0;
}

/* sigalrm-keep: each handler call mallocs and frees 5001 bytes, then
 * mallocs 5002 bytes and keeps them (as a handler that queues work does),
 * until n calls; the main loop mallocs and frees meanwhile (on a thread of
 * its own with "thread"), then the main thread frees every kept block. Blocks a handler makes inside malloc are not traced: so many
 * kept at once use up sigalloc.c's mappings, and the rest come from the real
 * allocator. */
#define KEEP_MAX 40000
static void *kept_by_handler[KEEP_MAX];

static void keeping_handler(int sig)
{
    (void)sig;
    int saved = errno;
    void *p = malloc(5001);
    if (p) memset(p, 1, 64);
    free(p);
    void *q = malloc(5002);
    if (q) memset(q, 2, 64);
    if (handled < KEEP_MAX) kept_by_handler[handled] = q;
    else free(q);
    handled++;
    errno = saved;
}

/* The main loop, until n handler calls (20 s at most); the timer's
 * signals come to this thread, and it stops the timer before it ends (a
 * handler that interrupts the shim's own calls, such as its flush when a
 * thread ends, allocates untraced and uncounted: docs/architecture.md,
 * "Entry points"). */
static void *keep_loop(void *arg)
{
    int n = (int)(intptr_t)arg;
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
    uint64_t end = now_ns() + 20000000000u;
    for (unsigned long i = 0; handled < n && now_ns() < end; i++) {
        void *volatile p = malloc(i % 2000 + 1);
        free(p);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    return NULL;
}

/* One allocation on a new thread: it takes the thread state the loop's
 * thread gave back (buffer.c's pool). */
static void *one_alloc(void *arg)
{
    (void)arg;
    void *volatile p = malloc(77);
    free(p);
    return NULL;
}

/* in_thread: the loop (and the handler) on a thread of its own that ends
 * before the main thread, another thread taking its state after. */
static int cmd_sigalrm_keep(int n, int in_thread)
{
    if (n > KEEP_MAX) n = KEEP_MAX;
    catch_sigalrm(keeping_handler);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    struct itimerval it = {{0, 50}, {0, 50}};
    if (in_thread) {
        pthread_t th;
        pthread_sigmask(SIG_BLOCK, &alrm, NULL); /* the loop's thread gets them */
        setitimer(ITIMER_REAL, &it, NULL);
        CHECK(pthread_create(&th, NULL, keep_loop, (void *)(intptr_t)n) == 0, "thread");
        pthread_join(th, NULL);
    } else {
        setitimer(ITIMER_REAL, &it, NULL);
        keep_loop((void *)(intptr_t)n);
    }
    if (in_thread) {
        pthread_t th;
        CHECK(pthread_create(&th, NULL, one_alloc, NULL) == 0, "thread");
        pthread_join(th, NULL);
    }
    int calls = handled < KEEP_MAX ? (int)handled : KEEP_MAX;
    for (int i = 0; i < calls; i++) free(kept_by_handler[i]);
    printf("signals=%d\n", (int)handled);
    CHECK(handled >= n, "only %d signals handled in 20 s", (int)handled);
    return check_failures != 0;
}

/* ---- stress: 8 threads, frees handed to the next thread ----------------- */

#define STRESS_THREADS 8
#define RING 4096

struct ring {
    void *slot[RING];
    _Alignas(64) unsigned long head; /* written by the producer */
    _Alignas(64) unsigned long tail; /* written by the consumer */
    _Alignas(64) int producer_done;
};

static struct ring rings[STRESS_THREADS];
static unsigned long stress_n;

static int ring_pop_free(struct ring *r)
{
    unsigned long tail = r->tail;
    if (tail == __atomic_load_n(&r->head, __ATOMIC_ACQUIRE)) return 0;
    free(r->slot[tail % RING]);
    __atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
    return 1;
}

static void *stress_thread(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    struct ring *in = &rings[me], *out = &rings[(me + 1) % STRESS_THREADS];
    void *window[64] = {0};
    for (unsigned long i = 0; i < stress_n; i++) {
        char *p = malloc(600 + (i & 31));
        p[0] = (char)i;
        if (i & 1) {
            unsigned long head = out->head;
            while (head - __atomic_load_n(&out->tail, __ATOMIC_ACQUIRE) >= RING)
                if (!ring_pop_free(in)) sched_yield();
            out->slot[head % RING] = p;
            __atomic_store_n(&out->head, head + 1, __ATOMIC_RELEASE);
        } else {
            free(window[i / 2 % 64]);
            window[i / 2 % 64] = p;
        }
        if ((i & 15) == 0) ring_pop_free(in);
    }
    for (int i = 0; i < 64; i++) free(window[i]);
    __atomic_store_n(&out->producer_done, 1, __ATOMIC_RELEASE);
    for (;;) {
        if (ring_pop_free(in)) continue;
        if (__atomic_load_n(&in->producer_done, __ATOMIC_ACQUIRE) &&
            in->tail == __atomic_load_n(&in->head, __ATOMIC_ACQUIRE))
            break;
        sched_yield();
    }
    return NULL;
}

/* realloc across threads: each block is made and regrown on one thread,
 * handed on, regrown (or shrunk) again and freed on the next. Sizes
 * 700..763 and 900..1923 mark the workload. Through the volatile pointers:
 * clang folds a malloc and the realloc that follows it. */
static void *rstress_thread(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    struct ring *in = &rings[me], *out = &rings[(me + 1) % 4];
    for (unsigned long i = 0; i < stress_n; i++) {
        char *p = v_malloc(700 + (i & 63));
        p[0] = 1;
        char *q = v_realloc(p, 900 + (i & 1023)); /* usually moves */
        q[1] = 2;
        unsigned long head = out->head;
        while (head - __atomic_load_n(&out->tail, __ATOMIC_ACQUIRE) >= RING) {
            unsigned long tail = in->tail;
            if (tail != __atomic_load_n(&in->head, __ATOMIC_ACQUIRE)) {
                v_free(v_realloc(in->slot[tail % RING], 700 + (tail & 63)));
                __atomic_store_n(&in->tail, tail + 1, __ATOMIC_RELEASE);
            } else {
                sched_yield();
            }
        }
        out->slot[head % RING] = q;
        __atomic_store_n(&out->head, head + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&out->producer_done, 1, __ATOMIC_RELEASE);
    for (;;) {
        unsigned long tail = in->tail;
        if (tail != __atomic_load_n(&in->head, __ATOMIC_ACQUIRE)) {
            v_free(v_realloc(in->slot[tail % RING], 700 + (tail & 63)));
            __atomic_store_n(&in->tail, tail + 1, __ATOMIC_RELEASE);
            continue;
        }
        if (__atomic_load_n(&in->producer_done, __ATOMIC_ACQUIRE)) break;
        sched_yield();
    }
    return NULL;
}

static int cmd_rstress(unsigned long n)
{
    stress_n = n;
    pthread_t th[4];
    for (unsigned i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, rstress_thread, (void *)(uintptr_t)i);
    for (unsigned i = 0; i < 4; i++) pthread_join(th[i], NULL);
    return 0;
}

static int cmd_stress(unsigned long n)
{
    stress_n = n;
    pthread_t th[STRESS_THREADS];
    for (unsigned i = 0; i < STRESS_THREADS; i++)
        pthread_create(&th[i], NULL, stress_thread, (void *)(uintptr_t)i);
    for (unsigned i = 0; i < STRESS_THREADS; i++) pthread_join(th[i], NULL);
    printf("stress_allocs=%lu\n", n * STRESS_THREADS);
    return 0;
}

/* ---- threads: short-lived threads while others allocate; exit from a
 * thread; _exit ----------------------------------------------------------- */

static volatile int stop_churn;

static void *churn_thread(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_churn, __ATOMIC_RELAXED)) {
        churn(96);
    }
    return NULL;
}

static void *short_thread(void *arg)
{
    for (int i = 0; i < 50; i++) churn((size_t)(uintptr_t)arg + (size_t)i);
    return NULL;
}

static int cmd_threads(int count)
{
    pthread_t churn[2];
    for (int i = 0; i < 2; i++) pthread_create(&churn[i], NULL, churn_thread, NULL);
    for (int i = 0; i < count; i++) {
        pthread_t th[4];
        for (int j = 0; j < 4; j++)
            pthread_create(&th[j], NULL, short_thread, (void *)(uintptr_t)(16 + j));
        for (int j = 0; j < 4; j++) pthread_join(th[j], NULL);
    }
    __atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(churn[i], NULL);
    printf("threads_started=%d\n", count * 4 + 2);
    return 0;
}

/* busythreads: count threads allocating at once, each 100,000 pairs of
 * sizes 700..731 (several blocks of records each); no thread starts before
 * all exist, none ends before all are done. */
static pthread_barrier_t busy_barrier;

static void *busy_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&busy_barrier);
    for (int i = 0; i < 100000; i++) churn(700 + (size_t)(i % 32));
    pthread_barrier_wait(&busy_barrier);
    return NULL;
}

static int cmd_busythreads(int count)
{
    pthread_t th[64];
    if (count < 1 || count > 64) return 2;
    pthread_barrier_init(&busy_barrier, NULL, (unsigned)count);
    for (int i = 0; i < count; i++) pthread_create(&th[i], NULL, busy_thread, NULL);
    for (int i = 0; i < count; i++) pthread_join(th[i], NULL);
    return 0;
}

/* keep: n small blocks (sizes 36..43, used only here) made and kept, a
 * third of them freed by another thread, the peak RSS printed (VmHWM, read
 * without stdio), then the rest freed but for the last 1,000. Full mode's
 * block map would take 11 to 16 bytes of each (preload/ptrmap.c, "The
 * budget"). */
struct kept {
    void **v;
    size_t n;
};

static void *free_every_third(void *arg)
{
    struct kept *k = arg;
    for (size_t i = 0; i < k->n; i += 3) {
        free(k->v[i]);
        k->v[i] = NULL;
    }
    return NULL;
}

static long hwm_kib(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    const char *h = strstr(buf, "VmHWM:");
    return h ? atol(h + 6) : -1;
}

static int cmd_keep(size_t n)
{
    struct kept k = {malloc(n * sizeof(void *)), n};
    if (!k.v) return 2;
    for (size_t i = 0; i < n; i++) {
        k.v[i] = malloc(36 + i % 8);
        memset(k.v[i], 1, 8);
    }
    pthread_t th;
    pthread_create(&th, NULL, free_every_third, &k);
    pthread_join(th, NULL);
    printf("hwm_kib=%ld\n", hwm_kib());
    for (size_t i = 0; i + 1000 < n; i++) free(k.v[i]);
    return 0;
}

/* bigfree: n blocks of 1 MiB (each word non-zero) made, then freed: each
 * free of a block the probes registered is read first, within
 * TIDEMARK_PROBE_BYTES a second (preload/probe.c, "The probe at free"). */
static int cmd_bigfree(size_t n)
{
    enum { MIB = 1 << 20 };
    uint64_t **v = malloc(n * sizeof *v);
    if (!v) return 2;
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(MIB);
        for (size_t k = 0; k < MIB / 8; k++) v[i][k] = i * MIB + k + 1;
    }
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
    return 0;
}

/* guardfree: a 1 MiB block with a page in its middle made unreadable (a
 * coroutine stack's guard page), freed as it is: glibc's free touches only
 * the chunk's header; the shim's probe at free must not fault on the page. */
static int cmd_guardfree(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *b = malloc(1 << 20);
    if (!b) return 2;
    memset(b, 1, 1 << 20);
    char *guard = (char *)(((uintptr_t)b + 4 * (uintptr_t)page) & ~((uintptr_t)page - 1));
    CHECK(mprotect(guard, (size_t)page, PROT_NONE) == 0, "mprotect: %s", strerror(errno));
    free(b);
    printf("freed\n");
    return check_failures != 0;
}

/* fillfree BYTE: 3 blocks of 2 MiB, each filled with one byte (memset),
 * freed: plain buffers, which the probe at free reads; no table. */
static int cmd_fillfree(int byte)
{
    void *b[3];
    for (int i = 0; i < 3; i++) {
        if (!(b[i] = malloc(2 << 20))) return 2;
        memset(b[i], byte, 2 << 20);
    }
    for (int i = 0; i < 3; i++) free(b[i]);
    return 0;
}

static void *exiting_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) churn(64);
    exit(7);
}

/* fork while other threads allocate (and may hold the shim's locks). */
static int cmd_forkthreads(int children)
{
    pthread_t churn_th[2];
    for (int i = 0; i < 2; i++) pthread_create(&churn_th[i], NULL, churn_thread, NULL);
    fflush(stdout);
    for (int c = 0; c < children; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 1000; i++) churn(1234);
            _exit(0);
        }
        int st = wait_status(pid);
        CHECK(st == 0, "child %d status %d", c, st);
    }
    __atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(churn_th[i], NULL);
    return check_failures != 0;
}

/* pthread_cancel: malloc and free are not cancellation points, so a worker
 * that only allocates runs on until its own pthread_testcancel. */
static volatile unsigned long cancel_progress;

static void *cancel_worker(void *arg)
{
    unsigned long n = (unsigned long)(uintptr_t)arg;
    for (unsigned long i = 0; i < n; i++) {
        churn(i % 200 + 1);
        cancel_progress = i + 1;
    }
    for (;;) pthread_testcancel();
    return NULL;
}

static int cmd_cancel(void)
{
    unsigned long n = 600000; /* records enough to fill the shim's buffer a few times */
    pthread_t th;
    pthread_create(&th, NULL, cancel_worker, (void *)(uintptr_t)n);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    pthread_cancel(th);
    void *ret = NULL;
    pthread_join(th, &ret);
    CHECK(ret == PTHREAD_CANCELED, "worker not cancelled");
    CHECK(cancel_progress == n, "worker cancelled inside malloc/free after %lu of %lu",
          cancel_progress, n);
    for (int i = 0; i < 300000; i++) churn(64); /* the main thread's buffer fills too */
    return check_failures != 0;
}

/* main returns through pthread_exit; the last thread's end is the exit. */
static void *last_thread(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    for (int i = 0; i < 1000; i++) churn(5432);
    return NULL;
}

static int cmd_main_pthread_exit(void)
{
    pthread_t th;
    pthread_create(&th, NULL, last_thread, NULL);
    pthread_exit(NULL);
}

static int cmd_exit_thread(void)
{
    pthread_create(&(pthread_t){0}, NULL, churn_thread, NULL);
    pthread_create(&(pthread_t){0}, NULL, exiting_thread, NULL);
    for (;;) {
        churn(200);
    }
    return 0;
}

static int cmd_underscore_exit(void)
{
    for (int i = 0; i < 100; i++) churn(8888);
    printf("before _exit\n");
    fflush(stdout);
    _exit(5);
    return 0;
}

static void quick_exit_handler(void)
{
    churn(4322); /* runs before the shim ends the trace: recorded */
}

static int cmd_quick_exit(void)
{
    at_quick_exit(quick_exit_handler);
    for (int i = 0; i < 1000; i++) churn(4321);
    quick_exit(3);
    return 0;
}

/* glibc finds the double free and aborts: the trace must still end. */
static int cmd_double_free(void)
{
    for (int i = 0; i < 100; i++) churn(9999);
    char *p = v_malloc(100);
    v_free(p);
    v_free(p);
    return 0;
}

/* A double free that glibc finds with its arena's lock held (a chunk too
 * big for the fast bins, its tcache bin full): malloc_printerr aborts from
 * inside free, the lock still taken. */
static int cmd_double_free_locked(void)
{
    void *fill[7], *p = v_malloc(200), *guard = v_malloc(200);
    for (int i = 0; i < 7; i++) fill[i] = v_malloc(200);
    for (int i = 0; i < 7; i++) v_free(fill[i]);
    v_free(p);
    v_free(p);
    v_free(guard);
    return 0;
}

static int cmd_abort(void)
{
    for (int i = 0; i < 100; i++) churn(9999);
    abort();
    return 0;
}

/* The tid of the shim's sampler thread (it names itself "tidemark"), 0
 * when there is none: not traced, stopped, or not yet named. */
static pid_t sampler_tid(void)
{
    pid_t tid = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && !tid && (e = readdir(d)) != NULL) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f) && !strcmp(comm, "tidemark\n"))
            tid = (pid_t)atoi(e->d_name);
        fclose(f);
    }
    if (d) closedir(d);
    return tid;
}

/* The sampler thread on this thread's CPU at SCHED_IDLE: it runs only
 * when this one waits, so the blocks it is to write pile up while this one
 * allocates. 1 when found. */
static int starve_sampler_once(void)
{
    int cpu = sched_getcpu();
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu < 0 ? 0 : cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
    pid_t tid = sampler_tid();
    struct sched_param sp = {0};
    return tid && sched_setaffinity(tid, sizeof one, &one) == 0 &&
           sched_setscheduler(tid, SCHED_IDLE, &sp) == 0;
}

/* The sampler names itself when it starts, which may be a moment after
 * main does: looked for during 5 s at most. */
static int starve_sampler(void)
{
    for (int i = 0; i < 500; i++) {
        if (starve_sampler_once()) return 1;
        usleep(10000);
    }
    return 0;
}

/* Buffers filled while the sampler is starved, so that full blocks are
 * queued for it (buffer.c) when the process forks, exits or dies: n churns
 * of 5555 bytes, a fork (the child: n of 6666, exit 5), then n of 7777 and
 * abort. */
static int cmd_queued(unsigned long n)
{
    printf("starved=%d\n", starve_sampler());
    for (unsigned long i = 0; i < n; i++) churn(5555);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (unsigned long i = 0; i < n; i++) churn(6666);
        printf("child=%d\n", (int)getpid());
        fflush(stdout);
        exit(5);
    }
    int st = wait_status(pid);
    CHECK(st == 5, "child status %d", st);
    printf("parent=%d\n", (int)getpid());
    fflush(stdout);
    for (unsigned long i = 0; i < n; i++) churn(7777);
    abort();
    return 0;
}

/* Allocates until killed; says "ready" after `seconds`. */
static int cmd_spin(double seconds)
{
    uint64_t ready_at = now_ns() + (uint64_t)(seconds * 1e9);
    int said = 0;
    void *keep[16] = {0};
    for (unsigned long i = 0;; i++) {
        free(keep[i % 16]);
        keep[i % 16] = malloc(i % 1000 + 1);
        if (!said && (i & 1023) == 0 && now_ns() >= ready_at) {
            printf("ready\n");
            fflush(stdout);
            said = 1;
        }
        if ((i & 1023) == 0) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/* A slow allocator (one 3333-byte block a millisecond, like a quiet
 * server) until killed; after 1.5 s it says "ready N", N = the blocks it
 * allocated in its first 0.5 s. */
static int cmd_trickle(void)
{
    uint64_t start = now_ns();
    unsigned long early = 0;
    int said = 0;
    for (unsigned long i = 0;; i++) {
        churn(3333);
        uint64_t t = now_ns() - start;
        if (t < 500000000ull) early = i + 1;
        if (!said && t >= 1500000000ull) {
            printf("ready %lu\n", early);
            fflush(stdout);
            said = 1;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Like a daemon: closes every descriptor above 2, opens its own file (which
 * gets the lowest numbers, maybe the shim's), writes to it, allocates enough
 * for the shim to write blocks, and checks its file holds only its bytes. */
static int cmd_closefds(const char *path)
{
    for (int fd = 3; fd < 1024; fd++) close(fd);
    FILE *f[4];
    for (int i = 0; i < 4; i++) f[i] = fopen(path, i ? "r" : "w");
    CHECK(f[0] != NULL, "fopen %s", path);
    fputs("mine\n", f[0]);
    fflush(f[0]);
    for (int i = 0; i < 300000; i++) churn((size_t)i % 100 + 1);
    for (int i = 0; i < 4; i++)
        if (f[i]) fclose(f[i]);
    return check_failures != 0;
}

/* Puts its own file on the descriptor the shim writes the trace to (as
 * `exec 3>file` or dup2 in a daemon would), then allocates. */
static int cmd_dup2(const char *path)
{
    char link[64], target[4096];
    int trace_fd = -1;
    for (int fd = 3; fd < 4096 && trace_fd < 0; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        if (strstr(target, ".tmk")) trace_fd = fd;
    }
    CHECK(trace_fd >= 0, "no trace descriptor found");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "fopen %s", path);
    if (!f || trace_fd < 0) return 1;
    dup2(fileno(f), trace_fd);
    fclose(f);
    CHECK(write(trace_fd, "mine\n", 5) == 5, "write");
    for (int i = 0; i < 300000; i++) churn((size_t)i % 100 + 1);
    printf("trace_fd=%d\n", trace_fd);
    return check_failures != 0;
}

static void *fds_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) churn((size_t)i + 1);
    return NULL;
}

/* Lists its descriptors 3..99 (after allocating on two threads): the shim's
 * own must not be among them, where a program's `exec 4>file` or its own
 * open() could meet them. */
static int cmd_fds(void)
{
    for (int i = 0; i < 1000; i++) churn((size_t)i + 1);
    pthread_t th;
    pthread_create(&th, NULL, fds_thread, NULL);
    pthread_join(th, NULL);
    for (int fd = 3; fd < 100; fd++) {
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        printf("fd %d %s\n", fd, strncmp(target, "pipe:", 5) ? target : "pipe");
    }
    return 0;
}

/* Blocks that cross tables mode's pass-through threshold (64 KiB, the
 * default TIDEMARK_PROBE_MIN) by realloc and calloc, both ways: each address
 * the trace must hold is printed. */
static int cmd_crossings(void)
{
    void *p = v_malloc(100);
    CHECK(p != NULL, "malloc(100)");
    void *big = v_realloc(p, 100000); /* small -> big: an ALLOC of big */
    CHECK(big != NULL, "realloc up");
    printf("up=%p\n", big);
    void *small = v_realloc(big, 200); /* big -> small: the FREE of big */
    CHECK(small != NULL, "realloc down");
    printf("down=%p\n", big);
    v_free(small);
    void *c = v_calloc(1000, 80); /* 80,000 bytes, zeroed */
    CHECK(c != NULL && ((unsigned char *)c)[79999] == 0, "calloc");
    printf("calloc=%p\n", c);
    void *r = v_realloc(c, 300000); /* big -> bigger: FREE of c, ALLOC of r */
    CHECK(r != NULL, "realloc bigger");
    printf("bigger=%p\n", r);
    v_free(r);
    void *a = NULL;
    CHECK(posix_memalign(&a, 64, 70000) == 0, "posix_memalign"); /* recorded */
    printf("memalign=%p\n", a);
    v_free(a);
    void *b = aligned_alloc(4096, 8192); /* small: passes */
    CHECK(b != NULL, "aligned_alloc");
    v_free(b);
    for (int i = 0; i < 100000; i++) v_free(v_malloc((size_t)(i % 512) + 1));
    return 0;
}

static int cmd_hello(void)
{
    char *s = strdup("hello from the probe");
    printf("%s\n", s);
    free(s);
    return 0;
}

/* ---- xfsz: a program with its own SIGXFSZ handler, under RLIMIT_FSIZE
 * (limits_test.py): n pairs of sizes 1..3000 on the main thread, with a
 * pause between halves (the sampler writes meanwhile); it writes only to
 * stdout, so it never raises SIGXFSZ itself. ------------------------------- */

static volatile sig_atomic_t xfsz_signals;

static void on_xfsz(int sig)
{
    (void)sig;
    xfsz_signals++;
}

static int cmd_xfsz(unsigned long n)
{
    signal(SIGXFSZ, on_xfsz);
    for (unsigned long i = 0; i < n; i++) {
        churn(i % 3000 + 1);
        if (i == n / 2) usleep(300000);
    }
    printf("xfsz_signals=%d\n", (int)xfsz_signals);
    return 0;
}

/* ---- userns: the calls the kernel refuses to a multi-threaded process
 * (limits_test.py), each in a process of its own (a user namespace without
 * a uid map allows no other): syscall(SYS_unshare, CLONE_NEWUSER) in a
 * child just forked (its sampler thread may be starting), setns into a
 * grandchild's new user namespace in another child, unshare(CLONE_NEWUSER)
 * in the probe itself. Each prints its result (as natively) and is
 * followed by 10 blocks of 4242 bytes, as is the start: 40 in the traces.
 * ------------------------------------------------------------------------- */

static void allocate_4242(void)
{
    for (int i = 0; i < 10; i++) churn(4242);
}

static void print_call(const char *what, int rc)
{
    printf("%s=%s\n", what, rc == 0 ? "0" : strerror(errno));
    fflush(stdout);
    allocate_4242();
}

/* A child in a user namespace of its own, which this process then enters;
 * -2 when the child could not make one. */
static int setns_child_userns(void)
{
    int ready[2], done[2];
    if (pipe(ready) || pipe(done)) return -1;
    pid_t child = fork();
    if (child == 0) {
        char c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(1);
        _exit(read(done[0], &c, 1) == 1 ? 0 : 1);
    }
    char c = 'n';
    if (read(ready[0], &c, 1) != 1) c = 'n';
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = c == 'y' && fd >= 0 ? setns(fd, CLONE_NEWUSER) : -1;
    int err = errno;
    if (fd >= 0) close(fd);
    if (write(done[1], "x", 1) != 1) rc = -1;
    waitpid(child, NULL, 0);
    errno = err;
    return c == 'y' ? rc : -2;
}

static void in_child(int which)
{
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        if (which == 0) {
            print_call("syscall_unshare", (int)syscall(SYS_unshare, CLONE_NEWUSER));
        } else {
            int rc = setns_child_userns();
            if (rc == -2) {
                printf("setns=the child's unshare failed\n");
                allocate_4242();
            } else
                print_call("setns", rc);
        }
        exit(0);
    }
    waitpid(child, NULL, 0);
}

static int cmd_userns(void)
{
    allocate_4242();
    in_child(0);
    in_child(1);
    print_call("unshare", unshare(CLONE_NEWUSER));
    return 0;
}

/* ---- nstypes: setns and unshare by namespace type (limits_test.py). Those
 * the kernel allows a multi-threaded process (network, UTS, IPC: by an nsfs
 * descriptor with its type or 0, through syscall(), by a pidfd) leave the
 * sampler thread running: its tid before and after n rounds is printed
 * ("sampler=", the driver's). Those it refuses still work: a user
 * namespace (a child's, entered first, so that the rest needs no privilege
 * beyond user namespaces), a time namespace, a mount namespace by type 0
 * with the sampler sharing this thread's fs (started again by the time
 * namespace's setns). ------------------------------------------------------ */

static int open_ns(const char *name)
{
    char path[80];
    snprintf(path, sizeof path, "/proc/thread-self/ns/%s", name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* The sampler's tid, waited for up to 5 s (a restarted one names itself a
 * moment after the call that started it returned); 0 natively. */
static pid_t sampler_tid_waited(void)
{
    pid_t tid = 0;
    for (int i = 0; i < 500 && !(tid = sampler_tid()) && getenv("LD_PRELOAD"); i++) usleep(10000);
    return tid;
}

static int setns_rounds(int n, int net, int uts, int ipc, int pidfd)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        failed += setns(net, CLONE_NEWNET) != 0;
        failed += setns(uts, 0) != 0;
        failed += setns(ipc, CLONE_NEWIPC) != 0;
        failed += syscall(SYS_setns, uts, CLONE_NEWUTS) != 0;
        failed += pidfd >= 0 && setns(pidfd, CLONE_NEWNET | CLONE_NEWUTS) != 0;
    }
    return failed;
}

static int cmd_nstypes(int n)
{
    int rc = setns_child_userns();
    if (rc == -2) errno = EPERM;
    print_call("setns_user", rc);
    const int kinds = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC;
    print_call("unshare", unshare(kinds));
    int net = open_ns("net"), uts = open_ns("uts"), ipc = open_ns("ipc"), mnt = open_ns("mnt");
    print_call("unshare_again", unshare(kinds | CLONE_NEWTIME));
    int time_ns = open_ns("time_for_children");
#ifdef SYS_pidfd_open
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
#else
    int pidfd = -1;
#endif
    pid_t before = sampler_tid_waited();
    printf("setns_failed=%d\n", setns_rounds(n, net, uts, ipc, pidfd));
    printf("sampler=%d %d\n", (int)before, (int)sampler_tid());
    print_call("setns_time", setns(time_ns, CLONE_NEWTIME));
    sampler_tid_waited(); /* started again: it shares this thread's fs */
    print_call("setns_mnt", setns(mnt, 0));
    printf("sampler_after=%d\n", sampler_tid_waited() != 0);
    return 0;
}

/* ---- pidns: setns into a child's new pid namespace (limits_test.py)
 * leaves the sampler running: stopped, it could not start again (a thread
 * made after it is EINVAL, the process's children's pid namespace no
 * longer its own). Prints the sampler's tid before and after ("sampler=",
 * the driver's). The grandchild in that namespace (its pid 1) waits for
 * this process to close a pipe. --------------------------------------------- */

/* The child: a new pid namespace for its children, one child in it, whose
 * pid (-1: none) it writes to `ready`; waits for it. */
static void pid_namespace_child(int ready, int done)
{
    pid_t g = -1;
    if (unshare(CLONE_NEWPID) == 0 && (g = fork()) == 0) {
        char c;
        _exit(read(done, &c, 1) == 0 ? 0 : 1);
    }
    if (write(ready, &g, sizeof g) != sizeof g) _exit(1);
    if (g > 0) waitpid(g, NULL, 0);
    _exit(0);
}

static int cmd_pidns(void)
{
    int ready[2], done[2];
    if (pipe(ready) || pipe(done)) return 1;
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        close(done[1]);
        pid_namespace_child(ready[1], done[0]);
    }
    close(ready[1]);
    close(done[0]);
    pid_t g = -1;
    if (read(ready[0], &g, sizeof g) != sizeof g) g = -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)g);
    int fd = g > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    pid_t before = sampler_tid_waited();
    int rc = fd >= 0 ? setns(fd, CLONE_NEWPID) : -1;
    int err = errno;
    usleep(100000); /* a restart would have named itself by now */
    pid_t after = sampler_tid();
    close(done[1]);
    waitpid(child, NULL, 0);
    errno = err;
    print_call("setns_pid", rc);
    printf("sampler=%d %d\n", (int)before, (int)after);
    return 0;
}

/* ---- realloc-fail: a failed realloc changes nothing ------------------------- */

/* Blocks of 5001..5004 bytes (and 70001.. for a probed size): a failed
 * realloc and reallocarray leave them as they were, errno ENOMEM; the
 * driver reads the trace: each allocated once, at its malloc, freed only
 * by the later free or successful realloc. */
static int cmd_realloc_fail(void)
{
    static const size_t sizes[] = {5001, 5002, 70001, 70002};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i += 2) {
        char *a = v_malloc(sizes[i]), *b = v_malloc(sizes[i + 1]);
        CHECK(a && b, "malloc %zu", sizes[i]);
        memset(a, 'a', sizes[i]);
        errno = 0;
        char *r = v_realloc(a, huge);
        CHECK(r == NULL && errno == ENOMEM, "realloc(a, huge) %p errno %d", (void *)r, errno);
        errno = 0;
        r = v_reallocarray(b, 1, huge);
        CHECK(r == NULL && errno == ENOMEM, "reallocarray(b, 1, huge) %p errno %d", (void *)r,
              errno);
        CHECK(a[0] == 'a' && a[sizes[i] - 1] == 'a', "a's bytes after the failed realloc");
        v_free(a);                                 /* a: one allocation, one free */
        char *c = v_realloc(b, sizes[i + 1] + 2);  /* b: freed by a realloc that works */
        CHECK(c != NULL, "realloc(b) after the failed one");
        printf("kept=%p\n", (void *)c);
        sink = c;                                  /* c stays live */
    }
    return check_failures != 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : NULL;
    if (!strcmp(cmd, "aligned")) return cmd_aligned();
    if (!strcmp(cmd, "edge")) return cmd_edge();
    if (!strcmp(cmd, "fork")) return cmd_fork();
    if (!strcmp(cmd, "forkexec")) return cmd_forkexec(argv[0]);
    if (!strcmp(cmd, "exec-child")) return cmd_exec_child();
    if (!strcmp(cmd, "system")) return cmd_system();
    if (!strcmp(cmd, "vfork")) return cmd_vfork();
    if (!strcmp(cmd, "dlopen") && arg) return cmd_dlopen(arg, argc > 3 ? atoi(argv[3]) : 1);
    if (!strcmp(cmd, "dlswap") && argc > 5)
        return cmd_dlswap(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argc > 6 ? argv[6] : NULL);
    if (!strcmp(cmd, "sigalrm")) return cmd_sigalrm(arg ? atof(arg) : 1.0);
    if (!strcmp(cmd, "sigalrm-keep"))
        return cmd_sigalrm_keep(arg ? atoi(arg) : 12000, argc > 3 && !strcmp(argv[3], "thread"));
    if (!strcmp(cmd, "alarm-exit")) return cmd_alarm_exit(arg ? atoi(arg) : 3000, 0);
    if (!strcmp(cmd, "alarm-exit-locked")) return cmd_alarm_exit(arg ? atoi(arg) : 3000, 1);
    if (!strcmp(cmd, "alarm-stdexit-locked")) {
        exit_by_exit = 1;
        return cmd_alarm_exit(arg ? atoi(arg) : 3000, 1);
    }
    if (!strcmp(cmd, "stress")) return cmd_stress(arg ? strtoul(arg, NULL, 10) : 1000000);
    if (!strcmp(cmd, "rstress")) return cmd_rstress(arg ? strtoul(arg, NULL, 10) : 200000);
    if (!strcmp(cmd, "threads")) return cmd_threads(arg ? atoi(arg) : 200);
    if (!strcmp(cmd, "busythreads")) return cmd_busythreads(arg ? atoi(arg) : 12);
    if (!strcmp(cmd, "keep")) return cmd_keep(arg ? strtoul(arg, NULL, 10) : 1000000);
    if (!strcmp(cmd, "bigfree")) return cmd_bigfree(arg ? strtoul(arg, NULL, 10) : 20);
    if (!strcmp(cmd, "guardfree")) return cmd_guardfree();
    if (!strcmp(cmd, "fillfree") && arg) return cmd_fillfree((int)strtol(arg, NULL, 0));
    if (!strcmp(cmd, "exit-thread")) return cmd_exit_thread();
    if (!strcmp(cmd, "cancel")) return cmd_cancel();
    if (!strcmp(cmd, "main-pthread-exit")) return cmd_main_pthread_exit();
    if (!strcmp(cmd, "forkthreads")) return cmd_forkthreads(arg ? atoi(arg) : 20);
    if (!strcmp(cmd, "_exit")) return cmd_underscore_exit();
    if (!strcmp(cmd, "abort")) return cmd_abort();
    if (!strcmp(cmd, "queued")) return cmd_queued(arg ? strtoul(arg, NULL, 10) : 1000000);
    if (!strcmp(cmd, "double-free")) return cmd_double_free();
    if (!strcmp(cmd, "double-free-locked")) return cmd_double_free_locked();
    if (!strcmp(cmd, "quick_exit")) return cmd_quick_exit();
    if (!strcmp(cmd, "spin")) return cmd_spin(arg ? atof(arg) : 1.5);
    if (!strcmp(cmd, "trickle")) return cmd_trickle();
    if (!strcmp(cmd, "hello")) return cmd_hello();
    if (!strcmp(cmd, "crossings")) return cmd_crossings();
    if (!strcmp(cmd, "fds")) return cmd_fds();
    if (!strcmp(cmd, "closefds") && arg) return cmd_closefds(arg);
    if (!strcmp(cmd, "dup2") && arg) return cmd_dup2(arg);
    if (!strcmp(cmd, "realloc-fail")) return cmd_realloc_fail();
    if (!strcmp(cmd, "userns")) return cmd_userns();
    if (!strcmp(cmd, "nstypes")) return cmd_nstypes(arg ? atoi(arg) : 200);
    if (!strcmp(cmd, "pidns")) return cmd_pidns();
    if (!strcmp(cmd, "xfsz")) return cmd_xfsz(arg ? strtoul(arg, NULL, 10) : 200000);
    if (!strcmp(cmd, "chdir-fork") && arg) return cmd_chdir_fork(arg);
    if (!strcmp(cmd, "exec-fail") && arg)
        return cmd_exec_fail(arg, argc > 3 ? atoi(argv[3]) : 1, argc > 4 && atoi(argv[4]));
    fprintf(stderr, "usage: shim_probe COMMAND [ARG]\n");
    return 2;
}
