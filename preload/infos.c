/* preload/infos.c - full mode's infos as small numbers, for ptrmap.c.
 *
 * An info is the (size, stack) pair a block was allocated with: what its
 * FREE_INFO must say. ptrmap.c keeps, per live block, 8 bytes: the block's
 * address and its info's number, given here. Numbers are process-wide,
 * 1-based, never reused and never written to the trace (the records carry
 * the pair itself), so a forked child keeps them.
 *
 * The pairs sit in `tmk_info_pairs`, 4096 to a chunk, chunks mapped on demand and
 * never moved. The index is open addressing with linear probing over 32-bit
 * slots (the number, and 12 bits of the pair's hash to skip most
 * mismatches without reading the pair). Lookups take no lock: a new pair is
 * stored, then its slot (release), under a spinlock that only insertions
 * take. A table at 3/4 load is copied into one twice its size, which is
 * then published; the old one stays mapped (a reader may still be in it)
 * but its pages are given back (tmk_pages_forget): a reader still there
 * reads empty slots, misses, and finds the pair under the lock.
 *
 * TMK_INFO_LAST numbers at most (about a million pairs): past that, or
 * without memory, tmk_info_number says 0 and the block goes by address.
 */
#include "internal.h"
#include "ptrmap.h"

#define CHUNK_BITS TMK_INFO_CHUNK_BITS
#define CHUNK_PAIRS (1u << CHUNK_BITS)
#define CHUNKS (((uint32_t)TMK_INFO_LAST >> CHUNK_BITS) + 1)
#define NUMBER_MASK ((1u << TMK_INFO_BITS) - 1)
#define FIRST_SLOTS 1024u /* 4 KiB */

struct index {
    uint32_t mask;        /* slots - 1 */
    uint32_t used;
    uint32_t slot[];      /* number | tag << TMK_INFO_BITS; 0 = empty */
};

uint64_t *tmk_info_pairs[CHUNKS];

static struct index *current;
static uint32_t next_number = 1;
static int lock_word;

static inline uint64_t pair_key(uint32_t size, uint32_t stack)
{
    return (uint64_t)stack << 32 | size;
}

static inline uint64_t pair_hash(uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 31);
}

/* The slot's tag: the hash's top bits, above the number. */
static inline uint32_t tag_of(uint64_t h)
{
    return (uint32_t)(h >> (32 + TMK_INFO_BITS)) << TMK_INFO_BITS;
}

static inline uint64_t pair_of(uint32_t n)
{
    return tmk_info_pairs[n >> CHUNK_BITS][n & (CHUNK_PAIRS - 1)];
}

/* The number of key in tb, or 0. The mask is read once: in an index given
 * back meanwhile the slots read as empty, and the probe ends. */
static inline __attribute__((always_inline)) uint32_t find(const struct index *tb, uint64_t key,
                                                           uint64_t h)
{
    uint32_t tag = tag_of(h), mask = tb->mask;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint32_t s = __atomic_load_n(&tb->slot[i], __ATOMIC_ACQUIRE);
        if (!s) return 0;
        if ((s & ~NUMBER_MASK) == tag && pair_of(s & NUMBER_MASK) == key) return s & NUMBER_MASK;
    }
}

static size_t index_bytes(uint32_t slots)
{
    return sizeof(struct index) + (size_t)slots * sizeof(uint32_t);
}

static void place(struct index *tb, uint32_t s, uint64_t h)
{
    uint32_t i = (uint32_t)h & tb->mask;
    while (tb->slot[i]) i = (i + 1) & tb->mask;
    __atomic_store_n(&tb->slot[i], s, __ATOMIC_RELEASE);
    tb->used++;
}

/* Room for one more slot (lock held): the current index, or a bigger copy
 * published in its place. NULL when out of memory. */
static struct index *index_with_room(void)
{
    struct index *tb = current;
    if (tb && (tb->used + 1) * 4 <= (tb->mask + 1) * 3) return tb;
    uint32_t slots = tb ? (tb->mask + 1) * 2 : FIRST_SLOTS;
    struct index *bigger = tmk_pages_map(index_bytes(slots));
    if (!bigger) return NULL;
    bigger->mask = slots - 1;
    for (uint32_t i = 0; tb && i <= tb->mask; i++) {
        uint32_t s = tb->slot[i];
        if (s) place(bigger, s, pair_hash(pair_of(s & NUMBER_MASK)));
    }
    __atomic_store_n(&current, bigger, __ATOMIC_RELEASE);
    if (tb) tmk_pages_forget(tb, index_bytes(tb->mask + 1));
    return bigger;
}

/* Adds key (lock held, key absent). Its number, or 0. */
static uint32_t add(uint64_t key, uint64_t h)
{
    uint32_t n = next_number;
    if (n > TMK_INFO_LAST) return 0;
    uint64_t **chunk = &tmk_info_pairs[n >> CHUNK_BITS];
    if (!*chunk && !(*chunk = tmk_pages_map(CHUNK_PAIRS * sizeof(uint64_t)))) return 0;
    struct index *tb = index_with_room();
    if (!tb) return 0;
    (*chunk)[n & (CHUNK_PAIRS - 1)] = key;
    place(tb, n | tag_of(h), h); /* release: the pair before its slot */
    next_number = n + 1;
    return n;
}

uint32_t tmk_info_number(uint32_t size, uint32_t stack)
{
    uint64_t key = pair_key(size, stack), h = pair_hash(key);
    const struct index *tb = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
    uint32_t n = tb ? find(tb, key, h) : 0;
    if (TMK_LIKELY(n)) return n;
    tmk_spin_lock(&lock_word);
    n = current ? find(current, key, h) : 0;
    if (!n) n = add(key, h);
    tmk_spin_unlock(&lock_word);
    return n;
}

size_t tmk_infos_bytes(void)
{
    size_t bytes = 0;
    if (current) bytes += index_bytes(current->mask + 1);
    for (uint32_t c = 0; c < CHUNKS; c++)
        if (tmk_info_pairs[c]) bytes += CHUNK_PAIRS * sizeof(uint64_t);
    return bytes;
}

/* The numbers stay valid in a forked child (they are not in the trace); an
 * insertion another thread was making at the fork is left as it was. */
void tmk_infos_after_fork_child(void)
{
    lock_word = 0;
}
