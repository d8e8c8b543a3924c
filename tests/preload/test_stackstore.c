/* tests/preload/test_stackstore.c - the compact store of interned stacks
 * (preload/stackstore.c), compiled in without the shim:
 *  - stacks of every depth 1..128 (and 0), with frames of every shape (near
 *    neighbours, far modules, 0 and the top of the address space), get ids
 *    1, 2, 3... and give their exact frames and depth back, through the
 *    index's and the offsets' growths and many log chunks;
 *  - find gives each one's id, and 0 for a stack never added: one frame
 *    changed, one frame fewer or more, the same frames under another hash;
 *  - hash collisions: distinct stacks under one 64-bit hash, and under
 *    hashes sharing their high or their low 32 bits, keep distinct ids;
 *  - memory: W3's shape (14,400 stacks of 23 frames on average) in under
 *    2 MiB (3.8 MiB before);
 *  - forgetting the stacks with a frame in unloaded objects' ranges: those
 *    (any frame, not only the first) are found no more and get new ids when
 *    added again; every other stack keeps its id, also through the index's
 *    growth after; the count is exact;
 *  - reset forgets everything: ids start again at 1.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "../../preload/intern.h"
#include "../check.h"

/* Frame i of stack s, of one of several shapes (the innermost one tells
 * the stacks apart). */
static uintptr_t frame_of(unsigned s, int i)
{
    uint64_t r = check_random();
    if (i == 0) return s % 5 == 2 ? s : s % 5 == 3 ? (uintptr_t)r : 0x555555554000u + s * 16;
    switch (s % 5) {
    case 0: return 0x555555554000u + (r & 0xffff);                   /* one small binary */
    case 1: return i & 1 ? 0x7f0000000000u + (r & 0xfffff) : 0x401000u + (r & 0xfff);
    case 2: return i & 1 ? UINTPTR_MAX - (r & 7) : (uintptr_t)(r & 7); /* the extremes */
    case 3: return (uintptr_t)r;                                     /* anything */
    default: return 0x7ffff7a00000u + (uintptr_t)i * 16;              /* every delta alike */
    }
}

#define PER_DEPTH 160
#define NSTACKS (PER_DEPTH * TMK_DEPTH_MAX)

static uintptr_t (*frames)[TMK_DEPTH_MAX];
static int depth[NSTACKS];

static int same_frames(uint32_t id, const uintptr_t *want, int n)
{
    uintptr_t got[TMK_DEPTH_MAX + 1];
    if (tmk_store_frames(id, got, TMK_DEPTH_MAX) != n) return 0;
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) return 0;
    return 1;
}

static void every_depth(void)
{
    for (unsigned s = 0; s < NSTACKS; s++) {
        depth[s] = 1 + (int)(s % TMK_DEPTH_MAX);
        for (int i = 0; i < depth[s]; i++) frames[s][i] = frame_of(s, i);
        uint64_t h = tmk_hash_frames(frames[s], depth[s]);
        CHECK_EQ_U64(tmk_store_find(frames[s], depth[s], h), 0);
        CHECK_EQ_U64(tmk_store_add(frames[s], depth[s], h), s + 1);
    }
    for (unsigned s = 0; s < NSTACKS; s++) {
        const uintptr_t *f = frames[s];
        int n = depth[s];
        uint64_t h = tmk_hash_frames(f, n);
        CHECK_EQ_U64(tmk_store_find(f, n, h), s + 1);
        CHECK(same_frames(s + 1, f, n), "stack %u, depth %d", s, n);
        uintptr_t g[TMK_DEPTH_MAX + 1];
        memcpy(g, f, (size_t)n * sizeof *g);
        g[n / 2] ^= 0x10; /* one frame changed, same hash asked */
        CHECK_EQ_U64(tmk_store_find(g, n, h), 0);
        if (n > 1) CHECK_EQ_U64(tmk_store_find(f, n - 1, h), 0);
        g[n / 2] ^= 0x10;
        g[n] = 0x401000;
        CHECK_EQ_U64(tmk_store_find(g, n + 1, h), 0);
        CHECK_EQ_U64(tmk_store_find(f, n, h ^ 1), 0);
    }
    uintptr_t out[TMK_DEPTH_MAX];
    CHECK_EQ_U64(tmk_store_frames(0, out, TMK_DEPTH_MAX), (uint64_t)-1);
    CHECK_EQ_U64(tmk_store_frames(NSTACKS + 1, out, TMK_DEPTH_MAX), (uint64_t)-1);
    /* an empty stack is a stack too */
    uint64_t h0 = tmk_hash_frames(out, 0);
    uint32_t id0 = tmk_store_add(out, 0, h0);
    CHECK_EQ_U64(id0, NSTACKS + 1);
    CHECK_EQ_U64(tmk_store_find(out, 0, h0), id0);
    CHECK_EQ_U64(tmk_store_frames(id0, out, TMK_DEPTH_MAX), 0);
}

enum { SAME = 300 };

/* Stack s's made-up hash: one for the first SAME stacks; then a shared high
 * half; then a shared low half. */
static uint64_t colliding_hash(unsigned s)
{
    if (s < SAME) return 0x1234567800000001ull;
    if (s < 2 * SAME) return 0xabcdef0100000000ull | s;
    return (uint64_t)s << 32 | 0x77;
}

