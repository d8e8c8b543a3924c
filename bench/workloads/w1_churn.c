/* bench/workloads/w1_churn.c - W1, malloc churn: the profiler-overhead workload.
 *
 * Tens of millions of small malloc/free calls of varied sizes (mostly 16..512
 * bytes, some up to 32 KiB), made from a handful of call sites at different
 * stack depths, with a live set that rises and falls in waves. With
 * --threads N > 1 each thread churns on its own and hands about one block in
 * eight to the next thread, which frees it (cross-thread frees).
 *
 * Deterministic: fixed per-thread seeds; the checksum only sums
 * order-independent quantities, so it is the same for every run, thread
 * interleaving and profiler. Prints the exact number of allocations and frees
 * it made (the bench's event count).
 *
 * Usage: bench_w1 [--threads N] [--allocs M]   (M = total allocations)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_options.h"
#include "bench_random.h"
#include "peak_rss.h"

#define LIVE_CAP (1u << 16)      /* max live blocks per thread */
#define WAVE_PERIOD (1u << 20)   /* steps for the live set to rise and fall */
#define MAILBOX_CAP 4096u        /* blocks in flight to another thread */
#define HANDOFF_EVERY 8u         /* one free in 8 goes to the next thread */
#define DRAIN_EVERY 256u         /* steps between mailbox drains */

struct block {
    unsigned char *p;
    uint32_t size;
};

/* Blocks allocated by one thread that the next thread must free. */
struct mailbox {
    pthread_mutex_t lock;
    unsigned char *slot[MAILBOX_CAP];
    unsigned n;
};

struct worker {
    unsigned id;
    uint64_t allocs_todo;
    uint64_t rng;
    struct mailbox *inbox;  /* this thread frees what arrives here */
    struct mailbox *outbox; /* NULL with one thread */
    struct block *live;
    uint32_t nlive;
    uint64_t allocs, frees, checksum;
};

static uint32_t pick_size(uint64_t r)
{
    unsigned class = (unsigned)(r % 100);
    r >>= 8;
    if (class < 90)
        return 16 + (uint32_t)(r % 497);   /* 16..512 */
    if (class < 99)
        return 513 + (uint32_t)(r % 3584); /* 513..4096 */
    return 4097 + (uint32_t)(r % 28672);   /* 4097..32768 */
}

/* Call sites at different depths, so that stacks differ. noinline plus the
 * work after each call keep the compiler from merging or tail-calling them. */
static volatile unsigned depth_sink;

__attribute__((noinline)) static void *alloc_leaf(size_t n)
{
    return malloc(n);
}

__attribute__((noinline)) static void *alloc_nested(size_t n, unsigned depth)
{
    if (depth == 0)
        return alloc_leaf(n);
    void *p = alloc_nested(n, depth - 1);
    depth_sink += depth;
    return p;
}

__attribute__((noinline)) static void *alloc_via_helper(size_t n)
{
    void *p = alloc_nested(n, 2);
    depth_sink++;
    return p;
}

static void *alloc_at_site(uint64_t r, size_t n)
{
    static const unsigned depths[] = {1, 4, 9, 15};
    unsigned site = (unsigned)(r % 6);
    if (site == 0)
        return malloc(n);
    if (site == 1)
        return alloc_via_helper(n);
    return alloc_nested(n, depths[site - 2]);
}

static void release(struct worker *w, unsigned char *p)
{
    w->checksum += p[0];
    free(p);
    w->frees++;
}

static void drain_inbox(struct worker *w)
{
    struct mailbox *mb = w->inbox;
    pthread_mutex_lock(&mb->lock);
    for (unsigned i = 0; i < mb->n; i++)
        release(w, mb->slot[i]);
    mb->n = 0;
    pthread_mutex_unlock(&mb->lock);
}

/* Hands p to the next thread; 0 when its mailbox is full. */
static int hand_off(struct worker *w, unsigned char *p)
{
    struct mailbox *mb = w->outbox;
    int ok = 0;
    pthread_mutex_lock(&mb->lock);
    if (mb->n < MAILBOX_CAP) {
        mb->slot[mb->n++] = p;
        ok = 1;
    }
    pthread_mutex_unlock(&mb->lock);
    return ok;
}

