/* tests/preload/test_probe_count.c - the probe's word counters
 * (preload/probe_count.c): the portable loop against counts made here bit
 * by bit, and the dispatching entry (the AVX2 loop on a CPU that has it)
 * against the portable loop, on every kind of content a block holds, at
 * every length around the vector loop's groups of 4 words and batches of
 * 63 groups, from even and odd word offsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/probe_count.h"
#include "../check.h"

/* The definitions, one bit or field at a time. */
static void count_by_hand(struct tmk_word_counts *c, const uint8_t *b, uint64_t off, size_t n)
{
    memset(c, 0, sizeof *c);
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--) w = w << 8 | b[8 * i + (size_t)k];
        c->nz64 += w != 0;
        c->u32ge2 += ((uint32_t)w >= 2) + ((uint32_t)(w >> 32) >= 2);
        for (int bit = 0; bit < 64; bit += 2) {
            unsigned pair = (unsigned)(w >> bit) & 3;
            c->pairs00 += pair == 0;
            c->pairs11 += pair == 3;
            c->pairs10 += pair == 2;
        }
        if ((off / 8 + i) % 2 == 1) c->sum16 += (uint32_t)w;
    }
    if (n % 8 >= 4) {
        uint32_t v = 0;
        for (int k = 3; k >= 0; k--) v = v << 8 | b[8 * words + (size_t)k];
        c->nz64 += v != 0;
        c->u32ge2 += v >= 2;
        for (int bit = 0; bit < 32; bit += 2) {
            unsigned pair = (v >> bit) & 3;
            c->pairs00 += pair == 0;
            c->pairs11 += pair == 3;
            c->pairs10 += pair == 2;
        }
    }
}

static void expect_same(const char *what, const char *pattern, size_t n, uint64_t off,
                        const struct tmk_word_counts *want, const struct tmk_word_counts *got)
{
    if (check_failures > 10) return; /* enough to see what is wrong */
    CHECK(memcmp(want, got, sizeof *want) == 0,
          "%s, %s, %zu bytes from offset %llu: nz64 %llu/%llu u32ge2 %llu/%llu pairs00 "
          "%llu/%llu pairs11 %llu/%llu pairs10 %llu/%llu sum16 %llu/%llu (want/got)",
          what, pattern, n, (unsigned long long)off, (unsigned long long)want->nz64,
          (unsigned long long)got->nz64, (unsigned long long)want->u32ge2,
          (unsigned long long)got->u32ge2, (unsigned long long)want->pairs00,
          (unsigned long long)got->pairs00, (unsigned long long)want->pairs11,
          (unsigned long long)got->pairs11, (unsigned long long)want->pairs10,
          (unsigned long long)got->pairs10, (unsigned long long)want->sum16,
          (unsigned long long)got->sum16);
}

/* Block contents the probe meets: zeros, all ones, khash flags (pairs of
 * 10 and 00), small u32 counts (GLib hashes, uthash counts), pointers,
 * random bytes, and bytes 0x01 / 0x02 around the u32 >= 2 edge. */
static const char *const patterns[] = {"zeros", "ones", "khash", "small", "pointers",
                                       "random", "edge"};

static void fill(uint8_t *b, size_t n, int pattern)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = check_random();
        switch (pattern) {
        case 0: b[i] = 0; break;
        case 1: b[i] = 0xff; break;
        case 2: b[i] = (uint8_t)((r & 0x55) << 1); break; /* each pair 10 or 00 */
        case 3: b[i] = i % 4 == 0 ? (uint8_t)(r % 4) : 0; break;
        case 4: b[i] = i % 8 < 6 ? (uint8_t)r : 0; break;
        case 5: b[i] = (uint8_t)r; break;
        default: b[i] = (uint8_t)(r % 3); break;
        }
    }
}

int main(void)
{
    enum { MAX = 64 * 8 * 4 + 200 }; /* past one batch of 63 groups of 4 words */
    static uint8_t block[MAX + 64];
    static const size_t lengths[] = {0, 3, 4, 7, 8, 12, 31, 32, 36, 40, 63, 64, 100, 255, 256,
                                     1000, 2012, 2016, 2020, 2024, 2048, 2052, MAX};
    int cases = 0;
    for (int pattern = 0; pattern < 7; pattern++) {
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            for (uint64_t off = 0; off <= 24; off += 8) {
                for (size_t misalign = 0; misalign < 2; misalign++) {
                    size_t n = lengths[li];
                    uint8_t *b = block + misalign * 4; /* loads need not be aligned */
                    fill(b, n, pattern);
                    struct tmk_word_counts want, got;
                    count_by_hand(&want, b, off, n);
                    memset(&got, 0, sizeof got);
                    tmk_count_words_portable(&got, b, off, n);
                    expect_same("portable", patterns[pattern], n, off, &want, &got);
                    memset(&got, 0, sizeof got);
                    tmk_count_words(&got, b, off, n);
                    expect_same("dispatched", patterns[pattern], n, off, &want, &got);
                    cases++;
                }
            }
        }
    }
    /* The counts add to what is there already (a block is counted a chunk
     * at a time). */
    fill(block, 2048, 5);
    struct tmk_word_counts whole, parts;
    count_by_hand(&whole, block, 0, 2048);
    memset(&parts, 0, sizeof parts);
    tmk_count_words(&parts, block, 0, 1024);
    tmk_count_words(&parts, block + 1024, 1024, 1024);
    expect_same("two chunks", "random", 2048, 0, &whole, &parts);
#if defined(__x86_64__)
    __builtin_cpu_init();
    printf("%d cases; this CPU %s AVX2\n", cases,
           __builtin_cpu_supports("avx2") ? "has" : "has no");
#endif
    return check_status();
}
