/* tests/gomap/test_sizing.c - gomap_sizing.h against Go 1.19's rules.
 *
 * Expectations are computed here from the rules themselves (load factor 6.5
 * in floating point, Go's size class table transcribed from
 * runtime/sizeclasses.go's comment, page rounding) or are figures known from
 * Go (the seed article), never by calling the function under test twice. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "tidemark/gomap_sizing.h"

/* "class bytes/obj" column of Go 1.19's runtime/sizeclasses.go. */
static const unsigned go_classes[] = {
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240,
    256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024,
    1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864,
    5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568,
    14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};

static uint64_t expect_roundup(uint64_t n)
{
    if (n < 32768) {
        for (unsigned i = 0; i < sizeof go_classes / sizeof go_classes[0]; i++)
            if (go_classes[i] >= n)
                return go_classes[i];
    }
    uint64_t pages = n / 8192 + (n % 8192 != 0);
    return pages * 8192;
}

/* Smallest B with hint <= 8 or hint <= 6.5 * 2^B. */
static unsigned expect_b(uint64_t hint)
{
    unsigned B = 0;
    while (hint > 8 && (double)hint > 6.5 * ldexp(1.0, (int)B))
        B++;
    return B;
}

/* Bucket: 8 tophash bytes, 8 keys, 8 values, an 8-byte pointer; sizes over
 * 128 bytes become 8-byte pointers. */
static uint64_t expect_bucket(uint64_t k, uint64_t v)
{
    if (k > 128) k = 8;
    if (v > 128) v = 8;
    return 8 + 8 * k + 8 * v + 8;
}

/* makeBucketArray: 2^B buckets, + 2^(B-4) for B >= 4, rounded up to the
 * allocator's size and the slack filled with whole buckets. */
static uint64_t expect_array_bytes(unsigned B, uint64_t bucket)
{
    uint64_t n = (uint64_t)1 << B;
    if (B >= 4) {
        n += (uint64_t)1 << (B - 4);
        n = expect_roundup(n * bucket) / bucket;
    }
    return n * bucket;
}

static void test_known_points(void)
{
    /* Figures from Go itself (the seed, runtime/sizeclasses.go). */
    CHECK_EQ_U64(gomap_layout_for(8, 128).bucket_size, 1104);
    CHECK_EQ_U64(gomap_layout_for(8, 129).bucket_size, 144);
    CHECK_EQ_U64(gomap_layout_for(4, 4).bucket_size, 80);
    CHECK_EQ_U64(gomap_layout_for(16, 0).bucket_size, 144);
    CHECK_EQ_U64(gomap_layout_for(200, 8).bucket_size, 144);
    CHECK(gomap_layout_for(200, 8).key_indirect && !gomap_layout_for(200, 8).value_indirect);
    CHECK(!gomap_layout_for(8, 128).value_indirect && gomap_layout_for(8, 129).value_indirect);

    CHECK_EQ_U64(gomap_b_for_hint(0), 0);
    CHECK_EQ_U64(gomap_b_for_hint(8), 0);
    CHECK_EQ_U64(gomap_b_for_hint(9), 1);
    CHECK_EQ_U64(gomap_b_for_hint(13), 1);
    CHECK_EQ_U64(gomap_b_for_hint(14), 2);
    CHECK_EQ_U64(gomap_b_for_hint(26), 2);
    CHECK_EQ_U64(gomap_b_for_hint(27), 3);
    CHECK_EQ_U64(gomap_b_for_hint(1000000), 18);

    CHECK_EQ_U64(gomap_roundupsize(1), 8);
    CHECK_EQ_U64(gomap_roundupsize(24), 24);
    CHECK_EQ_U64(gomap_roundupsize(25), 32);
    CHECK_EQ_U64(gomap_roundupsize(1104), 1152);
    CHECK_EQ_U64(gomap_roundupsize(18000), 18432);
    CHECK_EQ_U64(gomap_roundupsize(32768), 32768);
    CHECK_EQ_U64(gomap_roundupsize(32769), 40960);

    /* The seed: B = 18 and B = 17 arrays of 1104-byte buckets, 144-byte. */
    struct gomap_array a18 = gomap_array_for_b(18, 1104);
    CHECK_EQ_U64(a18.buckets, 262144);
    CHECK_EQ_U64(a18.overflow, 16384);
    CHECK_EQ_U64(a18.bytes, 307494912);
    CHECK_EQ_U64(gomap_array_for_b(17, 1104).bytes, 153747456);
    CHECK_EQ_U64(gomap_array_for_b(18, 144).bytes, 40108032);
    CHECK_EQ_U64(gomap_bytes_for_count(1000000, 1104), 307494912);

    /* Size-class slack becomes overflow buckets: B = 5 with 144-byte buckets
     * is 34 * 144 = 4896 -> class 5376 -> 37 buckets. */
    CHECK_EQ_U64(gomap_array_for_b(5, 144).overflow, 5);
    CHECK_EQ_U64(gomap_array_for_b(5, 144).bytes, 37 * 144);

    CHECK_EQ_U64(gomap_bytes_for_count(0, 1104), 0);
    CHECK_EQ_U64(gomap_bytes_for_count(1, 1104), 1104);
    CHECK_EQ_U64(gomap_bytes_for_count(8, 80), 80);
    CHECK_EQ_U64(gomap_bytes_for_count(9, 80), 160);

    CHECK(!gomap_over_load_factor(8, 0));
    CHECK(gomap_over_load_factor(9, 0));
    CHECK(!gomap_over_load_factor(13, 1));
    CHECK(gomap_over_load_factor(14, 1));
    CHECK(!gomap_over_load_factor(1703936, 18));
    CHECK(gomap_over_load_factor(1703937, 18));
}