static void alloc_one(struct worker *w)
{
    uint64_t r = next_random(&w->rng);
    uint32_t size = pick_size(r);
    unsigned char *p = alloc_at_site(r >> 32, size);
    if (!p) {
        fprintf(stderr, "bench_w1: out of memory\n");
        exit(3);
    }
    unsigned char tag = (unsigned char)(r >> 40);
    p[0] = tag;
    p[size - 1] = tag;
    w->checksum += size + tag;
    w->live[w->nlive].p = p;
    w->live[w->nlive].size = size;
    w->nlive++;
    w->allocs++;
}

static void free_one(struct worker *w)
{
    uint64_t r = next_random(&w->rng);
    uint32_t i = (uint32_t)(r % w->nlive);
    unsigned char *p = w->live[i].p;
    w->live[i] = w->live[--w->nlive];
    if (w->outbox && (r >> 32) % HANDOFF_EVERY == 0 && hand_off(w, p))
        return;
    release(w, p);
}

/* Live-set target: a triangle wave between 1/64 and all of LIVE_CAP. */
static uint32_t live_target(uint64_t step)
{
    uint64_t ph = step % WAVE_PERIOD, half = WAVE_PERIOD / 2;
    uint64_t up = ph < half ? ph : WAVE_PERIOD - ph;
    return (uint32_t)(LIVE_CAP / 64 + up * (LIVE_CAP - LIVE_CAP / 64 - 1) / half);
}

static void *churn(void *arg)
{
    struct worker *w = arg;
    w->live = calloc(LIVE_CAP, sizeof *w->live);
    if (!w->live)
        return NULL;
    for (uint64_t step = 0; w->allocs < w->allocs_todo; step++) {
        uint32_t target = live_target(step + w->id * (WAVE_PERIOD / 3));
        /* Three in four steps move toward the target; the rest churn the
         * other way, so both calls happen at every phase of the wave. */
        int toward = (next_random(&w->rng) & 3) != 0;
        int grow = w->nlive < target ? toward : !toward;
        if (w->nlive == 0 || (grow && w->nlive < LIVE_CAP))
            alloc_one(w);
        else
            free_one(w);
        if (w->outbox && step % DRAIN_EVERY == 0)
            drain_inbox(w);
    }
    while (w->nlive)
        free_one(w);
    free(w->live);
    return NULL;
}

static int parse_args(int argc, char **argv, unsigned *threads, uint64_t *allocs)
{
    uint64_t n = *threads;
    const struct bench_option opt[] = {{"--threads", &n}, {"--allocs", allocs}};
    if (bench_options(argc, argv, opt, 2) != 0 || n < 1 || n > 64 || *allocs == 0) return -1;
    *threads = (unsigned)n;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned threads = 1;
    uint64_t allocs = 16000000;
    if (parse_args(argc, argv, &threads, &allocs) != 0) {
        fprintf(stderr, "usage: bench_w1 [--threads 1..64] [--allocs M]\n");
        return 2;
    }
    struct worker *ws = calloc(threads, sizeof *ws);
    struct mailbox *mbs = calloc(threads, sizeof *mbs);
    pthread_t *tids = calloc(threads, sizeof *tids);
    if (!ws || !mbs || !tids)
        return 3;
    for (unsigned i = 0; i < threads; i++) {
        pthread_mutex_init(&mbs[i].lock, NULL);
        ws[i].id = i;
        ws[i].allocs_todo = allocs / threads + (i < allocs % threads);
        ws[i].rng = 0x9E3779B97F4A7C15ULL * (i + 1);
        ws[i].inbox = &mbs[i];
        ws[i].outbox = threads > 1 ? &mbs[(i + 1) % threads] : NULL;
    }
    for (unsigned i = 0; i < threads; i++)
        if (pthread_create(&tids[i], NULL, churn, &ws[i]) != 0)
            return 3;
    uint64_t a = 0, f = 0, sum = 0;
    for (unsigned i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    for (unsigned i = 0; i < threads; i++) {
        drain_inbox(&ws[i]); /* what arrived after its thread finished */
        a += ws[i].allocs;
        f += ws[i].frees;
        sum += ws[i].checksum;
    }
    printf("w1 threads=%u allocs=%llu frees=%llu events=%llu checksum=%016llx hwm_kib=%lu\n",
           threads, (unsigned long long)a, (unsigned long long)f, (unsigned long long)(a + f),
           (unsigned long long)sum, bench_peak_rss_kib());
    free(tids);
    free(mbs);
    free(ws);
    return a == f ? 0 : 1;
}
