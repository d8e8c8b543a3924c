/* analyzer/model/u64map.h - open-addressing hash map from uint64_t keys to
 * uint64_t values (linear probing, backward-shift deletion, no tombstones).
 * Used for live allocations (ptr -> index), stacks, tables and sites by id.
 * Key UINT64_MAX marks empty slots in the table, so it lives in its own
 * field (has_max/max_val): every key works. */
#ifndef TIDEMARK_ANALYZER_U64MAP_H
#define TIDEMARK_ANALYZER_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap;   /* power of two, or 0 */
    size_t count;
    int has_max;
    uint64_t max_val;
};

void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
/* Pointer to the value for key, or NULL. Valid until the next put/del. */
uint64_t *u64map_get(const struct u64map *m, uint64_t key);
/* Inserts or replaces. 0, or -1 when out of memory. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
/* Removes key; returns 1 if it was there (and its value in *old). */
int u64map_del(struct u64map *m, uint64_t key, uint64_t *old);

#endif /* TIDEMARK_ANALYZER_U64MAP_H */
