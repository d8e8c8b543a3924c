/* analyzer/model/livemap.c - see livemap.h. Invariant: every entry sits in the
 * probe run starting at its home slot with no empty slot in between. */
#include "livemap.h"

#include <stdint.h>
#include <stdlib.h>

#include "bigalloc.h"

void livemap_init(struct livemap *m)
{
    m->e = NULL;
    m->cap = m->count = 0;
    m->shift = 64;
    m->has_zero = 0;
}

void livemap_free(struct livemap *m)
{
    free(m->e);
    livemap_init(m);
}

int livemap_grow(struct livemap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct live_entry *e = big_calloc(cap, sizeof *e);
    if (!e) return -1;
    struct livemap old = *m;
    m->e = e;
    m->cap = cap;
    m->shift = 64 - (unsigned)__builtin_ctzll(cap);
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.e[i].ptr) continue;
        size_t j = livemap_home(m, old.e[i].ptr);
        while (e[j].ptr) j = (j + 1) & (cap - 1);
        e[j] = old.e[i];
    }
    free(old.e);
    return 0;
}

int livemap_has(const struct livemap *m, uint64_t ptr)
{
    if (ptr == 0) return m->has_zero;
    if (!m->cap) return 0;
    size_t mask = m->cap - 1;
    for (size_t i = livemap_home(m, ptr); m->e[i].ptr; i = (i + 1) & mask)
        if (m->e[i].ptr == ptr) return 1;
    return 0;
}
