/* preload/ptrmap.h - full mode's heap by info: the block map (ptrmap.c)
 * that remembers the info of every live block, and the (size, stack) pairs
 * as numbers (infos.c) its entries hold.
 */
#ifndef TIDEMARK_PRELOAD_PTRMAP_H
#define TIDEMARK_PRELOAD_PTRMAP_H

#include "internal.h"

/* ---- ptrmap.c: full mode's heap by info ---------------------------------- */

/* The stack of a ptrmap entry known by address (a table's array). Stack ids
 * count up from 1 and never get there. */
#define TMK_PTRMAP_BY_ADDRESS UINT32_MAX

/* Live blocks: address -> the info (stack, size) they were allocated with,
 * as infos.c's number. put returns 0, or -1 when p cannot be held (an
 * address the compact entry cannot name exactly, number 0, no memory, or
 * the map at its budget): the caller writes such a block by address. take
 * returns 1 when p was there (now removed). by_address returns 0 or -1 (no
 * memory); it is never refused for the budget. */
int tmk_ptrmap_put(uintptr_t p, uint32_t info, uint32_t size) TMK_HIDDEN;
int tmk_ptrmap_take(uintptr_t p, uint32_t *stack, uint32_t *size) TMK_HIDDEN;
/* From now on p is known by address; says what it was (stack
 * TMK_PTRMAP_BY_ADDRESS when absent or already known by address). */
int tmk_ptrmap_by_address(uintptr_t p, uint32_t *stack, uint32_t *size) TMK_HIDDEN;
size_t tmk_ptrmap_bytes(void) TMK_HIDDEN; /* of its tables */
/* The budget (TIDEMARK_BLOCK_MAP_MIB): the map's tables may take fixed
 * bytes plus 1/TMK_PTRMAP_SHARE of the bytes of the blocks it holds; a put
 * that would need more is refused. 0: the map holds no block by info. */
#define TMK_PTRMAP_SHARE 64
#define TMK_PTRMAP_FIXED_DEFAULT (4ull << 20)
void tmk_ptrmap_set_budget(uint64_t fixed) TMK_HIDDEN;
void tmk_ptrmap_after_fork_child(void) TMK_HIDDEN;

/* ptrmap.c's shards, here for tmk_ptrmap_prefetch, inline on every
 * allocation and free. */
#define TMK_PTRMAP_SHARD_BITS 6
#define TMK_PTRMAP_SHARDS (1u << TMK_PTRMAP_SHARD_BITS)
struct tmk_ptrmap_shard {
    int lock;
    uint32_t cap;   /* entries, a multiple of a page of them; 0 = no table yet */
    uint32_t used;  /* live entries */
    uint32_t limit; /* used may reach this before the table grows */
    uint64_t *e;    /* address >> 4 | info number << 44; 0 = empty */
    uint64_t bytes; /* the sizes of the blocks held by info: the budget's share */
} __attribute__((aligned(64)));
extern struct tmk_ptrmap_shard tmk_ptrmap_shards[TMK_PTRMAP_SHARDS] TMK_HIDDEN;

/* Keys (address >> 4) of one region of 2^TMK_PTRMAP_REGION_BITS keys (1
 * KiB of addresses) share a hash: its top bits choose the shard, the 32
 * below them the region's first slot, scaled to the capacity; a key's home
 * is that slot plus its place in the region. Blocks allocated (and freed)
 * one after another, near each other in memory, then have their entries in
 * the same few cache lines rather than one line each at random. */
#define TMK_PTRMAP_REGION_BITS 6
static inline uint64_t tmk_ptrmap_hash(uint64_t key)
{
    return (key >> TMK_PTRMAP_REGION_BITS) * 0x9E3779B97F4A7C15ull;
}

static inline struct tmk_ptrmap_shard *tmk_ptrmap_shard_of(uint64_t h)
{
    return &tmk_ptrmap_shards[h >> (64 - TMK_PTRMAP_SHARD_BITS)];
}

/* key's home slot, h its hash; cap >= 2^TMK_PTRMAP_REGION_BITS. */
static inline uint32_t tmk_ptrmap_home(uint64_t key, uint64_t h, uint32_t cap)
{
    uint32_t i = (uint32_t)(((h >> (32 - TMK_PTRMAP_SHARD_BITS)) & 0xffffffffu) * cap >> 32) +
                 (uint32_t)(key & ((1u << TMK_PTRMAP_REGION_BITS) - 1));
    return i >= cap ? i - cap : i;
}

/* Starts loading the cache line p's entry is (or would be) in. Read
 * without the lock: a stale (cap, e) only prefetches a useless line (a
 * prefetch never faults). */
static inline void tmk_ptrmap_prefetch(uintptr_t p)
{
    uint64_t key = p >> 4, h = tmk_ptrmap_hash(key);
    const struct tmk_ptrmap_shard *s = tmk_ptrmap_shard_of(h);
    uint32_t cap = __atomic_load_n(&s->cap, __ATOMIC_RELAXED);
    const uint64_t *e = __atomic_load_n(&s->e, __ATOMIC_RELAXED);
    if (cap) __builtin_prefetch(&e[tmk_ptrmap_home(key, h, cap)], 1, 3);
}

/* ---- infos.c: (size, stack) pairs as numbers of TMK_INFO_BITS bits ------- */

#define TMK_INFO_BITS 20
#define TMK_INFO_LAST ((1u << TMK_INFO_BITS) - 2) /* the highest number given */
/* The pair's number (1..TMK_INFO_LAST), added when new; 0 when the numbers
 * ran out or there is no memory. No lock on the common path. */
uint32_t tmk_info_number(uint32_t size, uint32_t stack) TMK_HIDDEN;
/* The pairs, TMK_INFO_CHUNK to a chunk, by number (infos.c). */
#define TMK_INFO_CHUNK_BITS 12
extern uint64_t *tmk_info_pairs[(TMK_INFO_LAST >> TMK_INFO_CHUNK_BITS) + 1] TMK_HIDDEN;
/* The pair of a number tmk_info_number gave. */
static inline void tmk_info_pair(uint32_t n, uint32_t *size, uint32_t *stack)
{
    uint64_t pair = tmk_info_pairs[n >> TMK_INFO_CHUNK_BITS][n & ((1u << TMK_INFO_CHUNK_BITS) - 1)];
    *size = (uint32_t)pair;
    *stack = (uint32_t)(pair >> 32);
}
size_t tmk_infos_bytes(void) TMK_HIDDEN;
void tmk_infos_after_fork_child(void) TMK_HIDDEN;

/* tmk_info_number through the thread's cache (direct-mapped by the pair). */
static inline uint32_t tmk_info_number_cached(struct tmk_thread *t, uint32_t size,
                                              uint32_t stack)
{
    uint64_t pair = (uint64_t)stack << 32 | size;
    struct tmk_info_cache_entry *c =
        &t->infos[(pair * 0x9E3779B97F4A7C15ull) >> 56 & (TMK_INFO_CACHE - 1)];
    if (TMK_LIKELY(c->pair == pair && c->number)) return c->number;
    uint32_t n = tmk_info_number(size, stack);
    c->pair = pair;
    c->number = n;
    return n;
}

#endif /* TIDEMARK_PRELOAD_PTRMAP_H */
