/* tests/preload/test_arena.c - the shim's own allocator (preload/arena.c),
 * compiled in without the shim: blocks of every size come zeroed, do not
 * overlap, are reused after a free; a block takes at most 1.5 times what
 * was asked (two size classes per power of two) plus the header; whole
 * pages (tmk_pages_map) come zeroed, and read as zeros once forgotten.
 */
#include <stdlib.h>

#include "../../preload/internal.h"
#include "../check.h"

#define N 3000

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static size_t size_of(unsigned i)
{
    return 1 + (size_t)i * 23; /* 1 .. 69,000 bytes: every class, some direct */
}

int main(void)
{
    static unsigned char *blocks[N];
    for (unsigned i = 0; i < N; i++) {
        size_t n = size_of(i);
        blocks[i] = tmk_arena_alloc(n);
        CHECK(blocks[i] != NULL);
        if (!blocks[i]) return check_status();
        CHECK(((uintptr_t)blocks[i] & 15) == 0, "block %u aligned", i);
        CHECK(all_zero(blocks[i], n), "block %u zeroed", i);
        memset(blocks[i], (int)(i % 251) + 1, n);
    }
    for (unsigned i = 0; i < N; i++) {
        size_t n = size_of(i);
        CHECK(blocks[i][0] == (unsigned char)(i % 251 + 1) &&
                  blocks[i][n - 1] == (unsigned char)(i % 251 + 1),
              "block %u kept its bytes (no overlap)", i);
    }
    /* the arena's class for 300 bytes (+ 16 header) is 384, not 512: two
     * neighbours carved one after the other lie 384 bytes apart */
    unsigned char *a = tmk_arena_alloc(300), *b = tmk_arena_alloc(300);
    CHECK(a && b && (b - a == 384 || a - b == 384), "%td", b - a);
    /* a freed block comes back, zeroed, to the next request of its class */
    tmk_arena_free(b);
    unsigned char *c = tmk_arena_alloc(290);
    CHECK(c == b);
    CHECK(c && all_zero(c, 290));
    for (unsigned i = 0; i < N; i += 2) tmk_arena_free(blocks[i]);
    for (unsigned i = 0; i < N; i += 2) {
        blocks[i] = tmk_arena_alloc(size_of(i));
        CHECK(blocks[i] && all_zero(blocks[i], size_of(i)), "block %u again", i);
    }
    unsigned char *pages = tmk_pages_map(5000);
    CHECK(pages && ((uintptr_t)pages & 4095) == 0 && all_zero(pages, 8192));
    if (pages) memset(pages, 1, 8192); /* rounded up to two whole pages */
    tmk_pages_forget(pages, 5000); /* still mapped, reads as zeros */
    CHECK(pages && all_zero(pages, 8192));
    tmk_pages_unmap(pages, 5000);
    CHECK(tmk_pages_map(0) == NULL);
    return check_status();
}
