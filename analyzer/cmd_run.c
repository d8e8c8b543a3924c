/* analyzer/cmd_run.c - `tidemark run [-o FILE] [--mode full|tables] -- PROG
 * ARGS`: runs PROG with the shim preloaded (found beside this binary, no path
 * to type), passes its exit status through (128+N for signal N), then says
 * where the trace is and prints a one-screen summary on stderr. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_common.h"
#include "report.h"
#include "tidemark/trace_format.h"
#include "tidemark/trace_path.h"

static const char run_usage[] =
    "usage: tidemark run [-o FILE] [--mode full|tables] [--no-summary] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM under the tidemark shim (libtidemark.so, found beside this\n"
    "tidemark), then prints where its trace is and a summary on stderr.\n"
    "\n"
    "  -o, --output FILE   trace path: %p = the process id, %e = PROGRAM's name\n"
    "                      (basename), %% = %; default tidemark.%p.tmk. FILE must\n"
    "                      not exist (tidemark refuses before starting PROGRAM)\n"
    "  --mode MODE         full (every allocation, default) or tables (table events\n"
    "                      only: cheap enough for production)\n"
    "  --no-summary        only run and record\n"
    "An LD_PRELOAD already set is kept (the shim is appended). Other TIDEMARK_*\n"
    "settings pass through from the environment. When PROGRAM execs, each new\n"
    "image writes FILE.1, FILE.2, ... (same pid); run names them and summarizes\n"
    "the last image (the program behind a wrapper script, say).\n"
    "exit status: PROGRAM's own (128+N when killed by signal N); 2 when tidemark\n"
    "cannot start it (bad flag, FILE exists, shim or program not found).\n";

/* <dir of this executable>/../preload/libtidemark.so (build tree) or
 * <dir>/../lib/libtidemark.so (installed, see CMakeLists.txt). */
static int find_shim(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    static const char *const rel[] = {"../preload/libtidemark.so",
                                      "../lib/libtidemark.so", "libtidemark.so"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        int w = snprintf(out, len, "%s/%s", self, rel[i]);
        if (w > 0 && (size_t)w < len && access(out, R_OK) == 0) {
            char real[PATH_MAX];
            if (realpath(out, real) && strlen(real) < len) memcpy(out, real, strlen(real) + 1);
            return 0;
        }
    }
    return -1;
}

/* The forked child: waits until the parent has checked the trace path
 * (one byte on gate; EOF = do not start), then execs PROGRAM under the shim. */
