/* analyzer/model/free_runs.h - per thread, the frees it made since its
 * last allocation, counted by size: what a destructor freed right before it
 * freed a table's array.
 *
 * libstdc++'s ~_Hashtable frees every node (and what the nodes' values own),
 * then clears the bucket array, then frees it: read as it is freed the
 * array holds nothing, but the frees right before it say how many entries
 * the table had. The count is the number of frees in the thread's run of
 * the size of the run's last free (the last node: a value's own blocks are
 * freed before the node that holds it).
 *
 * Each thread's slot also keeps its latest allocation and a large block it
 * freed that waits for the thread's next one: what came right before and
 * right after a table's array was freed (a shrink's new, small array, which
 * recognize.c looks for).
 *
 * Threads share RUNS_SLOTS slots by their number (direct-mapped): a thread
 * that finds its slot taken by another starts a run that is not known from
 * its start, and says nothing until its next allocation. Sizes past
 * RUN_SIZES distinct ones in one run make it say nothing either. */
#ifndef TIDEMARK_ANALYZER_FREE_RUNS_H
#define TIDEMARK_ANALYZER_FREE_RUNS_H

#include <stdint.h>

#define RUNS_SLOTS 256
#define RUN_SIZES 8

struct thread_alloc {
    uint64_t size, stack, t; /* size 0: none known */
};

struct free_run {
    uint32_t tag;    /* the thread's number + 1; 0: never used */
    uint8_t unknown; /* the run's start was not seen, or too many sizes */
    uint8_t n;       /* sizes in e[] */
    uint8_t last;    /* e[] index of the last free's size */
    struct {
        uint64_t size, count;
    } e[RUN_SIZES];
    struct thread_alloc latest; /* its latest allocation */
    uint64_t waiting;           /* a large block's index + 1, waiting for its next one */
};

struct free_runs {
    uint64_t watched; /* large blocks live: runs are kept only while there is one */
    uint64_t waiting; /* slots with a block waiting */
    struct free_run slot[RUNS_SLOTS];
};

/* A large block came (+1) or went (-1). Only a large block's free asks
 * for a run, so while none is live no run is kept; when the first comes,
 * every run's start is unknown. */
static inline void free_runs_watch(struct free_runs *r, int delta)
{
    if (delta > 0 && r->watched++ == 0) {
        for (unsigned i = 0; i < RUNS_SLOTS; i++) r->slot[i].tag = 0, r->slot[i].waiting = 0;
        r->waiting = 0;
    }
    if (delta < 0 && r->watched) r->watched--;
}

/* Inline: the pass calls them for every allocation and free it reads. */

/* The thread's slot. One another thread had: taken over, the other's run
 * and waiting block dropped, this one's run not known from its start. */
static inline struct free_run *free_runs_slot(struct free_runs *r, uint32_t thread)
{
    struct free_run *s = &r->slot[thread % RUNS_SLOTS];
    if (s->tag != thread + 1) {
        if (s->waiting) r->waiting--;
        s->waiting = 0;
        s->latest.size = 0;
        s->tag = thread + 1;
        s->unknown = 1;
    }
    return s;
}

/* Thread `thread` allocated: its run starts over. Returns the index + 1
 * of the large block it freed last if that waited for this allocation,
 * else 0. */
static inline uint64_t free_runs_alloc(struct free_runs *r, uint32_t thread, uint64_t size,
                                       uint64_t stack, uint64_t t)
{
    if (!r->watched && !r->waiting) return 0;
    struct free_run *s = free_runs_slot(r, thread);
    uint64_t waited = s->waiting;
    if (waited) {
        s->waiting = 0;
        r->waiting--;
    }
    s->unknown = 0;
    s->n = 0;
    s->latest = (struct thread_alloc){size, stack, t};
    return waited;
}

/* The thread's latest allocation (size 0: not known). */
static inline struct thread_alloc free_runs_latest(const struct free_runs *r, uint32_t thread)
{
    const struct free_run *s = &r->slot[thread % RUNS_SLOTS];
    return s->tag == thread + 1 ? s->latest : (struct thread_alloc){0, 0, 0};
}

/* The thread freed large block `index`: its next allocation is asked for. */
static inline void free_runs_wait(struct free_runs *r, uint32_t thread, uint64_t index)
{
    struct free_run *s = &r->slot[thread % RUNS_SLOTS];
    if (s->tag != thread + 1) return;
    if (!s->waiting) r->waiting++;
    s->waiting = index + 1;
}

/* Thread `thread` freed a block of `size` bytes. */
static inline void free_runs_free(struct free_runs *r, uint32_t thread, uint64_t size)
{
    if (!r->watched) return;
    struct free_run *s = free_runs_slot(r, thread);
    if (s->unknown) return;
    unsigned i = 0;
    while (i < s->n && s->e[i].size != size) i++;
    if (i == s->n) {
        if (i == RUN_SIZES) {
            s->unknown = 1;
            return;
        }
        s->e[i].size = size;
        s->e[i].count = 0;
        s->n++;
    }
    s->e[i].count++;
    s->last = (uint8_t)i;
}

/* The frees of the thread's run of the size of its last free; 0 when the
 * run is empty or not known. */
static inline uint64_t free_runs_last_size_count(const struct free_runs *r, uint32_t thread)
{
    const struct free_run *s = &r->slot[thread % RUNS_SLOTS];
    if (!r->watched || s->tag != thread + 1 || s->unknown || !s->n) return 0;
    return s->e[s->last].count;
}

#endif /* TIDEMARK_ANALYZER_FREE_RUNS_H */
