/* tests/gomap/check.h - a minimal assertion helper for the gomap tests:
 * CHECK prints the failing expression with its location and counts it;
 * tests exit with check_status(). */
#ifndef TIDEMARK_TESTS_GOMAP_CHECK_H
#define TIDEMARK_TESTS_GOMAP_CHECK_H

#include <inttypes.h>
#include <stdio.h>

static int check_failures;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_EQ_U64(got, want)                                                  \
    do {                                                                         \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);               \
        if (got_ != want_) {                                                     \
            fprintf(stderr, "%s:%d: %s = %" PRIu64 ", want %" PRIu64 "\n",        \
                    __FILE__, __LINE__, #got, got_, want_);                      \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

static inline int check_status(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
