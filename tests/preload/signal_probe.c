/* tests/preload/signal_probe.c - programs for tests/preload/signal_test.py:
 * how dispositions look to a program, how it ends when a signal kills it,
 * and that its own handlers, ignored and blocked signals behave as without
 * the shim. Every command prints only what must be the same with and
 * without the shim (no addresses, no pids).
 *
 *   view                 the 8 signals' dispositions at start, then through
 *                        every wrapped function, in a forked child, and after
 *                        an exec (view-exec)
 *   vfork                a vfork child changes dispositions; the parent's stay
 *   race                 6 threads change and read SIGTERM/INT/HUP at once
 *   kill MODE SIG FILE   K allocations of 3001 bytes on main and of 3002,
 *                        3003 on two threads, "ready"; then MODE busy: the
 *                        threads allocate 3100 / 3101 bytes in a loop,
 *                        counting in FILE (two uint64 after a snapshot
 *                        pair); idle: they wait. SIG 0: wait to be killed;
 *                        else snapshot the counts into FILE and kill(getpid)
 *                        (SIG < 0: tgkill -SIG at the 3002 thread)
 *   own SIG [norestart|signal]  the program's own handler (SA_SIGINFO,
 *                        SA_RESTART, mask SIGUSR1; or without SA_RESTART;
 *                        or through signal()) gets SIG while main reads a pipe
 *   ignored SIG          says how SIG looks, raises it, goes on
 *   ignore-exec SIG      ignores SIG, then execs "ignored SIG"
 *   sigfd SIG | sigwait SIG  SIG blocked and read from a signalfd or with
 *                        sigwaitinfo after "ready"
 *   fork-term            a forked child allocates K blocks of 3008 bytes and
 *                        dies of SIGTERM; the parent reports how
 *   group-term           own SIGTERM handler; kill(0, SIGTERM) to the whole
 *                        process group; counts the deliveries
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define K 1000

extern int __sigaction(int, const struct sigaction *, struct sigaction *);
extern sighandler_t bsd_signal(int, sighandler_t);

static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_SIGS (sizeof sigs / sizeof sigs[0])

static void *volatile sink;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static void allocate(size_t size, int n, void **keep)
{
    for (int i = 0; i < n; i++) {
        void *p = malloc(size);
        if (keep) keep[i] = p;
        else sink = p;
    }
}

/* ---- view ----------------------------------------------------------------- */

static void own_handler(int sig) { (void)sig; }
static void own_action(int sig, siginfo_t *si, void *uc) { (void)sig, (void)si, (void)uc; }

/* own_action where a sighandler_t goes (the sa_handler/sa_sigaction union) */
#define OWN_ACTION ((sighandler_t)(void (*)(void))own_action)

static const char *kind(sighandler_t h)
{
    if (h == SIG_DFL) return "DFL";
    if (h == SIG_IGN) return "IGN";
    if (h == SIG_ERR) return "ERR";
    if (h == SIG_HOLD) return "HOLD";
    if (h == own_handler) return "own";
    if (h == OWN_ACTION) return "own-info";
    return "OTHER";
}

static void show(const char *what, int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    int rc = sigaction(sig, NULL, &sa);
    printf("%s %s: rc=%d %s flags=%#x restorer=%s mask=", what, strsignal(sig), rc,
           kind(sa.sa_handler), (unsigned)sa.sa_flags, sa.sa_restorer ? "set" : "null");
    for (int s = 1; s < 65; s++)
        if (sigismember(&sa.sa_mask, s) == 1) printf("%d,", s);
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    printf(" blocked=%d\n", sigismember(&cur, sig));
}

static void show_all(const char *what)
{
    for (size_t i = 0; i < N_SIGS; i++) show(what, sigs[i]);
}

static void act(int sig, void (*h)(int), int flags, int mask_sig, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (mask_sig) sigaddset(&sa.sa_mask, mask_sig);
    sigaddset(&sa.sa_mask, SIGKILL); /* the kernel drops it */
    memset(old, 0, sizeof *old);
    printf("  sigaction rc=%d", sigaction(sig, &sa, old));
    printf(" old=%s flags=%#x\n", kind(old->sa_handler), (unsigned)old->sa_flags);
}

