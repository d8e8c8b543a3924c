/* analyzer/model/u64map.c - see u64map.h. Invariant: the load stays <= 1/2, and
 * every key sits in the probe run that starts at its hash slot with no empty
 * slot between (what backward-shift deletion preserves). */
#include "u64map.h"

#include <stdlib.h>

#define EMPTY UINT64_MAX

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33; /* murmur3 finalizer: addresses differ in low bits */
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void u64map_init(struct u64map *m)
{
    m->keys = m->vals = NULL;
    m->cap = m->count = 0;
    m->has_max = 0;
}

void u64map_free(struct u64map *m)
{
    free(m->keys);
    free(m->vals);
    u64map_init(m);
}

uint64_t *u64map_get(const struct u64map *m, uint64_t key)
{
    if (key == EMPTY) return m->has_max ? (uint64_t *)&m->max_val : NULL;
    if (!m->cap) return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) return &m->vals[i];
        if (m->keys[i] == EMPTY) return NULL;
    }
}

static void insert_fresh(struct u64map *m, uint64_t key, uint64_t val)
{
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] != EMPTY) i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->vals[i] = val;
}

static int grow(struct u64map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    uint64_t *k = malloc(cap * sizeof *k), *v = malloc(cap * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (size_t i = 0; i < cap; i++) k[i] = EMPTY;
    struct u64map old = *m;
    m->keys = k;
    m->vals = v;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] != EMPTY) insert_fresh(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
    if (key == EMPTY) {
        m->count += !m->has_max;
        m->has_max = 1;
        m->max_val = val;
        return 0;
    }
    uint64_t *v = u64map_get(m, key);
    if (v) {
        *v = val;
        return 0;
    }
    if ((m->count + 2) * 2 > m->cap && grow(m)) return -1;
    insert_fresh(m, key, val);
    m->count++;
    return 0;
}

int u64map_del(struct u64map *m, uint64_t key, uint64_t *old)
{
    if (key == EMPTY) {
        if (!m->has_max) return 0;
        if (old) *old = m->max_val;
        m->has_max = 0;
        m->count--;
        return 1;
    }
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->keys[i] != key) {
        if (m->keys[i] == EMPTY) return 0;
        i = (i + 1) & mask;
    }
    if (old) *old = m->vals[i];
    /* Backward shift: pull later members of the run into the hole when their
     * home slot is not inside (hole, j]. */
    for (size_t j = (i + 1) & mask; m->keys[j] != EMPTY; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);
        int in_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (in_between) continue;
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        i = j;
    }
    m->keys[i] = EMPTY;
    m->count--;
    return 1;
}
