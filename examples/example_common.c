/* example_common.c - measuring and printing for the examples (see
 * example_common.h for the line format). */
#include "example_common.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024u * 1024u)

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static void usage_exit(const char *prog, const char *msg, const char *usage)
{
    fprintf(stderr, "%s: %s (usage: %s)\n", prog, msg, usage);
    exit(2);
}

void ex_parse_args(int argc, char **argv, const char *usage, int allow_keep,
                   struct ex_args *out)
{
    out->n = 1000000;
    out->keep = 0;
    for (int i = 1; i < argc; i += 2) { /* flag, value */
        uint64_t *dst = NULL;
        if (strcmp(argv[i], "--n") == 0) dst = &out->n;
        else if (allow_keep && strcmp(argv[i], "--keep") == 0) dst = &out->keep;
        else usage_exit(argv[0], "unknown argument", usage);
        if (i + 1 >= argc || parse_u64(argv[i + 1], dst) != 0)
            usage_exit(argv[0], "expected a non-negative integer after the flag", usage);
    }
    if (out->keep > out->n) usage_exit(argv[0], "--keep must not exceed --n", usage);
}

uint64_t ex_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* splitmix64's finalizer over the key's 8-byte words. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint64_t ex_fixed_hash(const void *key, size_t key_size, uint64_t seed)
{
    (void)seed;
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ key_size;
    while (key_size >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
        p += 8;
        key_size -= 8;
    }
    if (key_size) {
        uint64_t w = 0;
        memcpy(&w, p, key_size);
        h = mix64(h ^ w ^ 0xff);
    }
    return h;
}

void ex_peak_update(struct ex_peak *peak, const gomap *m)
{
    struct gomap_stats st;
    gomap_stats(m, &st);
    if (st.bucket_bytes > peak->buckets) {
        peak->buckets = st.bucket_bytes;
        peak->arrays = st.array_bytes + st.old_array_bytes;
    }
}

static void print_amount(const char *what, uint64_t bytes)
{
    printf("  %s %6" PRIu64 " MiB (%11" PRIu64 " bytes)", what, bytes / MIB, bytes);
}

void ex_print_phase(const char *phase, const gomap *m)
{
    uint64_t heap = ex_heap_in_use(); /* before any printing allocates */
    struct gomap_stats st = {0};
    if (m) gomap_stats(m, &st);
    printf("%-20s", phase);
    print_amount("heap", heap);
    print_amount("buckets", st.bucket_bytes);
    printf("\n");
    fflush(stdout);
}

void ex_print_peak(const struct ex_peak *peak)
{
    printf("%-20s", "peak:");
    print_amount("buckets", peak->buckets);
    printf(" = arrays %" PRIu64 " + overflow %" PRIu64 " bytes\n", peak->arrays,
           peak->buckets - peak->arrays);
    fflush(stdout);
}

void ex_print_shape(const gomap *m)
{
    struct gomap_stats st;
    gomap_stats(m, &st);
    if (st.array_bytes == 0) { /* as Go, no array until the first insert */
        printf("map: %" PRIu64 " live, no bucket array\n", st.count);
        fflush(stdout);
        return;
    }
    printf("map: %" PRIu64 " live, B=%u: array of %" PRIu64 " buckets (%" PRIu64
           " + %" PRIu64 " preallocated overflow) x %" PRIu32 " bytes = %" PRIu64
           " bytes, + %" PRIu64 " overflow buckets allocated on their own (%" PRIu64
           " bytes)\n",
           st.count, (unsigned)st.B, st.buckets + st.prealloc_overflow, st.buckets,
           st.prealloc_overflow, st.bucket_size, st.array_bytes, st.extra_overflow,
           st.overflow_bytes);
    fflush(stdout);
}

void ex_fill_then_drain(gomap *m, const struct ex_args *args)
{
    struct ex_peak peak = {0};
    for (int64_t i = 0; i < (int64_t)args->n; i++) {
        unsigned char *value = gomap_put(m, &i);
        if (!value) ex_die_oom("gomap_put");
        value[0] = (unsigned char)i;
        ex_peak_update(&peak, m);
    }
    ex_print_phase("after inserts:", m);
    ex_print_shape(m);

    for (int64_t i = 0; i < (int64_t)(args->n - args->keep); i++)
        gomap_delete(m, &i);
    ex_print_phase("after deletes:", m);
    ex_print_peak(&peak);
}

int ex_check_kept(gomap *m, const struct ex_args *args)
{
    uint64_t ok = 0;
    for (int64_t i = (int64_t)(args->n - args->keep); i < (int64_t)args->n; i++) {
        unsigned char *value = gomap_get(m, &i);
        ok += value && value[0] == (unsigned char)i;
    }
    printf("check: %llu of %llu kept entries found with their values\n",
           (unsigned long long)ok, (unsigned long long)args->keep);
    fflush(stdout);
    return ok == args->keep ? 0 : 1;
}

void ex_keep_alive(gomap *m)
{
    static gomap *kept[4];
    static unsigned nkept;
    if (nkept < sizeof kept / sizeof kept[0]) kept[nkept++] = m;
}

void ex_die_oom(const char *what)
{
    fprintf(stderr, "%s: out of memory\n", what);
    exit(1);
}
