/* preload/intern.c - stack interning: each distinct stack gets a
 * process-wide id (1-based) and one STACK record, written by the thread that
 * first met it. The table (open addressing on the stack's 64-bit hash, each
 * entry's frames compared on a hash match; memory from arena.c) is behind a
 * mutex; the per-thread hash cache in front of it is inline in intern.h.
 * docs/architecture.md, "Inside the shim", has the odds of two stacks
 * sharing an id.
 */
#include <string.h>

#include "intern.h"

#define TABLE_MIN 4096 /* slots at first; doubled at half load */

struct stack_entry {
    uint64_t hash;
    uint32_t id;
    uint32_t depth;
    uintptr_t frames[];
};

static pthread_mutex_t stacks_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct stack_entry **slots; /* NULL or a stack */
static size_t nslots, nstacks;
static uint32_t next_stack_id = 1;

void tmk_intern_lock(void) { pthread_mutex_lock(&stacks_mutex); }
void tmk_intern_unlock(void) { pthread_mutex_unlock(&stacks_mutex); }

/* A TICK to the present time first: a MODULE another thread's rescan wrote
 * (with that thread's time) before this thread found the loader's counters
 * unchanged is then read before this STACK, whatever this thread's last
 * timed record was (a coarse time, or long before a slow dlopen). */
static void put_stack_record(struct tmk_thread *t, uint32_t id, const uintptr_t *f, int n)
{
    uint8_t *p = tmk_reserve(t, 32 + (size_t)n * TMK_VARINT_MAX);
    p = tmk_put_tick(t, p, tmk_now());
    *p++ = TMK_REC_STACK;
    p = tmk_put_u(p, id);
    p = tmk_put_u(p, (uint64_t)n);
    uintptr_t prev = 0;
    for (int i = 0; i < n; i++) {
        p = tmk_put_s(p, (int64_t)(f[i] - prev));
        prev = f[i];
    }
    tmk_publish(t, p);
}

/* The slot holding frames f[0, n) of hash h, or the empty slot where they
 * would go (lock held, nslots > 0). */
static struct stack_entry **slot_of(const uintptr_t *f, int n, uint64_t h)
{
    size_t mask = nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct stack_entry *e = slots[i];
        if (!e || (e->hash == h && e->depth == (uint32_t)n &&
                   !memcmp(e->frames, f, (size_t)n * sizeof *f)))
            return &slots[i];
    }
}

/* Room for one more stack at half load at most (lock held); 0 or -1. */
static int make_room(void)
{
    if (nslots && (nstacks + 1) * 2 <= nslots) return 0;
    size_t cap = nslots ? nslots * 2 : TABLE_MIN;
    struct stack_entry **old = slots, **s = tmk_arena_alloc(cap * sizeof *s);
    if (!s) return -1;
    size_t old_n = nslots;
    slots = s;
    nslots = cap;
    for (size_t i = 0; i < old_n; i++) {
        struct stack_entry *e = old[i];
        if (e) *slot_of(e->frames, (int)e->depth, e->hash) = e;
    }
    tmk_arena_free(old);
    return 0;
}

/* The id of frames f[0, n) in the table, or 0 (lock held). */
static uint32_t find_locked(const uintptr_t *f, int n, uint64_t h)
{
    struct stack_entry **at = nslots ? slot_of(f, n, h) : NULL;
    return at && *at ? (*at)->id : 0;
}

/* Slow path: find or add the stack in the global table. Only a new stack
 * asks modules.c whether objects were loaded (so that a new object's
 * MODULE comes before the STACK naming it): outside the lock, since that
 * check enters the loader's lock, which a thread allocating inside a
 * dlopen holds while it waits for this one. */
uint32_t tmk_intern(struct tmk_thread *t, const uintptr_t *f, int n, uint64_t h)
{
    size_t key_len = (size_t)n * sizeof(uintptr_t);
    pthread_mutex_lock(&stacks_mutex);
    uint32_t id = find_locked(f, n, h);
    pthread_mutex_unlock(&stacks_mutex);
    if (id) return id;
    tmk_modules_scan_if_changed(t);
    pthread_mutex_lock(&stacks_mutex);
    id = find_locked(f, n, h); /* another thread may have added it meanwhile */
    if (!id && make_room() == 0) {
        struct stack_entry *e = tmk_arena_alloc(sizeof *e + key_len);
        if (e) {
            e->hash = h;
            e->id = next_stack_id++;
            e->depth = (uint32_t)n;
            memcpy(e->frames, f, key_len);
            *slot_of(f, n, h) = e;
            nstacks++;
            id = e->id;
            put_stack_record(t, id, f, n);
        }
    }
    pthread_mutex_unlock(&stacks_mutex);
    return id;
}

/* The child's file starts with no stacks defined: forget them all. (The
 * threads' hash caches are emptied by their thread reset.) */
void tmk_intern_after_fork_child(void)
{
    pthread_mutex_init(&stacks_mutex, NULL);
    for (size_t i = 0; i < nslots; i++) tmk_arena_free(slots[i]);
    tmk_arena_free(slots);
    slots = NULL;
    nslots = nstacks = 0;
    next_stack_id = 1;
}
