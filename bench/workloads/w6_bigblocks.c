/* bench/workloads/w6_bigblocks.c - W6, large blocks alive at exit.
 *
 * A program that ends holding much memory in large blocks (buffers, caches,
 * images, arenas): every block of TIDEMARK_PROBE_MIN bytes or more is one
 * the shim probes (its contents counted, preload/probe.c), once a second on
 * the sampler thread and all of them in the pass at exit, on the exiting
 * thread: what that last pass costs is what this workload measures. Blocks
 * of 64 KiB to 2 MiB, written once (each word a different non-zero value, as
 * data is, so no probe counter is trivially zero), a quarter of them freed
 * and allocated again along the way; nothing is freed at the end.
 *
 * Deterministic; prints the number of blocks, the bytes live at exit and
 * its peak RSS.
 *
 * Usage: bench_w6 [--mib M]   (M = MiB live at exit, default 1024)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_options.h"
#include "bench_random.h"
#include "peak_rss.h"

/* 64 KiB .. 2 MiB, in 64 KiB steps. */
static size_t block_size(uint64_t *s)
{
    return (size_t)(1 + next_random(s) % 32) << 16;
}

static uint64_t *fill(size_t bytes, uint64_t seed)
{
    uint64_t *b = malloc(bytes);
    if (!b) {
        fprintf(stderr, "bench_w6: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < bytes / 8; i++) b[i] = seed + i;
    return b;
}

int main(int argc, char **argv)
{
    uint64_t mib = 1024;
    const struct bench_option opt[] = {{"--mib", &mib}};
    if (bench_options(argc, argv, opt, 1) != 0 || mib == 0 || mib > (1u << 20)) {
        fprintf(stderr, "usage: bench_w6 [--mib M]  (M = 1..1048576 MiB live at exit)\n");
        return 2;
    }
    uint64_t want = mib << 20, have = 0, seed = 88172645463325252ull;
    size_t n = 0, cap = 1024;
    uint64_t **blocks = malloc(cap * sizeof *blocks);
    size_t *sizes = malloc(cap * sizeof *sizes);
    if (!blocks || !sizes) return 1;
    while (have < want) {
        if (n == cap) {
            cap *= 2;
            blocks = realloc(blocks, cap * sizeof *blocks);
            sizes = realloc(sizes, cap * sizeof *sizes);
            if (!blocks || !sizes) return 1;
        }
        size_t bytes = block_size(&seed);
        blocks[n] = fill(bytes, seed);
        sizes[n++] = bytes;
        have += bytes;
        if (n % 4 == 0) { /* one of the last four again, at another size */
            size_t k = n - 1 - (size_t)(next_random(&seed) % 4);
            have -= sizes[k];
            free(blocks[k]);
            sizes[k] = block_size(&seed);
            blocks[k] = fill(sizes[k], seed);
            have += sizes[k];
        }
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += blocks[i][sizes[i] / 16];
    printf("w6 blocks=%zu live_bytes=%llu checksum=%016llx hwm_kib=%lu\n", n,
           (unsigned long long)have, (unsigned long long)sum, bench_peak_rss_kib());
    return 0;
}
