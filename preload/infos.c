/* preload/infos.c - full mode: each thread's (size, stack) pairs, its infos.
 *
 * An allocation in full mode is written as ALLOC_INFO(info) (trace_format.h):
 * the info, defined once per thread by an INFO record, stands for the pair
 * (requested size, stack id). Most programs allocate a few sizes from a few
 * places, so the pair repeats and the trace carries one small number per
 * event. Ids are per thread number, 1-based, in the order the thread met the
 * pairs; the INFO record goes into the thread's own buffer before the first
 * record that uses it, so a reader always meets the definition first.
 *
 * The table is the thread's own (no lock): open addressing with linear
 * probing, grown at half load, memory from arena.c. A thread state reused for a
 * new thread (new number) starts empty.
 */
#include <string.h>

#include "internal.h"

#define INFOS_FIRST_CAPACITY 256u

struct tmk_info_entry {
    uint64_t size;
    uint32_t stack;
    uint32_t id; /* 0 = empty */
};

static inline size_t info_home(uint64_t size, uint32_t stack, size_t mask)
{
    uint64_t h = (size * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)stack * 0xC2B2AE3D27D4EB4Full);
    return (size_t)(h >> 32) & mask;
}

static void place(struct tmk_info_entry *tab, size_t mask, const struct tmk_info_entry *e)
{
    size_t i = info_home(e->size, e->stack, mask);
    while (tab[i].id) i = (i + 1) & mask;
    tab[i] = *e;
}

/* Room for one more pair. Returns 0 or -1 (no memory). */
static int reserve_one(struct tmk_thread *t)
{
    if (t->infos && (t->infos_used + 1) * 2 <= t->infos_mask + 1) return 0;
    size_t cap = t->infos ? (t->infos_mask + 1) * 2 : INFOS_FIRST_CAPACITY;
    struct tmk_info_entry *tab = tmk_arena_alloc(cap * sizeof *tab);
    if (!tab) return -1;
    if (t->infos) {
        for (size_t i = 0; i <= t->infos_mask; i++)
            if (t->infos[i].id) place(tab, cap - 1, &t->infos[i]);
        tmk_arena_free(t->infos);
    }
    t->infos = tab;
    t->infos_mask = cap - 1;
    return 0;
}

static void put_info_record(struct tmk_thread *t, uint32_t id, uint64_t size, uint32_t stack)
{
    uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
    *p++ = TMK_REC_INFO;
    p = tmk_put_u(p, id);
    p = tmk_put_u(p, size);
    p = tmk_put_u(p, stack);
    tmk_publish(t, p);
}

static uint32_t info_define(struct tmk_thread *t, uint64_t size, uint32_t stack)
{
    if (reserve_one(t) != 0) return 0;
    size_t i = info_home(size, stack, t->infos_mask);
    while (t->infos[i].id) {
        if (t->infos[i].size == size && t->infos[i].stack == stack) return t->infos[i].id;
        i = (i + 1) & t->infos_mask;
    }
    uint32_t id = ++t->infos_last;
    t->infos[i] = (struct tmk_info_entry){size, stack, id};
    t->infos_used++;
    put_info_record(t, id, size, stack);
    return id;
}

uint32_t tmk_info_id(struct tmk_thread *t, uint64_t size, uint32_t stack)
{
    if (TMK_LIKELY(t->infos != NULL)) {
        size_t i = info_home(size, stack, t->infos_mask);
        for (; t->infos[i].id; i = (i + 1) & t->infos_mask)
            if (t->infos[i].size == size && t->infos[i].stack == stack) return t->infos[i].id;
    }
    return info_define(t, size, stack);
}

void tmk_infos_reset(struct tmk_thread *t)
{
    if (t->infos) memset(t->infos, 0, (t->infos_mask + 1) * sizeof *t->infos);
    t->infos_used = 0;
    t->infos_last = 0;
}
