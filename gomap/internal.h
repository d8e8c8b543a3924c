/* gomap/internal.h - gomap's private state and the bucket accessors shared
 * by its files (map.c, grow.c, iter.c, rebuild.c, hash.c).
 *
 * A bucket is laid out as Go's bmap: tophash[8] | keys[8] | values[8] |
 * overflow pointer (the last 8 bytes). Key and value slots hold the bytes, or
 * a pointer to a separate allocation when the size is over 128 (indirect).
 * tophash values below GM_MIN_TOPHASH are states, as in Go.
 */
#ifndef TIDEMARK_GOMAP_INTERNAL_H
#define TIDEMARK_GOMAP_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "tidemark/gomap.h"

enum {
    GM_EMPTY_REST = 0,      /* empty, and every later slot and overflow too */
    GM_EMPTY_ONE = 1,       /* empty */
    GM_EVACUATED_X = 2,     /* moved to the same index in the new array */
    GM_EVACUATED_Y = 3,     /* moved to index + old bucket count */
    GM_EVACUATED_EMPTY = 4, /* empty, bucket evacuated */
    GM_MIN_TOPHASH = 5,     /* smallest tophash of a live slot */
};

#define GM_SLOTS GOMAP_BUCKET_SLOTS
#define GM_DATA_OFFSET 8 /* keys start after the 8 tophash bytes */

struct gomap {
    uint64_t count; /* live entries; first, read by the shim (tmk_table_count) */
    uint64_t peak_count; /* highest count ever, read by the shim (tmk_table_peak) */
    uint8_t B;      /* log2 of the bucket count of `buckets` */
    uint8_t same_size_grow; /* the growth in flight keeps B */
    uint16_t noverflow;     /* Go's approximate overflow bucket count */
    uint32_t bsize;         /* bytes per bucket */
    uint32_t key_slot, value_slot;
    uint32_t voff;          /* offset of the values in a bucket */
    uint8_t key_indirect, value_indirect;
    uint8_t key8_default;   /* 8-byte keys with default hash and equality */
    uint8_t first_reason;   /* annotation reason for a lazily made first array */
    size_t key_size, value_size;
    uint64_t seed;
    gomap_hash_fn hash;     /* never NULL */
    gomap_equal_fn equal;   /* NULL = memcmp */

    unsigned char *buckets;    /* 2^B buckets + preallocated overflow; NULL until first put */
    unsigned char *oldbuckets; /* previous array while evacuating, else NULL */
    uint64_t nevacuate;        /* old buckets below this are evacuated */
    unsigned char *next_ovf;   /* next free preallocated overflow bucket */
    unsigned char *ovf_end;    /* end of the current array */

    /* Accounting for gomap_stats (bytes requested from malloc). */
    uint64_t array_bytes, old_array_bytes;
    uint64_t prealloc_overflow;     /* of the current array */
    uint64_t extra_ovf, old_extra_ovf; /* separately allocated overflow buckets */
    uint64_t indirect_bytes;
    uint64_t peak_bucket_bytes;

    struct gomap_layout layout;
    uint64_t hint;
};

/* --- bucket accessors ---------------------------------------------------- */

static inline uint8_t *gm_tophash(unsigned char *b) { return b; }

static inline unsigned char *gm_key_slot(const gomap *m, unsigned char *b, unsigned i)
{
    return b + GM_DATA_OFFSET + (size_t)i * m->key_slot;
}

static inline unsigned char *gm_value_slot(const gomap *m, unsigned char *b, unsigned i)
{
    return b + m->voff + (size_t)i * m->value_slot;
}

static inline unsigned char *gm_overflow(const gomap *m, unsigned char *b)
{
    unsigned char *o;
    memcpy(&o, b + m->bsize - sizeof o, sizeof o);
    return o;
}

static inline void gm_set_overflow(const gomap *m, unsigned char *b, unsigned char *o)
{
    memcpy(b + m->bsize - sizeof o, &o, sizeof o);
}

static inline unsigned char *gm_bucket(const gomap *m, unsigned char *arr, uint64_t i)
{
    return arr + i * m->bsize;
}

/* The key bytes of slot i (following the pointer of an indirect key). */
static inline unsigned char *gm_key(const gomap *m, unsigned char *b, unsigned i)
{
    unsigned char *k = gm_key_slot(m, b, i);
    if (m->key_indirect)
        memcpy(&k, k, sizeof(unsigned char *)); /* the slot holds the key's pointer */
    return k;
}

