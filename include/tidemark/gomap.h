/* tidemark/gomap.h - gomap, a faithful C port of Go 1.19's hash map.
 *
 * Buckets of 8 slots, load factor 6.5, preallocated overflow buckets, Go's
 * size classes, keys/values over 128 bytes stored indirectly, doubling and
 * same-size growth evacuated incrementally, delete that never shrinks: the
 * memory behaviour of Go's map, byte for byte (sizing rules in
 * gomap_sizing.h). Beyond Go: gomap_clone and gomap_shrink.
 *
 * Every bucket array is announced to the tidemark shim through annotate.h.
 * A gomap is not thread-safe (as Go's map): one writer at a time.
 */
#ifndef TIDEMARK_GOMAP_H
#define TIDEMARK_GOMAP_H

#include <stddef.h>
#include <stdint.h>

#include "tidemark/gomap_sizing.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gomap gomap;

/* hash(key, key_size, seed) and equal(a, b, key_size). NULL picks the
 * defaults: a seeded hash of the key's bytes and memcmp. */
typedef uint64_t (*gomap_hash_fn)(const void *key, size_t key_size, uint64_t seed);
typedef int (*gomap_equal_fn)(const void *a, const void *b, size_t key_size);

struct gomap_options {
    size_t key_size;       /* bytes, > 0 */
    size_t value_size;     /* bytes, may be 0 (a set) */
    uint64_t hint;         /* expected entries, as make(map[K]V, hint) */
    gomap_hash_fn hash;    /* NULL = default */
    gomap_equal_fn equal;  /* NULL = memcmp */
    const char *label;     /* shown in tidemark's report; may be NULL */
};

/* NULL on allocation failure or bad options (errno set). */
gomap *gomap_new(const struct gomap_options *opt);
/* Shorthand: default hash/equal, no label. */
gomap *gomap_make(size_t key_size, size_t value_size, uint64_t hint);
void gomap_free(gomap *m);

/* The value slot for key, or NULL. Valid until the next write to the map. */
void *gomap_get(gomap *m, const void *key);
/* Inserts key if absent (value zeroed) and returns its value slot; NULL only
 * when memory runs out. Valid until the next write. */
void *gomap_put(gomap *m, const void *key);
/* Returns 1 if key was present and is now deleted, 0 otherwise. */
int gomap_delete(gomap *m, const void *key);
/* Deletes every entry and keeps the bucket array, as Go's clear(m). */
void gomap_clear(gomap *m);
size_t gomap_len(const gomap *m);

/* A new map holding m's live entries, sized for them (hint = len). NULL on
 * allocation failure. The seed's "copy the map into a new one" cure. */
gomap *gomap_clone(const gomap *m);
/* Rebuilds m in place at the B a fresh map for its live entries would have
 * (finishing any growth first). 0 on success, -1 when memory runs out (m is
 * then unchanged). */
int gomap_shrink(gomap *m);

/* Iteration: starts at a random bucket and a random point within it, like
 * Go's. Sees every entry present for the whole iteration exactly once, also
 * while the map grows or shrinks; an entry deleted before it is reached is
 * not returned; an entry inserted during the iteration may or may not be.
 * The map may be written freely between calls (put, delete, clear, shrink):
 * the iterator holds no pointer into the buckets, only its position (the
 * bucket of its starting B, and the entry order within it, by hash), so it
 * needs no cleanup and may be abandoned at any point. Within a bucket,
 * entries are ordered by their hash, then by a second hash of the key bytes:
 * two distinct keys with equal bytes (only possible with an `equal` that is
 * not reflexive) may be returned once between them. */
typedef struct gomap_iter {
    /* private */
    gomap *m;
    uint64_t start;   /* first bucket, of 2^B buckets at init */
    uint64_t done_n;  /* buckets finished */
    uint64_t rot;     /* random rotation of the order within a bucket */
    uint64_t last_p;  /* order key of the last entry returned */
    uint64_t last_s;  /* its tie-break key, when has_last_s */
    uint8_t B, has_last, has_last_s, finished;
} gomap_iter;

void gomap_iter_init(gomap_iter *it, gomap *m);
/* 1 and the key/value pointers for the next entry, 0 when done. */
int gomap_iter_next(gomap_iter *it, const void **key, void **value);

struct gomap_stats {
    uint8_t B;
    uint64_t count;
    uint64_t peak_count;         /* highest count over the map's life */
    uint64_t buckets;            /* 2^B */
    uint32_t bucket_size;
    uint64_t prealloc_overflow;  /* preallocated overflow buckets in the array */
    uint64_t noverflow;          /* Go's (approximate for B >= 16) counter */
    uint64_t extra_overflow;     /* overflow buckets allocated on their own */
    int growing;                 /* an evacuation is in flight */
    uint64_t array_bytes;        /* current array */
    uint64_t old_array_bytes;    /* old array during growth, else 0 */
    uint64_t overflow_bytes;     /* separately allocated overflow buckets */
    uint64_t bucket_bytes;       /* array + old array + overflow: all bucket memory held */
    uint64_t indirect_bytes;     /* bytes of live indirect keys and values */
    uint64_t peak_bucket_bytes;  /* max bucket_bytes over the map's life */
    struct gomap_layout layout;
};

void gomap_stats(const gomap *m, struct gomap_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_GOMAP_H */
