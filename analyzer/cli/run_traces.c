/* analyzer/cli/run_traces.c - the trace files one `tidemark run` produced.
 *
 * The shim gives each process its own file (preload/trace_name.c): the
 * program's first image the expanded path, its later images (after exec,
 * same pid) PATH.1, PATH.2, ..., each descendant the path expanded for its
 * pid ("PATH.<pid>" when the template has no %p) and ".N" after that for its
 * own later images. run finds them in the trace's directory: names that
 * match the template's last component (%p any digits, %e any name) with any
 * ".<digits>" suffixes, that were not there before the run, and whose
 * header's pid is the program's or descends from it (header ppid). A
 * template whose directory part has %p or %e puts descendants elsewhere:
 * only the program's own directory is searched. New files that match but
 * whose pid does not descend from the program's (a descendant in another
 * pid namespace names its pid as seen there) are listed apart.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "tidemark/trace_format.h"

/* A trace the run made. */
struct run_found {
    char *path;
    uint32_t pid, ppid;
    uint64_t start; /* header's start_monotonic_ns */
    int ours;       /* the program's process or a descendant */
};

/* ---- names ---------------------------------------------------------------- */

/* s is "" or ".<digits>" repeated. */
static int only_suffixes(const char *s)
{
    while (*s) {
        if (s[0] != '.' || !isdigit((unsigned char)s[1])) return 0;
        s++;
        while (isdigit((unsigned char)*s)) s++;
    }
    return 1;
}

int run_trace_name_matches(const char *p, const char *s)
{
    if (!*p) return only_suffixes(s);
    if (p[0] == '%' && p[1] == 'p') {
        for (const char *e = s; isdigit((unsigned char)*e); e++)
            if (run_trace_name_matches(p + 2, e + 1)) return 1;
        return 0;
    }
    if (p[0] == '%' && p[1] == 'e') {
        if (!*s) return 0;
        for (const char *e = s + 1;; e++) {
            if (run_trace_name_matches(p + 2, e)) return 1;
            if (!*e) return 0;
        }
    }
    if (p[0] == '%' && p[1] == '%') return *s == '%' && run_trace_name_matches(p + 2, s + 1);
    return *p == *s && run_trace_name_matches(p + 1, s + 1);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int existed(const struct run_traces *rt, const char *name)
{
    return rt->n_before && bsearch(&name, rt->before, rt->n_before, sizeof *rt->before, cmp_name);
}

/* ---- the snapshot --------------------------------------------------------- */

int run_traces_snapshot(struct run_traces *rt, const char *tmpl, const char *path)
{
    memset(rt, 0, sizeof *rt);
    const char *slash = strrchr(path, '/'), *tslash = strrchr(tmpl, '/');
    rt->dir = strndup(path, slash ? (size_t)(slash + 1 - path) : 0);
    rt->pattern = strdup(tslash ? tslash + 1 : tmpl);
    if (!rt->dir || !rt->pattern) return -1;
    DIR *d = opendir(*rt->dir ? rt->dir : ".");
    if (!d) return 0;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!run_trace_name_matches(rt->pattern, e->d_name)) continue;
        if (rt->n_before == cap) {
            cap = cap ? 2 * cap : 16;
            char **more = realloc(rt->before, cap * sizeof *more);
            if (!more) break;
            rt->before = more;
        }
        if (!(rt->before[rt->n_before] = strdup(e->d_name))) break;
        rt->n_before++;
    }
    closedir(d);
    if (rt->n_before) qsort(rt->before, rt->n_before, sizeof *rt->before, cmp_name);
    return 0;
}

void run_traces_free(struct run_traces *rt)
{
    for (size_t i = 0; i < rt->n_found; i++) free(rt->found[i].path);
    free(rt->found);
    for (size_t i = 0; i < rt->n_before; i++) free(rt->before[i]);
    free(rt->before);
    free(rt->dir);
    free(rt->pattern);
    memset(rt, 0, sizeof *rt);
}

/* ---- after the run ---------------------------------------------------------- */

/* The header of the regular file at path; -1 when it is not a trace. */
static int read_header(const char *path, struct tmk_file_header *h)
{
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, raw, sizeof raw) : -1;
    close(fd);
    if (n != (ssize_t)sizeof raw || memcmp(raw, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN)) return -1;
    tmk_file_header_decode(h, raw);
    return 0;
}

/* The new traces in the directory. */
static struct run_found *new_traces(const struct run_traces *rt, size_t *n_out)
{
    struct run_found *f = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(*rt->dir ? rt->dir : ".");
    if (!d) return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!run_trace_name_matches(rt->pattern, e->d_name) || existed(rt, e->d_name)) continue;
        char *path = NULL;
        struct tmk_file_header h;
        if (asprintf(&path, "%s%s", rt->dir, e->d_name) < 0) break;
        if (read_header(path, &h) != 0) {
            free(path);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            struct run_found *more = realloc(f, cap * sizeof *more);
            if (!more) {
                free(path);
                break;
            }
            f = more;
        }
        f[n++] = (struct run_found){path, h.pid, h.ppid, h.start_monotonic_ns, 0};
    }
    closedir(d);
    *n_out = n;
    return f;
}

static int by_start(const void *a, const void *b)
{
    const struct run_found *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : strcmp(x->path, y->path);
}

