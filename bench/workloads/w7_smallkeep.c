/* bench/workloads/w7_smallkeep.c - W7, millions of small blocks kept.
 *
 * A program that builds a large index of small records (a parser's syntax
 * tree, an interpreter's objects, a cache of short strings): one malloc of
 * 24 to 56 bytes per record, linked to the one before, one record in eight
 * replaced along the way, all of them alive at the peak, then freed in
 * order. What a profiler keeps per live block shows here: full mode's block
 * map (preload/ptrmap.c) would take 11 to 16 bytes of each.
 *
 * Deterministic; prints the records made, the bytes live at the peak and
 * its peak RSS.
 *
 * Usage: bench_w7 [--records N]   (default 3,000,000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_options.h"
#include "bench_random.h"
#include "peak_rss.h"

struct record {
    struct record *next;
    uint64_t key;
    char payload[]; /* 8 to 40 bytes */
};

static struct record *make(uint64_t *seed, struct record *next, uint64_t *bytes)
{
    size_t size = 24 + (size_t)(next_random(seed) % 5) * 8;
    struct record *r = malloc(size);
    if (!r) {
        fprintf(stderr, "bench_w7: out of memory\n");
        exit(1);
    }
    r->next = next;
    r->key = next_random(seed);
    memset(r->payload, (int)(r->key & 0xff), size - sizeof *r);
    *bytes += size;
    return r;
}

int main(int argc, char **argv)
{
    uint64_t n = 3000000;
    const struct bench_option opt[] = {{"--records", &n}};
    if (bench_options(argc, argv, opt, 1) != 0 || n == 0 || n > (1ull << 32)) {
        fprintf(stderr, "usage: bench_w7 [--records N]  (N = 1..2^32)\n");
        return 2;
    }
    uint64_t seed = 0x9E3779B97F4A7C15ull, bytes = 0, sum = 0;
    struct record *head = NULL;
    for (uint64_t i = 0; i < n; i++) {
        head = make(&seed, head, &bytes);
        if (i % 8 == 7) { /* the record before the head is replaced */
            struct record *old = head->next;
            head->next = make(&seed, old->next, &bytes);
            free(old);
        }
    }
    for (struct record *r = head, *next; r; r = next) {
        next = r->next;
        sum += r->key;
        free(r);
    }
    printf("w7 records=%llu bytes_made=%llu checksum=%016llx hwm_kib=%lu\n",
           (unsigned long long)n, (unsigned long long)bytes, (unsigned long long)sum,
           bench_peak_rss_kib());
    return 0;
}
