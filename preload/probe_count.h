/* preload/probe_count.h - probe_count.c's interface: the counters a probe
 * takes over a block's little-endian words (probe.c, trace-format.md's
 * PROBE record).
 */
#ifndef TIDEMARK_PRELOAD_PROBE_COUNT_H
#define TIDEMARK_PRELOAD_PROBE_COUNT_H

#include <stddef.h>
#include <stdint.h>

struct tmk_word_counts {
    uint64_t nz64;    /* u64 words that are not 0 (and a last u32, below) */
    uint64_t u32ge2;  /* u32 words >= 2 */
    uint64_t pairs00; /* 2-bit pairs 00 */
    uint64_t pairs11; /* 2-bit pairs 11 */
    uint64_t pairs10; /* 2-bit pairs 10 (the high bit set, the low one not) */
    uint64_t sum16;   /* the u32 at offset 8 of every 16-byte unit, summed */
};

/* Adds to c the counters of the n bytes at b, which are the block's bytes
 * from offset off: n / 8 words, then a last u32 when n % 8 >= 4 (arrays
 * of u32 end on 4 bytes); the rest of n is not counted. Which words are at
 * offset 8 of a unit follows from off. The AVX2 loop where the CPU has it,
 * else the portable one: the same counts (tests/preload/test_probe_count.c). */
void tmk_count_words(struct tmk_word_counts *c, const uint8_t *b, uint64_t off, size_t n)
    __attribute__((visibility("hidden")));

/* The portable loop, for that test. */
void tmk_count_words_portable(struct tmk_word_counts *c, const uint8_t *b, uint64_t off, size_t n)
    __attribute__((visibility("hidden")));

#endif /* TIDEMARK_PRELOAD_PROBE_COUNT_H */