/* Every wrapped function on sig; it ends at SIG_DFL. */
static void exercise(int sig)
{
    struct sigaction old;
    printf("signal(DFL) -> %s\n", kind(signal(sig, SIG_DFL)));
    show(" after signal(DFL)", sig);
    printf("sigset(HOLD) -> %s\n", kind(sigset(sig, SIG_HOLD)));
    show(" after sigset(HOLD)", sig);
    printf("sigset(DFL) -> %s\n", kind(sigset(sig, SIG_DFL)));
    show(" after sigset(DFL)", sig);
    printf("siginterrupt(1) -> %d\n", siginterrupt(sig, 1));
    show(" after siginterrupt(1)", sig);
    printf("siginterrupt(0) -> %d\n", siginterrupt(sig, 0));
    show(" after siginterrupt(0)", sig);
    act(sig, OWN_ACTION, SA_SIGINFO | SA_ONSTACK | SA_RESTART, SIGUSR1, &old);
    show(" after sigaction(own-info)", sig);
    printf("bsd_signal(IGN) -> %s\n", kind(bsd_signal(sig, SIG_IGN)));
    show(" after bsd_signal(IGN)", sig);
    printf("sysv_signal(DFL) -> %s\n", kind(sysv_signal(sig, SIG_DFL)));
    show(" after sysv_signal(DFL)", sig);
    printf("sigignore -> %d\n", sigignore(sig));
    show(" after sigignore", sig);
    act(sig, SIG_DFL, SA_RESETHAND | SA_NODEFER, SIGUSR2, &old);
    show(" after sigaction(DFL, RESETHAND)", sig);
    printf("ssignal(own) -> %s\n", kind(ssignal(sig, own_handler)));
    printf("__sysv_signal(DFL) -> %s\n", kind(__sysv_signal(sig, SIG_DFL)));
    show(" after __sysv_signal(DFL)", sig);
    struct sigaction same;
    memset(&same, 0, sizeof same);
    same.sa_handler = SIG_DFL;
    printf("__sigaction(DFL, aliased) rc=%d", __sigaction(sig, &same, &same));
    printf(" old=%s\n", kind(same.sa_handler));
    show(" after __sigaction(DFL)", sig);
}

static int cmd_view(const char *self)
{
    show_all("start");
    for (size_t i = 0; i < N_SIGS; i++) exercise(sigs[i]);
    show_all("end");
    errno = 0;
    sighandler_t r = signal(SIGKILL, own_handler);
    printf("signal(SIGKILL) -> %s errno=%d\n", kind(r), errno);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        show_all("child");
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    /* exec keeps SIG_IGN and puts handlers back to SIG_DFL */
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, own_handler);
    struct sigaction old;
    act(SIGINT, OWN_ACTION, SA_SIGINFO, 0, &old);
    fflush(stdout);
    execl(self, self, "view-exec", (char *)NULL);
    return 1;
}

static int cmd_view_exec(void)
{
    show_all("exec");
    return 0;
}

/* A vfork child changes dispositions before it execs (it shares the
 * parent's memory, not its dispositions): the parent's view is its own. */
static int cmd_vfork(void)
{
    signal(SIGTERM, own_handler);
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
        char line[64];
        struct sigaction sa;
        sigaction(SIGHUP, NULL, &sa);
        const char *hup = kind(sa.sa_handler);
        const char *term = kind(signal(SIGTERM, SIG_DFL));
        const char *intr = kind(signal(SIGINT, own_handler));
        int n = snprintf(line, sizeof line, "vfork child: HUP %s, TERM was %s, INT was %s\n",
                         hup, term, intr);
        ssize_t w = write(1, line, (size_t)n);
        (void)w;
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    show_all("parent");
    return 0;
}

/* Threads change held signals' dispositions through different functions
 * and read them back: the program never sees the shim's handler, and each
 * read is one of the two dispositions being set. */
static volatile int race_bad;

