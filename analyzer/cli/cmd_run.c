/* analyzer/cli/cmd_run.c - `tidemark run [-o FILE] [--mode full|tables] -- PROG
 * ARGS`: runs PROG with the shim preloaded (found beside this binary, no path
 * to type), passes its exit status through (128+N for signal N), then says
 * where the traces are (run_traces.c), whether the program's is complete, and
 * prints a one-screen summary on stderr. What makes it refuse before PROG
 * starts is run_check.c's. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_common.h"
#include "report/report.h"
#include "run.h"
#include "tidemark/trace_format.h"
#include "tidemark/trace_path.h"

static const char run_usage[] =
    "usage: tidemark run [-o FILE] [--mode full|tables] [--no-summary] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM under the tidemark shim (libtidemark.so, found beside this\n"
    "tidemark), then prints where its trace is and a summary on stderr.\n"
    "\n"
    "  -o, --output FILE   trace path: %p = the process id, %e = PROGRAM's name\n"
    "                      (basename), %% = %; default tidemark.%p.tmk. FILE must\n"
    "                      not exist (tidemark refuses before starting PROGRAM).\n"
    "                      A relative FILE is taken from this directory, wherever\n"
    "                      PROGRAM goes\n"
    "  --mode MODE         full (every allocation, default) or tables (table events\n"
    "                      only: cheap enough for production)\n"
    "  --no-summary        only run and record\n"
    "An LD_PRELOAD already set is kept, with the shim first (after a sanitizer's\n"
    "runtime): another malloc before it would leave the trace empty. Other\n"
    "TIDEMARK_* settings pass through from the environment. When PROGRAM execs, each new\n"
    "image writes FILE.1, FILE.2, ... (same pid); run names them and summarizes\n"
    "the last image (the program behind a wrapper script, say). Each child\n"
    "process writes its own file (FILE.<pid> when FILE has no %p); run names\n"
    "each with its pid and parent.\n"
    "Before PROGRAM starts, run refuses (exit 2) when it cannot be traced: a\n"
    "statically linked, set-user-ID or set-group-ID program, FILE empty, too\n"
    "long, existing, or in a missing or unwritable directory.\n"
    "exit status: PROGRAM's own (128+N when killed by signal N); 127 PROGRAM not\n"
    "found, 126 not executable (as a shell); 2 when tidemark cannot run or trace\n"
    "it (bad flag, shim not found, a refusal above).\n";

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

/* Must this LD_PRELOAD entry stay first? The sanitizers' runtimes refuse to
 * start when another object comes before them. */
static int must_lead(const char *entry, size_t n)
{
    static const char *const names[] = {"libasan", "libhwasan", "libtsan", "libmsan",
                                        "libclang_rt.asan", "libclang_rt.tsan"};
    const char *base = entry;
    for (size_t i = 0; i < n; i++)
        if (entry[i] == '/') base = entry + i + 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strncmp(base, names[i], strlen(names[i]))) return 1;
    return 0;
}

/* LD_PRELOAD for PROGRAM: the shim before every object already named
 * (another malloc, jemalloc's or tcmalloc's, before it would take every
 * call and leave the trace empty), after the sanitizer runtimes that lead
 * it. Entries are separated by ':' or blanks, as the loader reads them. */
