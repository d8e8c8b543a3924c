/* gomap/hash.c - gomap's default key hash and its random numbers.
 *
 * The default hash is a seeded 64-bit hash of the key bytes built from a
 * 64x64->128-bit multiply-and-fold mixer; 8-byte keys use the inline
 * gm_hash8 (internal.h). Seeds, the random iteration start and Go's
 * probabilistic overflow counting come from gm_fastrand, a per-thread
 * generator seeded once from getrandom (as Go's per-M fastrand).
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "internal.h"

static inline uint64_t read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t gm_default_hash(const void *key, size_t n, uint64_t seed)
{
    const unsigned char *p = key;
    if (n == 8)
        return gm_hash8(read64(p), seed);
    uint64_t h = seed ^ GM_K0 ^ ((uint64_t)n * GM_K1);
    size_t left = n;
    while (left >= 16) {
        h = gm_mix(read64(p) ^ GM_K1 ^ h, read64(p + 8) ^ GM_K2 ^ seed);
        p += 16;
        left -= 16;
    }
    if (left >= 8) {
        h = gm_mix(read64(p) ^ GM_K1 ^ h, GM_K2 ^ seed);
        p += 8;
        left -= 8;
    }
    if (left) {
        uint64_t tail = 0;
        memcpy(&tail, p, left);
        h = gm_mix(tail ^ GM_K2 ^ h, GM_K0 ^ seed ^ left);
    }
    return gm_mix(h ^ GM_K0, GM_K1 ^ (uint64_t)n);
}

static __thread uint64_t rng_state;

static uint64_t initial_state(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&rng_state;
    }
    return s | 1; /* never 0, so 0 means "not seeded yet" */
}

uint64_t gm_fastrand(void)
{
    if (rng_state == 0)
        rng_state = initial_state();
    rng_state += GM_K0;
    return gm_mix(rng_state, rng_state ^ GM_K1);
}