static void test_rule_sweep(void)
{
    static const uint64_t hints[] = {0, 1, 7, 8, 9, 12, 13, 14, 26, 27, 52, 53, 100,
                                     104, 105, 208, 209, 1000, 4096, 6656, 6657, 10000,
                                     65536, 100000, 851968, 851969, 1000000, 1703936,
                                     1703937, 10000000, 100000000, 3000000000ull};
    static const struct { size_t k, v; } kv[] = {
        {8, 128}, {8, 129}, {4, 4}, {16, 0}, {200, 8}, {1, 0}, {8, 8}, {128, 128},
        {3, 5}, {129, 129}, {64, 24}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        struct gomap_layout l = gomap_layout_for(kv[i].k, kv[i].v);
        uint64_t bucket = expect_bucket(kv[i].k, kv[i].v);
        CHECK_EQ_U64(l.bucket_size, bucket);
        for (size_t j = 0; j < sizeof hints / sizeof hints[0]; j++) {
            unsigned B = expect_b(hints[j]);
            CHECK_EQ_U64(gomap_b_for_hint(hints[j]), B);
            struct gomap_array a = gomap_array_for_b((uint8_t)B, l.bucket_size);
            CHECK_EQ_U64(a.bytes, expect_array_bytes(B, bucket));
            CHECK_EQ_U64(a.buckets, (uint64_t)1 << B);
            CHECK_EQ_U64((a.buckets + a.overflow) * bucket, a.bytes);
            uint64_t fresh = hints[j] == 0 ? 0 : B == 0 ? bucket : expect_array_bytes(B, bucket);
            CHECK_EQ_U64(gomap_bytes_for_count(hints[j], l.bucket_size), fresh);
        }
    }
    /* Every size up to 40 KiB rounds like the transcribed table. */
    for (uint64_t n = 1; n <= 40960; n++)
        if (gomap_roundupsize(n) != expect_roundup(n)) {
            CHECK_EQ_U64(gomap_roundupsize(n), expect_roundup(n));
            break;
        }
}

int main(void)
{
    test_known_points();
    test_rule_sweep();
    return check_status();
}
