/* preload/ptrmap.c - full mode: the info each live block was allocated with.
 *
 * A free in full mode is written as FREE_INFO (size, stack) rather than by
 * address (trace_format.h), so the shim must know, at free time, the size
 * and stack the block was allocated with. This map holds that for every
 * block allocated by info while tracing: put on allocation, taken on free.
 * A block it does not hold (allocated before tracing started, in the parent
 * before a fork, by a signal handler, of TMK_INFO_SIZE_LIMIT bytes or more,
 * or refused by put) is freed by address.
 *
 * The budget: a heap of many small blocks would make the map a large part
 * of the process (11 to 16 bytes a block: 14 MiB more for a million 32-byte
 * blocks). A shard's table may take its share of TIDEMARK_BLOCK_MAP_MIB
 * plus 1/TMK_PTRMAP_SHARE of the bytes of the blocks it holds by info; a
 * put that would grow it past that is refused, and heap.c writes the block
 * by address (ALLOC, then FREE): the trace takes the bytes the map would
 * have, the analyzer keeps the address. So the map stays under 4 MiB plus
 * 1.6% of the heap it describes, and holds again as blocks go or the heap
 * grows. Marking a block by address (a table's array, a probed block) is
 * never refused: such blocks are few, and their frees must find them.
 *
 * An entry is 8 bytes: the block's address >> 4 in its low ENTRY_KEY_BITS
 * bits (the exact address: put refuses one that is not 16-byte aligned or
 * lies at 2^48 or above), its info's number (infos.c) in the
 * TMK_INFO_BITS above; 0 = empty. NUMBER_BY_ADDRESS marks a table's array,
 * whose free is written by address.
 *
 * 64 shards, chosen by the top bits of the hash of the address's 1 KiB
 * region (ptrmap.h, tmk_ptrmap_hash), each an open-addressing table with
 * linear probing behind its own spinlock, so that threads freeing each
 * other's blocks rarely meet. A key's home slot is its region's first slot
 * (the hash scaled to the capacity: any multiple of a page of entries)
 * plus its place in the region, so that blocks near each other have their
 * entries in the same cache lines, and a table can grow by half rather than
 * double: between 1/2 and 3/4 full
 * (page rounding aside), 11 to 16 bytes per live block. It grows past 3/4
 * (LOAD_MAX_*) into a new mapping
 * (tmk_pages_map: the old one goes back to the kernel) and never shrinks.
 * Deletion shifts later entries of the probe run back (no tombstones),
 * which keeps every lookup's run short however many frees there were.
 *
 * Locks are taken with the thread's guard set (internal.h): a signal handler
 * that allocates meanwhile never comes here. A holder never blocks, so the
 * spin is short; after a few hundred turns it yields (the holder may have
 * been preempted: there are more threads than cores).
 */
#include <string.h>

#include "internal.h"
#include "ptrmap.h"

#define SHARDS TMK_PTRMAP_SHARDS
#define ENTRY_KEY_BITS 44 /* address >> 4: addresses below 2^48 */
#define KEY_MASK ((1ull << ENTRY_KEY_BITS) - 1)
#define NUMBER_BY_ADDRESS ((1u << TMK_INFO_BITS) - 1) /* above TMK_INFO_LAST */
#define PAGE_ENTRIES 512u /* 4 KiB of entries: capacities are multiples */
#define LOAD_MAX_NUM 3 /* a table grows past LOAD_MAX_NUM / LOAD_MAX_DEN full */
#define LOAD_MAX_DEN 4

_Static_assert(ENTRY_KEY_BITS + TMK_INFO_BITS == 64, "an entry is 64 bits");
_Static_assert(PAGE_ENTRIES >= (1u << TMK_PTRMAP_REGION_BITS), "a home is at most one lap past its region's slot");

struct tmk_ptrmap_shard tmk_ptrmap_shards[SHARDS]; /* ptrmap.h: the prefetch reads them */
static uint64_t fixed_per_shard = TMK_PTRMAP_FIXED_DEFAULT / SHARDS; /* the budget's fixed part */

