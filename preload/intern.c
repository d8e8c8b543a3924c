/* preload/intern.c - stack interning: each distinct stack gets a
 * process-wide id (1-based) and one STACK record, written by the thread that
 * first met it. The table (uthash over the frame bytes, memory from arena.c)
 * is behind a mutex; the per-thread hash cache in front of it is inline in
 * intern.h. docs/architecture.md, "Inside the shim", has the odds of two
 * stacks sharing an id.
 */
#include <string.h>

#include "intern.h"

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) tmk_arena_alloc(sz)
#define uthash_free(ptr, sz) tmk_arena_free(ptr)
#include <uthash.h>

struct stack_entry {
    UT_hash_handle hh;
    uint32_t id;
    uint32_t depth;
    uintptr_t frames[];
};

static pthread_mutex_t stacks_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct stack_entry *stacks;
static uint32_t next_stack_id = 1;

void tmk_intern_lock(void) { pthread_mutex_lock(&stacks_mutex); }
void tmk_intern_unlock(void) { pthread_mutex_unlock(&stacks_mutex); }

static void put_stack_record(struct tmk_thread *t, uint32_t id, const uintptr_t *f, int n)
{
    uint8_t *p = tmk_reserve(t, 16 + (size_t)n * TMK_VARINT_MAX);
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

/* Slow path: find or add the stack in the global table. */
uint32_t tmk_intern(struct tmk_thread *t, const uintptr_t *f, int n)
{
    struct stack_entry *e;
    size_t key_len = (size_t)n * sizeof(uintptr_t);
    uint32_t id = 0;
    pthread_mutex_lock(&stacks_mutex);
    HASH_FIND(hh, stacks, f, key_len, e);
    if (e) {
        id = e->id;
    } else if ((e = tmk_arena_alloc(sizeof *e + key_len)) != NULL) {
        e->id = next_stack_id++;
        e->depth = (uint32_t)n;
        memcpy(e->frames, f, key_len);
        HASH_ADD_KEYPTR(hh, stacks, e->frames, key_len, e);
        id = e->id;
        put_stack_record(t, id, f, n);
    }
    pthread_mutex_unlock(&stacks_mutex);
    return id;
}

/* The child's file starts with no stacks defined: forget them all. (The
 * threads' hash caches are emptied by their thread reset.) */
void tmk_intern_after_fork_child(void)
{
    struct stack_entry *e, *tmp;
    pthread_mutex_init(&stacks_mutex, NULL);
    HASH_ITER(hh, stacks, e, tmp) {
        HASH_DEL(stacks, e);
        tmk_arena_free(e);
    }
    stacks = NULL;
    next_stack_id = 1;
}