static void *race_thread(void *arg)
{
    int k = (int)(intptr_t)arg, sig = sigs[k % 3];
    for (int i = 0; i < 20000; i++) {
        struct sigaction sa;
        sighandler_t was;
        switch ((i + k) % 4) {
        case 0: was = signal(sig, i & 1 ? own_handler : SIG_DFL); break;
        case 1: was = sigset(sig, i & 1 ? own_handler : SIG_DFL); break;
        case 2: was = bsd_signal(sig, i & 1 ? own_handler : SIG_DFL); break;
        default:;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = i & 1 ? own_handler : SIG_DFL;
            struct sigaction old;
            sigaction(sig, &sa, &old);
            was = old.sa_handler;
        }
        sigaction(sig, NULL, &sa);
        if ((was != SIG_DFL && was != own_handler) ||
            (sa.sa_handler != SIG_DFL && sa.sa_handler != own_handler))
            race_bad++;
    }
    return NULL;
}

static int cmd_race(void)
{
    pthread_t th[6];
    for (int k = 0; k < 6; k++) pthread_create(&th[k], NULL, race_thread, (void *)(intptr_t)k);
    for (int k = 0; k < 6; k++) pthread_join(th[k], NULL);
    for (size_t i = 0; i < 3; i++) signal(sigs[i], SIG_DFL);
    show_all("race");
    printf("unexpected dispositions seen: %d\n", race_bad);
    return 0;
}

/* ---- kill ------------------------------------------------------------------ */

static volatile uint64_t *counts; /* [0..1] snapshot, [2..3] live */
static volatile pid_t busy_tid;
static pthread_barrier_t ready_barrier;
static int busy;

static void *kill_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (i == 0) busy_tid = gettid();
    static void *kept[2][K];
    allocate(3002 + (size_t)i, K, kept[i]);
    pthread_barrier_wait(&ready_barrier);
    if (!busy)
        for (;;) pause();
    for (uint64_t n = 1;; n++) {
        void *p = malloc(3100 + (size_t)i);
        sink = p; /* or the pair is optimized away */
        __atomic_store_n(&counts[2 + i], n, __ATOMIC_RELEASE);
        free(p);
    }
    return NULL;
}

static int cmd_kill(const char *mode, int sig, const char *file)
{
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) return 3;
    counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (counts == MAP_FAILED) return 3;
    busy = strcmp(mode, "busy") == 0;
    static void *kept[K];
    allocate(3001, K, kept);
    pthread_barrier_init(&ready_barrier, NULL, 3);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, kill_thread, (void *)(intptr_t)i);
    pthread_barrier_wait(&ready_barrier);
    printf("ready\n");
    fflush(stdout);
    if (sig) {
        sleep_ms(busy ? 300 : 50);
        counts[0] = __atomic_load_n(&counts[2], __ATOMIC_ACQUIRE);
        counts[1] = __atomic_load_n(&counts[3], __ATOMIC_ACQUIRE);
        if (sig > 0)
            kill(getpid(), sig);
        else
            tgkill(getpid(), busy_tid, -sig); /* at a thread that may be inside the shim */
    }
    for (;;) pause();
}

/* ---- the program's own handler ------------------------------------------- */

static volatile sig_atomic_t got_signo, got_code_user, got_pid_self, got_mask_ok, handled;

static void record(int sig, siginfo_t *si)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    got_signo = sig;
    if (si) {
        got_code_user = si->si_code == SI_USER;
        got_pid_self = si->si_pid == getpid();
    }
    got_mask_ok = sigismember(&cur, SIGUSR1) == 1 && sigismember(&cur, sig) == 1;
    handled++;
}

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    record(sig, si);
}

static void plain_handler(int sig) { record(sig, NULL); }

static int pipe_fds[2];
static int own_sig;

static void *sender(void *arg)
{
    (void)arg;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, own_sig);
    pthread_sigmask(SIG_BLOCK, &one, NULL); /* the signal goes to main, in read() */
    sleep_ms(100);
    kill(getpid(), own_sig);
    sleep_ms(150);
    ssize_t w = write(pipe_fds[1], "x", 1);
    (void)w;
    return NULL;
}

