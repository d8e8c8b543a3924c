/* analyzer/model/livemap.h - the live allocations of the ordinary heap: ptr ->
 * (size, site), one 16-byte entry per allocation, keys and values side by
 * side so an operation touches one cache line in the common case (linear
 * probing, Fibonacci hashing of ptr >> 4, backward-shift deletion, load
 * <= 1/2). ptr 0 marks an empty slot; a live ptr 0 is kept aside. */
#ifndef TIDEMARK_ANALYZER_LIVEMAP_H
#define TIDEMARK_ANALYZER_LIVEMAP_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_SITE_BITS 24
#define LIVE_SITE_MAX ((1u << LIVE_SITE_BITS) - 1) /* sites beyond share this one */
#define LIVE_SIZE_MAX ((1ull << (64 - LIVE_SITE_BITS)) - 1) /* larger sizes are clamped */

struct live_entry {
    uint64_t ptr;
    uint64_t packed; /* size << LIVE_SITE_BITS | site */
};

struct livemap {
    struct live_entry *e;
    size_t cap, count;
    unsigned shift;       /* 64 - log2(cap) */
    int has_zero;
    uint64_t zero_packed;
};

void livemap_init(struct livemap *m);
void livemap_free(struct livemap *m);
int livemap_has(const struct livemap *m, uint64_t ptr);
/* Doubles the capacity (rehash). 0, or -1 when out of memory. */
int livemap_grow(struct livemap *m);

static inline size_t livemap_home(const struct livemap *m, uint64_t ptr)
{
    return (size_t)(((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> m->shift);
}

/* put and del are inline: one of them runs for every ALLOC and FREE.
 *
 * livemap_put: inserts ptr; if it was already live, returns 1 and its old
 * packed value in *old (the entry is replaced). 0 when new, -1 when out of
 * memory. */
static inline int livemap_put(struct livemap *m, uint64_t ptr, uint64_t packed, uint64_t *old)
{
    if (ptr == 0) {
        int had = m->has_zero;
        if (had) *old = m->zero_packed;
        m->has_zero = 1;
        m->zero_packed = packed;
        m->count += !had;
        return had;
    }
    if ((m->count + 1) * 2 > m->cap && livemap_grow(m)) return -1;
    size_t mask = m->cap - 1, i = livemap_home(m, ptr);
    for (; m->e[i].ptr; i = (i + 1) & mask) {
        if (m->e[i].ptr == ptr) {
            *old = m->e[i].packed;
            m->e[i].packed = packed;
            return 1;
        }
    }
    m->e[i].ptr = ptr;
    m->e[i].packed = packed;
    m->count++;
    return 0;
}

/* Removes ptr; 1 and its packed value if it was live, else 0. */
static inline int livemap_del(struct livemap *m, uint64_t ptr, uint64_t *packed)
{
    if (ptr == 0) {
        if (!m->has_zero) return 0;
        *packed = m->zero_packed;
        m->has_zero = 0;
        m->count--;
        return 1;
    }
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = livemap_home(m, ptr);
    while (m->e[i].ptr != ptr) {
        if (!m->e[i].ptr) return 0;
        i = (i + 1) & mask;
    }
    *packed = m->e[i].packed;
    for (size_t j = (i + 1) & mask; m->e[j].ptr; j = (j + 1) & mask) {
        size_t h = livemap_home(m, m->e[j].ptr);
        int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (stays) continue;
        m->e[i] = m->e[j];
        i = j;
    }
    m->e[i].ptr = 0;
    m->count--;
    return 1;
}

/* Starts loading ptr's home slot into the cache (no effect on the map). The
 * analyzer calls it for a batch of records before applying them, so their
 * cache misses overlap instead of coming one after the other. */
static inline void livemap_prefetch(const struct livemap *m, uint64_t ptr)
{
    if (!m->cap) return;
    size_t i = (size_t)(((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> m->shift);
#if defined(__x86_64__) || defined(__i386__)
    /* gcc 12 -O2 dropped __builtin_prefetch here (inlined into on_record):
     * the instruction itself, then. */
    uintptr_t a = (uintptr_t)&m->e[i];
    __asm__ volatile("prefetcht0 (%0)" : : "r"(a));
    /* And the next line when the slot ends its line: a delete's backward
     * shift reads the slots after the entry. A prefetch never faults. */
    if ((a & 63) == 64 - sizeof *m->e) __asm__ volatile("prefetcht0 64(%0)" : : "r"(a));
#else
    __builtin_prefetch(&m->e[i], 1);
#endif
}

static inline uint64_t live_pack(uint64_t size, uint32_t site)
{
    return (size > LIVE_SIZE_MAX ? LIVE_SIZE_MAX : size) << LIVE_SITE_BITS |
           (site > LIVE_SITE_MAX ? LIVE_SITE_MAX : site);
}
static inline uint64_t live_size(uint64_t packed) { return packed >> LIVE_SITE_BITS; }
static inline uint32_t live_site(uint64_t packed) { return (uint32_t)(packed & LIVE_SITE_MAX); }

#endif /* TIDEMARK_ANALYZER_LIVEMAP_H */
