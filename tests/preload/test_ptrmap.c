/* tests/preload/test_ptrmap.c - full mode's block map (preload/ptrmap.c) and
 * its info numbers (preload/infos.c), compiled in without the shim:
 *  - every block put comes back with its exact (size, stack), once;
 *  - an address the 8-byte entry cannot name exactly (not 16-byte aligned,
 *    at 2^48 or above) is refused, never mistaken for another;
 *  - random puts and takes against a shadow copy, through growths and
 *    backward-shift deletions at the tables' wrap-around;
 *  - a table's array marked by address says what it was;
 *  - infos: many distinct pairs get distinct numbers that give them back;
 *  - memory: at most 16 bytes a live block (the old map took 32..64), and
 *    within the budget: puts past it refused, marks by address never;
 *  - neighbours: the blocks of one 1 KiB region of addresses have their
 *    entries in one shard, within a few cache lines of each other;
 *  - threads putting and taking at once, their infos' index growing under
 *    the lookups of the others (an old index is given back: its readers
 *    miss and find their pair under the lock).
 */
#include <pthread.h>
#include <stdlib.h>

#include "../../preload/ptrmap.h"
#include "../check.h"

#define BASE 0x55550000a000ull

/* put as heap.c does it: the pair's number, then the block. */
static int put(uintptr_t p, uint32_t stack, uint32_t size)
{
    return tmk_ptrmap_put(p, tmk_info_number(size, stack), size);
}

static uintptr_t addr_of(uint64_t i)
{
    return (uintptr_t)(BASE + i * 48);
}

static void test_round_trip(void)
{
    enum { N = 100000 };
    for (uint32_t i = 0; i < N; i++)
        CHECK(put(addr_of(i), 1 + i % 97, 16 + i % 501) == 0);
    uint32_t stack, size;
    for (uint32_t i = 0; i < N; i++) {
        int known = tmk_ptrmap_take(addr_of(i), &stack, &size);
        CHECK(known, "block %u", i);
        CHECK_EQ_U64(stack, 1 + i % 97);
        CHECK_EQ_U64(size, 16 + i % 501);
    }
    for (uint32_t i = 0; i < N; i += 997) CHECK(!tmk_ptrmap_take(addr_of(i), &stack, &size));
}

static void test_unnameable(void)
{
    uint32_t stack, size;
    uintptr_t aligned = 0x7f0000001230ull;
    CHECK(put(aligned + 8, 5, 24) == -1, "8-byte aligned");
    CHECK(put((uintptr_t)1 << 48, 5, 24) == -1, "at 2^48");
    CHECK(put(aligned | (uintptr_t)1 << 52, 5, 24) == -1, "above 2^48");
    CHECK(put(0, 5, 24) == -1, "null");
    CHECK(tmk_ptrmap_put(aligned, 0, 24) == -1, "no info number");
    CHECK(put(aligned, 5, 24) == 0);
    /* the same low 48 bits with a high bit set is another block */
    CHECK(!tmk_ptrmap_take(aligned | (uintptr_t)1 << 52, &stack, &size));
    CHECK(!tmk_ptrmap_take(aligned + 8, &stack, &size));
    CHECK(tmk_ptrmap_take(aligned, &stack, &size));
    CHECK_EQ_U64(stack, 5);
    CHECK_EQ_U64(size, 24);
}

/* Random puts and takes over a window of addresses, checked against what
 * should be there. */
static void test_against_shadow(void)
{
    enum { SLOTS = 300000, STEPS = 3000000 };
    uint32_t *shadow = calloc(SLOTS, sizeof *shadow); /* size + 1, 0 = absent */
    CHECK(shadow != NULL);
    if (!shadow) return;
    size_t live = 0, peak = 0;
    for (uint32_t step = 0; step < STEPS; step++) {
        uint64_t r = check_random();
        uint32_t i = (uint32_t)(r % SLOTS);
        uint32_t stack, size;
        /* the live count rises and falls: puts win in the first half */
        int adding = (step / 500000) % 2 == 0 ? (r >> 40) % 4 != 0 : (r >> 40) % 4 == 0;
        if (adding) {
            uint32_t want = (uint32_t)(r >> 20) % 4000;
            CHECK(put(addr_of(i + 1000000), 7 + want % 13, want) == 0);
            if (!shadow[i]) live++;
            shadow[i] = want + 1;
        } else {
            int known = tmk_ptrmap_take(addr_of(i + 1000000), &stack, &size);
            CHECK(known == (shadow[i] != 0), "step %u slot %u", step, i);
            if (known && shadow[i]) {
                CHECK_EQ_U64(size, shadow[i] - 1);
                CHECK_EQ_U64(stack, 7 + (shadow[i] - 1) % 13);
                live--;
            }
            shadow[i] = 0;
        }
        if (live > peak) peak = live;
    }
    size_t bytes = tmk_ptrmap_bytes();
    CHECK(bytes <= peak * 16 + 64 * 4096, "%zu bytes for a peak of %zu live blocks", bytes, peak);
    for (uint32_t i = 0; i < SLOTS; i++) {
        uint32_t stack, size;
        CHECK(tmk_ptrmap_take(addr_of(i + 1000000), &stack, &size) == (shadow[i] != 0));
    }
    free(shadow);
}