static char *preload_with_shim(const char *old, const char *shim)
{
    size_t n_old = old ? strlen(old) : 0;
    char *pre = malloc(strlen(shim) + n_old + 2);
    if (!pre) return NULL;
    size_t lead = 0; /* bytes of old before the shim: leading sanitizer entries */
    while (old && lead < n_old) {
        size_t skip = strspn(old + lead, ": \t");
        size_t len = strcspn(old + lead + skip, ": \t");
        if (!len || !must_lead(old + lead + skip, len)) break;
        lead += skip + len;
    }
    size_t rest = n_old - lead;
    sprintf(pre, "%.*s%s%s%s%s", (int)lead, old ? old : "", lead ? ":" : "", shim,
            rest && !strchr(": \t", old[lead]) ? ":" : "", old ? old + lead : "");
    return pre;
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
    char *pre = preload_with_shim(getenv("LD_PRELOAD"), shim);
    if (!pre) _exit(127);
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

/* Below this many bytes free (for this user), the trace's file system
 * counts as full: the shim's last write failed there. */
#define FULL_BELOW (64u << 10)

static int fs_full(const char *path)
{
    struct statvfs v;
    if (statvfs(path, &v) != 0) return 0;
    unsigned long long blocks = geteuid() == 0 ? v.f_bfree : v.f_bavail;
    return blocks * v.f_frsize < FULL_BELOW;
}

/* Has the file at path a whole trace header? */
static int has_header(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return 0;
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, raw, sizeof raw) : -1;
    close(fd);
    return n == (ssize_t)sizeof raw && !memcmp(raw, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN);
}

/* Why a trace without its END record stopped: the program's status says a
 * signal killed it, a full file system says the shim's writes failed. */
static void say_incomplete(const char *path, int signal_no)
{
    if (fs_full(path))
        fprintf(stderr, "tidemark: %s is incomplete: tracing stopped: %s\n", path,
                strerror(ENOSPC));
    else if (signal_no)
        fprintf(stderr, "tidemark: %s is incomplete: the program was killed by signal %d\n",
                path, signal_no);
    else
        fprintf(stderr, "tidemark: %s is incomplete: it has no END record (tracing stopped "
                "early, or the program was killed)\n", path);
}

/* A file with no whole header: the first write failed. */
static void say_empty(const char *path)
{
    fprintf(stderr, "tidemark: %s is empty: tracing stopped before its header was written%s%s\n",
            path, fs_full(path) ? ": " : "", fs_full(path) ? strerror(ENOSPC) : "");
}

/* path as one shell word: as it is when every byte is plain, else in
 * single quotes (each ' as '\''), so that the line can be pasted. */
static void put_shell_word(FILE *out, const char *path)
{
    if (path[0] && strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_@%+=:,./-") == strlen(path)) {
        fputs(path, out);
        return;
    }
    putc('\'', out);
    for (const char *p = path; *p; p++)
        if (*p == '\'') fputs("'\\''", out);
        else putc(*p, out);
    putc('\'', out);
}

/* The summary of an analyzed trace. */
static void summary(const struct tm_model *m, const char *trace)
{
    char line[512], h[32], r[32];
    tm_verdict_line(m, line, sizeof line);
    fprintf(stderr, "tidemark: %s\n", line);
    for (size_t i = 0; i < m->n_tables && i < 5; i++) {
        const struct tm_table *t = &m->tables[i];
        int until_end = tm_table_ended_oversized(t); /* what it kept until freed */
        tm_human_bytes(until_end ? t->last_held : t->held, h, sizeof h);
        tm_human_bytes(until_end ? t->last_retained : t->retained, r, sizeof r);
        fprintf(stderr, "  table %llu %-6s %-40s held %10s retained %10s  %s\n",
                (unsigned long long)t->id, tm_table_kind_name(t->kind), t->site, h, r,
                until_end ? "until freed" : tm_verdict_name(t->verdict));
        if (t->n_recs)
            fprintf(stderr, "    best fix: %s\n", t->recs[0].text);
    }
    if (m->heap.tracked) {
        tm_human_bytes(m->heap.peak_bytes, h, sizeof h);
        tm_human_bytes(m->heap.in_use, r, sizeof r);
        fprintf(stderr, "  heap: peak %s, %s still allocated at exit, %llu allocations\n", h, r,
                (unsigned long long)m->heap.allocs);
    }
    if (m->heap.tracked && !m->heap.allocs)
        fputs("  note: no allocation was recorded: the program's malloc is not the one the "
              "shim wraps (an allocator linked into the program, or an LD_PRELOAD object "
              "named before the shim), or it never called malloc\n", stderr);
    if (m->info.truncated) fprintf(stderr, "  warning: the trace is truncated\n");
    fputs("  full report: tidemark report ", stderr);
    put_shell_word(stderr, trace);
    putc('\n', stderr);
}

