/* tidemark/trace_path.h - the trace file's name from the TIDEMARK_OUTPUT
 * template, written once for both sides: the shim creates the file with it
 * (preload/writer.c) and `tidemark run` finds the file with it
 * (analyzer/cli/cmd_run.c), so the two cannot disagree.
 *
 *   %p  the process id
 *   %e  the program's short name (basename of its argv[0], what glibc's
 *       program_invocation_short_name holds); "program" when empty
 *   %%  one '%'
 * Any other '%' is copied as it is.
 *
 * Header-only, allocation-free and without libc calls: the shim runs it
 * inside its own startup, where calling malloc is not allowed.
 */
#ifndef TIDEMARK_TRACE_PATH_H
#define TIDEMARK_TRACE_PATH_H

#include <stddef.h>
#include <stdint.h>

/* When the expanded path exists as a regular file, the shim writes the first
 * free "<path>.1" .. "<path>.TMK_TRACE_PATH_SUFFIXES" instead (an exec'ed
 * image keeps the pid, so it lands there). */
#define TMK_TRACE_PATH_SUFFIXES 99

/* Appends s to out (length n, capacity cap), truncating; returns the new n. */
static inline size_t tmk_path_append(char *out, size_t n, size_t cap, const char *s)
{
    while (*s && n + 1 < cap) out[n++] = *s++;
    out[n] = 0;
    return n;
}

/* Appends the decimal digits of v; returns the new n. */
static inline size_t tmk_path_append_u(char *out, size_t n, size_t cap, uint64_t v)
{
    char tmp[24], num[24];
    int k = 0;
    do tmp[k++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    for (int i = 0; i < k; i++) num[i] = tmp[k - 1 - i];
    num[k] = 0;
    return tmk_path_append(out, n, cap, num);
}

/* The short name of a program started as argv0: what follows its last '/'. */
static inline const char *tmk_path_short_name(const char *argv0)
{
    const char *base = argv0;
    for (const char *s = argv0; s && *s; s++)
        if (*s == '/') base = s + 1;
    return base;
}

/* The template made absolute against the working directory cwd (itself
 * absolute, as getcwd gives it): tmpl when it starts with '/', else cwd
 * (each '%' in it doubled, so that the expansion gives it back as it is),
 * '/', tmpl. Returns 1, or 0 (out then "") when that does not fit in cap
 * bytes or cwd is not absolute. The shim resolves a relative
 * TIDEMARK_OUTPUT with it once, when tracing starts, so that a forked child
 * writes beside its parent's trace whatever directory it went to; `tidemark
 * run` hands the program the absolute template, so that its later images
 * (which read the environment again) do too. */
static inline int tmk_trace_template_absolute(char *out, size_t cap, const char *cwd,
                                              const char *tmpl)
{
    int relative = tmpl[0] != '/';
    size_t need = 1, n = 0;
    if (cap) out[0] = 0;
    if (relative && cwd[0] != '/') return 0;
    for (const char *c = cwd; relative && *c; c++) need += *c == '%' ? 2 : 1;
    if (relative && cwd[1]) need++; /* the slash; "/" has its own */
    for (const char *c = tmpl; *c; c++) need++;
    if (need > cap) return 0;
    for (const char *c = cwd; relative && *c; c++) {
        out[n++] = *c;
        if (*c == '%') out[n++] = '%';
    }
    if (relative && cwd[1]) out[n++] = '/';
    out[n] = 0;
    tmk_path_append(out, n, cap, tmpl);
    return 1;
}

/* Expands tmpl into out (cap bytes, always NUL-terminated, truncated if
 * needed) for process pid named name (a short name; NULL or "" gives
 * "program"). Returns 1 if tmpl contained %p, else 0. */
static inline int tmk_trace_path_expand(char *out, size_t cap, const char *tmpl, uint64_t pid,
                                        const char *name)
{
    size_t n = 0;
    int has_pid = 0;
    if (cap == 0) return 0;
    out[0] = 0;
    for (const char *s = tmpl; *s && n + 1 < cap; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n = tmk_path_append_u(out, n, cap, pid);
            has_pid = 1;
            s++;
        } else if (s[0] == '%' && s[1] == 'e') {
            n = tmk_path_append(out, n, cap, name && *name ? name : "program");
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            n = tmk_path_append(out, n, cap, "%");
            s++;
        } else {
            out[n++] = *s;
            out[n] = 0;
        }
    }
    return has_pid;
}

#endif /* TIDEMARK_TRACE_PATH_H */
