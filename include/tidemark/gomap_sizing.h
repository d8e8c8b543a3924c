/* tidemark/gomap_sizing.h - Go 1.19's map sizing rules as plain functions.
 *
 * gomap sizes every bucket array with these, and the analyzer computes a
 * table's `needed` bytes and every recommendation's saving with the same
 * functions, so the model cannot drift from the map (DESIGN.md).
 * Implemented in gomap/sizing.c; facts from Go's runtime/map.go,
 * runtime/malloc.go and runtime/sizeclasses.go.
 */
#ifndef TIDEMARK_GOMAP_SIZING_H
#define TIDEMARK_GOMAP_SIZING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOMAP_BUCKET_SLOTS 8      /* bucketCnt */
#define GOMAP_MAX_INLINE 128      /* maxKeySize / maxElemSize: larger is indirect */
#define GOMAP_LOAD_NUM 13         /* loadFactorNum: load factor 6.5 = 13/2 */
#define GOMAP_LOAD_DEN 2          /* loadFactorDen */
#define GOMAP_MAX_SMALL_SIZE 32768 /* above this, allocations round to 8 KiB pages */
#define GOMAP_PAGE_SIZE 8192

/* Layout of one bucket for the given user key/value sizes. */
struct gomap_layout {
    uint32_t key_size;      /* as the user sees it */
    uint32_t value_size;
    uint32_t key_slot;      /* bytes per key slot: key_size, or 8 when indirect */
    uint32_t value_slot;    /* bytes per value slot */
    uint32_t bucket_size;   /* 8 tophash + 8 keys + 8 values + overflow pointer, aligned */
    uint8_t key_indirect;   /* key_size > GOMAP_MAX_INLINE */
    uint8_t value_indirect; /* value_size > GOMAP_MAX_INLINE */
};

/* One bucket array as makeBucketArray would allocate it. */
struct gomap_array {
    uint64_t buckets;  /* 2^B */
    uint64_t overflow; /* preallocated overflow buckets (incl. size-class slack) */
    uint64_t bytes;    /* (buckets + overflow) * bucket_size, the allocation size */
};

/* Bucket layout for key/value sizes (alignment: the largest power of two
 * <= 8 dividing the size, as for C scalars and arrays of them). */
struct gomap_layout gomap_layout_for(size_t key_size, size_t value_size);

/* overLoadFactor(count, B): count > 8 && count > 6.5 * 2^B. */
int gomap_over_load_factor(uint64_t count, uint8_t B);

/* The B that makemap picks for a size hint, and so the B a fresh map for
 * `count` live entries would have. */
uint8_t gomap_b_for_hint(uint64_t hint);

/* Go's roundupsize: the malloc size class for small sizes, whole 8 KiB pages
 * above 32 KiB. */
uint64_t gomap_roundupsize(uint64_t bytes);

/* The array makeBucketArray allocates for B with buckets of bucket_size. */
struct gomap_array gomap_array_for_b(uint8_t B, uint32_t bucket_size);

/* Bytes of bucket array a fresh map holding `count` entries has: 0 for 0
 * (Go allocates nothing until the first insert), one bucket while B = 0,
 * else gomap_array_for_b(gomap_b_for_hint(count), bucket_size).bytes. */
uint64_t gomap_bytes_for_count(uint64_t count, uint32_t bucket_size);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_GOMAP_SIZING_H */
