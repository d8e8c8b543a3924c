/* analyzer/cli/check_output.h - `tidemark check`'s results (gates.h) in the
 * formats CI systems read: text (FAIL lines and the summary), json (schema
 * tidemark.check/1), github (workflow commands: ::error file=F,line=L,...)
 * and junit (JUnit XML: testsuites/testsuite/testcase/failure). The formats
 * are documented in docs/ci.md. */
#ifndef TIDEMARK_ANALYZER_CHECK_OUTPUT_H
#define TIDEMARK_ANALYZER_CHECK_OUTPUT_H

#include <stdio.h>

#include "gates.h"

struct check_context {
    const char *trace;       /* as given on the command line */
    const char *baseline;    /* NULL without --baseline */
    const char *source_root; /* absolute; sites under it are relative to it */
    const struct gate_config *gates;
    /* the other traces of trace's run, judged with it (check --help) */
    const char *const *others;
    size_t n_others;
};

/* Each returns 0, or -1 on a write error. */
int check_render_text(const struct check_outcome *c, const struct check_context *x, FILE *out);
int check_render_json(const struct check_outcome *c, const struct check_context *x, FILE *out);
int check_render_github(const struct check_outcome *c, const struct check_context *x, FILE *out);
int check_render_junit(const struct check_outcome *c, const struct check_context *x, FILE *out);

#endif /* TIDEMARK_ANALYZER_CHECK_OUTPUT_H */
