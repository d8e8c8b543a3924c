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
    struct probe *probes;
    size_t n_probes, cap_probes;
};

struct recognizer {
    struct block *b;
    size_t n, cap;
    struct u64map live; /* ptr -> index of its live block */
    int oom;
    int full;           /* BLOCKS_MAX kept: later blocks are not collected */
};

/* Blocks kept at most (about 100 bytes each). A program that allocates and
 * frees large buffers without end (a server's I/O buffers) would grow the
 * list for ever: at the limit, the freed blocks no probe saw are dropped
 * (a table's short-lived early arrays among them: its growths then count
 * less), and if that does not free a quarter, collecting stops. */
#define BLOCKS_MAX (1u << 19)

/* Replays every linked table's life into tb (recognize_replay.c). 0, or -1
 * when out of memory. */
int recognize_replay(struct recognizer *rz, const struct tm_rules *rules, struct tables *tb,
                     const struct tm_options *o);

#endif
