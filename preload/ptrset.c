/* preload/ptrset.c - the set of addresses whose free must be recorded when
 * not every free is: bucket arrays in mode=tables, sampled allocations (and
 * bucket arrays) when byte sampling is on.
 *
 * Open addressing with linear probing over machine words (0 = empty,
 * 1 = deleted). Lookups from free() take no lock: they read the published
 * table and its slots atomically. Changes are made under a mutex. Growing
 * builds a new table and publishes it; old tables are kept (readers may still
 * be on them), which at most doubles the memory. Invariant: an address is
 * added (table_array, a sampled malloc) before any thread can free it, so a
 * free always finds it in the table published at that time.
 *
 * free() filters cheaply first, with no lock and no look at the block:
 * the filter (ptrset.h, tmk_ptrset_may_hold) counts the set's addresses
 * per hash slot, and the blocks of the bootstrap arena and of sigalloc.c
 * too, so that an address whose slot counts 0 is an ordinary block of the
 * real allocator, not in the set. A count goes up before the address can be
 * freed (an add precedes the allocation's return), down after it left the
 * set. A count that reached 255 stays there (the slot then always says
 * "maybe").
 * Then: the block is smaller than anything ever added.
 */
#include <string.h>

#include "internal.h"

#define SLOT_EMPTY 0u
#define SLOT_DELETED 1u

struct ptrset_table {
    size_t mask;     /* capacity - 1, capacity a power of two */
    size_t used;     /* live + deleted slots */
    uintptr_t slot[];
};

static pthread_mutex_t ptrset_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct ptrset_table *current;
volatile int tmk_ptrset_used;
static size_t min_usable = SIZE_MAX;
uint8_t tmk_ptrset_filter[TMK_PTRSET_FILTER_SLOTS];

static size_t slot_of(uintptr_t p, size_t mask)
{
    uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & mask;
}

static struct ptrset_table *table_new(size_t capacity)
{
    struct ptrset_table *t = tmk_arena_alloc(sizeof *t + capacity * sizeof(uintptr_t));
    if (t) t->mask = capacity - 1;
    return t;
}

/* 1 when p was not in t and now is. */
static int insert(struct ptrset_table *t, uintptr_t p)
{
    size_t i = slot_of(p, t->mask);
    while (t->slot[i] > SLOT_DELETED) {
        if (t->slot[i] == p) return 0;
        i = (i + 1) & t->mask;
    }
    if (t->slot[i] == SLOT_EMPTY) t->used++;
    __atomic_store_n(&t->slot[i], p, __ATOMIC_RELEASE);
    return 1;
}

/* The filter's count for p's slot moves by one. Lock-free (sigalloc.c
 * calls it from signal handlers); a count at 255 stays. */
void tmk_ptrset_filter_mark(uintptr_t p, int up)
{
    uint8_t *c = &tmk_ptrset_filter[tmk_ptrset_filter_slot(p)];
    uint8_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
    do {
        if (v == 255) return;
    } while (!__atomic_compare_exchange_n(c, &v, (uint8_t)(up ? v + 1 : v - 1), 1,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/* Makes room for one more (mutex held). Returns 0 or -1. */
static int reserve_one(void)
{
    if (current && (current->used + 1) * 2 <= current->mask + 1) return 0;
    size_t cap = 4096;
    size_t live = 0;
    if (current) {
        for (size_t i = 0; i <= current->mask; i++) live += current->slot[i] > SLOT_DELETED;
        while (cap < (live + 1) * 4) cap *= 2;
    }
    struct ptrset_table *t = table_new(cap);
    if (!t) return -1;
    if (current)
        for (size_t i = 0; i <= current->mask; i++)
            if (current->slot[i] > SLOT_DELETED) insert(t, current->slot[i]);
    __atomic_store_n(&current, t, __ATOMIC_RELEASE);
    return 0;
}

void tmk_ptrset_add(uintptr_t p, size_t usable)
{
    pthread_mutex_lock(&ptrset_mutex);
    if (reserve_one() == 0) {
        if (insert(current, p)) tmk_ptrset_filter_mark(p, 1);
        if (usable < min_usable) __atomic_store_n(&min_usable, usable, __ATOMIC_RELAXED);
        tmk_ptrset_used = 1;
    }
    pthread_mutex_unlock(&ptrset_mutex);
}

static int contains(uintptr_t p)
{
    struct ptrset_table *t = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
    if (!t) return 0;
    size_t i = slot_of(p, t->mask);
    for (;;) {
        uintptr_t v = __atomic_load_n(&t->slot[i], __ATOMIC_ACQUIRE);
        if (v == p) return 1;
        if (v == SLOT_EMPTY) return 0;
        i = (i + 1) & t->mask;
    }
}

int tmk_ptrset_take(uintptr_t p, size_t usable)
{
    if (usable < __atomic_load_n(&min_usable, __ATOMIC_RELAXED) || !contains(p)) return 0;
    int found = 0;
    pthread_mutex_lock(&ptrset_mutex);
    struct ptrset_table *t = current;
    size_t i = slot_of(p, t->mask);
    while (t->slot[i] != SLOT_EMPTY) {
        if (t->slot[i] == p) {
            __atomic_store_n(&t->slot[i], SLOT_DELETED, __ATOMIC_RELEASE);
            tmk_ptrset_filter_mark(p, 0);
            found = 1;
            break;
        }
        i = (i + 1) & t->mask;
    }
    pthread_mutex_unlock(&ptrset_mutex);
    return found;
}

int tmk_ptrset_contains(uintptr_t p)
{
    return tmk_ptrset_used && contains(p);
}

void tmk_ptrset_lock(void) { pthread_mutex_lock(&ptrset_mutex); }
void tmk_ptrset_unlock(void) { pthread_mutex_unlock(&ptrset_mutex); }
void tmk_ptrset_after_fork_child(void) { pthread_mutex_init(&ptrset_mutex, NULL); }
