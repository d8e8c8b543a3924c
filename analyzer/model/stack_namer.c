/* analyzer/model/stack_namer.c - source-level frames of a model's stacks for
 * every report and for the sites (see stack_namer.h): inline levels
 * expanded, the shim's frames left out. */
#include "stack_namer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/symbols.h"

struct range {
    uint64_t start, end;
};

struct tm_stack_namer {
    struct tm_symbolizer *sym; /* NULL when the model is unsymbolized */
    struct range *shim;         /* the shim's modules */
    size_t n_shim;
    struct tm_frame_info *buf;  /* tm_stack_namer_expand's answer */
    size_t cap;
};

/* The shim is libtidemark.so (build tree, installed, or renamed with a
 * suffix); the analyzer never runs under it, so no other module has it. */
static int is_shim_path(const char *path)
{
    const char *base = tm_path_basename(path);
    return strncmp(base, "libtidemark", 11) == 0 && strstr(base, ".so") != NULL;
}

static int add_shim_ranges(struct tm_stack_namer *n, const struct tm_model *m)
{
    for (size_t i = 0; i < m->n_modules; i++)
        if (is_shim_path(m->modules[i].path)) n->n_shim++;
    if (!n->n_shim) return 0;
    if (!(n->shim = malloc(n->n_shim * sizeof *n->shim))) return -1;
    size_t k = 0;
    for (size_t i = 0; i < m->n_modules; i++)
        if (is_shim_path(m->modules[i].path))
            n->shim[k++] = (struct range){m->modules[i].start, m->modules[i].end};
    return 0;
}

struct tm_symbolizer *tm_symbolizer_for(const struct tm_model *m)
{
    if (!m->opts.symbolize) return NULL;
    struct tm_symbolizer *sym = tm_symbolizer_new(m->opts.sysroot, NULL);
    for (size_t i = 0; sym && i < m->n_modules; i++) {
        const struct tm_module *mod = &m->modules[i];
        struct tm_symbolizer_module d = {mod->id,       mod->bias,         mod->start, mod->end,
                                    mod->build_id, mod->build_id_len, mod->path,
                                    mod->loaded_at, mod->gone_at};
        if (tm_symbolizer_add_module(sym, &d)) {
            tm_symbolizer_free(sym);
            return NULL;
        }
        if (mod->gone) tm_symbolizer_module_gone(sym, mod->id);
    }
    return sym;
}

struct tm_stack_namer *tm_stack_namer_new(const struct tm_model *m)
{
    struct tm_stack_namer *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    if (add_shim_ranges(n, m) || (m->opts.symbolize && !(n->sym = tm_symbolizer_for(m)))) {
        tm_stack_namer_free(n);
        return NULL;
    }
    return n;
}

void tm_stack_namer_free(struct tm_stack_namer *n)
{
    if (!n) return;
    if (n->sym) tm_symbolizer_free(n->sym);
    free(n->shim);
    free(n->buf);
    free(n);
}

struct tm_symbolizer *tm_stack_namer_symbolizer(struct tm_stack_namer *n)
{
    return n ? n->sym : NULL;
}

int tm_stack_namer_is_shim(const struct tm_stack_namer *n, uint64_t addr)
{
    for (size_t i = 0; n && i < n->n_shim; i++)
        if (addr >= n->shim[i].start && addr < n->shim[i].end) return 1;
    return 0;
}

size_t tm_stack_namer_inlines(struct tm_stack_namer *n, uint64_t addr, struct tm_frame_info *out,
                              size_t max)
{
    return tm_stack_namer_inlines_at(n, addr, TM_SYM_AT_END, out, max);
}

size_t tm_stack_namer_inlines_at(struct tm_stack_namer *n, uint64_t addr, uint64_t when,
                                 struct tm_frame_info *out, size_t max)
{
    if (!max) return 0;
    struct tm_sym_frame f;
    if (n && n->sym) {
        tm_symbolizer_lookup_at(n->sym, addr, 0, when, &f);
    } else {
        memset(&f, 0, sizeof f);
        f.offset = addr;
    }
    struct tm_frame_info base = {addr, f.function, f.file, f.line, f.module, f.module_id,
                                 f.offset, 0};
    size_t k = 0;
    out[k++] = base;
    /* callers[i] is the call, in callers[i].function, that the frame before
     * it was inlined from. */
    for (unsigned i = 0; i < f.n_callers && k < max; i++) {
        out[k - 1].inlined = 1;
        out[k] = base;
        out[k].function = f.callers[i].function;
        out[k].file = f.callers[i].file;
        out[k].line = f.callers[i].line;
        k++;
    }
    return k;
}

size_t tm_stack_namer_expand(struct tm_stack_namer *n, const struct tm_stack *st,
                             const struct tm_frame_info **out)
{
    static struct tm_frame_info none;
    *out = &none;
    if (!n || !st) return 0;
    size_t k = 0;
    for (uint32_t i = 0; i < st->depth; i++) {
        if (tm_stack_namer_is_shim(n, st->frames[i])) continue;
        if (n->cap - k < TM_MAX_INLINE) {
            size_t cap = n->cap ? 2 * n->cap : 256;
            struct tm_frame_info *b = realloc(n->buf, cap * sizeof *b);
            if (!b) break; /* out of memory: the frames so far */
            n->buf = b;
            n->cap = cap;
        }
        k += tm_stack_namer_inlines_at(n, st->frames[i], st->modules_at, n->buf + k,
                                       TM_MAX_INLINE);
    }
    if (k) *out = n->buf;
    return k;
}

void tm_frame_info_name(const struct tm_frame_info *f, enum tm_frame_style style, char *buf,
                        size_t len)
{
    if (style == TM_FRAME_FUNCTION && f->function && f->function[0]) {
        snprintf(buf, len, "%s", f->function);
        return;
    }
    struct tm_sym_frame t = {f->function, f->file, f->line, f->module, f->offset, NULL, 0, 0};
    tm_sym_frame_format(&t, buf, len);
    if (len && !buf[0]) snprintf(buf, len, "?");
}