static int has_pid(const struct run_found *f, size_t n, uint32_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].ours && f[i].pid == pid) return 1;
    return 0;
}

/* Marks the program's traces and its descendants' (sorted by start, a
 * parent's trace comes before its children's: one pass, plus one to see
 * that nothing changes). */
static void mark_ours(struct run_found *f, size_t n, uint32_t top)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (f[i].ours) continue;
            if (f[i].pid == top || has_pid(f, n, f[i].pid) || has_pid(f, n, f[i].ppid)) {
                f[i].ours = 1;
                changed = 1;
            }
        }
    }
}

/* Is f[i] the first trace of its pid among ours? */
static int first_of_pid(const struct run_found *f, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (f[j].ours && f[j].pid == f[i].pid) return 0;
    return 1;
}

void run_traces_find(struct run_traces *rt, pid_t top, const char *path, char *last,
                     size_t len)
{
    snprintf(last, len, "%s", path);
    struct run_found *f = new_traces(rt, &rt->n_found);
    if (f) qsort(f, rt->n_found, sizeof *f, by_start);
    mark_ours(f, rt->n_found, (uint32_t)top);
    rt->found = f;
    struct tmk_file_header h;
    uint64_t newest = read_header(path, &h) == 0 ? h.start_monotonic_ns : 0;
    for (size_t i = 0; i < rt->n_found; i++)
        if (f[i].ours && f[i].pid == (uint32_t)top && f[i].start >= newest &&
            strcmp(f[i].path, path) != 0) {
            newest = f[i].start;
            snprintf(last, len, "%s", f[i].path);
        }
}

void run_traces_print(const struct run_traces *rt, pid_t top, const char *path)
{
    const struct run_found *f = rt->found;
    for (size_t i = 0; i < rt->n_found; i++)
        if (f[i].ours && f[i].pid == (uint32_t)top && strcmp(f[i].path, path) != 0)
            fprintf(stderr, "tidemark: the program exec'ed; its new image's trace is %s\n",
                    f[i].path);
    for (size_t i = 0; i < rt->n_found; i++) {
        if (!f[i].ours || f[i].pid == (uint32_t)top || !first_of_pid(f, i)) continue;
        fprintf(stderr, "tidemark: child process %u (parent %u): %s\n", f[i].pid, f[i].ppid,
                f[i].path);
        for (size_t j = i + 1; j < rt->n_found; j++)
            if (f[j].ours && f[j].pid == f[i].pid)
                fprintf(stderr,
                        "tidemark: child process %u exec'ed; its new image's trace is %s\n",
                        f[j].pid, f[j].path);
    }
    /* New files of the template whose pid run cannot place: a descendant in
     * another pid namespace (unshare -pf, bwrap --unshare-pid) names its pid
     * as seen inside it; or another program that wrote there meanwhile. */
    for (size_t i = 0; i < rt->n_found; i++)
        if (!f[i].ours)
            fprintf(stderr,
                    "tidemark: also written during the run, by pid %u (parent %u; another pid "
                    "namespace, or another program): %s\n",
                    f[i].pid, f[i].ppid, f[i].path);
}

/* ---- the other traces of a trace's run (check) ------------------------------ */

/* The name's pattern: '%' escaped, and the first occurrence of the pid's
 * digits as %p (a template with %p names descendants by their pid). */
static char *pattern_of(const char *name, uint32_t pid)
{
    char digits[16];
    snprintf(digits, sizeof digits, "%u", pid);
    const char *at = strstr(name, digits);
    char *p = malloc(2 * strlen(name) + 3), *o = p;
    if (!p) return NULL;
    for (const char *c = name; *c;) {
        if (c == at) {
            o += sprintf(o, "%%p");
            c += strlen(digits);
        } else {
            if (*c == '%') *o++ = '%';
            *o++ = *c++;
        }
    }
    *o = 0;
    return p;
}

static int same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int run_traces_of(const char *path, char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    struct tmk_file_header h;
    if (read_header(path, &h) != 0) return 0;
    struct run_traces rt;
    memset(&rt, 0, sizeof rt);
    const char *slash = strrchr(path, '/');
    rt.dir = strndup(path, slash ? (size_t)(slash + 1 - path) : 0);
    rt.pattern = pattern_of(slash ? slash + 1 : path, h.pid);
    int rc = 0;
    if (!rt.dir || !rt.pattern) rc = -1;
    else if ((rt.found = new_traces(&rt, &rt.n_found))) {
        struct run_found *f = rt.found;
        /* an earlier run's trace (a pid used again) started before: not ours */
        size_t n = 0;
        for (size_t i = 0; i < rt.n_found; i++) {
            if (f[i].start < h.start_monotonic_ns) free(f[i].path);
            else f[n++] = f[i];
        }
        rt.n_found = n;
        qsort(f, rt.n_found, sizeof *f, by_start);
        mark_ours(f, rt.n_found, h.pid);
        char **v = calloc(rt.n_found ? rt.n_found : 1, sizeof *v);
        if (!v) rc = -1;
        for (size_t i = 0; v && i < rt.n_found; i++)
            if (f[i].ours && !same_file(f[i].path, path)) {
                v[*n_out] = f[i].path;
                f[i].path = NULL;
                (*n_out)++;
            }
        *out = v;
    }
    run_traces_free(&rt);
    return rc;
}
