/* analyzer/reader_info.h - the reader's side of 2.0's heap by info: one pool
 * per (thread, info), and the translation of INFO, ALLOC_INFO, FREE_INFO,
 * FREE_INFO_X and TABLE_ARRAY-by-info records, in merged order, into the
 * ALLOC, FREE and TM_REC_RENAME records the reader's callers know (the rules
 * are in reader.h). Used by reader.c only. */
#ifndef TIDEMARK_ANALYZER_READER_INFO_H
#define TIDEMARK_ANALYZER_READER_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"
#include "u64map.h"

struct info_pool {
    uint64_t size, stack;
    uint32_t thread, info; /* the key: info ids are scoped by their thread */
    uint32_t live;         /* blocks allocated and not freed: slots [0, live) */
    uint32_t debt;         /* frees met while no block was live */
    uint32_t held;         /* TABLE_ARRAYs waiting for a block of this info */
    uint8_t defined;       /* its INFO was read (else a FREE_INFO_X or a
                              TABLE_ARRAY of another thread named it first) */
};

/* One thread's own infos, by id: pool index + 1 (0: none), for ids < cap.
 * Kept within a few times the thread's number of infos (ids past that are
 * found through the hash map): O(infos). */
struct info_own {
    uint32_t *ix;
    uint32_t cap, n;
};

/* A TABLE_ARRAY met before the allocation it names. */
struct held_array {
    uint32_t pool;
    struct tm_record rec;
};

struct info_pools {
    struct u64map ix; /* thread << 32 | info -> index into pool */
    struct info_pool *pool;
    size_t n, cap;
    struct held_array *held;
    size_t n_held, held_cap;
    struct info_own *own; /* by stream: the reader's number for a thread */
    size_t n_own;
};

/* What one record turns into: up to INFO_OUT_MAX records, in order. A
 * non-empty `problem` says why the input record was dropped. */
#define INFO_OUT_MAX 2
struct info_out {
    struct tm_record rec[INFO_OUT_MAX];
    unsigned n;
    char problem[160];
};

/* The pools left unbalanced at the end of the trace. */
struct info_leftover {
    uint64_t frees;         /* debts never paid */
    uint64_t arrays;        /* TABLE_ARRAYs whose allocation never came */
    uint32_t thread, info;  /* the first pool with either */
};

void info_pools_init(struct info_pools *p);
/* Room for n streams (0..n-1). 0, or -1 when out of memory. */
int info_pools_streams(struct info_pools *p, size_t n);
void info_pools_free(struct info_pools *p);

/* 1 when rec is one info_translate must see. */
static inline int info_record(const struct tm_record *rec)
{
    return tmk_is_by_info(rec->type) ||
           (rec->type == TMK_REC_TABLE_ARRAY && rec->u.table_array.info != 0);
}

/* Translates one record (info_record() true) of stream `stream` into out.
 * 0, or -1 when out of memory. */
int info_translate(struct info_pools *p, uint32_t stream, const struct tm_record *in,
                   struct info_out *out);

/* The usual ALLOC_INFO or FREE_INFO (a defined info of the stream's own
 * thread, nothing owed or held, a block live to free): rewritten in place
 * into the ALLOC or FREE it stands for, as info_translate would; 1. Else 0
 * and rec untouched (info_translate's case). */
static inline int info_quick(struct info_pools *p, uint32_t stream, struct tm_record *rec)
{
    if (rec->type != TMK_REC_ALLOC_INFO && rec->type != TMK_REC_FREE_INFO) return 0;
    const struct info_own *o = &p->own[stream];
    uint64_t info = rec->u.by_info.info;
    if (info >= o->cap || !o->ix[info]) return 0;
    uint32_t ix = o->ix[info] - 1;
    struct info_pool *pool = &p->pool[ix];
    if (rec->type == TMK_REC_ALLOC_INFO) {
        if (pool->held || pool->debt || pool->live >= TM_SYNTHETIC_NONE - 1) return 0;
        rec->type = TMK_REC_ALLOC;
        rec->u.alloc.ptr = tm_synthetic_ptr(ix, pool->live++);
        rec->u.alloc.size = pool->size;
        rec->u.alloc.stack = pool->stack;
        return 1;
    }
    if (!pool->live) return 0;
    rec->type = TMK_REC_FREE;
    rec->u.free.ptr = tm_synthetic_ptr(ix, --pool->live);
    return 1;
}

/* Calls fn (at time t) with one FREE of a block never allocated per debt
 * left, and fills *left. fn's nonzero return stops it (returned). */
int info_drain(struct info_pools *p, uint64_t t, tm_record_fn fn, void *ctx,
               struct info_leftover *left);

/* 1 and the pool's key and the slot when ptr is one of p's synthetic
 * addresses. */
int info_synthetic(const struct info_pools *p, uint64_t ptr, uint32_t *thread, uint32_t *info,
                   uint32_t *slot);

#endif /* TIDEMARK_ANALYZER_READER_INFO_H */
