/* preload/intern.c - stack interning: each distinct stack gets a
 * process-wide id (1-based) and one STACK record, written by the thread that
 * first met it. The table (stackstore.c: found by the stack's 64-bit hash,
 * the frames compared on a hash match) is behind a mutex; the per-thread
 * hash cache in front of it is inline in intern.h.
 * An id never spans two objects at one address: the stacks with a frame in
 * an object that modules.c found unloaded are forgotten (the table's before
 * its next use, each thread's hash cache before its next stack, see
 * tmk_stacks_sync), so the same return addresses in an object loaded there
 * later get a new id, and a new STACK record after that object's MODULE.
 * docs/architecture.md, "Inside the shim", has the odds of two stacks
 * sharing an id.
 */
#include <string.h>

#include "intern.h"

static pthread_mutex_t stacks_mutex = PTHREAD_MUTEX_INITIALIZER;

void tmk_intern_lock(void) { pthread_mutex_lock(&stacks_mutex); }
void tmk_intern_unlock(void) { pthread_mutex_unlock(&stacks_mutex); }

/* Ranges of unloaded objects whose stacks are still to be forgotten: asked
 * for by modules.c (its mutex held), done under stacks_mutex. Behind a
 * spinlock taken with either mutex or none, and nothing taken inside it. */
#define FORGET_MAX 16
static struct tmk_range forget_list[FORGET_MAX];
static int forget_n, forget_lock;
static uint32_t forget_asked, forget_done; /* ranges asked for / forgotten */
/* Moves when stacks were forgotten: a thread's hash cache made before is
 * emptied (tmk_stacks_resync). */
static uint32_t stacks_epoch;

void tmk_intern_forget(uintptr_t start, uintptr_t end)
{
    tmk_spin_lock(&forget_lock);
    if (forget_n < FORGET_MAX) {
        forget_list[forget_n++] = (struct tmk_range){start, end};
    } else { /* the last one grows to cover it: a few stacks more forgotten */
        struct tmk_range *r = &forget_list[FORGET_MAX - 1];
        if (start < r->start) r->start = start;
        if (end > r->end) r->end = end;
    }
    __atomic_add_fetch(&forget_asked, 1, __ATOMIC_RELEASE);
    tmk_spin_unlock(&forget_lock);
}

/* The forgetting asked for so far; stacks_mutex held. */
static void forget_pending_locked(void)
{
    if (__atomic_load_n(&forget_asked, __ATOMIC_ACQUIRE) == forget_done) return;
    struct tmk_range r[FORGET_MAX];
    tmk_spin_lock(&forget_lock);
    int n = forget_n;
    memcpy(r, forget_list, (size_t)n * sizeof *r);
    forget_n = 0;
    uint32_t asked = forget_asked;
    tmk_spin_unlock(&forget_lock);
    if (n && tmk_store_forget(r, n)) __atomic_add_fetch(&stacks_epoch, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&forget_done, asked, __ATOMIC_RELEASE);
}

static void lock_stacks(void)
{
    pthread_mutex_lock(&stacks_mutex);
    forget_pending_locked();
}

/* Every entry of the thread's hash cache emptied; untouched pages are only
 * read (they stay the shared zero page). */
static void forget_thread_cache(struct tmk_thread *t)
{
    for (unsigned i = 0; i < TMK_STACK_CACHE; i++)
        if (t->cache[i].hash) t->cache[i].hash = 0;
}

/* modules.c's check (how: TMK_CHECK_ALWAYS or 0), waiting for another
 * thread's (it may be the one that finds the object this stack's frames
 * are in, and writes its MODULE), unless this thread gave up waiting at
 * this generation already: that check waits for the loader's lock, which
 * this thread may hold (an allocation in a dl_iterate_phdr callback).
 * 0, or -1 when it gave up. */
static int look_at_modules(struct tmk_thread *t, int how)
{
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    if (t->modules_gave_up != gen) how |= TMK_CHECK_PATIENT;
    if (!tmk_modules_check(t, how)) return 0;
    t->modules_gave_up = gen;
    return -1;
}

void tmk_stacks_resync(struct tmk_thread *t)
{
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    if (look_at_modules(t, 0)) return; /* at the next stack again */
    if (__atomic_load_n(&forget_asked, __ATOMIC_ACQUIRE) !=
        __atomic_load_n(&forget_done, __ATOMIC_ACQUIRE)) {
        lock_stacks();
        pthread_mutex_unlock(&stacks_mutex);
    }
    uint32_t epoch = __atomic_load_n(&stacks_epoch, __ATOMIC_ACQUIRE);
    if (t->stacks_epoch != epoch) {
        forget_thread_cache(t);
        t->stacks_epoch = epoch;
    }
    t->modules_seen = gen;
}

void tmk_intern_thread_reset(struct tmk_thread *t)
{
    t->modules_seen = 0; /* the first stack looks */
    t->modules_gave_up = 0;
    t->stacks_epoch = __atomic_load_n(&stacks_epoch, __ATOMIC_ACQUIRE); /* its cache is empty */
}

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

/* Slow path: find or add the stack in the global table. Only a new stack
 * asks modules.c whether objects were loaded (so that a new object's
 * MODULE comes before the STACK naming it, also when another thread's scan
 * is writing it: that one is waited for): outside the lock, since that
 * check enters the loader's lock, which a thread allocating inside a
 * dlopen holds while it waits for this one. */
uint32_t tmk_intern(struct tmk_thread *t, const uintptr_t *f, int n, uint64_t h)
{
    lock_stacks();
    uint32_t id = tmk_store_find(f, n, h);
    pthread_mutex_unlock(&stacks_mutex);
    if (id) return id;
    look_at_modules(t, TMK_CHECK_ALWAYS);
    lock_stacks();
    id = tmk_store_find(f, n, h); /* another thread may have added it meanwhile */
    if (!id) {
        id = tmk_store_add(f, n, h);
        if (id) put_stack_record(t, id, f, n);
    }
    pthread_mutex_unlock(&stacks_mutex);
    return id;
}

/* The child's file starts with no stacks defined: forget them all. (The
 * threads' hash caches are emptied by their thread reset.) */
void tmk_intern_after_fork_child(void)
{
    pthread_mutex_init(&stacks_mutex, NULL);
    tmk_store_reset();
    forget_lock = 0;
    forget_n = 0;
    forget_done = forget_asked;
}