static void collisions(void)
{
    static uintptr_t f[3 * SAME][8];
    static uint32_t ids[3 * SAME];
    for (unsigned s = 0; s < 3 * SAME; s++) {
        for (int i = 0; i < 8; i++) f[s][i] = 0x401000 + s * 64 + (unsigned)i;
        uint64_t h = colliding_hash(s);
        int n = 1 + (int)(s % 8);
        ids[s] = tmk_store_add(f[s], n, h);
        CHECK(ids[s] != 0);
        CHECK_EQ_U64(tmk_store_find(f[s], n, h), ids[s]);
    }
    for (unsigned s = 0; s < 3 * SAME; s++) {
        uint64_t h = colliding_hash(s);
        int n = 1 + (int)(s % 8);
        CHECK_EQ_U64(tmk_store_find(f[s], n, h), ids[s]);
        CHECK(same_frames(ids[s], f[s], n), "colliding stack %u", s);
        if (s) CHECK(ids[s] == ids[s - 1] + 1);
    }
}

/* W3's shape: 14,400 stacks of 12-34 frames (23 on average) in a small
 * binary, then libc's start and the binary's _start. The arena entries of
 * before took 256 bytes each and the index 256 KiB: 3.8 MiB. */
static void w3_memory(void)
{
    tmk_store_reset();
    uintptr_t f[40];
    for (unsigned s = 0; s < 14400; s++) {
        int n = 12 + (int)(s % 23);
        f[0] = 0x555555555000u + s; /* distinct */
        for (int i = 1; i < n - 4; i++) f[i] = 0x555555555000u + (check_random() & 0x1fff);
        f[n - 4] = 0x555555555280u;
        f[n - 3] = 0x7ffff7829d90u;
        f[n - 2] = 0x7ffff7829e40u;
        f[n - 1] = 0x5555555553d1u;
        CHECK_EQ_U64(tmk_store_add(f, n, tmk_hash_frames(f, n)), s + 1);
    }
    size_t bytes = tmk_store_bytes();
    printf("W3 shape: 14400 stacks in %zu bytes mapped\n", bytes);
    CHECK(bytes < (size_t)2 << 20, "%zu bytes", bytes);
}

/* Stacks of 6 frames in three made-up objects: stack s has frame s % 6
 * in object (s / 6) % 3, the others in the program. */
#define OBJ(k) ((uintptr_t)0x7f0000000000u + (uintptr_t)(k) * 0x100000u)
#define PROGRAM 0x555555554000u

static void object_stack(unsigned s, uintptr_t *f)
{
    for (int i = 0; i < 6; i++) f[i] = PROGRAM + s * 64 + (unsigned)i;
    f[s % 6] = OBJ((s / 6) % 3) + s * 16;
}

static void forget_ranges(void)
{
    tmk_store_reset();
    enum { N = 3000 };
    uintptr_t f[6];
    for (unsigned s = 0; s < N; s++) {
        object_stack(s, f);
        CHECK_EQ_U64(tmk_store_add(f, 6, tmk_hash_frames(f, 6)), s + 1);
    }
    /* objects 0 and 2 unloaded; object 1 and the program stay */
    struct tmk_range gone[2] = {{OBJ(0), OBJ(0) + 0x100000u}, {OBJ(2), OBJ(2) + 0x100000u}};
    unsigned expect = 0;
    for (unsigned s = 0; s < N; s++) expect += (s / 6) % 3 != 1;
    CHECK_EQ_U64(tmk_store_forget(gone, 2), expect);
    CHECK_EQ_U64(tmk_store_forget(gone, 2), 0); /* once */
    for (unsigned s = 0; s < N; s++) {
        object_stack(s, f);
        uint64_t h = tmk_hash_frames(f, 6);
        CHECK_EQ_U64(tmk_store_find(f, 6, h), (s / 6) % 3 == 1 ? s + 1 : 0);
    }
    /* the same addresses again (another object loaded there): new ids,
     * through the index's growth */
    uint32_t next = N + 1;
    for (unsigned s = 0; s < N; s++) {
        if ((s / 6) % 3 == 1) continue;
        object_stack(s, f);
        uint64_t h = tmk_hash_frames(f, 6);
        CHECK_EQ_U64(tmk_store_add(f, 6, h), next);
        CHECK_EQ_U64(tmk_store_find(f, 6, h), next);
        next++;
    }
    for (unsigned s = 0; s < N; s++) {
        if ((s / 6) % 3 != 1) continue;
        object_stack(s, f);
        CHECK_EQ_U64(tmk_store_find(f, 6, tmk_hash_frames(f, 6)), s + 1);
    }
    struct tmk_range none = {0x1000, 0x2000};
    CHECK_EQ_U64(tmk_store_forget(&none, 1), 0);
}

static void reset_forgets(void)
{
    tmk_store_reset();
    CHECK_EQ_U64(tmk_store_bytes(), 0);
    CHECK_EQ_U64(tmk_store_find(frames[5], depth[5], tmk_hash_frames(frames[5], depth[5])), 0);
    CHECK_EQ_U64(tmk_store_add(frames[5], depth[5], tmk_hash_frames(frames[5], depth[5])), 1);
    CHECK(same_frames(1, frames[5], depth[5]));
    tmk_store_reset();
}

int main(void)
{
    frames = calloc(NSTACKS, sizeof *frames);
    if (!frames) return 2;
    every_depth();
    collisions();
    w3_memory();
    forget_ranges();
    reset_forgets();
    free(frames);
    return check_status();
}
