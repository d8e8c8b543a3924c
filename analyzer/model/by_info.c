/* analyzer/model/by_info.c - what a pass does with 3.x's heap by info
 * (ALLOC_INFO, FREE_INFO and TABLE_ARRAY naming an info), between the
 * reader and heap.c's counts per info:
 *  - ALLOC_INFO and FREE_INFO join the pass's batch (their info's slot
 *    prefetched) and are counted in order (heap_alloc_info, heap_free_info);
 *  - a TABLE_ARRAY by info moves one live block of its info to the address
 *    map, where the array's later FREE by address finds it;
 *  - a TABLE_ARRAY read before its block's ALLOC_INFO (one tick, another
 *    thread) waits in `held` until that ALLOC_INFO, which then allocates the
 *    block by the array's address and applies the array;
 *  - at the end, frees whose allocation never came and arrays whose block
 *    never came are warned about (as damage, like the reader's problems).
 * Records after --at are counted per info too (not in the figures): a later
 * free or array then finds what it names.
 *
 * The trace's `records` figure stays what it was when the reader turned
 * these records into ALLOC/FREE of invented addresses (issue 15): a
 * TABLE_ARRAY that moves a block counts twice, one that waits counts when
 * its block comes. */
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"

static void note_time(struct analysis *c, uint64_t t)
{
    if (t > c->last_t) c->last_t = t;
}

/* Moves the first array held for (size, stack) into *out: 1, or 0. */
static int take_held(struct analysis *c, uint64_t size, uint64_t stack, struct tm_record *out)
{
    for (size_t i = 0; i < c->n_held; i++) {
        const struct tm_record *h = &c->held[i];
        if (h->u.table_array.info_size != size || h->u.table_array.info_stack != stack) continue;
        *out = *h;
        memmove(&c->held[i], &c->held[i + 1], (c->n_held - i - 1) * sizeof *c->held);
        c->n_held--;
        return 1;
    }
    return 0;
}

static int hold(struct analysis *c, const struct tm_record *r)
{
    if (c->n_held == c->held_cap) {
        size_t cap = c->held_cap ? 2 * c->held_cap : 16;
        struct tm_record *h = realloc(c->held, cap * sizeof *h);
        if (!h) return -1;
        c->held = h;
        c->held_cap = cap;
    }
    c->held[c->n_held++] = *r;
    return 0;
}

/* ALLOC_INFO r is the block of a held array: allocated by the array's
 * address, then the array applied at r's time. */
static int allocate_held(struct analysis *c, const struct tm_record *r, struct tm_record *array)
{
    c->m->info.records++; /* the array, counted when it is applied */
    struct tm_record a = {.type = TMK_REC_ALLOC, .thread = r->thread, .t = r->t};
    a.u.alloc.ptr = array->u.table_array.ptr;
    a.u.alloc.size = r->u.by_info.size;
    a.u.alloc.stack = r->u.by_info.stack;
    array->t = r->t;
    array->u.table_array.by_info = 0; /* its block is known by address now */
    int rc = analysis_apply(c, &a);
    return rc ? rc : analysis_apply(c, array);
}

int by_info_record(struct analysis *c, const struct tm_record *r)
{
    uint64_t size = r->u.by_info.size, stack = r->u.by_info.stack;
    struct tm_record array;
    if (r->type == TMK_REC_ALLOC_INFO && c->n_held && take_held(c, size, stack, &array))
        return allocate_held(c, r, &array);
    struct analysis_pending *p = &c->batch[c->nbatch++];
    p->type = r->type;
    p->thread = r->thread;
    p->t = r->t;
    p->size = size;
    p->stack = stack;
    infomap_prefetch(&c->heap.infos, infomap_key(size, stack));
    if (c->nbatch == ANALYSIS_BATCH) analysis_flush(c);
    return analysis_oom(c);
}

void by_info_apply(struct analysis *c, const struct analysis_pending *p)
{
    int counted = p->t <= c->o->at;
    if (p->type == TMK_REC_ALLOC_INFO) {
        heap_alloc_info(&c->heap, p->t, p->size, p->stack, counted);
        note_time(c, p->t);
    } else if (heap_free_info(&c->heap, p->t, p->size, p->stack, counted)) {
        note_time(c, p->t); /* a free still waiting for its block: at the end */
    }
}

int by_info_array(struct analysis *c, const struct tm_record *r)
{
    const __typeof__(r->u.table_array) *a = &r->u.table_array;
    if (heap_info_to_address(&c->heap, r->t, a->info_size, a->info_stack, a->ptr,
                             r->t <= c->o->at)) {
        c->m->info.records++;
        return 0;
    }
    c->m->info.records--; /* counted when its block comes */
    if (hold(c, r)) c->oom = 1;
    return 1;
}

/* Frees by info still waiting for their block, and the first info (in the
 * order they were met) that has such a free or a held array. */
static uint64_t owed_frees(struct analysis *c, uint64_t *first_key)
{
    struct u64map held;
    u64map_init(&held);
    for (size_t i = 0; i < c->n_held; i++) {
        const struct tm_record *h = &c->held[i];
        if (u64map_put(&held, infomap_key(h->u.table_array.info_size, h->u.table_array.info_stack),
                       1))
            c->oom = 1;
    }
    const struct infomap *m = &c->heap.infos;
    uint64_t owed = 0;
    int first = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct info_slot *s = infomap_find(m, m->order[i]);
        uint64_t n = s->count < 0 ? (uint64_t)(-(int64_t)s->count) : 0;
        if ((n || u64map_get(&held, s->key)) && !first) {
            *first_key = s->key;
            first = 1;
        }
        owed += n;
    }
    u64map_free(&held);
    return owed;
}

void by_info_end(struct analysis *c, struct tm_reader *r)
{
    if (!c->heap.infos.n) return;
    uint64_t key = 0, owed = owed_frees(c, &key);
    if (owed) { /* frees of blocks the trace never allocated, at its last time */
        note_time(c, c->last_read_t);
        if (c->last_read_t <= c->o->at) c->heap.unknown_frees += owed;
    }
    if (tm_reader_live(r)) return; /* their records may be on their way */
    if (owed)
        tm_reader_warn(r, "%llu frees by info found no block of their info to end (first: size "
                          "%llu stack %llu); counted as frees of unknown pointers",
                       (unsigned long long)owed, (unsigned long long)infomap_key_size(key),
                       (unsigned long long)infomap_key_stack(key));
    if (c->n_held)
        tm_reader_warn(r, "%llu table arrays named an info that allocated no block for them "
                          "(first: size %llu stack %llu); ignored",
                       (unsigned long long)c->n_held, (unsigned long long)infomap_key_size(key),
                       (unsigned long long)infomap_key_stack(key));
}
