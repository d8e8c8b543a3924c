/* analyzer/model/sites.c - where things were allocated, in words a human wants:
 * the symbolized site of each table's creation and of each heap site.
 *
 * A site is the first frame of the stack outside the plumbing (the shim,
 * the malloc family, gomap's sources and functions, uthash's hooks,
 * tidemark's headers, C++'s operator new and the standard library's
 * internals): "examples/seed.c:58" rather than the gomap line that called
 * malloc. Many stacks end at the same site, so the heap's lists are merged
 * by site name before they are ranked and cut to the top N: a site's
 * figures are the sums over its stacks, and it keeps the stack id of its
 * largest one (for the HTML report's folded stack).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze_int.h"
#include "stack_namer.h"
#include "symbols/symbols.h"

static int is_plumbing(const struct tm_frame_info *f)
{
    static const char *const prefixes[] = {
        "gomap_", "gm_", "tmk_", "tidemark_", "uthash_", "malloc", "calloc", "realloc", "free",
        /* tables recognised without annotations: GLib's and khash's own frames */
        "g_realloc", "g_malloc", "g_hash_table_", "kh_resize_", "kh_put_",
        /* Rust's allocator and hashbrown, Abseil's containers */
        "alloc::", "hashbrown::", "__rust_", "__rdl_", "core::", "std::collections::",
        "absl::container_internal::", "absl::lts_",
        /* C++: operator new/new[] (mangled and not), std:: and __gnu_cxx:: internals */
        "_Znw", "_Zna", "operator new", "_ZNSt", "_ZNKSt", "_ZSt", "_ZN9__gnu_cxx", "std::",
        "__gnu_cxx::"};
    /* GLib's table code (static frames of a stripped library have no name) */
    if (f->module && !strncmp(tm_path_basename(f->module), "libglib-2.0.so", 14)) return 1;
    /* gomap's sources, tidemark's headers (static helpers have no prefix),
     * libstdc++'s headers (allocators and containers inlined into the caller) */
    if (f->file && (strstr(f->file, "gomap/") || strstr(f->file, "include/tidemark/") ||
                    strstr(f->file, "/include/c++/") || strstr(f->file, "library/alloc/") ||
                    strstr(f->file, "library/core/") || strstr(f->file, "library/std/") ||
                    strstr(f->file, "/hashbrown") || strstr(f->file, "/absl/container/")))
        return 1;
    if (!f->function) return 0;
    /* Rust's marker of where the program's own code begins (its backtraces
     * start there): a thread's closure is inlined into it. */
    if (strstr(f->function, "__rust_begin_short_backtrace")) return 0;
    /* a Rust trait method: "<alloc::vec::Vec<T> as ...>::from_iter" is Vec's */
    const char *name = f->function[0] == '<' ? f->function + 1 : f->function;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static char *frame_site(const struct tm_frame_info *f, const char *cwd)
{
    char buf[512];
    if (f->file && f->line) {
        const char *file = f->file;
        size_t n = cwd ? strlen(cwd) : 0;
        if (n && strncmp(file, cwd, n) == 0 && file[n] == '/') file += n + 1;
        snprintf(buf, sizeof buf, "%s:%u", file, f->line);
    } else {
        tm_frame_info_name(f, TM_FRAME_FULL, buf, sizeof buf);
    }
    return strdup(buf);
}

/* The first frame outside the plumbing, inline levels included (plumbing
 * inlined into the caller's code, std::unordered_map's operator[] into main:
 * the call it was inlined from is the caller's own line); the shim's frames
 * are never a site. Without symbols: the first frame's address. */
static char *site_of(const struct tm_model *m, struct tm_stack_namer *names, uint64_t stack_id,
                     const char *cwd)
{
    const struct tm_stack *s = tm_model_stack(m, stack_id);
    if (!s || s->depth == 0) return strdup(stack_id ? "[unknown stack]" : "[no stack]");
    if (!tm_stack_namer_symbolizer(names)) {
        char buf[32];
        snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)s->frames[0]);
        return strdup(buf);
    }
    const struct tm_frame_info *f;
    size_t n = tm_stack_namer_expand(names, s, &f);
    for (size_t i = 0; i < n; i++)
        if (!is_plumbing(&f[i])) return frame_site(&f[i], cwd);
    if (n) return frame_site(&f[0], cwd);
    struct tm_frame_info first;
    tm_stack_namer_inlines_at(names, s->frames[0], s->modules_at, &first, 1);
    return frame_site(&first, cwd);
}

static int by_site_then_bytes(const void *a, const void *b)
{
    const struct tm_site *x = a, *y = b;
    int c = strcmp(x->site, y->site);
    if (c) return c;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id; /* deterministic */
}

static int by_bytes_desc(const void *a, const void *b)
{
    const struct tm_site *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->site, y->site);
}

/* Names each entry of a heap list, merges entries with the same name, ranks
 * them by bytes and keeps the first `top` (0: all). */
static int name_and_merge(const struct tm_model *m, struct tm_stack_namer *names,
                          const char *cwd, struct tm_site *list, size_t *n, size_t top)
{
    for (size_t i = 0; i < *n; i++)
        if (!(list[i].site = site_of(m, names, list[i].stack_id, cwd))) return -1;
    qsort(list, *n, sizeof *list, by_site_then_bytes);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (k && strcmp(list[k - 1].site, list[i].site) == 0) {
            list[k - 1].bytes += list[i].bytes; /* the first (largest) keeps its stack */
            list[k - 1].allocs += list[i].allocs;
            free(list[i].site);
        } else {
            list[k++] = list[i];
        }
    }
    qsort(list, k, sizeof *list, by_bytes_desc);
    if (!top || top > k) top = k; /* 0: all */
    for (size_t i = top; i < k; i++) free(list[i].site);
    *n = top;
    return 0;
}

int sites_symbolize(struct tm_model *m)
{
    struct tm_stack_namer *names = tm_stack_namer_new(m);
    if (!names) return -1;
    char cwd[4096]; /* sites are relative to the source root (default: here) */
    const char *cw = m->opts.source_root ? m->opts.source_root
                                         : getcwd(cwd, sizeof cwd) ? cwd : NULL;
    int rc = 0;
    for (size_t i = 0; i < m->n_tables; i++)
        if (!(m->tables[i].site = site_of(m, names, m->tables[i].stack_id, cw))) rc = -1;
    if (name_and_merge(m, names, cw, m->heap.top_peak, &m->heap.n_top_peak, m->opts.top_sites) ||
        name_and_merge(m, names, cw, m->heap.top_end, &m->heap.n_top_end, m->opts.top_sites))
        rc = -1;
    struct tm_symbolizer *sym = tm_stack_namer_symbolizer(names);
    if (sym) {
        const char *const *w;
        size_t n = tm_symbolizer_warnings(sym, &w);
        for (size_t i = 0; i < n; i++) analysis_warning(&m->info, "symbols: %s", w[i]);
    }
    tm_stack_namer_free(names);
    return rc;
}
