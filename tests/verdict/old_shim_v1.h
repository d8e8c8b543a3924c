/* tests/verdict/old_shim_v1.h - what the fake version-1 shim (old_shim_v1.c,
 * built against tests/verdict/annotate_v1.h) saw, for
 * test_annotate_versions.c, which is built against the current annotate.h.
 * Only plain types cross between the two. */
#ifndef TESTS_VERDICT_OLD_SHIM_V1_H
#define TESTS_VERDICT_OLD_SHIM_V1_H

#include <stddef.h>
#include <stdint.h>

struct old_shim_seen {
    int news, peaks, arrays;
    uint32_t kind, key_size, value_size, bucket_size, slots;
    char label[32];
};
extern struct old_shim_seen old_shim_seen;
/* Sets the exported object's `size`: the full version-1 struct, or only up
 * to table_peak (the first shims). */
void old_shim_set_size(int with_peak);

#endif