static void test_by_address(void)
{
    uint32_t stack, size;
    uintptr_t a = addr_of(5000000);
    CHECK(put(a, 42, 1104) == 0);
    CHECK(tmk_ptrmap_by_address(a, &stack, &size) == 0);
    CHECK_EQ_U64(stack, 42);
    CHECK_EQ_U64(size, 1104);
    CHECK(tmk_ptrmap_by_address(a, &stack, &size) == 0); /* again: already by address */
    CHECK_EQ_U64(stack, TMK_PTRMAP_BY_ADDRESS);
    CHECK(tmk_ptrmap_take(a, &stack, &size));
    CHECK_EQ_U64(stack, TMK_PTRMAP_BY_ADDRESS);
    /* never put: by address from the start, and its free stays by address */
    CHECK(tmk_ptrmap_by_address(addr_of(5000001), &stack, &size) == 0);
    CHECK_EQ_U64(stack, TMK_PTRMAP_BY_ADDRESS);
    CHECK(tmk_ptrmap_take(addr_of(5000001), &stack, &size));
    CHECK_EQ_U64(stack, TMK_PTRMAP_BY_ADDRESS);
}

static void test_infos(void)
{
    enum { N = 200000 };
    uint32_t *numbers = calloc(N, sizeof *numbers);
    CHECK(numbers != NULL);
    if (!numbers) return;
    for (uint32_t i = 0; i < N; i++) {
        numbers[i] = tmk_info_number(i * 16 + 8, 1000 + i % 7);
        CHECK(numbers[i] >= 1 && numbers[i] <= TMK_INFO_LAST);
    }
    for (uint32_t i = 0; i < N; i++) {
        uint32_t size, stack;
        CHECK_EQ_U64(tmk_info_number(i * 16 + 8, 1000 + i % 7), numbers[i]);
        tmk_info_pair(numbers[i], &size, &stack);
        CHECK_EQ_U64(size, i * 16 + 8);
        CHECK_EQ_U64(stack, 1000 + i % 7);
        if (i) CHECK(numbers[i] != numbers[i - 1]);
    }
    /* (size, stack) and (stack, size) are different infos */
    CHECK(tmk_info_number(3, 9) != tmk_info_number(9, 3));
    CHECK(tmk_infos_bytes() <= (size_t)N * 32, "%zu", tmk_infos_bytes());
    free(numbers);
}

struct worker {
    uint32_t first;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    enum { N = 50000, ROUNDS = 6 };
    for (int round = 0; round < ROUNDS; round++) {
        for (uint32_t i = 0; i < N; i++)
            if (put(addr_of(w->first + i), w->first % 1000 + 1, i + (uint32_t)round) != 0)
                w->failures++;
        for (uint32_t i = 0; i < N; i++) {
            uint32_t stack, size;
            if (!tmk_ptrmap_take(addr_of(w->first + i), &stack, &size) ||
                stack != w->first % 1000 + 1 || size != i + (uint32_t)round)
                w->failures++;
        }
    }
    return NULL;
}

static void test_threads(void)
{
    enum { T = 4 };
    pthread_t th[T];
    struct worker w[T];
    for (int k = 0; k < T; k++) {
        w[k] = (struct worker){.first = 10000000u + (uint32_t)k * 100000u, .failures = 0};
        CHECK(pthread_create(&th[k], NULL, work, &w[k]) == 0);
    }
    for (int k = 0; k < T; k++) {
        pthread_join(th[k], NULL);
        CHECK(w[k].failures == 0, "thread %d: %d failures", k, w[k].failures);
    }
}

