/* bench/workloads/bench_random.h - the workloads' random numbers: xorshift64*,
 * fast and deterministic (every run of a workload makes the same calls),
 * good enough for workload shapes.
 */
#ifndef BENCH_RANDOM_H
#define BENCH_RANDOM_H

#include <stdint.h>

static inline uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif /* BENCH_RANDOM_H */
