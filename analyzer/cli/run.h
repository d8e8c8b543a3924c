/* analyzer/cli/run.h - the parts of `tidemark run` (cmd_run.c): the checks made
 * before the program starts (run_check.c) and the trace files the run
 * produced (run_traces.c). */
#ifndef TIDEMARK_ANALYZER_RUN_H
#define TIDEMARK_ANALYZER_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit statuses of run when it cannot start PROGRAM, like a shell's. */
#define RUN_EXIT_NOT_FOUND 127
#define RUN_EXIT_NOT_EXECUTABLE 126

/* The shim takes a template of at most this many bytes (preload/internal.h:
 * tmk_options.output). */
#define SHIM_TEMPLATE_MAX 4095

/* ---- run_check.c -------------------------------------------------------- */

/* Can the shim trace PROGRAM (looked up in PATH as execvp does)? 0 when it
 * can; else one line on stderr and the exit status: 127 not found, 126 not
 * executable, 2 the loader would not preload the shim into it (statically
 * linked, set-user-ID or set-group-ID, file capabilities, another
 * architecture than the shim). */
int run_check_program(const char *program, const char *shim);
/* Is -o's template usable before any pid is known (not empty, not longer
 * than the shim takes)? 0, or one line and 2. */
int run_check_template(const char *tmpl);
/* Can the shim create the trace at path (expanded for the program's pid)?
 * 0, or one line naming why and 2: too long, exists, cannot be created
 * (errno's text: a missing or unwritable directory, a name too long). */
int run_check_output(const char *path);

/* ---- run_traces.c ------------------------------------------------------- */

struct run_found; /* one trace file (run_traces.c) */

/* The directory the traces go to, the names in it before the run, and the
 * traces found after it. */
struct run_traces {
    char *dir;       /* the expanded path up to its last '/' ("" when none) */
    char *pattern;   /* the template's last component */
    char **before;   /* sorted */
    size_t n_before;
    struct run_found *found; /* by start time */
    size_t n_found;
};

/* Notes which names matching the template are already in path's
 * directory. 0, or -1 (out of memory: the list is then not made). */
int run_traces_snapshot(struct run_traces *rt, const char *tmpl, const char *path);
/* Finds every trace the run made (top is the program's pid, path its first
 * trace), and puts in `last` the trace of the program's last image (path
 * itself when it never exec'ed). */
void run_traces_find(struct run_traces *rt, pid_t top, const char *path, char *last,
                     size_t len);
/* Names them on stderr, one line each: the images of the program's process
 * after exec, then each descendant's with its pid and parent. */
void run_traces_print(const struct run_traces *rt, pid_t top, const char *path);
void run_traces_free(struct run_traces *rt);
/* Does name match the template's last component pattern (%p digits, %e one
 * or more characters, %% a '%'), followed by any ".<digits>" suffixes? */
int run_trace_name_matches(const char *pattern, const char *name);
/* The other traces of the run that wrote the trace at path (none when path
 * is not a trace): its process's later images (after exec) and its
 * descendants', in path's directory, named as path is (its pid's digits
 * any pid) with any ".<digits>" suffixes, started no earlier, by start
 * time. *out (freed by the caller, each path and the array) has *n paths.
 * 0, or -1 when out of memory. */
int run_traces_of(const char *path, char ***out, size_t *n);

#endif /* TIDEMARK_ANALYZER_RUN_H */
