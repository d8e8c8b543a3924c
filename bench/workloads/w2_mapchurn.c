/* bench/workloads/w2_mapchurn.c - W2, map churn: the `tables`-mode workload.
 *
 * A gomap (uint64 -> 32-byte value) is filled to a peak, looked up, then
 * drained to a low water mark, for many cycles. Every other cycle the map is
 * shrunk (gomap_shrink), every fourth it is replaced by a fresh one, so the
 * shim sees bucket arrays come and go, not just one growth. A few ordinary
 * allocations (one small record per 1024 inserts) ride along.
 *
 * Deterministic; prints a checksum of everything looked up, and the number of
 * map operations and of ordinary malloc/free pairs.
 *
 * Usage: bench_w2 [--cycles C] [--peak P] [--low L]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_options.h"
#include "peak_rss.h"
#include "tidemark/gomap.h"

struct value {
    uint64_t words[4];
};

struct run {
    uint64_t cycles, peak, low;
    uint64_t ops, mallocs, checksum;
};

static uint64_t mix(uint64_t x)
{
    /* splitmix64 finalizer: spreads consecutive ids over the key space. */
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static gomap *new_map(void)
{
    struct gomap_options o = {.key_size = sizeof(uint64_t),
                              .value_size = sizeof(struct value),
                              .label = "bench_w2 sessions"};
    return gomap_new(&o);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_w2: %s\n", what);
    exit(3);
}

/* Inserts ids [first, first+n); one small ordinary allocation per 1024. */
static void fill(struct run *r, gomap *m, uint64_t first, uint64_t n)
{
    void *record = NULL;
    for (uint64_t id = first; id < first + n; id++) {
        uint64_t key = mix(id);
        struct value *v = gomap_put(m, &key);
        if (!v)
            die("out of memory");
        v->words[0] = id;
        v->words[3] = key;
        r->ops++;
        if ((id & 1023) == 0) {
            free(record);
            record = malloc(48 + (id & 127));
            if (!record)
                die("out of memory");
            memset(record, (int)(id & 0xff), 48);
            r->mallocs++;
        }
    }
    free(record);
}

static void look_up(struct run *r, gomap *m, uint64_t first, uint64_t n)
{
    for (uint64_t id = first; id < first + n; id++) {
        uint64_t key = mix(id);
        const struct value *v = gomap_get(m, &key);
        r->checksum += v ? v->words[0] ^ v->words[3] : 1;
        r->ops++;
    }
}

static void drain(struct run *r, gomap *m, uint64_t first, uint64_t n)
{
    for (uint64_t id = first; id < first + n; id++) {
        uint64_t key = mix(id);
        r->checksum += (uint64_t)gomap_delete(m, &key);
        r->ops++;
    }
}

static int parse_args(int argc, char **argv, struct run *r)
{
    const struct bench_option opt[] = {
        {"--cycles", &r->cycles}, {"--peak", &r->peak}, {"--low", &r->low}};
    return bench_options(argc, argv, opt, 3) == 0 && r->cycles > 0 && r->low < r->peak ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct run r = {.cycles = 16, .peak = 250000, .low = 2500};
    if (parse_args(argc, argv, &r) != 0) {
        fprintf(stderr, "usage: bench_w2 [--cycles C] [--peak P] [--low L] (L < P)\n");
        return 2;
    }
    gomap *m = new_map();
    if (!m)
        die("out of memory");
    uint64_t base = 0; /* ids [base, base+low) survive into the next cycle */
    fill(&r, m, 0, r.low);
    for (uint64_t c = 0; c < r.cycles; c++) {
        fill(&r, m, base + r.low, r.peak - r.low);
        look_up(&r, m, base, r.peak);
        drain(&r, m, base, r.peak - r.low);
        base += r.peak - r.low;
        r.checksum += gomap_len(m);
        if (c % 4 == 3) {
            gomap *fresh = gomap_clone(m);
            if (!fresh)
                die("out of memory");
            gomap_free(m);
            m = fresh;
        } else if (c % 2 == 1 && gomap_shrink(m) != 0) {
            die("out of memory");
        }
    }
    struct gomap_stats st;
    gomap_stats(m, &st);
    printf("w2 cycles=%llu peak=%llu map_ops=%llu mallocs=%llu frees=%llu len=%llu "
           "bucket_bytes=%llu checksum=%016llx hwm_kib=%lu\n",
           (unsigned long long)r.cycles, (unsigned long long)r.peak, (unsigned long long)r.ops,
           (unsigned long long)r.mallocs, (unsigned long long)r.mallocs,
           (unsigned long long)gomap_len(m), (unsigned long long)st.bucket_bytes,
           (unsigned long long)r.checksum, bench_peak_rss_kib());
    gomap_free(m);
    return 0;
}
