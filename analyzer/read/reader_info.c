/* analyzer/read/reader_info.c - pools of blocks allocated by info (reader_info.h).
 *
 * Invariants:
 *  - a pool's live slots are [0, live): an ALLOC_INFO allocates slot live,
 *    a free and a TABLE_ARRAY end slot live - 1 (LIFO), so a synthetic
 *    address is live in the analyzer exactly while its slot is < live;
 *  - live < TM_SYNTHETIC_NONE, so the FREE of an unpaid debt (slot
 *    TM_SYNTHETIC_NONE) never names a live block;
 *  - a pool's number never changes (its synthetic addresses carry it), while
 *    its slot in the table moves when the table grows: anything kept across
 *    a new pool (the held arrays) names the pool by key;
 *  - POOL_COLD is set in a slot exactly while its pool's debt or held count
 *    is not 0 (mark() after every change of either), so info_quick may
 *    ignore both when it is clear;
 *  - memory is one pool per info met, plus the TABLE_ARRAYs held while their
 *    allocation has not been read (equal times, rare).
 */
#include "reader_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOLS_FIRST_SLOTS 1024u

void info_pools_init(struct info_pools *p)
{
    memset(p, 0, sizeof *p);
}

void info_pools_free(struct info_pools *p)
{
    free(p->slot);
    free(p->cold);
    free(p->held);
    memset(p, 0, sizeof *p);
}

/* The empty slot where key goes in a table known not to hold it. */
static struct info_pool *empty_slot(struct info_pool *slot, size_t mask, uint64_t key)
{
    size_t i = info_home(key, mask);
    while (slot[i].num1) i = (i + 1) & mask;
    return &slot[i];
}

/* Doubles the table (or makes the first). -1 when out of memory. */
static int grow(struct info_pools *p)
{
    size_t cap = p->slot ? 2 * (p->mask + 1) : POOLS_FIRST_SLOTS;
    struct info_pool *slot = calloc(cap, sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; p->slot && i <= p->mask; i++)
        if (p->slot[i].num1) *empty_slot(slot, cap - 1, p->slot[i].key) = p->slot[i];
    free(p->slot);
    p->slot = slot;
    p->mask = cap - 1;
    return 0;
}

/* The pool of key, made when new. NULL with out->problem set when there are
 * TM_SYNTHETIC_POOLS already; *oom on OOM. */
static struct info_pool *find_or_add(struct info_pools *p, uint64_t key, struct info_out *out,
                                     int *oom)
{
    struct info_pool *pool = info_find(p, key);
    if (pool) return pool;
    if (p->n >= TM_SYNTHETIC_POOLS) {
        snprintf(out->problem, sizeof out->problem,
                 "more than %u heap infos: size %llu stack %llu ignored", TM_SYNTHETIC_POOLS,
                 (unsigned long long)info_key_size(key), (unsigned long long)info_key_stack(key));
        return NULL;
    }
    if (p->n == p->cold_cap) {
        size_t cap = p->cold_cap ? p->cold_cap * 2 : 256;
        struct info_cold *c = realloc(p->cold, cap * sizeof *c);
        if (!c) goto oom;
        p->cold = c;
        p->cold_cap = cap;
    }
    if ((!p->slot || 2 * (p->n + 1) > p->mask + 1) && grow(p)) goto oom;
    p->cold[p->n] = (struct info_cold){.key = key};
    pool = empty_slot(p->slot, p->mask, key);
    *pool = (struct info_pool){.key = key, .num1 = (uint32_t)++p->n};
    return pool;
oom:
    *oom = 1;
    return NULL;
}

static uint32_t num_of(const struct info_pool *pool)
{
    return (pool->num1 & ~POOL_COLD) - 1;
}

static struct info_cold *cold_of(const struct info_pools *p, const struct info_pool *pool)
{
    return &p->cold[num_of(pool)];
}

/* Sets or clears POOL_COLD after a change of the pool's debt or held. */
static void mark(struct info_pool *pool, const struct info_cold *c)
{
    if (c->debt || c->held) pool->num1 |= POOL_COLD;
    else pool->num1 &= ~POOL_COLD;
}

/* Appends a record of type `type` at in's time and thread to out. */
static struct tm_record *emit(struct info_out *out, const struct tm_record *in, uint8_t type)
{
    struct tm_record *r = &out->rec[out->n++];
    memset(r, 0, sizeof *r);
    r->type = type;
    r->thread = in->thread;
    r->t = in->t;
    return r;
}

static void emit_alloc(struct info_out *out, const struct tm_record *in, uint64_t ptr)
{
    struct tm_record *r = emit(out, in, TMK_REC_ALLOC);
    r->u.alloc.ptr = ptr;
    r->u.alloc.size = in->u.by_info.size;
    r->u.alloc.stack = in->u.by_info.stack;
}

static void emit_free(struct info_out *out, const struct tm_record *in, uint64_t ptr)
{
    emit(out, in, TMK_REC_FREE)->u.free.ptr = ptr;
}

static uint64_t key_of(const struct tm_record *in)
{
    return info_key(in->u.by_info.size, in->u.by_info.stack);
}

/* Moves the first TABLE_ARRAY held for key out of the held list. */
static struct tm_record take_held(struct info_pools *p, uint64_t key)
{
    size_t i = 0;
    while (p->held[i].key != key) i++; /* its held count > 0: it is there */
    struct tm_record rec = p->held[i].rec;
    memmove(&p->held[i], &p->held[i + 1], (p->n_held - i - 1) * sizeof *p->held);
    p->n_held--;
    return rec;
}

