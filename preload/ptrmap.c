/* preload/ptrmap.c - full mode: the info each live block was allocated with.
 *
 * A free in full mode is written as FREE_INFO (size, stack) rather than by
 * address (trace_format.h), so the shim must know, at free time, the size
 * and stack the block was allocated with. This map holds that for every
 * block allocated by info while tracing: put on allocation, taken on free.
 * A block it does not hold (allocated before tracing started, in the parent
 * before a fork, by a signal handler, or of TMK_INFO_SIZE_LIMIT bytes or
 * more) is freed by address.
 *
 * 64 shards, chosen by the top bits of the address's hash, each an
 * open-addressing table with linear probing behind its own spinlock, so that
 * threads freeing each other's blocks rarely meet. Tables grow at half load
 * (a new table from arena.c, rehash, free the old one) and never shrink. Deletion
 * shifts later entries of the probe run back (no tombstones), which keeps
 * every lookup's run short however many frees there were.
 *
 * Locks are taken with the thread's guard set (internal.h): a signal handler
 * that allocates meanwhile never comes here. A holder never blocks, so the
 * spin is short; after a few hundred turns it yields (the holder may have
 * been preempted: there are more threads than cores).
 */
#include <sched.h>
#include <string.h>

#include "internal.h"

#define SHARD_BITS 6
#define SHARDS (1u << SHARD_BITS)
#define SHARD_FIRST_CAPACITY 1024u /* entries; 16 KiB */

struct entry {
    uintptr_t ptr;  /* 0 = empty */
    uint32_t stack; /* TMK_PTRMAP_BY_ADDRESS: known by address (a table's array) */
    uint32_t size;
};

struct shard {
    int lock;
    size_t mask; /* capacity - 1 */
    size_t used; /* live entries */
    struct entry *e;
} __attribute__((aligned(64)));

static struct shard shards[SHARDS];

static inline uint64_t hash_ptr(uintptr_t p)
{
    return (uint64_t)p * 0x9E3779B97F4A7C15ull;
}

static inline struct shard *shard_of(uint64_t h)
{
    return &shards[h >> (64 - SHARD_BITS)];
}

/* Slot bits are taken below the shard bits, so that they stay independent. */
static inline size_t home(uint64_t h, size_t mask)
{
    return (size_t)(h >> 24) & mask;
}

static void shard_lock(struct shard *s) { tmk_spin_lock(&s->lock); }

static void shard_unlock(struct shard *s) { tmk_spin_unlock(&s->lock); }

/* Places e in a table known to have room and not to hold e->ptr. */
static void place(struct entry *tab, size_t mask, const struct entry *e)
{
    size_t i = home(hash_ptr(e->ptr), mask);
    while (tab[i].ptr) i = (i + 1) & mask;
    tab[i] = *e;
}

/* Makes room for one more entry (lock held). Returns 0 or -1 (no memory). */
static int reserve_one(struct shard *s)
{
    if (s->e && (s->used + 1) * 2 <= s->mask + 1) return 0;
    size_t cap = s->e ? (s->mask + 1) * 2 : SHARD_FIRST_CAPACITY;
    struct entry *tab = tmk_arena_alloc(cap * sizeof *tab);
    if (!tab) return -1;
    if (s->e) {
        for (size_t i = 0; i <= s->mask; i++)
            if (s->e[i].ptr) place(tab, cap - 1, &s->e[i]);
        tmk_arena_free(s->e);
    }
    s->e = tab;
    s->mask = cap - 1;
    return 0;
}

/* Index of p's entry, or -1 (lock held). */
static long find(const struct shard *s, uintptr_t p, uint64_t h)
{
    if (!s->e) return -1;
    for (size_t i = home(h, s->mask);; i = (i + 1) & s->mask) {
        if (s->e[i].ptr == p) return (long)i;
        if (!s->e[i].ptr) return -1;
    }
}

/* Empties slot i, moving later entries of its probe run back so that no
 * entry is ever separated from its home by an empty slot (lock held). */
static void remove_at(struct shard *s, size_t i)
{
    size_t mask = s->mask;
    for (size_t j = (i + 1) & mask; s->e[j].ptr; j = (j + 1) & mask) {
        size_t k = home(hash_ptr(s->e[j].ptr), mask);
        /* e[j] may fill the hole at i unless its home lies in (i, j]. */
        int home_between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!home_between) {
            s->e[i] = s->e[j];
            i = j;
        }
    }
    s->e[i].ptr = 0;
    s->used--;
}

/* Sets p's entry, adding it when absent (lock held). Returns 0 or -1. */
static int set(struct shard *s, uintptr_t p, uint64_t h, uint32_t stack, uint32_t size)
{
    if (reserve_one(s) != 0) return -1;
    size_t i = home(h, s->mask);
    while (s->e[i].ptr && s->e[i].ptr != p) i = (i + 1) & s->mask;
    if (!s->e[i].ptr) s->used++; /* else its free went unseen (before tracing) */
    s->e[i] = (struct entry){p, stack, size};
    return 0;
}

int tmk_ptrmap_put(uintptr_t p, uint32_t stack, uint32_t size)
{
    uint64_t h = hash_ptr(p);
    struct shard *s = shard_of(h);
    shard_lock(s);
    int rc = set(s, p, h, stack, size);
    shard_unlock(s);
    return rc;
}

int tmk_ptrmap_take(uintptr_t p, uint32_t *stack, uint32_t *size)
{
    uint64_t h = hash_ptr(p);
    struct shard *s = shard_of(h);
    shard_lock(s);
    long i = find(s, p, h);
    if (i >= 0) {
        *stack = s->e[i].stack;
        *size = s->e[i].size;
        remove_at(s, (size_t)i);
    }
    shard_unlock(s);
    return i >= 0;
}

int tmk_ptrmap_by_address(uintptr_t p, uint32_t *stack, uint32_t *size)
{
    uint64_t h = hash_ptr(p);
    struct shard *s = shard_of(h);
    shard_lock(s);
    long i = find(s, p, h);
    *stack = i >= 0 ? s->e[i].stack : TMK_PTRMAP_BY_ADDRESS;
    *size = i >= 0 ? s->e[i].size : 0;
    int rc = set(s, p, h, TMK_PTRMAP_BY_ADDRESS, 0);
    shard_unlock(s);
    return rc;
}

size_t tmk_ptrmap_bytes(void)
{
    size_t bytes = 0;
    for (unsigned k = 0; k < SHARDS; k++)
        if (shards[k].e) bytes += (shards[k].mask + 1) * sizeof(struct entry);
    return bytes;
}

/* The child's file has none of the parent's blocks: start empty. A shard
 * another thread held at the fork is dropped with whatever it was doing. */
void tmk_ptrmap_after_fork_child(void)
{
    for (unsigned k = 0; k < SHARDS; k++) {
        struct shard *s = &shards[k];
        tmk_arena_free(s->e);
        memset(s, 0, sizeof *s);
    }
}
