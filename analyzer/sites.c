/* analyzer/sites.c - where things were allocated, in words a human wants:
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
#include "symbols.h"

static int is_plumbing(const struct tmk_frame *f)
{
    static const char *const prefixes[] = {
        "gomap_", "gm_", "tmk_", "tidemark_", "uthash_", "malloc", "calloc", "realloc", "free",
        /* C++: operator new/new[] (mangled and not), std:: and __gnu_cxx:: internals */
        "_Znw", "_Zna", "operator new", "_ZNSt", "_ZNKSt", "_ZSt", "_ZN9__gnu_cxx", "std::",
        "__gnu_cxx::"};
    if (f->module && strstr(tmk_path_basename(f->module), "libtidemark")) return 1;
    /* gomap's sources, tidemark's headers (static helpers have no prefix),
     * libstdc++'s headers (allocators and containers inlined into the caller) */
    if (f->file && (strstr(f->file, "gomap/") || strstr(f->file, "include/tidemark/") ||
                    strstr(f->file, "/include/c++/")))
        return 1;
    if (!f->function) return 0;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(f->function, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static char *frame_site(const struct tmk_frame *f, const char *cwd)
{
    char buf[512];
    if (f->file && f->line) {
        const char *file = f->file;
        size_t n = cwd ? strlen(cwd) : 0;
        if (n && strncmp(file, cwd, n) == 0 && file[n] == '/') file += n + 1;
        snprintf(buf, sizeof buf, "%s:%u", file, f->line);
    } else {
        tmk_frame_format(f, buf, sizeof buf);
    }
    return strdup(buf);
}

static char *site_of(const struct tm_model *m, struct tmk_symbolizer *sym, uint64_t stack_id,
                     const char *cwd)
{
    const struct tm_stack *s = tm_model_stack(m, stack_id);
    if (!s || s->depth == 0) return strdup(stack_id ? "[unknown stack]" : "[no stack]");
    if (!sym) {
        char buf[32];
        snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)s->frames[0]);
        return strdup(buf);
    }
    struct tmk_frame f, first;
    tmk_symbolizer_lookup(sym, s->frames[0], 0, &first);
    for (uint32_t i = 0; i < s->depth; i++) {
        tmk_symbolizer_lookup(sym, s->frames[i], 0, &f);
        if (!is_plumbing(&f)) return frame_site(&f, cwd);
        /* Plumbing inlined into the caller's code (std::unordered_map's
         * operator[] into main): the call it was inlined from may be the
         * caller's own line. */
        for (unsigned k = 0; k < f.n_callers; k++) {
            struct tmk_frame v = f;
            v.function = f.callers[k].function;
            v.file = f.callers[k].file;
            v.line = f.callers[k].line;
            if (!is_plumbing(&v)) return frame_site(&v, cwd);
        }
    }
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
 * them by bytes and keeps the first `top`. */
static int name_and_merge(const struct tm_model *m, struct tmk_symbolizer *sym,
                          const char *cwd, struct tm_site *list, size_t *n, size_t top)
{
    for (size_t i = 0; i < *n; i++)
        if (!(list[i].site = site_of(m, sym, list[i].stack_id, cwd))) return -1;
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
    for (size_t i = top; i < k; i++) free(list[i].site);
    *n = k < top ? k : top;
    return 0;
}

static struct tmk_symbolizer *symbolizer_for(const struct tm_model *m)
{
    if (!m->opts.symbolize) return NULL;
    struct tmk_symbolizer *sym = tmk_symbolizer_new(m->opts.sysroot, NULL);
    for (size_t i = 0; sym && i < m->n_modules; i++) {
        const struct tm_module *mod = &m->modules[i];
        struct tmk_module_desc d = {mod->id, mod->bias, mod->start, mod->end,
                                    mod->build_id, mod->build_id_len, mod->path};
        tmk_symbolizer_add_module(sym, &d);
        if (mod->gone) tmk_symbolizer_module_gone(sym, mod->id);
    }
    return sym;
}

int tm_symbolize_sites(struct tm_model *m)
{
    struct tmk_symbolizer *sym = symbolizer_for(m);
    char cwd[4096]; /* sites are relative to the source root (default: here) */
    const char *cw = m->opts.source_root ? m->opts.source_root
                                         : getcwd(cwd, sizeof cwd) ? cwd : NULL;
    int rc = 0;
    for (size_t i = 0; i < m->n_tables; i++)
        if (!(m->tables[i].site = site_of(m, sym, m->tables[i].stack_id, cw))) rc = -1;
    if (name_and_merge(m, sym, cw, m->heap.top_peak, &m->heap.n_top_peak, m->opts.top_sites) ||
        name_and_merge(m, sym, cw, m->heap.top_end, &m->heap.n_top_end, m->opts.top_sites))
        rc = -1;
    if (sym) {
        const char *const *w;
        size_t n = tmk_symbolizer_warnings(sym, &w);
        for (size_t i = 0; i < n; i++) tm_add_warning(&m->info, "symbols: %s", w[i]);
        tmk_symbolizer_free(sym);
    }
    return rc;
}
