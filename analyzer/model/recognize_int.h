/* analyzer/model/recognize_int.h - what recognize.c (collecting, matching,
 * linking) and recognize_replay.c (each table's life replayed into
 * table_life.c) share: the blocks and their probes. */
#ifndef TIDEMARK_ANALYZER_RECOGNIZE_INT_H
#define TIDEMARK_ANALYZER_RECOGNIZE_INT_H

#include "recognize.h"

#define LINK_NS 50000000ull   /* 50 ms */
#define PROBES_MAX 4096       /* per block; the newest are kept */

struct probe {
    uint64_t t, nz64, u32ge2, pairs00, sum16, layout, capacity, live;
};

/* What became of the small array a large block was reallocated to (its
 * shrink's new array, full mode), followed through its thread's records by
 * recognize_after.c: the last two of its reallocations, and whether it was
 * freed right away (within LINK_NS: the table was destroyed, GLib's
 * g_hash_table_destroy empties the table, shrinking it, then frees it). */
struct after_chain {
    uint64_t from, to;           /* its last reallocation (bytes); 0: none */
    uint64_t prev_from, prev_to; /* the one before */
    uint32_t steps;
    int freed;                   /* the block's own small array freed right away */
    int last_freed;              /* the last one's (steps > 0) freed right away */
};

struct block {
    uint64_t ptr, size, stack, t_alloc, t_free;
    uint32_t thread, free_thread;
    uint64_t freed_before; /* what its thread freed right before (free_runs.h) */
    struct thread_alloc before, after; /* its thread's allocations around its free */
    int at;              /* the rule's matched frame (-1: by layout or size) */
    int shrunk;          /* freed for a smaller array of the same code (a shrink) */
    int annotated;
    int rule;            /* index into rules, -1 none */
    uint64_t chain;      /* hash of the callers past the matched frame */
    uint64_t code;       /* hash of the frames up to it: the call that allocated it */
    size_t table;        /* index into tables[] after linking */
    int main;            /* its table's count array when it came */
    int sibling;         /* GLib: another array of its resize (recognize_glib.c) */
    int free_alone;      /* its thread freed another block next: no realloc's free */
    struct after_chain fate; /* what its `after` became (recognize_after.c) */
    struct probe *probes;
    size_t n_probes, cap_probes;
};

/* A small array being followed (recognize_after.c). */
struct after_watch {
    size_t block;     /* the large block whose reallocation made it */
    uint32_t thread;
    int large;        /* the large block itself just freed: what comes next? */
    int freed;        /* its free seen: waiting for the thread's next record */
    uint64_t size, stack, t_alloc, t_free;
};

#define AFTER_WATCH_MAX 64

struct recognizer {
    struct after_watch watch[AFTER_WATCH_MAX];
    unsigned n_watch;
    struct block *b;
    size_t n, cap;
    struct u64map live; /* ptr -> index of its live block */
    struct u64map freed_next; /* recognize_replay.c: a thread's allocation's
                                 time -> the block it freed next, having
                                 allocated nothing since (full mode) */
    int oom;
    int full;           /* BLOCKS_MAX kept: later blocks are not collected */
};

/* Blocks kept at most (about 100 bytes each). A program that allocates and
 * frees large buffers without end (a server's I/O buffers) would grow the
 * list for ever: at the limit, the freed blocks no probe saw are dropped
 * (a table's short-lived early arrays among them: its growths then count
 * less), and if that does not free a quarter, collecting stops. */
#define BLOCKS_MAX (1u << 19)

/* Was block b allocated and not yet freed at t? */
static inline int block_live_at(const struct block *b, uint64_t t)
{
    return b->t_alloc <= t && (b->t_free == TM_NO_TIME || b->t_free > t);
}

/* Full mode: was a the last allocation f's freeing thread made before it
 * freed f (nothing allocated in between: a rehash only moves entries)? */
static inline int allocated_last(const struct block *f, const struct block *a)
{
    return f->before.size && f->before.t == a->t_alloc && f->before.size == a->size &&
           f->before.stack == a->stack;
}

/* A hash of n frames (a call path). */
static inline uint64_t hash_frames(const uint64_t *f, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ f[i]) * 0xff51afd7ed558ccdull;
    return h;
}

/* recognize_link.c: the call that allocated each matched block (its
 * frames up to the rule's matched one), then which blocks are one table's
 * arrays (each block's `table`). 0, or -1 when out of memory. */
void recognize_note_codes(struct recognizer *rz, const struct tm_model *m);
int recognize_link(struct recognizer *rz, const struct tm_rules *rules, const struct tm_options *o);

/* Which counts of a table stand: its growths' (the implementation's rule)
 * and its arrays' (the probes'), its arrays' and its growths' at the load
 * it was measured to grow at, or its growths' only. */
enum count_source { COUNT_BOTH, COUNT_BY_ARRAY, COUNT_BY_GROWTH };
enum count_source count_source(const struct recognizer *rz, const struct tm_rule *rule,
                               const size_t *blocks, size_t nb, double *load,
                               int *one_per_bucket);
/* khash: did the resize that made flags array i double the table? */
int doubled_with(const struct recognizer *rz, const struct tm_rule *rule, const size_t *blocks,
                 size_t nb, size_t i);
/* recognize_replay.c: probe p's count of block b by the rule (its lower
 * end in *lo), and whether a later array of b's table was live at t. */
uint64_t live_of(const struct tm_rule *rule, const struct block *b, const struct probe *p,
                 uint64_t *lo);
int replaced_at(const struct recognizer *rz, const struct tm_rule *rule, const size_t *blocks,
                size_t nb, size_t i, uint64_t t);

/* Replays every linked table's life into tb (recognize_replay.c). 0, or -1
 * when out of memory. */
int recognize_replay(struct recognizer *rz, const struct tm_rules *rules, struct tables *tb,
                     const struct tm_options *o);

/* recognize_after.c: starts following block `index`'s `after` (a smaller
 * allocation right after its free); 1 when a watch is open. */
int recognize_after_start(struct recognizer *rz, size_t index);
/* Block `index` was freed: is its thread's next record a free? */
void recognize_after_freed(struct recognizer *rz, size_t index);
/* The trace ended: the watches still open are closed. */
void recognize_after_finish(struct recognizer *rz);

/* recognize_glib.c: GLib's arrays. Marks the arrays of each resize but its
 * first (GLib reallocates its hashes first, then keys and values) as
 * siblings: not count arrays. blocks: one table's, in allocation order.
 * 0, or -1 when out of memory. */
int glib_mark_siblings(struct recognizer *rz, const size_t *blocks, size_t nb);
/* The live count GLib's rules give at the last reallocation of the small
 * arrays that block b (a hashes array) was shrunk to, or 0 when unknown. */
uint64_t glib_live_after(const struct tm_rule *rule, const struct block *b);

#endif