/* After the program ended: its trace (complete, incomplete, empty or
 * missing), the traces of its later images and children, then the summary
 * of its last image. */
static void report_outcome(struct run_traces *rt, pid_t pid, const char *trace, int status,
                           int show)
{
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    char last[PATH_MAX + 64];
    run_traces_find(rt, pid, trace, last, sizeof last);
    struct tm_model m;
    char err[512];
    int analyzed = 0, last_whole = has_header(last);
    if (show && last_whole) {
        struct tm_options o;
        tm_options_default(&o);
        analyzed = tm_analyze(last, &o, &m, err, sizeof err) == TM_EXIT_OK;
    }
    int incomplete = analyzed && (!m.info.ended || m.info.truncated);
    int same = strcmp(last, trace) == 0;
    struct stat st;
    if (lstat(trace, &st) != 0)
        fprintf(stderr, "tidemark: no trace at %s (the program exited with %d)\n", trace, rc);
    else if (!has_header(trace))
        say_empty(trace);
    else if (same && incomplete)
        say_incomplete(trace, sig);
    else if (same && !analyzed && fs_full(trace))
        fprintf(stderr, "tidemark: %s may be incomplete: its file system is full (%s)\n", trace,
                strerror(ENOSPC));
    else
        fprintf(stderr, "tidemark: trace written to %s\n", trace);
    run_traces_print(rt, pid, trace);
    if (!same) {
        fprintf(stderr, "tidemark: summarizing the program's last image: %s\n", last);
        if (!last_whole)
            say_empty(last);
        else if (incomplete)
            say_incomplete(last, sig);
    }
    if (analyzed) {
        summary(&m, last);
        tm_model_free(&m);
    } else if (show && last_whole) {
        fprintf(stderr, "tidemark: %s: %s\n", last, err);
    }
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
    if (run_check_template(output)) return 2;
    /* The program gets the template absolute: a later image (after exec)
     * reads it again, from whatever directory it is in. The paths run
     * prints stay as given (relative to this directory, which run keeps). */
    char cwd[PATH_MAX], absolute[SHIM_TEMPLATE_MAX + 1];
    const char *env_output = output;
    if (output[0] != '/' && getcwd(cwd, sizeof cwd)) {
        if (!tmk_trace_template_absolute(absolute, sizeof absolute, cwd, output)) {
            cli_error("run: -o is %zu bytes long as an absolute path (in %s); the shim takes "
                      "at most %d", strlen(cwd) + 1 + strlen(output), cwd, SHIM_TEMPLATE_MAX);
            return 2;
        }
        env_output = absolute;
    }
    char shim[PATH_MAX];
    if (find_shim(shim, sizeof shim)) {
        cli_error("run: libtidemark.so not found beside this tidemark "
                  "(looked in ../preload/ and ../lib/tidemark/)");
        return 2;
    }
    int refused = run_check_program(argv[i], shim);
    if (refused) return refused;
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
        child(gate[0], shim, env_output, mode, argv + i);
    }
    relay_started(pid, &mask);
    close(gate[0]);
    /* Longer than any path may be: a path too long is seen whole enough. */
    char trace[2 * PATH_MAX];
    trace_path(output, pid, argv[i], trace, sizeof trace);
    struct run_traces rt = {0};
    refused = run_check_output(trace);
    if (!refused && run_traces_snapshot(&rt, output, trace) != 0) {
        cli_error("run: out of memory");
        refused = 2;
    }
    if (!refused) {
        ssize_t w;
        while ((w = write(gate[1], "g", 1)) < 0 && errno == EINTR) {}
    }
    close(gate[1]); /* without the byte: the child exits without running PROGRAM */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    relay_stop();
    if (!refused) report_outcome(&rt, pid, trace, status, show);
    run_traces_free(&rt);
    if (refused) return refused;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