/* The slot of p's entry in shard s, or -1. */
static long slot_of(const struct tmk_ptrmap_shard *s, uintptr_t p)
{
    for (uint32_t i = 0; i < s->cap; i++)
        if ((s->e[i] & ((1ull << 44) - 1)) == p >> 4) return (long)i;
    return -1;
}

static void test_neighbours(void)
{
    enum { N = 1u << TMK_PTRMAP_REGION_BITS };
    const uintptr_t region = 0x7f1234560000ull; /* 1 KiB aligned */
    for (uint32_t i = 0; i < N; i++) CHECK(put(region + 16 * i, 7, 32) == 0);
    const struct tmk_ptrmap_shard *s = NULL;
    long first = -1;
    for (uint32_t i = 0; i < N; i++) {
        uintptr_t p = region + 16 * i;
        const struct tmk_ptrmap_shard *si = NULL;
        long at = -1;
        for (unsigned k = 0; k < TMK_PTRMAP_SHARDS && at < 0; k++)
            if ((at = slot_of(&tmk_ptrmap_shards[k], p)) >= 0) si = &tmk_ptrmap_shards[k];
        CHECK(at >= 0, "block %u not found", i);
        if (at < 0) continue;
        if (!s) s = si, first = at;
        CHECK(si == s, "block %u in another shard", i);
        long ahead = (at - first + (long)s->cap) % (long)s->cap; /* after the first, circularly */
        CHECK(ahead < 2 * N, "block %u is %ld slots after the region's first", i, ahead);
    }
    uint32_t stack, size;
    for (uint32_t i = 0; i < N; i++) CHECK(tmk_ptrmap_take(region + 16 * i, &stack, &size));
}

/* The budget: a put that would grow a shard's table past its share of the
 * fixed part plus 1/64 of its blocks' bytes is refused (the block is then
 * written by address); what was refused is not there; taking blocks makes
 * room again; marking by address is never refused; a budget of 0 holds no
 * block by info. Starts from an empty map (the fork child's reset). */
static void test_budget(void)
{
    tmk_ptrmap_after_fork_child();
    enum { N = 400000, SIZE = 48 };
    const uint64_t fixed = 1u << 20;
    tmk_ptrmap_set_budget(fixed);
    uint32_t held = 0, stack, size;
    static uint8_t refused[N];
    for (uint32_t i = 0; i < N; i++) {
        refused[i] = put(addr_of(20000000u + i), 9, SIZE) != 0;
        held += !refused[i];
    }
    size_t bytes = tmk_ptrmap_bytes();
    /* each shard within its share, but for one growth step (x1.5) */
    CHECK(bytes <= (fixed + (uint64_t)held * SIZE / TMK_PTRMAP_SHARE) * 3 / 2,
          "%zu bytes of tables for %u blocks held", bytes, held);
    CHECK(held > 40000 && held < N / 2, "%u of %u blocks held", held, (unsigned)N);
    CHECK(tmk_ptrmap_by_address(addr_of(30000000u), &stack, &size) == 0, "by address, over budget");
    for (uint32_t i = 0; i < N; i++) {
        int known = tmk_ptrmap_take(addr_of(20000000u + i), &stack, &size);
        CHECK(known == !refused[i], "block %u: refused %d, taken %d", i, refused[i], known);
    }
    for (uint32_t i = 0; i < N / 8; i++) CHECK(put(addr_of(20000000u + i), 9, SIZE) == 0);
    for (uint32_t i = 0; i < N / 8; i++) CHECK(tmk_ptrmap_take(addr_of(20000000u + i), &stack, &size));
    tmk_ptrmap_set_budget(0);
    CHECK(put(addr_of(20000000u), 9, SIZE) == -1, "budget 0: no block by info");
    CHECK(tmk_ptrmap_take(addr_of(30000000u), &stack, &size), "the block marked by address");
    CHECK_EQ_U64(stack, TMK_PTRMAP_BY_ADDRESS);
    tmk_ptrmap_set_budget(TMK_PTRMAP_FIXED_DEFAULT);
}

int main(void)
{
    test_neighbours();
    test_round_trip();
    test_unnameable();
    test_against_shadow();
    test_by_address();
    test_infos();
    test_threads();
    test_budget();
    return check_status();
}
