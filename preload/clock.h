/* preload/clock.h - event times: ns since the trace's start (tmk_start_ns,
 * set by lifecycle.c), from CLOCK_MONOTONIC or, for heap records by info,
 * its coarse form.
 */
#ifndef TIDEMARK_PRELOAD_CLOCK_H
#define TIDEMARK_PRELOAD_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "compiler.h"

extern uint64_t tmk_start_ns TMK_HIDDEN;  /* CLOCK_MONOTONIC at start */

static inline uint64_t tmk_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Event time: ns since the file's start. */
static inline uint64_t tmk_now(void)
{
    return tmk_clock_ns() - tmk_start_ns;
}

/* CLOCK_MONOTONIC_COARSE as an event time (ns since the file's start, 0
 * before it): the kernel's tick, read without the TSC (14 cycles here
 * against 65 for CLOCK_MONOTONIC). One global value for every CPU, so it
 * never runs backwards from one thread to another. */
static inline uint64_t tmk_now_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return ns > tmk_start_ns ? ns - tmk_start_ns : 0;
}

#endif /* TIDEMARK_PRELOAD_CLOCK_H */
