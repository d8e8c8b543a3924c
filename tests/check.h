/* tests/check.h - the one assertion header of the C tests.
 *
 *   CHECK(cond);                 CHECK(cond, "fmt", ...);
 *   CHECK_EQ_U64(got, want);     CHECK_STR(got, want);    CHECK_CONTAINS(hay, needle);
 *   return check_status();       (from main: 1 when a check failed, else 0)
 *
 * A failed check is counted and prints one line,
 *   FILE:LINE: CHECK failed: EXPR[: message]
 * on stderr, or on CHECK_OUT when the test defines it before including this
 * (a program run under the shim keeps its stderr for the shim). A test
 * goes on after a failure, so one run shows every failed check. */
#ifndef TIDEMARK_TESTS_CHECK_H
#define TIDEMARK_TESTS_CHECK_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef CHECK_OUT
#define CHECK_OUT stderr
#endif

/* CHECK(cond) passes check_failed an empty message format, on purpose. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

static int check_failures;

__attribute__((format(printf, 4, 5))) static inline void
check_failed(const char *file, int line, const char *expr, const char *fmt, ...)
{
    check_failures++;
    fprintf(CHECK_OUT, "%s:%d: CHECK failed: %s", file, line, expr);
    if (*fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", CHECK_OUT);
        vfprintf(CHECK_OUT, fmt, ap);
        va_end(ap);
    }
    fputc('\n', CHECK_OUT);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) check_failed(__FILE__, __LINE__, #cond, "" __VA_ARGS__);  \
    } while (0)

#define CHECK_EQ_U64(got, want)                                                \
    do {                                                                       \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);             \
        if (got_ != want_)                                                     \
            check_failed(__FILE__, __LINE__, #got " == " #want,                \
                         "%" PRIu64 ", want %" PRIu64, got_, want_);           \
    } while (0)

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *got_ = (got), *want_ = (want);                             \
        if (!got_ || strcmp(got_, want_) != 0)                                 \
            check_failed(__FILE__, __LINE__, #got " == " #want,                \
                         "\"%s\", want \"%s\"", got_ ? got_ : "(null)", want_); \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                            \
    do {                                                                       \
        const char *hay_ = (hay), *needle_ = (needle);                         \
        if (!hay_ || !strstr(hay_, needle_))                                   \
            check_failed(__FILE__, __LINE__, #hay " contains " #needle,        \
                         "\"%s\" not found", needle_);                         \
    } while (0)

/* A fixed xorshift64 sequence: tests that want many addresses or sizes get
 * the same ones every run; check_random_restart() begins it again. */
#define CHECK_RANDOM_SEED 88172645463325252ull
static uint64_t check_random_state __attribute__((unused)) = CHECK_RANDOM_SEED;

static inline uint64_t check_random(void)
{
    check_random_state ^= check_random_state << 13;
    check_random_state ^= check_random_state >> 7;
    check_random_state ^= check_random_state << 17;
    return check_random_state;
}

static inline void check_random_restart(void)
{
    check_random_state = CHECK_RANDOM_SEED;
}

/* main's exit status: 1 (and the number of failures on CHECK_OUT) when a
 * check failed, else 0. */
static inline int check_status(void)
{
    if (!check_failures) return 0;
    fprintf(CHECK_OUT, "%d check(s) failed\n", check_failures);
    return 1;
}

#endif /* TIDEMARK_TESTS_CHECK_H */
