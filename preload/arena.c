/* preload/arena.c - the shim's own allocator: never the program's malloc.
 *
 * Size classes from 32 bytes to 64 KiB, two per power of two (2^k and
 * 1.5 * 2^k: a block wastes at most a third, not half), carved from 1 MiB
 * mmap chunks, with one free list per class; bigger requests get their own
 * mapping. Every block carries a 16-byte header with its class (or, for a
 * direct mapping, its length). Memory is zeroed on return. Used only on slow
 * paths (stack interning, module and table lists, growing the full mode's
 * maps, the compressor's memory), under one mutex; direct mappings take
 * no lock. tmk_pages_map gives whole pages without a header, for tables
 * replaced whole when they grow (ptrmap.c, infos.c): their old memory goes
 * back to the kernel instead of into a size class's free list.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define ARENA_CHUNK (1u << 20)
#define ARENA_MIN_SHIFT 5
#define ARENA_MAX_SHIFT 16
#define ARENA_CLASSES (2 * (ARENA_MAX_SHIFT - ARENA_MIN_SHIFT) + 1)
#define ARENA_HEADER 16
#define ARENA_DIRECT 0xffu

struct arena_free {
    struct arena_free *next;
};

static pthread_mutex_t arena_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct arena_free *free_lists[ARENA_CLASSES];
static uint8_t *chunk_pos, *chunk_end;

void tmk_arena_lock(void) { pthread_mutex_lock(&arena_mutex); }
void tmk_arena_unlock(void) { pthread_mutex_unlock(&arena_mutex); }

void tmk_arena_after_fork_child(void)
{
    pthread_mutex_init(&arena_mutex, NULL);
}

/* Class c holds 2^(MIN_SHIFT + c/2) bytes, times 1.5 when c is odd. */
static size_t class_size(unsigned c)
{
    return (c & 1 ? (size_t)3 << (ARENA_MIN_SHIFT - 1) : (size_t)1 << ARENA_MIN_SHIFT) << (c / 2);
}

static unsigned class_of(size_t total)
{
    unsigned c = 0;
    while (class_size(c) < total) c++;
    return c;
}

static void *map_bytes(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static size_t whole_pages(size_t bytes)
{
    return (bytes + 4095) & ~(size_t)4095;
}

/* The page functions run on allocation paths: errno stays the program's. */
void *tmk_pages_map(size_t bytes)
{
    int saved = errno;
    void *p = bytes ? map_bytes(whole_pages(bytes)) : NULL;
    errno = saved;
    return p;
}

void tmk_pages_unmap(void *p, size_t bytes)
{
    int saved = errno;
    if (p) munmap(p, whole_pages(bytes));
    errno = saved;
}

void tmk_pages_forget(void *p, size_t bytes)
{
    int saved = errno;
    if (p) madvise(p, whole_pages(bytes), MADV_DONTNEED);
    errno = saved;
}

/* Carves one block of class c from the current chunk (lock held). */
static uint8_t *carve(unsigned c)
{
    size_t len = class_size(c);
    if (!chunk_pos || (size_t)(chunk_end - chunk_pos) < len) {
        uint8_t *chunk = map_bytes(ARENA_CHUNK);
        if (!chunk) return NULL;
        chunk_pos = chunk;
        chunk_end = chunk + ARENA_CHUNK;
    }
    uint8_t *p = chunk_pos;
    chunk_pos += len;
    return p;
}

void *tmk_arena_alloc(size_t bytes)
{
    size_t total = bytes + ARENA_HEADER;
    if (total < bytes) return NULL;
    if (total > ((size_t)1 << ARENA_MAX_SHIFT)) {
        size_t len = (total + 4095) & ~(size_t)4095;
        uint8_t *p = map_bytes(len);
        if (!p) return NULL;
        memcpy(p, &len, sizeof len);
        p[8] = ARENA_DIRECT;
        return p + ARENA_HEADER; /* fresh mappings are zero */
    }
    unsigned c = class_of(total);
    pthread_mutex_lock(&arena_mutex);
    uint8_t *p = (uint8_t *)free_lists[c];
    if (p)
        free_lists[c] = free_lists[c]->next;
    else
        p = carve(c);
    pthread_mutex_unlock(&arena_mutex);
    if (!p) return NULL;
    memset(p, 0, class_size(c));
    p[8] = (uint8_t)c;
    return p + ARENA_HEADER;
}

void tmk_arena_free(void *ptr)
{
    if (!ptr) return;
    uint8_t *p = (uint8_t *)ptr - ARENA_HEADER;
    if (p[8] == ARENA_DIRECT) {
        size_t len;
        memcpy(&len, p, sizeof len);
        munmap(p, len);
        return;
    }
    unsigned c = p[8];
    pthread_mutex_lock(&arena_mutex);
    struct arena_free *f = (struct arena_free *)p;
    f->next = free_lists[c];
    free_lists[c] = f;
    pthread_mutex_unlock(&arena_mutex);
}
