/* tests/preload/odd_malloc.c - an allocator whose blocks are 8 bytes off a
 * 16-byte boundary, preloaded behind libtidemark.so (heap_test.py
 * case_unaligned): full mode's block map (preload/ptrmap.c) names a block
 * by its address >> 4 and so refuses these; the shim must write them by
 * address, ALLOC and FREE, every one read back.
 *
 * malloc(n) is glibc's malloc(n + 24) + 24, with n and a tag in the 16
 * bytes before the block; the aligned family is glibc's own (16-aligned),
 * told apart on free by the address.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define HEADER 24
#define TAG 0x6f64646d616c6c63ull /* "oddmallc" */

static int ours(void *p)
{
    uint64_t tag;
    if (!p || ((uintptr_t)p & 15) != 8) return 0;
    memcpy(&tag, (char *)p - 8, sizeof tag);
    return tag == TAG;
}

static size_t size_of(void *p)
{
    size_t n;
    memcpy(&n, (char *)p - 16, sizeof n);
    return n;
}

void *malloc(size_t n)
{
    if (n > SIZE_MAX - HEADER) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = __libc_malloc(n + HEADER);
    if (!base) return NULL;
    char *p = base + HEADER;
    uint64_t tag = TAG;
    memcpy(p - 16, &n, sizeof n);
    memcpy(p - 8, &tag, sizeof tag);
    return p;
}

void free(void *p)
{
    if (ours(p)) {
        memset((char *)p - 8, 0, 8);
        __libc_free((char *)p - HEADER);
    } else {
        __libc_free(p);
    }
}

void *calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (!old) return malloc(n);
    if (!n) {
        free(old);
        return NULL;
    }
    void *p = malloc(n);
    if (!p) return NULL;
    size_t keep = ours(old) ? size_of(old) : n; /* glibc's blocks: only from memalign */
    memcpy(p, old, keep < n ? keep : n);
    free(old);
    return p;
}

void *reallocarray(void *old, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, n * size);
}

size_t malloc_usable_size(void *p)
{
    static size_t (*next)(void *);
    if (ours(p)) return size_of(p);
    if (!next) next = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
    return p && next ? next(p) : 0;
}

void *memalign(size_t align, size_t n)
{
    return __libc_memalign(align < 16 ? 16 : align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    return memalign(4096, n);
}

void *pvalloc(size_t n)
{
    return memalign(4096, (n + 4095) & ~(size_t)4095);
}
