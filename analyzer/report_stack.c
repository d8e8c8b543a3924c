/* analyzer/report_stack.c - frame names for the html and collapsed reports
 * (see report_stack.h). */
#include "report_stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols.h"

struct tm_stack_namer {
    struct tmk_symbolizer *sym; /* NULL when the model is unsymbolized */
};

static struct tm_stack_namer no_symbols; /* shared: nothing to free */

struct tm_stack_namer *tm_stack_namer_new(const struct tm_model *m)
{
    if (!m->opts.symbolize) return &no_symbols;
    struct tmk_symbolizer *sym = tmk_symbolizer_new(m->opts.sysroot, NULL);
    if (!sym) return NULL;
    for (size_t i = 0; i < m->n_modules; i++) {
        const struct tm_module *mod = &m->modules[i];
        struct tmk_module_desc d = {mod->id,       mod->bias,         mod->start, mod->end,
                                    mod->build_id, mod->build_id_len, mod->path};
        tmk_symbolizer_add_module(sym, &d);
        if (mod->gone) tmk_symbolizer_module_gone(sym, mod->id);
    }
    struct tm_stack_namer *n = malloc(sizeof *n);
    if (!n) {
        tmk_symbolizer_free(sym);
        return NULL;
    }
    n->sym = sym;
    return n;
}

void tm_stack_namer_free(struct tm_stack_namer *n)
{
    if (!n || n == &no_symbols) return;
    tmk_symbolizer_free(n->sym);
    free(n);
}

void tm_stack_namer_frame(struct tm_stack_namer *n, uint64_t addr, enum tm_frame_style style,
                          char *buf, size_t len)
{
    struct tmk_frame f;
    if (n && n->sym) {
        tmk_symbolizer_lookup(n->sym, addr, 0, &f);
    } else {
        memset(&f, 0, sizeof f);
        f.offset = addr;
    }
    if (style == TM_FRAME_FUNCTION && f.function)
        snprintf(buf, len, "%s", f.function);
    else
        tmk_frame_format(&f, buf, len);
}
