/* analyzer/cmd_run.c - `tidemark run [-o FILE] [--mode full|tables] -- PROG
 * ARGS`: runs PROG with the shim preloaded (found beside this binary, no path
 * to type), passes its exit status through (128+N for signal N), then says
 * where the trace is and prints a one-screen summary on stderr. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_common.h"
#include "report.h"

static const char run_usage[] =
    "usage: tidemark run [-o FILE] [--mode full|tables] [--no-summary] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM under the tidemark shim (libtidemark.so, found beside this\n"
    "tidemark), then prints where its trace is and a summary on stderr.\n"
    "\n"
    "  -o, --output FILE   trace path (%p = the process id); default tidemark.%p.tmk\n"
    "  --mode MODE         full (every allocation, default) or tables (table events\n"
    "                      only: cheap enough for production)\n"
    "  --no-summary        only run and record\n"
    "An LD_PRELOAD already set is kept (the shim is appended). Other TIDEMARK_*\n"
    "settings pass through from the environment.\n"
    "exit status: PROGRAM's own (128+N when killed by signal N); 2 when tidemark\n"
    "cannot start it (bad flag, shim or program not found).\n";

/* <dir of this executable>/../preload/libtidemark.so (build tree) or
 * <dir>/../lib/tidemark/libtidemark.so (installed). */
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
                                      "../lib/tidemark/libtidemark.so", "libtidemark.so"};
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

/* pattern with every %p replaced by pid. */
static void expand_pid(const char *pattern, pid_t pid, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            o += (size_t)snprintf(out + o, len - o, "%d", (int)pid);
            if (o >= len) o = len - 1;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = 0;
}

static void child(const char *shim, const char *output, const char *mode, char **argv)
{
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
    struct sigaction ign = {.sa_handler = SIG_IGN}, oint, oquit;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("run: fork failed: %s", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        child(shim, output, mode, argv + i);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    char trace[PATH_MAX];
    expand_pid(output, pid, trace, sizeof trace);
    if (access(trace, R_OK) != 0) {
        fprintf(stderr, "tidemark: no trace at %s (the program exited with %d)\n", trace, rc);
        return rc;
    }
    fprintf(stderr, "tidemark: trace written to %s\n", trace);
    if (show) summary(trace);
    return rc;
}
