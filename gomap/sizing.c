/* gomap/sizing.c - Go 1.19's map sizing rules (gomap_sizing.h).
 *
 * Facts taken from Go 1.19: runtime/map.go (makemap, makeBucketArray,
 * overLoadFactor), runtime/msize.go (roundupsize), runtime/sizeclasses.go
 * (class_to_size) and cmd/compile/internal/reflectdata/reflect.go
 * (MapBucketType: tophash[8], keys[8], values[8], overflow pointer; every
 * field offset is a multiple of 8 so there is never padding).
 * gomap sizes its arrays here and the analyzer models tables with the same
 * functions.
 */
#include "tidemark/gomap_sizing.h"

/* Go 1.19 class_to_size: the byte size of each small-object size class. */
static const uint16_t size_classes[] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,
    176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,
    480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,
    1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,
    6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384, 18432,
    19072, 20480, 21760, 24576, 27264, 28672, 32768,
};
#define N_SIZE_CLASSES (sizeof size_classes / sizeof size_classes[0])

#define POINTER_SIZE 8u
#define TOPHASH_BYTES GOMAP_BUCKET_SLOTS

static uint32_t slot_bytes(size_t size)
{
    return size > GOMAP_MAX_INLINE ? POINTER_SIZE : (uint32_t)size;
}

struct gomap_layout gomap_layout_for(size_t key_size, size_t value_size)
{
    struct gomap_layout l;
    l.key_size = (uint32_t)key_size;
    l.value_size = (uint32_t)value_size;
    l.key_indirect = key_size > GOMAP_MAX_INLINE;
    l.value_indirect = value_size > GOMAP_MAX_INLINE;
    l.key_slot = slot_bytes(key_size);
    l.value_slot = slot_bytes(value_size);
    /* Slots are at most 128 bytes and alignments at most 8; 8 slots of any
     * size end on a multiple of 8, so fields need no padding. */
    l.bucket_size = TOPHASH_BYTES + GOMAP_BUCKET_SLOTS * l.key_slot +
                    GOMAP_BUCKET_SLOTS * l.value_slot + POINTER_SIZE;
    return l;
}

/* count > 6.5 * 2^B, computed as Go does: 13 * (2^B / 2), so that for B = 0
 * any count above 8 is over the load factor. 128-bit so large B cannot wrap. */
int gomap_over_load_factor(uint64_t count, uint8_t B)
{
    if (count <= GOMAP_BUCKET_SLOTS)
        return 0;
    if (B >= 64)
        return 0;
    unsigned __int128 cap = (unsigned __int128)GOMAP_LOAD_NUM *
                            ((unsigned __int128)(((uint64_t)1) << B) / GOMAP_LOAD_DEN);
    return (unsigned __int128)count > cap;
}

uint8_t gomap_b_for_hint(uint64_t hint)
{
    uint8_t B = 0;
    while (B < 63 && gomap_over_load_factor(hint, B))
        B++;
    return B;
}

uint64_t gomap_roundupsize(uint64_t bytes)
{
    if (bytes < GOMAP_MAX_SMALL_SIZE) {
        for (size_t i = 0; i < N_SIZE_CLASSES; i++)
            if (bytes <= size_classes[i])
                return size_classes[i];
    }
    if (bytes + GOMAP_PAGE_SIZE < bytes) /* would wrap, as Go: unchanged */
        return bytes;
    return (bytes + GOMAP_PAGE_SIZE - 1) / GOMAP_PAGE_SIZE * GOMAP_PAGE_SIZE;
}

struct gomap_array gomap_array_for_b(uint8_t B, uint32_t bucket_size)
{
    struct gomap_array a;
    a.buckets = (uint64_t)1 << B;
    uint64_t n = a.buckets;
    if (B >= 4) {
        /* The median number of overflow buckets for this B, then whatever
         * the size-class (or page) rounding leaves room for. */
        n += (uint64_t)1 << (B - 4);
        uint64_t sz = n * bucket_size;
        uint64_t up = gomap_roundupsize(sz);
        if (up != sz)
            n = up / bucket_size;
    }
    a.overflow = n - a.buckets;
    a.bytes = n * bucket_size;
    return a;
}

uint64_t gomap_bytes_for_count(uint64_t count, uint32_t bucket_size)
{
    if (count == 0)
        return 0;
    uint8_t B = gomap_b_for_hint(count);
    if (B == 0)
        return bucket_size; /* mapassign's lazily allocated single bucket */
    return gomap_array_for_b(B, bucket_size).bytes;
}
