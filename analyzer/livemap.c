/* analyzer/livemap.c - see livemap.h. Invariant: every entry sits in the
 * probe run starting at its home slot with no empty slot in between. */
#include "livemap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static inline size_t home(const struct livemap *m, uint64_t ptr)
{
    return (size_t)(((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> m->shift);
}

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

/* Random probes into a map of megabytes miss the TLB on 4 KiB pages (on a
 * VM each miss is a nested page walk): a map of 2 MiB or more is allocated
 * on a 2 MiB boundary and marked for huge pages (best effort). */
#define HUGE_PAGE ((size_t)2 << 20)

static struct live_entry *alloc_entries(size_t cap)
{
    size_t bytes = cap * sizeof(struct live_entry);
#ifdef MADV_HUGEPAGE
    if (bytes >= HUGE_PAGE) {
        void *p = NULL;
        if (posix_memalign(&p, HUGE_PAGE, bytes) != 0) return NULL;
        int saved = errno;
        (void)madvise(p, bytes & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
        errno = saved;
        memset(p, 0, bytes);
        return p;
    }
#endif
    return calloc(cap, sizeof(struct live_entry));
}

static int grow(struct livemap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct live_entry *e = alloc_entries(cap);
    if (!e) return -1;
    struct livemap old = *m;
    m->e = e;
    m->cap = cap;
    m->shift = 64 - (unsigned)__builtin_ctzll(cap);
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.e[i].ptr) continue;
        size_t j = home(m, old.e[i].ptr);
        while (e[j].ptr) j = (j + 1) & (cap - 1);
        e[j] = old.e[i];
    }
    free(old.e);
    return 0;
}

int livemap_put(struct livemap *m, uint64_t ptr, uint64_t packed, uint64_t *old)
{
    if (ptr == 0) {
        int had = m->has_zero;
        if (had) *old = m->zero_packed;
        m->has_zero = 1;
        m->zero_packed = packed;
        m->count += !had;
        return had;
    }
    if ((m->count + 1) * 2 > m->cap && grow(m)) return -1;
    size_t mask = m->cap - 1, i = home(m, ptr);
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

int livemap_del(struct livemap *m, uint64_t ptr, uint64_t *packed)
{
    if (ptr == 0) {
        if (!m->has_zero) return 0;
        *packed = m->zero_packed;
        m->has_zero = 0;
        m->count--;
        return 1;
    }
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = home(m, ptr);
    while (m->e[i].ptr != ptr) {
        if (!m->e[i].ptr) return 0;
        i = (i + 1) & mask;
    }
    *packed = m->e[i].packed;
    for (size_t j = (i + 1) & mask; m->e[j].ptr; j = (j + 1) & mask) {
        size_t h = home(m, m->e[j].ptr);
        int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (stays) continue;
        m->e[i] = m->e[j];
        i = j;
    }
    m->e[i].ptr = 0;
    m->count--;
    return 1;
}

int livemap_has(const struct livemap *m, uint64_t ptr)
{
    if (ptr == 0) return m->has_zero;
    if (!m->cap) return 0;
    size_t mask = m->cap - 1;
    for (size_t i = home(m, ptr); m->e[i].ptr; i = (i + 1) & mask)
        if (m->e[i].ptr == ptr) return 1;
    return 0;
}
