/* tests/tables/table_cli.h - the command line, key stream, thread/round
 * driver and output line shared by the C and C++ table programs (one
 * program per unannotated hash-table implementation, see README.md here).
 *
 *   prog N KEEP [WORD...]      words, in any order:
 *     fix      apply the implementation's own cure after the deletes
 *     healthy  fill to N and delete nothing (KEEP is ignored)
 *     dense    keys 0..N-1 as they are (default: mixed, splitmix64(i),
 *              distinct 64-bit keys that fill buckets like real ones)
 *     random   mixed keys with a seed from the clock (distinct, new per run)
 *     thread   the table is built, emptied (and fixed) on a second thread
 *              and outlives it
 *     twice    the table is built, emptied and freed, then built again at
 *              the same call site (the second one is kept and printed)
 *     several  before the kept table, 2 rounds of 3 tables built in turn at
 *              the same call site, alive together, then destroyed last
 *              first (as delete[] does): 7 tables, one kept and printed
 *     gone     the table is destroyed after the line is printed, 0.3 s
 *              before the process ends: a report at the end finds it ended
 *     slow     each of the implementation's large array (re)allocations
 *              sleeps 5 ms first, as a thread preempted in the middle of a
 *              resize does (khash_prog: its krealloc; umap: one more rehash
 *              of the full map, over a second long; others ignore it)
 *     ptrkeys  the keys are heap pointers, as a string-keyed table's
 *              (ghash_prog only; others ignore it)
 *     lowload  the table grows at a quarter of its default load
 *              (umap only: max_load_factor(0.25); others ignore it)
 *     idle     the table is kept 1.2 s after the line is printed (a probe
 *              pass reads it as kept), then destroyed (gone) or left
 *     pair     a second table of the same implementation, at the same call
 *              site, filled with the same keys in alternation with the
 *              first (one insert into each in turn, on the same thread:
 *              both resize together) and kept full while the first is
 *              emptied to KEEP (khash_prog and ghash_prog: their line adds
 *              pair_live= pair_held=; others ignore it)
 *     dupkeys  the keys repeat: N entries on N/200 distinct keys, so that
 *              most entries share a bucket (umap only: it becomes a
 *              std::unordered_multimap; others ignore it)
 *
 * Each program prints one line on stdout, "key=value" pairs separated by
 * spaces, starting with impl= mode= flavour= keys= live= held=, then sleeps
 * 0.3 s (nanosleep, so that a sampler or tests/tables/blockdump.so sees the
 * final state) and exits 0 with _exit: the table is still allocated when
 * the process ends (unless gone). Usage errors exit 2, a broken assumption about
 * the implementation's layout exits 3 with one line on stderr.
 *
 * Header-only (static functions) so that C and C++ programs share it.
 */
#ifndef TABLE_CLI_H
#define TABLE_CLI_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct table_args {
    long n, keep;
    int fix, healthy, dense, random, thread, twice, several, gone, slow, ptrkeys, lowload, dupkeys,
        idle, pair;
    uint64_t seed;
};

static inline uint64_t table_mix64(uint64_t x)
{
    /* splitmix64's finaliser: a bijection, so distinct i give distinct keys */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The i-th key (0 <= i < n); distinct for distinct i in every key mode. */
static inline uint64_t table_key(const struct table_args *a, long i)
{
    if (a->dense)
        return (uint64_t)i;
    return table_mix64((uint64_t)i ^ a->seed);
}

static inline int table_usage(const char *prog)
{
    fprintf(stderr, "usage: %s N KEEP [fix|healthy] [dense|random] [thread] [twice] [several] [gone] [slow] [ptrkeys] [lowload] [dupkeys] [idle] [pair]\n",
            prog);
    return 2;
}

static inline int table_parse_count(const char *s, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > (1L << 40))
        return -1;
    *out = v;
    return 0;
}

/* 0 when the command line is valid, else 2 after a usage line. */
static inline int table_parse(int argc, char **argv, struct table_args *a)
{
    memset(a, 0, sizeof *a);
    if (argc < 3 || table_parse_count(argv[1], &a->n) || table_parse_count(argv[2], &a->keep))
        return table_usage(argv[0]);
    for (int i = 3; i < argc; i++) {
        const char *w = argv[i];
        if (!strcmp(w, "fix")) a->fix = 1;
        else if (!strcmp(w, "healthy")) a->healthy = 1;
        else if (!strcmp(w, "dense")) a->dense = 1;
        else if (!strcmp(w, "random")) a->random = 1;
        else if (!strcmp(w, "thread")) a->thread = 1;
        else if (!strcmp(w, "twice")) a->twice = 1;
        else if (!strcmp(w, "several")) a->several = 1;
        else if (!strcmp(w, "gone")) a->gone = 1;
        else if (!strcmp(w, "slow")) a->slow = 1;
        else if (!strcmp(w, "ptrkeys")) a->ptrkeys = 1;
        else if (!strcmp(w, "lowload")) a->lowload = 1;
        else if (!strcmp(w, "dupkeys")) a->dupkeys = 1;
        else if (!strcmp(w, "idle")) a->idle = 1;
        else if (!strcmp(w, "pair")) a->pair = 1;
        else return table_usage(argv[0]);
    }
    if ((a->fix && a->healthy) || (a->dense && a->random))
        return table_usage(argv[0]);
    if (a->healthy || a->keep > a->n)
        a->keep = a->n;
    if (a->random) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        a->seed = table_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32));
    }
    return 0;
}

