/* bench/gomap/gomap_bench.c - gomap's side of "gomap vs Go's map" (issue 3).
 *
 * The same work as gomap_bench.go, step for step: N int64 keys (splitmix64
 * of 0..N-1, so distinct, the same sequence in both programs), for values of
 * 8 and 128 bytes: insert into a map grown from empty (hint 0), look every
 * key up (all hits), delete every key, in that order. Each phase is timed
 * with CLOCK_MONOTONIC and printed as ns per operation, with a checksum that
 * depends on every operation's result (so no compiler can drop the work, and
 * run.sh checks that both programs computed the same thing).
 *
 * Output, one line per (value size, phase, rep):
 *   impl=gomap vsize=8 op=insert rep=1 n=1000000 ns_per_op=61.23 checksum=...
 *
 * --warmup W reps come first and are printed with rep=0: the first use of a
 * fresh process (page faults on memory the allocator gets from the kernel;
 * for Go also its heap growing) - run.sh reports them apart.
 *
 * Usage: bench_gomap [--n N] [--reps R] [--warmup W] [--vsize 8|128|all]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tidemark/gomap.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(size_t vsize, const char *op, int rep, uint64_t n, double ns, uint64_t sum)
{
    printf("impl=gomap vsize=%zu op=%s rep=%d n=%llu ns_per_op=%.2f checksum=%016llx\n",
           vsize, op, rep, (unsigned long long)n, ns / (double)n, (unsigned long long)sum);
    fflush(stdout);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_gomap: %s\n", what);
    exit(3);
}

static void run(const int64_t *keys, uint64_t n, size_t vsize, int rep)
{
    uint64_t val[16] = {0}; /* the value written: word 0 = key, word 1 = i */
    gomap *m = gomap_make(8, vsize, 0);
    if (!m)
        die("gomap_make failed");

    double t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        void *slot = gomap_put(m, &keys[i]);
        if (!slot)
            die("out of memory");
        val[0] = (uint64_t)keys[i];
        val[1] = i;
        memcpy(slot, val, vsize);
    }
    double t1 = now_ns();
    report(vsize, "insert", rep, n, t1 - t0, (uint64_t)gomap_len(m));

    uint64_t sum = 0;
    t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t *v = gomap_get(m, &keys[i]);
        if (!v)
            die("lookup missed");
        sum += v[0] ^ i;
    }
    t1 = now_ns();
    report(vsize, "lookup", rep, n, t1 - t0, sum);

    uint64_t deleted = 0;
    t0 = now_ns();
    for (uint64_t i = 0; i < n; i++)
        deleted += (uint64_t)gomap_delete(m, &keys[i]);
    t1 = now_ns();
    if (gomap_len(m) != 0)
        die("map not empty after deletes");
    report(vsize, "delete", rep, n, t1 - t0, deleted);
    gomap_free(m);
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000;
    int reps = 3, warmup = 1;
    size_t vsizes[2] = {8, 128};
    int nv = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vsize") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "8") || !strcmp(v, "128")) {
                vsizes[0] = (size_t)atoi(v);
                nv = 1;
            } else if (strcmp(v, "all")) {
                die("--vsize wants 8, 128 or all");
            }
        } else {
            fprintf(stderr, "usage: bench_gomap [--n N] [--reps R] [--warmup W] [--vsize 8|128|all]\n");
            return 2;
        }
    }
    if (n == 0 || reps <= 0 || warmup < 0)
        die("--n and --reps must be positive, --warmup not negative");
    int64_t *keys = malloc(n * sizeof *keys);
    if (!keys)
        die("out of memory");
    for (uint64_t i = 0; i < n; i++)
        keys[i] = (int64_t)splitmix64(i);
    for (int r = 1; r <= warmup + reps; r++)
        for (int v = 0; v < nv; v++)
            run(keys, n, vsizes[v], r <= warmup ? 0 : r - warmup);
    free(keys);
    return 0;
}