static int on_alloc(struct info_pools *p, const struct tm_record *in, struct info_out *out)
{
    int oom = 0;
    struct info_pool *pool = find_or_add(p, key_of(in), out, &oom);
    if (!pool) return oom ? -1 : 0;
    struct info_cold *c = cold_of(p, pool);
    if (c->held) { /* the block a TABLE_ARRAY already named: by its address */
        c->held--;
        mark(pool, c);
        struct tm_record array = take_held(p, pool->key);
        emit_alloc(out, in, array.u.table_array.ptr);
        array.t = in->t;
        out->rec[out->n++] = array;
        return 0;
    }
    if (pool->live == TM_SYNTHETIC_NONE - 1) {
        snprintf(out->problem, sizeof out->problem,
                 "size %llu stack %llu: more than %u blocks live",
                 (unsigned long long)in->u.by_info.size, (unsigned long long)in->u.by_info.stack,
                 TM_SYNTHETIC_NONE - 1);
        return 0;
    }
    uint64_t ptr = tm_synthetic_ptr(num_of(pool), pool->live);
    emit_alloc(out, in, ptr);
    if (c->debt) { /* its free was read first */
        c->debt--;
        mark(pool, c);
        emit_free(out, in, ptr);
    } else {
        pool->live++;
    }
    return 0;
}

static int on_free(struct info_pools *p, const struct tm_record *in, struct info_out *out)
{
    int oom = 0;
    struct info_pool *pool = find_or_add(p, key_of(in), out, &oom);
    if (!pool) return oom ? -1 : 0;
    struct info_cold *c = cold_of(p, pool);
    if (pool->live) {
        pool->live--;
        emit_free(out, in, tm_synthetic_ptr(num_of(pool), pool->live));
    } else if (c->debt < UINT32_MAX) {
        c->debt++;
        mark(pool, c);
    }
    return 0;
}

static int hold(struct info_pools *p, uint64_t key, const struct tm_record *in)
{
    if (p->n_held == p->held_cap) {
        size_t cap = p->held_cap ? p->held_cap * 2 : 16;
        struct held_array *h = realloc(p->held, cap * sizeof *h);
        if (!h) return -1;
        p->held = h;
        p->held_cap = cap;
    }
    p->held[p->n_held++] = (struct held_array){key, *in};
    return 0;
}

static int on_array(struct info_pools *p, const struct tm_record *in, struct info_out *out)
{
    int oom = 0;
    uint64_t key = info_key(in->u.table_array.info_size, in->u.table_array.info_stack);
    struct info_pool *pool = find_or_add(p, key, out, &oom);
    if (!pool) return oom ? -1 : 0;
    struct info_cold *c = cold_of(p, pool);
    if (!pool->live) { /* its ALLOC_INFO is still to come */
        if (c->held == UINT32_MAX) {
            snprintf(out->problem, sizeof out->problem,
                     "too many table arrays wait for size %llu stack %llu",
                     (unsigned long long)in->u.table_array.info_size,
                     (unsigned long long)in->u.table_array.info_stack);
            return 0;
        }
        if (hold(p, key, in)) return -1;
        c->held++;
        mark(pool, c);
        return 0;
    }
    pool->live--;
    struct tm_record *r = emit(out, in, TM_REC_RENAME);
    r->u.rename.from = tm_synthetic_ptr(num_of(pool), pool->live);
    r->u.rename.to = in->u.table_array.ptr;
    out->rec[out->n++] = *in;
    return 0;
}

int info_translate(struct info_pools *p, const struct tm_record *in, struct info_out *out)
{
    out->n = 0;
    out->problem[0] = 0;
    switch (in->type) {
    case TMK_REC_ALLOC_INFO: return on_alloc(p, in, out);
    case TMK_REC_FREE_INFO: return on_free(p, in, out);
    default: return on_array(p, in, out);
    }
}

int info_drain(struct info_pools *p, uint64_t t, tm_record_fn fn, void *ctx,
               struct info_leftover *left)
{
    memset(left, 0, sizeof *left);
    /* by pool number, so that the FREEs come in the same order every time */
    for (size_t n = 0; n < p->n; n++) {
        struct info_cold *c = &p->cold[n];
        if ((c->debt || c->held) && !left->frees && !left->arrays) {
            left->size = info_key_size(c->key);
            left->stack = info_key_stack(c->key);
        }
        left->arrays += c->held;
        struct tm_record r = {.type = TMK_REC_FREE, .t = t};
        r.u.free.ptr = tm_synthetic_ptr((uint32_t)n, TM_SYNTHETIC_NONE);
        for (; c->debt; c->debt--) {
            left->frees++;
            if (fn(ctx, &r)) return 1;
        }
    }
    return 0;
}

int info_synthetic(const struct info_pools *p, uint64_t ptr, uint64_t *size, uint64_t *stack,
                   uint32_t *slot)
{
    if (!(ptr & TM_SYNTHETIC_BIT) || (ptr & 0xf)) return 0;
    uint64_t pool = (ptr & ~TM_SYNTHETIC_BIT) >> 36;
    if (pool >= p->n) return 0;
    *size = info_key_size(p->cold[pool].key);
    *stack = info_key_stack(p->cold[pool].key);
    *slot = (uint32_t)(ptr >> 4);
    return 1;
}