static inline const char *table_mode(const struct table_args *a)
{
    return a->healthy ? "healthy" : a->fix ? "fix" : "keep";
}

static inline const char *table_flavour(const struct table_args *a)
{
    if (a->several) return a->thread ? "thread+several" : "several";
    if (a->pair) return "pair";
    return a->thread ? (a->twice ? "thread+twice" : "thread") : a->twice ? "twice" : "plain";
}

static inline const char *table_keys(const struct table_args *a)
{
    return a->dense ? "dense" : a->random ? "random" : "mixed";
}

/* The common head of the output line (no newline). */
static inline void table_print_head(const struct table_args *a, const char *impl)
{
    printf("impl=%s mode=%s flavour=%s keys=%s", impl, table_mode(a), table_flavour(a),
           table_keys(a));
}

/* A broken assumption about the implementation: exit 3. */
static inline void table_fail(const char *impl, const char *what)
{
    fprintf(stderr, "%s: layout assumption broken: %s\n", impl, what);
    exit(3);
}

struct table_job {
    void (*build)(void *);
    void *ctx;
};

static inline void *table_thread_main(void *p)
{
    struct table_job *job = (struct table_job *)p;
    job->build(job->ctx);
    return NULL;
}

/* Runs build(ctx) here, or on a second thread joined before returning. */
static inline void table_run(const struct table_args *a, void (*build)(void *), void *ctx)
{
    if (!a->thread) {
        build(ctx);
        return;
    }
    struct table_job job;
    job.build = build;
    job.ctx = ctx;
    pthread_t t;
    if (pthread_create(&t, NULL, table_thread_main, &job) || pthread_join(t, NULL))
        table_fail("table_cli", "pthread_create");
}

#define TABLE_SEVERAL_ROUNDS 2
#define TABLE_SEVERAL_ALIVE 3

/* "several": rounds of TABLE_SEVERAL_ALIVE tables built in turn from the
 * one ctx (each built into it, then its ctx_size bytes put aside), alive
 * together, destroyed last first. */
static inline void table_several(const struct table_args *a, void (*build)(void *),
                                 void (*destroy)(void *), void *ctx, size_t ctx_size)
{
    char *kept = (char *)malloc(ctx_size * (TABLE_SEVERAL_ALIVE + 1));
    if (!kept)
        table_fail("table_cli", "malloc");
    memcpy(kept + ctx_size * TABLE_SEVERAL_ALIVE, ctx, ctx_size); /* the empty ctx */
    for (int r = 0; r < TABLE_SEVERAL_ROUNDS; r++) {
        for (int k = 0; k < TABLE_SEVERAL_ALIVE; k++) {
            memcpy(ctx, kept + ctx_size * TABLE_SEVERAL_ALIVE, ctx_size);
            table_run(a, build, ctx);
            memcpy(kept + ctx_size * k, ctx, ctx_size);
        }
        for (int k = TABLE_SEVERAL_ALIVE; k-- > 0;) {
            memcpy(ctx, kept + ctx_size * k, ctx_size);
            destroy(ctx);
        }
    }
    memcpy(ctx, kept + ctx_size * TABLE_SEVERAL_ALIVE, ctx_size);
    free(kept);
}

/* Builds the table once, or twice at the same call site (the first one
 * destroyed in between), so both tables come from the same stack; with
 * "several", after table_several's tables. ctx_size: sizeof *ctx. */
static inline void table_rounds(const struct table_args *a, void (*build)(void *),
                                void (*destroy)(void *), void *ctx, size_t ctx_size)
{
    if (a->several)
        table_several(a, build, destroy, ctx, ctx_size);
    int rounds = a->twice ? 2 : 1;
    for (int r = 0; r < rounds; r++) {
        if (r > 0)
            destroy(ctx);
        table_run(a, build, ctx);
    }
}

/* Lets a sampler read the final state (0.3 s through nanosleep itself),
 * then ends the process with the table still allocated, as a profiler
 * finds a server that keeps it: _exit runs no destructor. */
static inline void table_pause(void)
{
    fflush(stdout);
    struct timespec ts = {0, 300 * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    _exit(0);
}

/* The end of every program: 1.2 s kept if idle, the table destroyed then
 * if gone, then table_pause. */
static inline void table_end(const struct table_args *a, void (*destroy)(void *), void *ctx)
{
    if (a->idle) {
        fflush(stdout);
        struct timespec ts = {1, 200 * 1000 * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    if (a->gone)
        destroy(ctx);
    table_pause();
}

#endif
