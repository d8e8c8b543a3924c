/* analyzer/read/reader_info.h - the reader's side of 3.0's heap by info: one pool
 * of interchangeable blocks per info (size, stack), and the translation of
 * ALLOC_INFO, FREE_INFO and TABLE_ARRAY-by-info records, in merged order,
 * into the ALLOC, FREE and TM_REC_RENAME records the reader's callers know
 * (the rules are in reader.h). Used by reader.c only. */
#ifndef TIDEMARK_ANALYZER_READER_INFO_H
#define TIDEMARK_ANALYZER_READER_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"

/* A pool, as a slot of the open-addressing table that finds it by info:
 * 16 bytes, so that a heap record costs one cache line (W1 has 10^5 infos:
 * the table is larger than L2, and this fetch is most of the reader's time).
 * The rare counts live apart, by pool number (struct info_cold); POOL_COLD
 * in num1 says they are not both 0. Pools are never removed. */
struct info_pool {
    uint64_t key;  /* info_key(size, stack) */
    uint32_t num1; /* the pool's number + 1 (its synthetic addresses) | POOL_COLD;
                      0 = empty slot */
    uint32_t live; /* blocks allocated and not freed: slots [0, live) */
};

#define POOL_COLD (1u << 31) /* above any pool number (< TM_SYNTHETIC_POOLS) */

struct info_cold {
    uint64_t key;
    uint32_t debt; /* frees met while no block was live */
    uint32_t held; /* TABLE_ARRAYs waiting for a block of this info */
};

/* A TABLE_ARRAY met before the allocation it names. */
struct held_array {
    uint64_t key;
    struct tm_record rec;
};

struct info_pools {
    struct info_pool *slot; /* power-of-two table, at most half full */
    size_t mask;
    struct info_cold *cold; /* by pool number */
    size_t n, cold_cap;
    struct held_array *held;
    size_t n_held, held_cap;
};

/* The key of an info: the decoder checked size < TMK_INFO_SIZE_LIMIT and
 * stack < 2^32. */
static inline uint64_t info_key(uint64_t size, uint64_t stack)
{
    return stack << 32 | size;
}

static inline uint64_t info_key_size(uint64_t key)
{
    return key & UINT32_MAX;
}

static inline uint64_t info_key_stack(uint64_t key)
{
    return key >> 32;
}

static inline size_t info_home(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* Starts fetching the slot where key's search begins (the merge loop calls
 * it for the next record, so that the line is there when it is used). */
static inline void info_prefetch(const struct info_pools *p, uint64_t key)
{
    if (p->slot) __builtin_prefetch(&p->slot[info_home(key, p->mask)]);
}

static inline struct info_pool *info_find(const struct info_pools *p, uint64_t key)
{
    if (!p->slot) return NULL;
    for (size_t i = info_home(key, p->mask);; i = (i + 1) & p->mask) {
        struct info_pool *s = &p->slot[i];
        if (!s->num1) return NULL;
        if (s->key == key) return s;
    }
}

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
    uint64_t frees;       /* debts never paid */
    uint64_t arrays;      /* TABLE_ARRAYs whose allocation never came */
    uint64_t size, stack; /* the info of the first pool with either */
};

void info_pools_init(struct info_pools *p);
void info_pools_free(struct info_pools *p);

/* 1 when rec is one info_translate must see. */
static inline int info_record(const struct tm_record *rec)
{
    return tmk_is_by_info(rec->type) ||
           (rec->type == TMK_REC_TABLE_ARRAY && rec->u.table_array.by_info);
}

/* Translates one record (info_record() true) into out. 0, or -1 when out of
 * memory. */
int info_translate(struct info_pools *p, const struct tm_record *in, struct info_out *out);

/* The usual ALLOC_INFO or FREE_INFO (a known info, nothing owed or held, a
 * block live to free): rewritten in place into the ALLOC or FREE it stands
 * for, as info_translate would; 1. Else 0 and rec untouched (info_translate's
 * case). */
static inline int info_quick(struct info_pools *p, struct tm_record *rec)
{
    if (rec->type != TMK_REC_ALLOC_INFO && rec->type != TMK_REC_FREE_INFO) return 0;
    uint64_t size = rec->u.by_info.size, stack = rec->u.by_info.stack;
    struct info_pool *pool = info_find(p, info_key(size, stack));
    if (!pool || (pool->num1 & POOL_COLD)) return 0;
    if (rec->type == TMK_REC_ALLOC_INFO) {
        if (pool->live >= TM_SYNTHETIC_NONE - 1) return 0;
        rec->type = TMK_REC_ALLOC;
        rec->u.alloc.ptr = tm_synthetic_ptr(pool->num1 - 1, pool->live++);
        rec->u.alloc.size = size;
        rec->u.alloc.stack = stack;
        return 1;
    }
    if (!pool->live) return 0;
    rec->type = TMK_REC_FREE;
    rec->u.free.ptr = tm_synthetic_ptr(pool->num1 - 1, --pool->live);
    return 1;
}

/* Calls fn (at time t) with one FREE of a block never allocated per debt
 * left, and fills *left. fn's nonzero return stops it (returned). */
int info_drain(struct info_pools *p, uint64_t t, tm_record_fn fn, void *ctx,
               struct info_leftover *left);

/* 1 and the pool's info and the slot when ptr is one of p's synthetic
 * addresses. */
int info_synthetic(const struct info_pools *p, uint64_t ptr, uint64_t *size, uint64_t *stack,
                   uint32_t *slot);

#endif /* TIDEMARK_ANALYZER_READER_INFO_H */