/* The value bytes of slot i (following the pointer of an indirect value). */
static inline unsigned char *gm_value(const gomap *m, unsigned char *b, unsigned i)
{
    unsigned char *v = gm_value_slot(m, b, i);
    if (m->value_indirect)
        memcpy(&v, v, sizeof(unsigned char *)); /* the slot holds the value's pointer */
    return v;
}

static inline int gm_is_empty(uint8_t top) { return top <= GM_EMPTY_ONE; }

static inline int gm_evacuated(const unsigned char *b)
{
    return b[0] > GM_EMPTY_ONE && b[0] < GM_MIN_TOPHASH;
}

static inline uint8_t gm_tophash_of(uint64_t hash)
{
    uint8_t top = (uint8_t)(hash >> 56);
    return top < GM_MIN_TOPHASH ? (uint8_t)(top + GM_MIN_TOPHASH) : top;
}

static inline uint64_t gm_mask(uint8_t B) { return ((uint64_t)1 << B) - 1; }

static inline uint64_t gm_noldbuckets(const gomap *m)
{
    return m->same_size_grow ? (uint64_t)1 << m->B : (uint64_t)1 << (m->B - 1);
}

/* --- hashing and equality (hash.c) -------------------------------------- */

uint64_t gm_default_hash(const void *key, size_t n, uint64_t seed);
uint64_t gm_fastrand(void);

/* Go's default hash of an 8-byte key, inlined for the hot paths. */
static inline uint64_t gm_mix(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define GM_K0 0xa0761d6478bd642full
#define GM_K1 0xe7037ed1a0b428dbull
#define GM_K2 0x8ebc6af09c88c6e3ull

static inline uint64_t gm_hash8(uint64_t k, uint64_t seed)
{
    return gm_mix(gm_mix(k ^ seed ^ GM_K0, seed ^ GM_K1) ^ k, GM_K2 ^ 8);
}

static inline uint64_t gm_hash(const gomap *m, const void *key)
{
    if (m->key8_default) {
        uint64_t k;
        memcpy(&k, key, 8);
        return gm_hash8(k, m->seed);
    }
    return m->hash(key, m->key_size, m->seed);
}

static inline int gm_key_equal(const gomap *m, const void *a, const void *b)
{
    if (m->key8_default) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    if (m->equal)
        return m->equal(a, b, m->key_size);
    return memcmp(a, b, m->key_size) == 0;
}

/* --- memory (map.c) ------------------------------------------------------ */

/* Allocates and annotates the bucket array for B (reason: tmk_array_reason);
 * sets *prealloc to its preallocated overflow count and *bytes to its size. */
unsigned char *gm_make_bucket_array(gomap *m, uint8_t B, unsigned reason,
                                    uint64_t *prealloc, uint64_t *bytes);
/* Installs arr (from gm_make_bucket_array) as the current array. */
void gm_install_array(gomap *m, unsigned char *arr, uint8_t B, uint64_t prealloc,
                      uint64_t bytes);
void gm_note_peak(gomap *m);
/* Frees every separately allocated overflow bucket chained from the 2^B
 * main buckets of arr (those outside the array itself). */
void gm_free_chained_overflow(const gomap *m, unsigned char *arr, uint8_t B, uint64_t bytes);
/* Frees the indirect key/value allocations of every live slot in arr. */
void gm_free_indirect_in(gomap *m, unsigned char *arr, uint8_t B);

/* --- growth (grow.c) ----------------------------------------------------- */

void gm_hash_grow(gomap *m);
void gm_grow_work(gomap *m, uint64_t bucket);
/* Evacuates every remaining old bucket; the old array is freed. */
void gm_finish_growth(gomap *m);
/* A fresh overflow bucket chained after b (preallocated if any is left). */
unsigned char *gm_new_overflow(gomap *m, unsigned char *b);
/* Frees the old array and its own overflow buckets. */
void gm_release_old(gomap *m);

/* Calls fn for every live entry of m (both arrays during growth). */
typedef void (*gm_entry_fn)(void *ctx, const unsigned char *key, const unsigned char *value);
void gm_for_each(const gomap *m, gm_entry_fn fn, void *ctx);

#endif
