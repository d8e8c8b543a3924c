/* analyzer/reader_info.c - pools of blocks allocated by info (reader_info.h).
 *
 * Invariants:
 *  - a pool's live slots are [0, live): an ALLOC_INFO allocates slot live,
 *    a free and a TABLE_ARRAY end slot live - 1 (LIFO), so a synthetic
 *    address is live in the analyzer exactly while its slot is < live;
 *  - live < TM_SYNTHETIC_NONE, so the FREE of an unpaid debt (slot
 *    TM_SYNTHETIC_NONE) never names a live block;
 *  - memory is one pool per (thread, info) met, plus the TABLE_ARRAYs held
 *    while their allocation has not been read (equal times, rare).
 */
#include "reader_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void info_pools_init(struct info_pools *p)
{
    memset(p, 0, sizeof *p);
    u64map_init(&p->ix);
}

int info_pools_streams(struct info_pools *p, size_t n)
{
    p->own = calloc(n ? n : 1, sizeof *p->own);
    p->n_own = p->own ? n : 0;
    return p->own ? 0 : -1;
}

void info_pools_free(struct info_pools *p)
{
    u64map_free(&p->ix);
    free(p->pool);
    free(p->held);
    for (size_t i = 0; i < p->n_own; i++) free(p->own[i].ix);
    free(p->own);
    memset(p, 0, sizeof *p);
}

/* Notes the stream's new info id -> pool in its dense index when the id is
 * small enough for the thread's number of infos. -1 when out of memory. */
static int own_note(struct info_pools *p, uint32_t stream, uint64_t info, uint32_t pool)
{
    struct info_own *o = &p->own[stream];
    o->n++;
    uint64_t bound = 4 * (uint64_t)o->n + 64;
    if (info >= bound) return 0; /* sparse ids: the hash map has it */
    if (info >= o->cap) {
        uint64_t cap = o->cap ? 2 * (uint64_t)o->cap : 64;
        if (cap <= info) cap = info + 1;
        if (cap > bound) cap = bound;
        uint32_t *ix = realloc(o->ix, cap * sizeof *ix);
        if (!ix) return -1;
        memset(ix + o->cap, 0, (cap - o->cap) * sizeof *ix);
        o->ix = ix;
        o->cap = (uint32_t)cap;
    }
    o->ix[info] = pool + 1;
    return 0;
}

static uint64_t key_of(uint64_t thread, uint64_t info)
{
    return thread << 32 | info; /* the decoder checked both fit 32 bits */
}

static struct info_pool *find(const struct info_pools *p, uint64_t thread, uint64_t info)
{
    const uint64_t *ix = u64map_get(&p->ix, key_of(thread, info));
    return ix ? &p->pool[*ix] : NULL;
}

/* The pool of (thread, info), made undefined when new. NULL with
 * out->problem set when there are TM_SYNTHETIC_POOLS already; *oom on OOM. */
static struct info_pool *find_or_add(struct info_pools *p, uint64_t thread, uint64_t info,
                                     struct info_out *out, int *oom)
{
    struct info_pool *pool = find(p, thread, info);
    if (pool) return pool;
    if (p->n >= TM_SYNTHETIC_POOLS) {
        snprintf(out->problem, sizeof out->problem,
                 "more than %u heap infos: thread %llu info %llu ignored", TM_SYNTHETIC_POOLS,
                 (unsigned long long)thread, (unsigned long long)info);
        return NULL;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct info_pool *np = realloc(p->pool, cap * sizeof *np);
        if (!np) goto oom;
        p->pool = np;
        p->cap = cap;
    }
    if (u64map_put(&p->ix, key_of(thread, info), p->n)) goto oom;
    pool = &p->pool[p->n++];
    memset(pool, 0, sizeof *pool);
    pool->thread = (uint32_t)thread;
    pool->info = (uint32_t)info;
    return pool;
oom:
    *oom = 1;
    return NULL;
}

