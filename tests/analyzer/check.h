/* tests/analyzer/check.h - the analyzer tests' assertion: CHECK(cond, fmt,
 * ...) prints the failing expression with its location and a message, and
 * counts it in `failures` (the test's exit status is failures != 0). */
#ifndef TIDEMARK_TESTS_ANALYZER_CHECK_H
#define TIDEMARK_TESTS_ANALYZER_CHECK_H

#include <stdio.h>

static int failures;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

#endif /* TIDEMARK_TESTS_ANALYZER_CHECK_H */
