/* analyzer/model/infomap.c - see infomap.h. Invariant: every key sits in the
 * probe run that starts at its home slot, with no empty slot in between
 * (nothing is ever removed). */
#include "infomap.h"

#include <stdlib.h>
#include <string.h>

#include "bigalloc.h"

#define INFOMAP_FIRST_SLOTS 1024u

void infomap_init(struct infomap *m)
{
    memset(m, 0, sizeof *m);
}

void infomap_free(struct infomap *m)
{
    free(m->slot);
    free(m->order);
    infomap_init(m);
}

/* The empty slot where key goes in a table known not to hold it. */
static struct info_slot *empty_slot(struct info_slot *slot, size_t mask, uint64_t key)
{
    size_t i = infomap_home(key, mask);
    while (slot[i].site != INFO_SITE_EMPTY) i = (i + 1) & mask;
    return &slot[i];
}

/* Doubles the table (or makes the first). -1 when out of memory. */
static int grow(struct infomap *m)
{
    size_t cap = m->slot ? 2 * (m->mask + 1) : INFOMAP_FIRST_SLOTS;
    struct info_slot *slot = big_calloc(cap, sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; m->slot && i <= m->mask; i++)
        if (m->slot[i].site != INFO_SITE_EMPTY)
            *empty_slot(slot, cap - 1, m->slot[i].key) = m->slot[i];
    free(m->slot);
    m->slot = slot;
    m->mask = cap - 1;
    return 0;
}

struct info_slot *infomap_add(struct infomap *m, uint64_t key)
{
    if (m->n == m->order_cap) {
        size_t cap = m->order_cap ? 2 * m->order_cap : 256;
        uint64_t *o = realloc(m->order, cap * sizeof *o);
        if (!o) return NULL;
        m->order = o;
        m->order_cap = cap;
    }
    if ((!m->slot || 2 * (m->n + 1) > m->mask + 1) && grow(m)) return NULL;
    struct info_slot *s = empty_slot(m->slot, m->mask, key);
    *s = (struct info_slot){.key = key, .count = 0, .site = INFO_SITE_UNSET};
    m->order[m->n++] = key;
    return s;
}
