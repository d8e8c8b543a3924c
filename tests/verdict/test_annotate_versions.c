/* tests/verdict/test_annotate_versions.c - a program built against the
 * current annotate.h (version 2: tmk_table_info grew a growth rule, the API
 * grew table_new_sized) meets a shim of version 1 (old_shim_v1.c):
 *  - tmk_table_new falls back to the old table_new, which reads the
 *    version-1 members it knows, unchanged;
 *  - tmk_table_peak still reaches a version-1 shim that has table_peak (its
 *    size covers the member, though it is smaller than today's struct), and
 *    is not called on one whose size ends before it.
 * The other direction (a version-1 program under today's shim) runs under
 * the real shim: verdict_test.py annotate_v1. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "old_shim_v1.h"
#include "tidemark/annotate.h"

int main(void)
{
    static int table;
    static uint64_t count, peak;
    struct tmk_table_info info = {.kind = TMK_KIND_GENERIC, .key_size = 8, .value_size = 24,
                                  .bucket_size = 32, .slots_per_bucket = 1, .label = "v2",
                                  .grow_load_num = 7, .grow_load_den = 8, .grow_factor = 2,
                                  .min_buckets = 8};
    old_shim_set_size(1);
    tmk_table_new(&table, &info);
    CHECK(old_shim_seen.news == 1);
    CHECK(old_shim_seen.kind == TMK_KIND_GENERIC && old_shim_seen.key_size == 8 &&
          old_shim_seen.value_size == 24 && old_shim_seen.bucket_size == 32 &&
          old_shim_seen.slots == 1 && strcmp(old_shim_seen.label, "v2") == 0);
    tmk_table_count(&table, &count, 8);
    tmk_table_array(&table, &info, 256, 8, TMK_ARRAY_INITIAL);
    CHECK(old_shim_seen.arrays == 1);
    tmk_table_peak(&table, &peak, 8);
    CHECK(old_shim_seen.peaks == 1); /* the size covers table_peak */
    old_shim_set_size(0);            /* a first-release shim: no table_peak */
    tmk_table_peak(&table, &peak, 8);
    CHECK(old_shim_seen.peaks == 1);
    tmk_table_end(&table);
    return check_status();
}
