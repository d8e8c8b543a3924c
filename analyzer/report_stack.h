/* analyzer/report_stack.h - names the frames of a model's stacks for the
 * html and collapsed reports: a symbolizer built from the model's modules
 * (or none when the model was made without symbols), one per report. */
#ifndef TIDEMARK_ANALYZER_REPORT_STACK_H
#define TIDEMARK_ANALYZER_REPORT_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct tm_stack_namer;

/* NULL only when out of memory; then frames are named by address. */
struct tm_stack_namer *tm_stack_namer_new(const struct tm_model *m);
void tm_stack_namer_free(struct tm_stack_namer *n);

enum tm_frame_style {
    TM_FRAME_FUNCTION = 0, /* "func", else "libx.so+0x1a2b" (flame graphs) */
    TM_FRAME_FULL = 1,     /* "func (file.c:42)" (see tmk_frame_format) */
};

/* Writes the name of return address `addr` into buf (NUL-terminated,
 * truncated to len). n may be NULL. */
void tm_stack_namer_frame(struct tm_stack_namer *n, uint64_t addr, enum tm_frame_style style,
                          char *buf, size_t len);

#endif /* TIDEMARK_ANALYZER_REPORT_STACK_H */
