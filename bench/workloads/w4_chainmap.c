/* bench/workloads/w4_chainmap.c - W4, a chained hash map: one malloc per entry.
 *
 * The shape of most hand-written C maps (and of std::unordered_map): an array
 * of bucket heads, each entry its own malloc'd node (header, key, a value of
 * 8..72 bytes) on its bucket's chain. Entries are inserted to a peak, looked
 * up, then deleted down to a low water mark, in waves; the bucket array
 * doubles when the load passes 1 and halves when it falls under 1/8, so it
 * comes and goes as well (from 4 KiB up to 4 MiB at the default peak: the
 * large ones are the blocks the shim probes, TIDEMARK_PROBE_MIN). Nobody
 * annotates this map: in `tables` mode the shim has nothing to record but
 * those probed arrays, so what it costs there is its per-call overhead.
 *
 * Deterministic: fixed keys (a mixed counter); the checksum sums looked-up
 * values and the live count after each wave. Prints the exact number of
 * allocations and frees (entries and bucket arrays: the event count).
 *
 * Usage: bench_w4 [--allocs M] [--peak P] [--low L]
 *        (M = entries to insert in all, default 4,000,000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_options.h"
#include "peak_rss.h"

struct entry {
    struct entry *next;
    uint64_t key;
    uint32_t len;
    unsigned char value[]; /* len bytes */
};

struct map {
    struct entry **heads;
    uint64_t nbuckets; /* a power of two */
    uint64_t len;
};

struct run {
    uint64_t allocs, peak, low;
    uint64_t mallocs, frees, checksum;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_w4: %s\n", what);
    exit(3);
}

static uint64_t mix(uint64_t x)
{
    /* splitmix64 finalizer: spreads consecutive ids over the key space. */
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint64_t bucket_of(const struct map *m, uint64_t key)
{
    return (key ^ (key >> 29)) & (m->nbuckets - 1);
}

/* Moves every entry to a new array of n buckets (malloc new, free old). */
static void rehash(struct run *r, struct map *m, uint64_t n)
{
    struct entry **heads = calloc(n, sizeof *heads);
    if (!heads)
        die("out of memory");
    r->mallocs++;
    struct entry **old = m->heads;
    uint64_t oldn = m->nbuckets;
    m->heads = heads;
    m->nbuckets = n;
    for (uint64_t b = 0; b < oldn; b++) {
        struct entry *e = old[b];
        while (e) {
            struct entry *next = e->next;
            uint64_t i = bucket_of(m, e->key);
            e->next = heads[i];
            heads[i] = e;
            e = next;
        }
    }
    if (old) {
        free(old);
        r->frees++;
    }
}

static void map_init(struct run *r, struct map *m)
{
    m->heads = NULL;
    m->nbuckets = 0;
    m->len = 0;
    rehash(r, m, 512);
}

static void map_put(struct run *r, struct map *m, uint64_t key)
{
    uint32_t len = 8 + (uint32_t)(key % 65); /* 8..72 value bytes */
    struct entry *e = malloc(sizeof *e + len);
    if (!e)
        die("out of memory");
    r->mallocs++;
    e->key = key;
    e->len = len;
    memset(e->value, (int)(key & 0xff), len);
    uint64_t i = bucket_of(m, key);
    e->next = m->heads[i];
    m->heads[i] = e;
    if (++m->len > m->nbuckets)
        rehash(r, m, m->nbuckets * 2);
}

static const struct entry *map_get(const struct map *m, uint64_t key)
{
    const struct entry *e = m->heads[bucket_of(m, key)];
    while (e && e->key != key)
        e = e->next;
    return e;
}

static int map_delete(struct run *r, struct map *m, uint64_t key)
{
    struct entry **link = &m->heads[bucket_of(m, key)];
    while (*link && (*link)->key != key)
        link = &(*link)->next;
    struct entry *e = *link;
    if (!e)
        return 0;
    *link = e->next;
    r->checksum += e->value[e->len - 1];
    free(e);
    r->frees++;
    if (--m->len < m->nbuckets / 8 && m->nbuckets > 512)
        rehash(r, m, m->nbuckets / 2);
    return 1;
}

static void map_free(struct run *r, struct map *m)
{
    for (uint64_t b = 0; b < m->nbuckets; b++) {
        struct entry *e = m->heads[b];
        while (e) {
            struct entry *next = e->next;
            free(e);
            r->frees++;
            e = next;
        }
    }
    free(m->heads);
    r->frees++;
}

static int parse_args(int argc, char **argv, struct run *r)
{
    const struct bench_option opt[] = {
        {"--allocs", &r->allocs}, {"--peak", &r->peak}, {"--low", &r->low}};
    return bench_options(argc, argv, opt, 3) == 0 && r->allocs > 0 && r->low < r->peak ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct run r = {.allocs = 4000000, .peak = 400000, .low = 4000};
    if (parse_args(argc, argv, &r) != 0) {
        fprintf(stderr, "usage: bench_w4 [--allocs M] [--peak P] [--low L] (L < P)\n");
        return 2;
    }
    struct map m;
    map_init(&r, &m);
    uint64_t next_id = 0, oldest = 0, inserted = 0, waves = 0;
    while (inserted < r.allocs) {
        while (m.len < r.peak && inserted < r.allocs) {
            map_put(&r, &m, mix(next_id++));
            inserted++;
        }
        for (uint64_t id = oldest; id < next_id; id += 3) {
            const struct entry *e = map_get(&m, mix(id));
            r.checksum += e ? e->value[0] : 1;
        }
        while (m.len > r.low)
            r.checksum += (uint64_t)map_delete(&r, &m, mix(oldest++));
        r.checksum += m.len;
        waves++;
    }
    map_free(&r, &m);
    printf("w4 waves=%llu inserted=%llu allocs=%llu frees=%llu events=%llu "
           "checksum=%016llx hwm_kib=%lu\n",
           (unsigned long long)waves, (unsigned long long)inserted,
           (unsigned long long)r.mallocs, (unsigned long long)r.frees,
           (unsigned long long)(r.mallocs + r.frees), (unsigned long long)r.checksum,
           bench_peak_rss_kib());
    return r.mallocs == r.frees ? 0 : 1;
}
