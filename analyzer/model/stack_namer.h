/* analyzer/model/stack_namer.h - the frames of a model's stacks as every report
 * shows them: a symbolizer built from the model's modules (or none when the
 * model was made without symbols), one per report or analysis.
 *
 * A stack's return addresses become source-level frames: each address gives
 * the code at it and, when the compiler inlined that code, every function it
 * was inlined into, out to the real function (DWARF inline chains, see
 * symbols.h), in the modules mapped when the stack was recorded. The shim's
 * own frames (libtidemark.so: its malloc, its wrapped main) are never shown.
 */
#ifndef TIDEMARK_ANALYZER_STACK_NAMER_H
#define TIDEMARK_ANALYZER_STACK_NAMER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "symbols/symbols.h" /* TM_SYM_MAX_CALLERS */

struct tm_stack_namer;
struct tm_symbolizer;

/* A symbolizer over the model's modules (the namer's, and recognize.c's for
 * frame names); NULL when symbolizing is off or out of memory. */
struct tm_symbolizer *tm_symbolizer_for(const struct tm_model *m);

/* NULL only when out of memory; then frames are named by address. */
struct tm_stack_namer *tm_stack_namer_new(const struct tm_model *m);
void tm_stack_namer_free(struct tm_stack_namer *n);

/* The symbolizer behind n (for its warnings and raw lookups); NULL when the
 * model is unsymbolized or n is NULL. */
struct tm_symbolizer *tm_stack_namer_symbolizer(struct tm_stack_namer *n);

/* One source-level frame. Strings belong to the namer. */
struct tm_frame_info {
    uint64_t addr;        /* the return address it comes from */
    const char *function; /* NULL when unknown */
    const char *file;     /* source file as DWARF names it; NULL when unknown */
    unsigned line;        /* 0 when unknown */
    const char *module;   /* module path; NULL when no module covers addr */
    uint64_t module_id;   /* the trace's module id; 0 when none */
    uint64_t offset;      /* addr - the module's bias, or addr without a module */
    int inlined;          /* 1: inlined into the next frame out (same addr) */
};

#define TM_MAX_INLINE (TM_SYM_MAX_CALLERS + 1) /* frames one address can give */

/* The frames at return address addr, innermost first: the code at addr,
 * then each function it was inlined into; the last has inlined = 0. Fills
 * out[0..max) and returns how many (1 at least, when max >= 1). */
size_t tm_stack_namer_inlines(struct tm_stack_namer *n, uint64_t addr, struct tm_frame_info *out,
                              size_t max);
/* The same, for a frame of a stack whose modules_at is `when` (model.h):
 * in the module mapped then (symbols.h, tm_symbolizer_lookup_at). */
size_t tm_stack_namer_inlines_at(struct tm_stack_namer *n, uint64_t addr, uint64_t when,
                                 struct tm_frame_info *out, size_t max);

/* 1 when addr lies in the shim (a module named libtidemark*.so). */
int tm_stack_namer_is_shim(const struct tm_stack_namer *n, uint64_t addr);

/* Every frame of stack st, innermost first, inline levels expanded, the
 * shim's frames left out. *out points into the namer and stays valid until
 * the next call; returns the count (0 for a stack of shim frames only). */
size_t tm_stack_namer_expand(struct tm_stack_namer *n, const struct tm_stack *st,
                             const struct tm_frame_info **out);

enum tm_frame_style {
    TM_FRAME_FUNCTION = 0, /* "func", else "libx.so+0x1a2b" (flame graphs) */
    TM_FRAME_FULL = 1,     /* "func (file.c:42)" (see tm_sym_frame_format) */
};

/* Writes the name of frame f into buf (NUL-terminated, truncated to len);
 * never empty. */
void tm_frame_info_name(const struct tm_frame_info *f, enum tm_frame_style style, char *buf,
                        size_t len);

#endif /* TIDEMARK_ANALYZER_STACK_NAMER_H */