static void child(int gate, const char *shim, const char *output, const char *mode,
                  char **argv)
{
    char go = 0;
    ssize_t r;
    while ((r = read(gate, &go, 1)) < 0 && errno == EINTR) {}
    if (r != 1) _exit(2);
    close(gate);
    const char *old = getenv("LD_PRELOAD");
    char *pre = malloc(strlen(shim) + (old ? strlen(old) : 0) + 2);
    if (!pre) _exit(127);
    if (old && *old) sprintf(pre, "%s:%s", old, shim);
    else strcpy(pre, shim);
    setenv("LD_PRELOAD", pre, 1);
    setenv("TIDEMARK_OUTPUT", output, 1);
    if (mode) setenv("TIDEMARK_MODE", mode, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "tidemark: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

/* While PROGRAM runs, `run` stands aside for the signals that stop a
 * program: one that reached PROGRAM too (from the terminal, the kernel, or a
 * process in PROGRAM's process group: Ctrl-C, a hangup, timeout) is left to
 * it; one sent to `run` alone is relayed to PROGRAM. Either way PROGRAM ends
 * its trace itself and `run` summarizes it. A signal `run` ignored at start
 * stays ignored, for both. */
static const int relayed[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
#define N_RELAYED (sizeof relayed / sizeof relayed[0])
static volatile pid_t relay_to;
static struct sigaction relay_old[N_RELAYED];

static void relay(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    pid_t child = relay_to;
    /* si_pid 0 with SI_USER: a sender outside this pid namespace */
    int in_group = si->si_pid > 0 && (si->si_pid == child || getpgid(si->si_pid) == getpgid(child));
    if (child > 0 && si->si_code <= 0 && !in_group) kill(child, sig);
    errno = saved;
}

/* Before fork; with the signals blocked until relay_started knows the child. */
static void relay_start(sigset_t *old_mask)
{
    sigset_t set;
    sigemptyset(&set);
    struct sigaction sa = {.sa_sigaction = relay, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < N_RELAYED; k++) {
        sigaddset(&set, relayed[k]);
        sigaddset(&sa.sa_mask, relayed[k]);
    }
    sigprocmask(SIG_BLOCK, &set, old_mask);
    for (size_t k = 0; k < N_RELAYED; k++) {
        sigaction(relayed[k], NULL, &relay_old[k]);
        if (relay_old[k].sa_handler != SIG_IGN) sigaction(relayed[k], &sa, NULL);
    }
}

static void relay_started(pid_t child, const sigset_t *old_mask)
{
    relay_to = child;
    sigprocmask(SIG_SETMASK, old_mask, NULL);
}

/* In the child before exec, and in `run` once PROGRAM ended. */
static void relay_stop(void)
{
    for (size_t k = 0; k < N_RELAYED; k++) sigaction(relayed[k], &relay_old[k], NULL);
}

/* The trace path for the child's pid, as the shim will expand it (and the
 * program name it will see: the basename of argv[0]). */
static void trace_path(const char *output, pid_t pid, const char *argv0, char *out, size_t len)
{
    tmk_trace_path_expand(out, len, output, (uint64_t)pid, tmk_path_short_name(argv0));
}

static int path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* PATH.k: where the shim puts the trace of an exec'ed image. */
static void suffix_path(const char *trace, unsigned k, char *out, size_t len)
{
    snprintf(out, len, "%s.%u", trace, k);
}

/* Which of PATH.1 .. PATH.99 exist; present[0] unused. */
static void suffixes_present(const char *trace, unsigned char *present)
{
    char p[PATH_MAX + 8];
    for (unsigned k = 1; k <= TMK_TRACE_PATH_SUFFIXES; k++) {
        suffix_path(trace, k, p, sizeof p);
        present[k] = (unsigned char)path_exists(p);
    }
}

/* The file's header, or -1 when it is not a readable trace. */
static int read_header(const char *path, struct tmk_file_header *h)
{
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    ssize_t n = read(fd, raw, sizeof raw);
    close(fd);
    if (n != (ssize_t)sizeof raw || memcmp(raw, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN)) return -1;
    tmk_file_header_decode(h, raw);
    return 0;
}

/* The program exec'ed (same pid): each new image wrote the next free
 * PATH.N. Names each one, and puts in `last` the trace of the image that
 * started last in the program's own process (its final image: the one that
 * did the program's work, e.g. the real interpreter behind a wrapper script);
 * `last` is `trace` itself when nothing exec'ed. */
static void report_execs(const char *trace, const unsigned char *before, pid_t pid, char *last,
                         size_t len)
{
    unsigned char after[TMK_TRACE_PATH_SUFFIXES + 1];
    struct tmk_file_header h;
    uint64_t newest = 0;
    snprintf(last, len, "%s", trace);
    if (read_header(trace, &h) == 0) newest = h.start_monotonic_ns;
    suffixes_present(trace, after);
    for (unsigned k = 1; k <= TMK_TRACE_PATH_SUFFIXES; k++) {
        if (!after[k] || before[k]) continue;
        char p[PATH_MAX + 8];
        suffix_path(trace, k, p, sizeof p);
        fprintf(stderr, "tidemark: the program exec'ed; its new image's trace is %s\n", p);
        if (read_header(p, &h) == 0 && h.pid == (uint32_t)pid && h.start_monotonic_ns >= newest) {
            newest = h.start_monotonic_ns;
            snprintf(last, len, "%s", p);
        }
    }
}

static void summary(const char *trace)
{
    struct tm_options o;
    tm_options_default(&o);
    struct tm_model m;
    char err[512];
    if (tm_analyze(trace, &o, &m, err, sizeof err) != TM_EXIT_OK) {
        fprintf(stderr, "tidemark: %s: %s\n", trace, err);
        return;
    }
    char line[512], h[32], r[32];
    tm_verdict_line(&m, line, sizeof line);
    fprintf(stderr, "tidemark: %s\n", line);
    for (size_t i = 0; i < m.n_tables && i < 5; i++) {
        const struct tm_table *t = &m.tables[i];
        tm_human_bytes(t->held, h, sizeof h);
        tm_human_bytes(t->retained, r, sizeof r);
        fprintf(stderr, "  table %llu %-6s %-40s held %10s retained %10s  %s\n",
                (unsigned long long)t->id, tm_table_kind_name(t->kind), t->site, h, r,
                tm_verdict_name(t->verdict));
        if (t->n_recs)
            fprintf(stderr, "    best fix: %s\n", t->recs[0].text);
    }
    if (m.heap.tracked) {
        tm_human_bytes(m.heap.peak_bytes, h, sizeof h);
        tm_human_bytes(m.heap.in_use, r, sizeof r);
        fprintf(stderr, "  heap: peak %s, %s still allocated at exit, %llu allocations\n", h, r,
                (unsigned long long)m.heap.allocs);
    }
    if (m.info.truncated) fprintf(stderr, "  warning: the trace is truncated\n");
    fprintf(stderr, "  full report: tidemark report %s\n", trace);
    tm_model_free(&m);
}

int cmd_run(int argc, char **argv)
{
    const char *output = "tidemark.%p.tmk", *mode = NULL, *v;
    int i = 1, show = 1;
    for (; i < argc; i++) {
        int missing = 0;
        if (cli_is_help(argv[i])) {
            fputs(run_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if ((v = cli_opt(argc, argv, &i, "-o", &missing)) ||
            (v = cli_opt(argc, argv, &i, "--output", &missing))) {
            output = v;
        } else if ((v = cli_opt(argc, argv, &i, "--mode", &missing))) {
            if (strcmp(v, "full") && strcmp(v, "tables")) {
                cli_error("--mode: expected full or tables, got '%s'", v);
                return 2;
            }
            mode = v;
        } else if (strcmp(argv[i], "--no-summary") == 0) {
            show = 0;
        } else if (missing) {
            cli_error("%s: needs a value", argv[i]);
            return 2;
        } else if (argv[i][0] == '-') {
            cli_error("run: unknown option '%s' (see tidemark run --help)", argv[i]);
            return 2;
        } else {
            break; /* the program, without "--" */
        }
    }
    if (i >= argc) {
        cli_error("run: missing PROGRAM (tidemark run -- PROGRAM ARGS...)");
        return 2;
    }
    char shim[PATH_MAX];
    if (find_shim(shim, sizeof shim)) {
        cli_error("run: libtidemark.so not found beside this tidemark "
                  "(looked in ../preload/ and ../lib/tidemark/)");
        return 2;
    }
    int gate[2];
    if (pipe2(gate, O_CLOEXEC)) {
        cli_error("run: pipe failed: %s", strerror(errno));
        return 2;
    }
    sigset_t mask;
    relay_start(&mask);
    pid_t pid = fork();
    if (pid < 0) {
        relay_stop();
        relay_started(0, &mask);
        cli_error("run: fork failed: %s", strerror(errno));
        close(gate[0]);
        close(gate[1]);
        return 2;
    }
    if (pid == 0) {
        relay_stop();
        relay_started(0, &mask);
        close(gate[1]);
        child(gate[0], shim, output, mode, argv + i);
    }
    relay_started(pid, &mask);
    close(gate[0]);
    char trace[PATH_MAX];
    unsigned char before[TMK_TRACE_PATH_SUFFIXES + 1];
    trace_path(output, pid, argv[i], trace, sizeof trace);
    int exists = path_exists(trace);
    if (!exists) {
        suffixes_present(trace, before);
        ssize_t w;
        while ((w = write(gate[1], "g", 1)) < 0 && errno == EINTR) {}
    }
    close(gate[1]); /* without the byte: the child exits without running PROGRAM */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    relay_stop();
    if (exists) {
        cli_error("%s exists; remove it or choose another -o", trace);
        return 2;
    }
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (access(trace, R_OK) != 0) {
        fprintf(stderr, "tidemark: no trace at %s (the program exited with %d)\n", trace, rc);
        return rc;
    }
    fprintf(stderr, "tidemark: trace written to %s\n", trace);
    char last[PATH_MAX + 8];
    report_execs(trace, before, pid, last, sizeof last);
    if (strcmp(last, trace) != 0)
        fprintf(stderr, "tidemark: summarizing the program's last image: %s\n", last);
    if (show) summary(last);
    return rc;
}