void tmk_ptrmap_set_budget(uint64_t fixed)
{
    fixed_per_shard = fixed / SHARDS;
}

/* May s's table take bytes for blocks held by info? */
static int within_budget(const struct tmk_ptrmap_shard *s, size_t bytes)
{
    return fixed_per_shard && bytes <= fixed_per_shard + s->bytes / TMK_PTRMAP_SHARE;
}

/* Can p be an entry's key? */
static inline int addressable(uintptr_t p)
{
    return p && !(p & 15) && (uint64_t)p >> (ENTRY_KEY_BITS + 4) == 0;
}

static inline uint32_t next_slot(uint32_t i, uint32_t cap)
{
    return i + 1 == cap ? 0 : i + 1;
}

static inline uint32_t home_of_entry(uint64_t e, uint32_t cap)
{
    return tmk_ptrmap_home(e & KEY_MASK, tmk_ptrmap_hash(e & KEY_MASK), cap);
}

static size_t table_bytes(uint32_t cap)
{
    return (size_t)cap * sizeof(uint64_t);
}

/* Places e in a table known to have room and not to hold its key. */
static void place(uint64_t *tab, uint32_t cap, uint64_t e)
{
    uint32_t i = home_of_entry(e, cap);
    while (tab[i]) i = next_slot(i, cap);
    tab[i] = e;
}

/* A bigger table for s (lock held), within the budget unless the entry
 * that needs it marks a block by address. Returns 0, or -1 (over budget, no
 * memory). */
static int grow(struct tmk_ptrmap_shard *s, int by_info)
{
    uint32_t cap = s->cap ? s->cap + s->cap / 2 : PAGE_ENTRIES;
    cap = (cap + PAGE_ENTRIES - 1) / PAGE_ENTRIES * PAGE_ENTRIES;
    if (cap < s->cap) return -1; /* 2^32 entries: never in practice */
    if (by_info && !within_budget(s, table_bytes(cap))) return -1;
    uint64_t *tab = tmk_pages_map(table_bytes(cap));
    if (!tab) return -1;
    for (uint32_t i = 0; i < s->cap; i++)
        if (s->e[i]) place(tab, cap, s->e[i]);
    tmk_pages_unmap(s->e, table_bytes(s->cap));
    s->e = tab;
    s->cap = cap;
    s->limit = (uint32_t)((uint64_t)cap * LOAD_MAX_NUM / LOAD_MAX_DEN);
    return 0;
}

/* Index of key's entry, or -1 (lock held). */
#define INLINE static inline __attribute__((always_inline))

INLINE long find(const struct tmk_ptrmap_shard *s, uint64_t key, uint64_t h)
{
    if (!s->cap) return -1;
    for (uint32_t i = tmk_ptrmap_home(key, h, s->cap);; i = next_slot(i, s->cap)) {
        uint64_t e = s->e[i];
        if ((e & KEY_MASK) == key) return (long)i;
        if (!e) return -1;
    }
}

/* Empties slot i, moving later entries of its probe run back so that no
 * entry is ever separated from its home by an empty slot (lock held). */
INLINE void remove_at(struct tmk_ptrmap_shard *s, uint32_t i)
{
    uint32_t cap = s->cap;
    for (uint32_t j = next_slot(i, cap); s->e[j]; j = next_slot(j, cap)) {
        uint32_t k = home_of_entry(s->e[j], cap);
        /* e[j] may fill the hole at i unless its home lies in (i, j]. */
        int home_between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!home_between) {
            s->e[i] = s->e[j];
            i = j;
        }
    }
    s->e[i] = 0;
    s->used--;
}

/* The info behind an entry's number. */
static void info_of(uint32_t n, uint32_t *stack, uint32_t *size)
{
    if (n == NUMBER_BY_ADDRESS) {
        *stack = TMK_PTRMAP_BY_ADDRESS;
        *size = 0;
    } else {
        tmk_info_pair(n, size, stack);
    }
}

/* The size an entry's number counts in its shard's bytes. */
static inline uint32_t size_of(uint32_t n)
{
    uint32_t stack, size;
    info_of(n, &stack, &size);
    return size;
}

