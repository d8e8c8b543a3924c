/* tests/analyzer/analyze_check.h - what the analyzer's unit tests share to
 * analyze a trace (a tracegen or its bytes, without symbols) and look at its
 * warnings. Needs check.h first (CHECK). */
#ifndef TIDEMARK_TESTS_ANALYZER_ANALYZE_CHECK_H
#define TIDEMARK_TESTS_ANALYZER_ANALYZE_CHECK_H

#include <string.h>

#include "check.h"
#include "model/model.h"
#include "tracegen.h"

/* The analysis of a trace's bytes, without symbols. */
static inline int analyze_bytes(const uint8_t *b, size_t n, struct tm_model *m, char *err,
                                size_t errlen)
{
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    return tm_analyze_mem(b, n, "mem", &o, m, err, errlen);
}

static inline int analyze(struct tg *g, struct tm_model *m)
{
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    char err[256];
    int rc = analyze_bytes(b, n, m, err, sizeof err);
    CHECK(rc == TM_EXIT_OK, "%s", err);
    return rc;
}

static inline int warned(const struct tm_model *m, const char *what)
{
    for (size_t i = 0; i < m->info.n_warnings; i++)
        if (strstr(m->info.warnings[i], what)) return 1;
    return 0;
}

static inline const char *first_warning(const struct tm_model *m)
{
    return m->info.n_warnings ? m->info.warnings[0] : "(none)";
}

#endif /* TIDEMARK_TESTS_ANALYZER_ANALYZE_CHECK_H */
