/* tests/preload/test_compress.c - the trace blocks' compression
 * (preload/compress.c), compiled in without the shim:
 *  - every block comes back byte for byte from its zstd frame;
 *  - heap records of sizes at random (W4's shape) get the literal setup,
 *    records that repeat (stacks) keep the usual one, and a thread's choice
 *    is sampled again every few blocks;
 *  - a block smaller than the compressed frame is stored raw.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdlib.h>
#include <zstd.h>

#include "../../preload/internal.h"
#include "../check.h"

struct tmk_options tmk_opt; /* options.c's, which this test leaves out */

#define BLOCK TMK_BUFFER_BYTES

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* ALLOC_INFO/FREE_INFO of one stack and sizes 32..96 at random: W4. */
static void fill_heap_records(uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i += 3) {
        uint32_t r = next_random(), size = 32 + r % 65;
        b[i] = (uint8_t)((r & 0x100 ? 0x60 : 0x40) | (size & 31));
        b[i + 1] = 1;
        b[i + 2] = (uint8_t)(size >> 5);
    }
    for (size_t i = n / 3 * 3; i < n; i++) b[i] = 0;
}

/* STACK-like records: 24 frames from a few hundred, mostly shared. */
static void fill_stacks(uint8_t *b, size_t n)
{
    static uint8_t frames[300][8];
    for (int f = 0; f < 300; f++)
        for (int k = 0; k < 8; k++) frames[f][k] = (uint8_t)(k < 5 ? 0x40 + f % 7 : f * 7 + k);
    size_t i = 0;
    while (i + 2 + 24 * 8 <= n) {
        b[i++] = 0x04;
        b[i++] = 24;
        uint32_t first = next_random() % 280;
        for (int d = 0; d < 24; d++, i += 8) memcpy(b + i, frames[(first + d) % 300], 8);
    }
    while (i < n) b[i++] = 0;
}

/* Compresses a block of thread and checks it comes back. */
static void round_trip(uint32_t thread, const uint8_t *block, size_t n, const char *what)
{
    size_t size = n;
    uint32_t flags;
    const uint8_t *stored = tmk_compress_block(thread, block, &size, &flags);
    if (!(flags & TMK_BLOCK_ZSTD)) {
        CHECK(stored == block && size == n, "%s: raw", what);
        return;
    }
    static uint8_t back[BLOCK];
    size_t got = ZSTD_decompress(back, sizeof back, stored, size);
    CHECK(!ZSTD_isError(got) && got == n && memcmp(back, block, n) == 0,
          "%s: the frame gives the block back", what);
}

int main(void)
{
    static uint8_t block[BLOCK];
    tmk_opt.compress = 1;
    tmk_compress_init();

    fill_heap_records(block, BLOCK);
    round_trip(1, block, BLOCK, "heap records");
    CHECK(tmk_compress_literal_choice(1), "heap records of sizes at random: literal setup");
    fill_stacks(block, BLOCK);
    round_trip(2, block, BLOCK, "stacks");
    CHECK(!tmk_compress_literal_choice(2), "stacks: the usual setup");

    /* thread 1 now writes stacks: its literal choice is sampled again
     * within 8 blocks; each block meanwhile reads back */
    int flipped = 0;
    for (int k = 0; k < 8 && !flipped; k++) {
        round_trip(1, block, BLOCK, "stacks of a literal thread");
        flipped = !tmk_compress_literal_choice(1);
    }
    CHECK(flipped, "the choice is sampled again");

    /* a small block is not sampled and reads back */
    fill_heap_records(block, 5000);
    round_trip(3, block, 5000, "small block");
    CHECK(!tmk_compress_literal_choice(3), "no sample of a small block");

    /* bytes at random: no frame is smaller, the block is stored raw */
    for (size_t i = 0; i < BLOCK; i++) block[i] = (uint8_t)next_random();
    size_t size = BLOCK;
    uint32_t flags;
    CHECK(tmk_compress_block(4, block, &size, &flags) == block && flags == 0 && size == BLOCK);
    return check_status();
}
