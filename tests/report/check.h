/* tests/report/check.h - the few assertion macros the report tests share:
 * each failed check prints file:line and the expression, and the test's
 * exit status is the number of failures (capped). */
#ifndef TMK_TESTS_REPORT_CHECK_H
#define TMK_TESTS_REPORT_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        if (!g_ || strcmp(g_, w_) != 0) {                                      \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__,    \
                    __LINE__, #got, g_ ? g_ : "(null)", w_);                   \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                            \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (!h_ || !strstr(h_, n_)) {                                          \
            fprintf(stderr, "%s:%d: %s does not contain \"%s\"\n", __FILE__,   \
                    __LINE__, #hay, n_);                                       \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

static inline int check_exit_status(void)
{
    if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures);
    return check_failures > 100 ? 100 : check_failures;
}

#endif
