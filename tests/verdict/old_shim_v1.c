/* tests/verdict/old_shim_v1.c - a shim of annotation version 1, as the first
 * releases exported it: built against the frozen annotate_v1.h, it copies
 * sizeof its own (shorter) tmk_table_info, knows no table_new_sized, and
 * says so in its `size`. The test executable exports it (ENABLE_EXPORTS), so
 * that annotate.h's dlsym finds it. */
#include "old_shim_v1.h"

#include <stdio.h>
#include <string.h>

#include "annotate_v1.h"

struct old_shim_seen old_shim_seen;

static void on_new(const void *table, const struct tmk_table_info *info)
{
    (void)table;
    struct tmk_table_info copy = *info; /* what a version-1 shim did */
    old_shim_seen.news++;
    old_shim_seen.kind = copy.kind;
    old_shim_seen.key_size = copy.key_size;
    old_shim_seen.value_size = copy.value_size;
    old_shim_seen.bucket_size = copy.bucket_size;
    old_shim_seen.slots = copy.slots_per_bucket;
    snprintf(old_shim_seen.label, sizeof old_shim_seen.label, "%s", copy.label ? copy.label : "");
}

static void on_count(const void *t, const void *c, unsigned w) { (void)t; (void)c; (void)w; }

static void on_array(const void *t, const void *a, size_t b, size_t n, unsigned r)
{
    (void)t; (void)a; (void)b; (void)n; (void)r;
    old_shim_seen.arrays++;
}

static void on_end(const void *t) { (void)t; }

static void on_peak(const void *t, const void *p, unsigned w)
{
    (void)t; (void)p; (void)w;
    old_shim_seen.peaks++;
}

__attribute__((visibility("default")))
struct tmk_annotate_api tidemark_annotate_api = {
    .version = 1,
    .size = sizeof(struct tmk_annotate_api),
    .table_new = on_new,
    .table_count = on_count,
    .table_array = on_array,
    .table_end = on_end,
    .table_peak = on_peak,
};

void old_shim_set_size(int with_peak)
{
    tidemark_annotate_api.size =
        with_peak ? (uint32_t)sizeof(struct tmk_annotate_api) : (uint32_t)TMK__API_SIZE_V1;
}