/* Sets key's entry to number n, adding it when absent (lock held). Returns
 * the number it had (0: absent), or -1 (no memory for a new entry: an
 * entry already there is always set). */
INLINE long set(struct tmk_ptrmap_shard *s, uint64_t key, uint64_t h, uint32_t n, uint32_t size)
{
    uint64_t entry = key | (uint64_t)n << ENTRY_KEY_BITS;
    if (TMK_LIKELY(s->cap)) {
        uint32_t i = tmk_ptrmap_home(key, h, s->cap);
        while (s->e[i] && (s->e[i] & KEY_MASK) != key) i = next_slot(i, s->cap);
        if (s->e[i]) { /* there: its free went unseen (before tracing), or by_address */
            long was = (long)(s->e[i] >> ENTRY_KEY_BITS);
            s->e[i] = entry;
            s->bytes += size - (uint64_t)size_of((uint32_t)was);
            return was;
        }
        if (TMK_LIKELY(s->used < s->limit)) {
            s->e[i] = entry;
            s->used++;
            s->bytes += size;
            return 0;
        }
    }
    if (grow(s, n != NUMBER_BY_ADDRESS) != 0) return -1;
    place(s->e, s->cap, entry);
    s->used++;
    s->bytes += size;
    return 0;
}

int tmk_ptrmap_put(uintptr_t p, uint32_t n, uint32_t size)
{
    if (TMK_UNLIKELY(!addressable(p) || !n || !fixed_per_shard)) return -1;
    uint64_t key = p >> 4, h = tmk_ptrmap_hash(key);
    struct tmk_ptrmap_shard *s = tmk_ptrmap_shard_of(h);
    tmk_spin_lock(&s->lock);
    long rc = set(s, key, h, n, size);
    tmk_spin_unlock(&s->lock);
    return rc < 0 ? -1 : 0;
}

int tmk_ptrmap_take(uintptr_t p, uint32_t *stack, uint32_t *size)
{
    if (TMK_UNLIKELY(!addressable(p))) return 0;
    uint64_t key = p >> 4, h = tmk_ptrmap_hash(key);
    struct tmk_ptrmap_shard *s = tmk_ptrmap_shard_of(h);
    uint32_t n = 0;
    tmk_spin_lock(&s->lock);
    long i = find(s, key, h);
    if (i >= 0) {
        n = (uint32_t)(s->e[i] >> ENTRY_KEY_BITS);
        remove_at(s, (uint32_t)i);
        info_of(n, stack, size);
        s->bytes -= *size;
    }
    tmk_spin_unlock(&s->lock);
    return i >= 0;
}

int tmk_ptrmap_by_address(uintptr_t p, uint32_t *stack, uint32_t *size)
{
    *stack = TMK_PTRMAP_BY_ADDRESS;
    *size = 0;
    if (!addressable(p)) return 0; /* never put: its free is by address */
    uint64_t key = p >> 4, h = tmk_ptrmap_hash(key);
    struct tmk_ptrmap_shard *s = tmk_ptrmap_shard_of(h);
    tmk_spin_lock(&s->lock);
    long was = set(s, key, h, NUMBER_BY_ADDRESS, 0);
    tmk_spin_unlock(&s->lock);
    if (was > 0) info_of((uint32_t)was, stack, size);
    return was < 0 ? -1 : 0;
}

size_t tmk_ptrmap_bytes(void)
{
    size_t bytes = 0;
    for (unsigned k = 0; k < SHARDS; k++) bytes += table_bytes(tmk_ptrmap_shards[k].cap);
    return bytes;
}

/* The child's file has none of the parent's blocks: start empty. A shard
 * another thread held at the fork is dropped with whatever it was doing. */
void tmk_ptrmap_after_fork_child(void)
{
    for (unsigned k = 0; k < SHARDS; k++) {
        struct tmk_ptrmap_shard *s = &tmk_ptrmap_shards[k];
        tmk_pages_unmap(s->e, table_bytes(s->cap));
        memset(s, 0, sizeof *s);
    }
    tmk_infos_after_fork_child();
}
