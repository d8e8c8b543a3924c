/* preload/intern.c - stack interning: each distinct stack gets a
 * process-wide id (1-based) and one STACK record, written by the thread that
 * first met it. The table (stackstore.c: found by the stack's 64-bit hash,
 * the frames compared on a hash match) is behind a mutex; the per-thread
 * hash cache in front of it is inline in intern.h.
 * docs/architecture.md, "Inside the shim", has the odds of two stacks
 * sharing an id.
 */
#include "intern.h"

static pthread_mutex_t stacks_mutex = PTHREAD_MUTEX_INITIALIZER;

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

/* Slow path: find or add the stack in the global table. Only a new stack
 * asks modules.c whether objects were loaded (so that a new object's
 * MODULE comes before the STACK naming it): outside the lock, since that
 * check enters the loader's lock, which a thread allocating inside a
 * dlopen holds while it waits for this one. */
uint32_t tmk_intern(struct tmk_thread *t, const uintptr_t *f, int n, uint64_t h)
{
    pthread_mutex_lock(&stacks_mutex);
    uint32_t id = tmk_store_find(f, n, h);
    pthread_mutex_unlock(&stacks_mutex);
    if (id) return id;
    tmk_modules_scan_if_changed(t);
    pthread_mutex_lock(&stacks_mutex);
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
}
