/* analyzer/model/livemap.c - see livemap.h. Invariant: every entry sits in the
 * probe run starting at its home slot with no empty slot in between. */
#include "livemap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>


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

int livemap_grow(struct livemap *m)
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