static int cmd_own(int sig, const char *how)
{
    own_sig = sig;
    if (how && !strcmp(how, "signal")) {
        signal(sig, plain_handler);
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = info_handler;
        sa.sa_flags = SA_SIGINFO | (how && !strcmp(how, "norestart") ? 0 : SA_RESTART);
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGUSR1);
        sigaction(sig, &sa, NULL);
    }
    if (pipe(pipe_fds)) return 3;
    pthread_t th;
    pthread_create(&th, NULL, sender, NULL);
    char c;
    ssize_t r = read(pipe_fds[0], &c, 1);
    int err = r < 0 ? errno : 0;
    pthread_join(th, NULL);
    allocate(3004, K, NULL);
    printf("handled=%d signo=%s user=%d self=%d mask=%d read=%zd%s\n", (int)handled,
           strsignal(got_signo), (int)got_code_user, (int)got_pid_self, (int)got_mask_ok, r,
           err == EINTR ? " EINTR" : "");
    return 0;
}

/* ---- ignored, blocked ------------------------------------------------------ */

static int cmd_ignored(int sig)
{
    show("ignored", sig);
    fflush(stdout);
    raise(sig);
    kill(getpid(), sig);
    allocate(3005, K, NULL);
    printf("survived %s\n", strsignal(sig));
    return 0;
}

static int cmd_ignore_exec(const char *self, int sig, const char *arg)
{
    signal(sig, SIG_IGN);
    execl(self, self, "ignored", arg, (char *)NULL);
    return 1;
}

static int cmd_blocked(int sig, int use_fd)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    int fd = use_fd ? signalfd(-1, &one, SFD_CLOEXEC) : -1;
    if (use_fd && fd < 0) return 3;
    allocate(3006, K, NULL);
    printf("ready\n");
    fflush(stdout);
    int got;
    if (use_fd) {
        struct signalfd_siginfo si;
        got = read(fd, &si, sizeof si) == (ssize_t)sizeof si ? (int)si.ssi_signo : -1;
    } else {
        got = sigwaitinfo(&one, NULL);
    }
    allocate(3006, K, NULL);
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    printf("got %s via %s, still blocked=%d\n", strsignal(got), use_fd ? "signalfd" : "sigwaitinfo",
           sigismember(&cur, sig));
    return 0;
}

/* ---- fork, group ----------------------------------------------------------- */

static int cmd_fork_term(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        allocate(3008, K, NULL);
        kill(getpid(), SIGTERM);
        sleep_ms(5000);
        _exit(9);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child signaled=%d sig=%s core=%d\n", WIFSIGNALED(st),
           WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "-", WIFSIGNALED(st) && WCOREDUMP(st));
    return 0;
}

static volatile sig_atomic_t term_count;
static void count_term(int sig) { (void)sig, term_count++; }

static int cmd_group_term(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_term;
    sigaction(SIGTERM, &sa, NULL);
    allocate(3009, K, NULL);
    kill(0, SIGTERM);
    sleep_ms(400);
    printf("sigterm count=%d\n", (int)term_count);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    int sig = argc > 2 ? atoi(argv[2]) : 0;
    if (!strcmp(cmd, "view")) return cmd_view(argv[0]);
    if (!strcmp(cmd, "view-exec")) return cmd_view_exec();
    if (!strcmp(cmd, "vfork")) return cmd_vfork();
    if (!strcmp(cmd, "race")) return cmd_race();
    if (!strcmp(cmd, "kill") && argc > 4) return cmd_kill(argv[2], atoi(argv[3]), argv[4]);
    if (!strcmp(cmd, "own") && sig) return cmd_own(sig, argc > 3 ? argv[3] : NULL);
    if (!strcmp(cmd, "ignored") && sig) return cmd_ignored(sig);
    if (!strcmp(cmd, "ignore-exec") && sig) return cmd_ignore_exec(argv[0], sig, argv[2]);
    if (!strcmp(cmd, "sigfd") && sig) return cmd_blocked(sig, 1);
    if (!strcmp(cmd, "sigwait") && sig) return cmd_blocked(sig, 0);
    if (!strcmp(cmd, "fork-term")) return cmd_fork_term();
    if (!strcmp(cmd, "group-term")) return cmd_group_term();
    fprintf(stderr, "usage: signal_probe view|vfork|race|kill|own|ignored|ignore-exec|sigfd|sigwait|"
                    "fork-term|group-term ...\n");
    return 2;
}
