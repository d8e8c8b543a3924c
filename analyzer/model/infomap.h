/* analyzer/model/infomap.h - the heap by info: how many blocks of each
 * allocation info (size, stack) are live, for 3.x full-mode traces whose
 * ALLOC_INFO and FREE_INFO records carry no address (heap.c counts them;
 * the shim's blocks of one info are interchangeable: no figure depends on
 * which one a free ends).
 *
 * One 16-byte slot per info (key, signed count, site), open addressing with
 * linear probing and Fibonacci hashing, load <= 1/2, no deletion: W1 has
 * about 10^5 infos and 10^7 records, so a record costs one probe that the
 * analysis prefetched. `order` keeps the keys in the order they were first
 * met (infomap_add), for messages that name "the first" info. */
#ifndef TIDEMARK_ANALYZER_INFOMAP_H
#define TIDEMARK_ANALYZER_INFOMAP_H

#include <stddef.h>
#include <stdint.h>

/* A slot's site: INFO_SITE_EMPTY marks an empty slot, INFO_SITE_UNSET an
 * info whose site heap.c has not looked up yet (none of its allocations
 * counted), INFO_SITE_NONE one without a site (heap.c's site_for gave
 * UINT32_MAX); else the site index + INFO_SITE_BIAS. */
#define INFO_SITE_EMPTY 0u
#define INFO_SITE_UNSET 1u
#define INFO_SITE_BIAS 2u
#define INFO_SITE_NONE UINT32_MAX

struct info_slot {
    uint64_t key;  /* infomap_key(size, stack) */
    int32_t count; /* blocks live; below 0: frees read before their
                      allocations (one tick, several threads) */
    uint32_t site; /* see INFO_SITE_* */
};

struct infomap {
    struct info_slot *slot; /* power-of-two table, or NULL */
    size_t mask, n;
    uint64_t *order; /* keys, first met first */
    size_t order_cap;
};

/* The reader checked size < 2^32 and stack < 2^32. */
static inline uint64_t infomap_key(uint64_t size, uint64_t stack)
{
    return stack << 32 | size;
}
static inline uint64_t infomap_key_size(uint64_t key) { return key & UINT32_MAX; }
static inline uint64_t infomap_key_stack(uint64_t key) { return key >> 32; }

static inline size_t infomap_home(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

void infomap_init(struct infomap *m);
void infomap_free(struct infomap *m);
/* Adds key (count 0, site unset); the map must not hold it. NULL when out
 * of memory. */
struct info_slot *infomap_add(struct infomap *m, uint64_t key);

static inline struct info_slot *infomap_find(const struct infomap *m, uint64_t key)
{
    if (!m->slot) return NULL;
    for (size_t i = infomap_home(key, m->mask);; i = (i + 1) & m->mask) {
        struct info_slot *s = &m->slot[i];
        if (s->site == INFO_SITE_EMPTY) return NULL;
        if (s->key == key) return s;
    }
}

/* key's slot, added when new; NULL when out of memory. */
static inline struct info_slot *infomap_get(struct infomap *m, uint64_t key)
{
    struct info_slot *s = infomap_find(m, key);
    return s ? s : infomap_add(m, key);
}

/* Starts loading the slot where key's search begins (a hint: the map may
 * grow before the record is applied). */
static inline void infomap_prefetch(const struct infomap *m, uint64_t key)
{
    if (m->slot) __builtin_prefetch(&m->slot[infomap_home(key, m->mask)], 1);
}

#endif /* TIDEMARK_ANALYZER_INFOMAP_H */
