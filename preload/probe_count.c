/* preload/probe_count.c - the word counters of a probe (probe.c): a
 * portable loop, and an AVX2 loop chosen once at run time where the CPU
 * has it. They give the same counts (tests/preload/test_probe_count.c
 * compares them on every pattern and length).
 *
 * Why two: the probe pass at exit reads every large block still live, up
 * to 1 GiB. With the portable loop (about 25 instructions a word: three
 * popcounts of masked pairs, two u32 compares, the u64 test, the sum)
 * counting took 0.27 s of a program that ends holding 1 GiB in 1 MiB
 * blocks (bench/RESULTS.md, "Large blocks alive at exit"); 32 bytes a turn
 * in AVX2, with the pairs' popcounts done a byte at a time by table lookup,
 * it takes about what the copy process_vm_readv makes before it takes.
 */
#include <string.h>

#include "probe_count.h"

/* ---- the portable loop ---- */

/* popcnt where the CPU has it (x86-64's baseline has not: libgcc's
 * __popcountdi2 was half of a probe pass); chosen once by an ifunc. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define POPCNT_CLONES
#endif

/* Words [first, words) of b; b's word 0 is the block's word off / 8. */
POPCNT_CLONES static void count_word_range(struct tmk_word_counts *c, const uint8_t *b,
                                           uint64_t off, size_t first, size_t words)
{
    const uint64_t m55 = 0x5555555555555555ull;
    for (size_t i = first; i < words; i++) {
        uint64_t w;
        memcpy(&w, b + 8 * i, 8);
        uint32_t lo = (uint32_t)w, hi = (uint32_t)(w >> 32);
        c->nz64 += w != 0;
        c->u32ge2 += (uint64_t)(lo >= 2) + (hi >= 2);
        c->pairs00 += (uint64_t)__builtin_popcountll(~(w | (w >> 1)) & m55);
        c->pairs11 += (uint64_t)__builtin_popcountll(w & (w >> 1) & m55);
        c->pairs10 += (uint64_t)__builtin_popcountll((w >> 1) & ~w & m55);
        if (((off / 8 + i) & 1) == 1) c->sum16 += lo; /* bytes 8..15 of a unit */
    }
}

/* The u32 after the last whole word, when n % 8 >= 4. */
static void count_last_u32(struct tmk_word_counts *c, const uint8_t *b, size_t n)
{
    if (n % 8 < 4) return;
    uint32_t v;
    memcpy(&v, b + 8 * (n / 8), 4);
    c->nz64 += v != 0;
    c->u32ge2 += v >= 2;
    c->pairs00 += (uint64_t)__builtin_popcount(~(v | (v >> 1)) & 0x55555555u);
    c->pairs11 += (uint64_t)__builtin_popcount(v & (v >> 1) & 0x55555555u);
    c->pairs10 += (uint64_t)__builtin_popcount((v >> 1) & ~v & 0x55555555u);
}

void tmk_count_words_portable(struct tmk_word_counts *c, const uint8_t *b, uint64_t off, size_t n)
{
    count_word_range(c, b, off, 0, n / 8);
    count_last_u32(c, b, n);
}

/* ---- the AVX2 loop ---- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_LOOP 1

#define AVX2 __attribute__((target("avx2")))

/* Set bits of each byte of x (0..8), by two 16-entry lookups of a nibble. */
AVX2 static inline __m256i popcount_bytes(__m256i x)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(x, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low4);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

AVX2 static inline uint64_t sum_u64_lanes(__m256i v)
{
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
}

/* The u32 lanes' sum, as u64 lanes. */
AVX2 static inline __m256i widen_u32_sum(__m256i v)
{
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffff);
    return _mm256_add_epi64(_mm256_and_si256(v, lo32), _mm256_srli_epi64(v, 32));
}

/* Whole groups of 4 words; returns how many words it counted. A byte of a
 * pair mask has at most 4 bits set, so a byte accumulator takes 63 turns
 * (252) before its bytes are summed into u64 lanes (sad). */
AVX2 static size_t count_avx2(struct tmk_word_counts *c, const uint8_t *b, uint64_t off,
                              size_t words)
{
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
    const __m256i m55 = _mm256_set1_epi64x(0x5555555555555555ll);
    /* the low u32 of the words at odd places from the block's start */
    const __m256i at8 = (off / 8) & 1 ? _mm256_set_epi64x(0, 0xffffffff, 0, 0xffffffff)
                                      : _mm256_set_epi64x(0xffffffff, 0, 0xffffffff, 0);
    __m256i zeros = zero, le1 = zero, sum16 = zero, p00 = zero, p11 = zero, p10 = zero;
    size_t i = 0;
    while (words - i >= 4) {
        size_t turns = (words - i) / 4 < 63 ? (words - i) / 4 : 63;
        __m256i a00 = zero, a11 = zero, a10 = zero, le1_32 = zero;
        for (size_t k = 0; k < turns; k++, i += 4) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(b + 8 * i));
            zeros = _mm256_sub_epi64(zeros, _mm256_cmpeq_epi64(v, zero));
            le1_32 = _mm256_sub_epi32(le1_32, _mm256_cmpeq_epi32(_mm256_min_epu32(v, one), v));
            sum16 = _mm256_add_epi64(sum16, _mm256_and_si256(v, at8));
            __m256i y = _mm256_srli_epi64(v, 1); /* each pair's high bit, at its low bit */
            __m256i both = _mm256_and_si256(v, y), either = _mm256_or_si256(v, y);
            __m256i high_only = _mm256_andnot_si256(v, y);
            a00 = _mm256_add_epi8(a00, popcount_bytes(_mm256_andnot_si256(either, m55)));
            a11 = _mm256_add_epi8(a11, popcount_bytes(_mm256_and_si256(both, m55)));
            a10 = _mm256_add_epi8(a10, popcount_bytes(_mm256_and_si256(high_only, m55)));
        }
        p00 = _mm256_add_epi64(p00, _mm256_sad_epu8(a00, zero));
        p11 = _mm256_add_epi64(p11, _mm256_sad_epu8(a11, zero));
        p10 = _mm256_add_epi64(p10, _mm256_sad_epu8(a10, zero));
        le1 = _mm256_add_epi64(le1, widen_u32_sum(le1_32));
    }
    c->nz64 += i - sum_u64_lanes(zeros);
    c->u32ge2 += 2 * i - sum_u64_lanes(le1);
    c->sum16 += sum_u64_lanes(sum16);
    c->pairs00 += sum_u64_lanes(p00);
    c->pairs11 += sum_u64_lanes(p11);
    c->pairs10 += sum_u64_lanes(p10);
    return i;
}

static int cpu_has_avx2(void)
{
    static int has = -1; /* -1: not asked yet; two threads asking get the same answer */
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&has, h, __ATOMIC_RELAXED);
    }
    return h;
}
#endif

void tmk_count_words(struct tmk_word_counts *c, const uint8_t *b, uint64_t off, size_t n)
{
#ifdef HAVE_AVX2_LOOP
    if (cpu_has_avx2()) {
        size_t done = count_avx2(c, b, off, n / 8);
        count_word_range(c, b, off, done, n / 8);
        count_last_u32(c, b, n);
        return;
    }
#endif
    tmk_count_words_portable(c, b, off, n);
}