static uint32_t pool_ix(const struct info_pools *p, const struct info_pool *pool)
{
    return (uint32_t)(pool - p->pool);
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

static void emit_alloc(struct info_out *out, const struct tm_record *in,
                       const struct info_pool *pool, uint64_t ptr)
{
    struct tm_record *r = emit(out, in, TMK_REC_ALLOC);
    r->u.alloc.ptr = ptr;
    r->u.alloc.size = pool->size;
    r->u.alloc.stack = pool->stack;
}

static void emit_free(struct info_out *out, const struct tm_record *in, uint64_t ptr)
{
    emit(out, in, TMK_REC_FREE)->u.free.ptr = ptr;
}

/* The pool of an ALLOC_INFO or FREE_INFO: its own thread's, defined. */
static struct info_pool *own_pool(struct info_pools *p, const struct tm_record *in,
                                  struct info_out *out)
{
    struct info_pool *pool = find(p, in->thread, in->u.by_info.info);
    if (pool && pool->defined) return pool;
    snprintf(out->problem, sizeof out->problem, "%s of info %llu, which thread %u never defined",
             tm_record_type_name(in->type), (unsigned long long)in->u.by_info.info, in->thread);
    return NULL;
}

static int on_info(struct info_pools *p, uint32_t stream, const struct tm_record *in,
                   struct info_out *out)
{
    int oom = 0;
    struct info_pool *pool = find_or_add(p, in->thread, in->u.info.id, out, &oom);
    if (!pool) return oom ? -1 : 0;
    if (pool->defined) {
        snprintf(out->problem, sizeof out->problem,
                 "thread %u defined info %llu twice (the first definition is kept)", in->thread,
                 (unsigned long long)in->u.info.id);
        return 0;
    }
    pool->size = in->u.info.size;
    pool->stack = in->u.info.stack;
    pool->defined = 1;
    out->rec[out->n++] = *in;
    return own_note(p, stream, in->u.info.id, pool_ix(p, pool));
}

/* Moves the first TABLE_ARRAY held for pool out of the held list. */
static struct tm_record take_held(struct info_pools *p, uint32_t pool)
{
    size_t i = 0;
    while (p->held[i].pool != pool) i++; /* pool->held > 0: it is there */
    struct tm_record rec = p->held[i].rec;
    memmove(&p->held[i], &p->held[i + 1], (p->n_held - i - 1) * sizeof *p->held);
    p->n_held--;
    return rec;
}

static int on_alloc(struct info_pools *p, const struct tm_record *in, struct info_out *out)
{
    struct info_pool *pool = own_pool(p, in, out);
    if (!pool) return 0;
    uint32_t ix = pool_ix(p, pool);
    if (pool->held) { /* the block a TABLE_ARRAY already named: by its address */
        pool->held--;
        struct tm_record array = take_held(p, ix);
        emit_alloc(out, in, pool, array.u.table_array.ptr);
        array.t = in->t;
        out->rec[out->n++] = array;
        return 0;
    }
    if (pool->live == TM_SYNTHETIC_NONE - 1) {
        snprintf(out->problem, sizeof out->problem,
                 "thread %u info %llu: more than %u blocks live", in->thread,
                 (unsigned long long)in->u.by_info.info, TM_SYNTHETIC_NONE - 1);
        return 0;
    }
    uint64_t ptr = tm_synthetic_ptr(ix, pool->live);
    emit_alloc(out, in, pool, ptr);
    if (pool->debt) { /* its free was read first */
        pool->debt--;
        emit_free(out, in, ptr);
    } else {
        pool->live++;
    }
    return 0;
}

static int on_free(struct info_pools *p, const struct tm_record *in, struct info_out *out)
{
    struct info_pool *pool;
    if (in->type == TMK_REC_FREE_INFO) {
        pool = own_pool(p, in, out);
    } else {
        int oom = 0;
        pool = find_or_add(p, in->u.by_info.thread, in->u.by_info.info, out, &oom);
        if (oom) return -1;
    }
    if (!pool) return 0;
    if (pool->live) {
        pool->live--;
        emit_free(out, in, tm_synthetic_ptr(pool_ix(p, pool), pool->live));
    } else if (pool->debt < UINT32_MAX) {
        pool->debt++;
    }
    return 0;
}

static int hold(struct info_pools *p, uint32_t pool, const struct tm_record *in)
{
    if (p->n_held == p->held_cap) {
        size_t cap = p->held_cap ? p->held_cap * 2 : 16;
        struct held_array *h = realloc(p->held, cap * sizeof *h);
        if (!h) return -1;
        p->held = h;
        p->held_cap = cap;
    }
    p->held[p->n_held++] = (struct held_array){pool, *in};
    return 0;
}

static int on_array(struct info_pools *p, const struct tm_record *in, struct info_out *out)
{
    int oom = 0;
    struct info_pool *pool =
        find_or_add(p, in->u.table_array.info_thread, in->u.table_array.info, out, &oom);
    if (!pool) return oom ? -1 : 0;
    if (!pool->live) { /* its ALLOC_INFO is still to come */
        if (pool->held == UINT32_MAX) {
            snprintf(out->problem, sizeof out->problem, "too many table arrays wait for info %u",
                     pool->info);
            return 0;
        }
        if (hold(p, pool_ix(p, pool), in)) return -1;
        pool->held++;
        return 0;
    }
    pool->live--;
    struct tm_record *r = emit(out, in, TM_REC_RENAME);
    r->u.rename.from = tm_synthetic_ptr(pool_ix(p, pool), pool->live);
    r->u.rename.to = in->u.table_array.ptr;
    out->rec[out->n++] = *in;
    return 0;
}

int info_translate(struct info_pools *p, uint32_t stream, const struct tm_record *in,
                   struct info_out *out)
{
    out->n = 0;
    out->problem[0] = 0;
    switch (in->type) {
    case TMK_REC_INFO: return on_info(p, stream, in, out);
    case TMK_REC_ALLOC_INFO: return on_alloc(p, in, out);
    case TMK_REC_FREE_INFO:
    case TMK_REC_FREE_INFO_X: return on_free(p, in, out);
    default: return on_array(p, in, out);
    }
}

static void note_leftover(struct info_leftover *left, const struct info_pool *pool)
{
    if (left->frees || left->arrays) return; /* not the first */
    left->thread = pool->thread;
    left->info = pool->info;
}

int info_drain(struct info_pools *p, uint64_t t, tm_record_fn fn, void *ctx,
               struct info_leftover *left)
{
    memset(left, 0, sizeof *left);
    for (size_t i = 0; i < p->n; i++) {
        struct info_pool *pool = &p->pool[i];
        if (pool->debt || pool->held) note_leftover(left, pool);
        left->arrays += pool->held;
        struct tm_record r = {.type = TMK_REC_FREE, .thread = pool->thread, .t = t};
        r.u.free.ptr = tm_synthetic_ptr((uint32_t)i, TM_SYNTHETIC_NONE);
        for (; pool->debt; pool->debt--) {
            left->frees++;
            if (fn(ctx, &r)) return 1;
        }
    }
    return 0;
}

int info_synthetic(const struct info_pools *p, uint64_t ptr, uint32_t *thread, uint32_t *info,
                   uint32_t *slot)
{
    if (!(ptr & TM_SYNTHETIC_BIT) || (ptr & 0xf)) return 0;
    uint64_t pool = (ptr & ~TM_SYNTHETIC_BIT) >> 36;
    if (pool >= p->n) return 0;
    *thread = p->pool[pool].thread;
    *info = p->pool[pool].info;
    *slot = (uint32_t)(ptr >> 4);
    return 1;
}
