/* tests/gomap/test_seed.c - the seed article's figures, exactly.
 *
 * Go 1.19, 1,000,000 inserts then deleting them all:
 *   map[int64][128]byte (1104-byte buckets) holds 2^18 + 2^14 buckets =
 *   307,494,912 bytes, grown from empty or presized with hint 1e6; while the
 *   last growth is in flight the B = 17 and B = 18 arrays together hold
 *   153,747,456 + 307,494,912 = 461,242,368 bytes;
 *   map[int64][129]byte stores pointers to the values (144-byte buckets):
 *   40,108,032 bytes, and the values themselves are all freed.
 * The figures are Go's (DESIGN.md and the seed), not gomap's output.
 */
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "tidemark/gomap.h"

#define N 1000000

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_CHECKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_CHECKS 0
#endif
#endif
#ifndef HEAP_CHECKS
#define HEAP_CHECKS 1
#endif

static uint64_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Inserts 0..N-1 with a value filled from the key, returns the largest old +
 * new array bytes seen while a growth was in flight. */
static uint64_t insert_all(gomap *m, size_t vsize)
{
    uint64_t in_flight = 0;
    struct gomap_stats st;
    for (int64_t k = 0; k < N; k++) {
        unsigned char *v = gomap_put(m, &k);
        CHECK(v != NULL);
        if (v == NULL)
            return 0;
        memset(v, (int)(k & 0xff), vsize);
        gomap_stats(m, &st);
        if (st.growing && st.array_bytes + st.old_array_bytes > in_flight)
            in_flight = st.array_bytes + st.old_array_bytes;
    }
    return in_flight;
}

static void delete_all(gomap *m)
{
    for (int64_t k = 0; k < N; k++)
        if (!gomap_delete(m, &k)) {
            CHECK(!"key missing at delete");
            return;
        }
}

static void seed_128(uint64_t hint)
{
    gomap *m = gomap_make(8, 128, hint);
    CHECK(m != NULL);
    struct gomap_stats st;
    gomap_stats(m, &st);
    CHECK_EQ_U64(st.bucket_size, 1104);
    CHECK_EQ_U64(st.array_bytes, hint ? 307494912 : 0);

    uint64_t in_flight = insert_all(m, 128);
    CHECK_EQ_U64(gomap_len(m), N);
    if (hint == 0)
        CHECK_EQ_U64(in_flight, 461242368); /* B = 17 + B = 18 arrays */
    else
        CHECK_EQ_U64(in_flight, 0);         /* presized: never grows */
    /* Spot-check values survived the growths. */
    for (int64_t k = 0; k < N; k += 9973) {
        unsigned char *v = gomap_get(m, &k);
        CHECK(v != NULL && v[0] == (unsigned char)(k & 0xff) && v[127] == v[0]);
    }

    delete_all(m);
    gomap_stats(m, &st);
    CHECK_EQ_U64(gomap_len(m), 0);
    CHECK_EQ_U64(st.B, 18);
    CHECK_EQ_U64(st.growing, 0);
    CHECK_EQ_U64(st.array_bytes, 307494912);
    CHECK_EQ_U64(st.prealloc_overflow, 16384);
    /* 1e6 entries in 2^18 buckets need far fewer than 16384 overflow
     * buckets, so none is allocated on its own. */
    CHECK_EQ_U64(st.bucket_bytes, 307494912);
    if (hint == 0) /* both arrays, plus the B = 17 array's extra overflow buckets */
        CHECK(st.peak_bucket_bytes >= 461242368);
    else
        CHECK_EQ_U64(st.peak_bucket_bytes, 307494912);
    gomap_free(m);
}

static void seed_129(void)
{
    uint64_t before = heap_in_use();
    gomap *m = gomap_make(8, 129, 0);
    CHECK(m != NULL);
    insert_all(m, 129);
    struct gomap_stats st;
    gomap_stats(m, &st);
    CHECK_EQ_U64(st.bucket_size, 144);
    CHECK(st.layout.value_indirect);
    CHECK_EQ_U64(st.indirect_bytes, (uint64_t)N * 129);
    if (HEAP_CHECKS) /* the values really are separate allocations */
        CHECK(heap_in_use() - before >= (uint64_t)N * 129 + 40108032);

    delete_all(m);
    gomap_stats(m, &st);
    CHECK_EQ_U64(st.array_bytes, 40108032);
    CHECK_EQ_U64(st.bucket_bytes, 40108032);
    CHECK_EQ_U64(st.indirect_bytes, 0);
    if (HEAP_CHECKS) {
        /* Every value is freed: what the heap still holds beyond the
         * array is at most the map header and allocator slack. */
        uint64_t used = heap_in_use() - before;
        CHECK(used >= 40108032 && used < 40108032 + (1u << 20));
    }
    gomap_free(m);
    if (HEAP_CHECKS)
        CHECK(heap_in_use() <= before + 4096);
}

int main(void)
{
    seed_128(0);
    seed_128(N);
    seed_129();
    return check_status();
}
