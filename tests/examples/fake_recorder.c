/* fake_recorder.c - the exported fake shim object and its event log. */
#include "fake_recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_event fake_events[FAKE_MAX_EVENTS];
size_t fake_nevents;

/* Registered counts, so the fake can read them like the shim does. */
static struct { const void *table, *count; unsigned width; } counts[256];
static size_t ncounts;

static struct fake_event *next_event(enum fake_event_type type, const void *table)
{
    if (fake_nevents == FAKE_MAX_EVENTS) {
        fprintf(stderr, "fake recorder: event log full (FAKE_MAX_EVENTS)\n");
        abort();
    }
    struct fake_event *e = &fake_events[fake_nevents++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->table = table;
    return e;
}

static uint64_t read_count(const void *count, unsigned width)
{
    if (width == 4) { uint32_t v; memcpy(&v, count, 4); return v; }
    if (width == 8) { uint64_t v; memcpy(&v, count, 8); return v; }
    return UINT64_MAX;
}

uint64_t fake_count_of(const void *table)
{
    for (size_t i = ncounts; i-- > 0;)
        if (counts[i].table == table)
            return read_count(counts[i].count, counts[i].width);
    return UINT64_MAX;
}

static void forget_count(const void *table)
{
    for (size_t i = 0; i < ncounts; i++)
        if (counts[i].table == table) {
            counts[i] = counts[--ncounts];
            return;
        }
}

void fake_reset(void)
{
    fake_nevents = 0;
    ncounts = 0;
}

static void on_new(const void *table, const struct tmk_table_info *info)
{
    struct fake_event *e = next_event(EV_NEW, table);
    e->info = *info;
    if (info->label) {
        snprintf(e->label, sizeof e->label, "%s", info->label);
        e->info.label = e->label;
    }
}

static void on_count(const void *table, const void *count, unsigned width)
{
    struct fake_event *e = next_event(EV_COUNT, table);
    e->count = count;
    e->width = width;
    if (ncounts < sizeof counts / sizeof counts[0])
        counts[ncounts++] = (typeof(counts[0])){table, count, width};
}

static void on_array(const void *table, const void *array, size_t bytes, size_t buckets,
                     unsigned reason)
{
    struct fake_event *e = next_event(EV_ARRAY, table);
    e->array = array;
    e->bytes = bytes;
    e->buckets = buckets;
    e->reason = reason;
}

/* Reads the count as the shim would at the table's end: the memory must still
 * be valid (ASan catches a use after free here). */
static void on_end(const void *table)
{
    struct fake_event *e = next_event(EV_END, table);
    e->count_at_end = fake_count_of(table);
    forget_count(table);
}

__attribute__((visibility("default")))
const struct tmk_annotate_api tidemark_annotate_api = {
    .version = TMK_ANNOTATE_VERSION,
    .size = sizeof(struct tmk_annotate_api),
    .table_new = on_new,
    .table_count = on_count,
    .table_array = on_array,
    .table_end = on_end,
};
