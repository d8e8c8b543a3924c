/* tests/report/test_pprof.c - the pprof report on the fixture model, read
 * back: gunzipped with zlib, decoded with protobuf-c from the same
 * profile.proto. The sample types are the five the format promises, each
 * sums to the model's total (with the "[unattributed]" rest of the peak),
 * the table's sample carries its labels and a "[table ...]" leaf, every id a
 * sample or line names exists, string_table[0] is "", a stack whose
 * root lies in the shim (libtidemark.so) loses that frame, and one address
 * in two objects loaded there in turn is two locations, each in the mapping
 * of the object its stack was recorded in.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "fixture.h"
#include "render.h"
#include "profile.pb-c.h"
#include "report/report.h"

typedef Perftools__Profiles__Profile Profile;

static Profile *render(const struct tm_model *m)
{
    size_t len;
    char *buf = render_report(tm_report_pprof, m, 0, TM_WEIGHT_PEAK, &len);
    CHECK(len > 2 && (unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b); /* gzip */
    size_t cap = 1 << 20;
    unsigned char *raw = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
    z.next_in = (unsigned char *)buf;
    z.avail_in = (uInt)len;
    z.next_out = raw;
    z.avail_out = (uInt)cap;
    CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
    Profile *p = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
    inflateEnd(&z);
    free(raw);
    free(buf);
    CHECK(p != NULL);
    return p;
}

static const char *s(const Profile *p, int64_t ix)
{
    return ix >= 0 && (size_t)ix < p->n_string_table ? p->string_table[ix] : "(bad index)";
}

static int has_location(const Profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id == id) return 1;
    return 0;
}

static int has_function(const Profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_function; i++)
        if (p->function[i]->id == id) return 1;
    return 0;
}

/* The name of the function at a location's innermost line. */
static const char *location_name(const Profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_location; i++) {
        const Perftools__Profiles__Location *l = p->location[i];
        if (l->id != id || !l->n_line) continue;
        for (size_t k = 0; k < p->n_function; k++)
            if (p->function[k]->id == l->line[0]->function_id)
                return s(p, p->function[k]->name);
    }
    return "(none)";
}

static void test_types_and_totals(const struct tm_model *m)
{
    Profile *p = render(m);
    if (!p) return;
    static const char *const want[5][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                           {"inuse_space", "bytes"},   {"peak_space", "bytes"},
                                           {"retained_space", "bytes"}};
    CHECK(p->n_sample_type == 5);
    for (size_t i = 0; i < 5 && i < p->n_sample_type; i++) {
        CHECK_STR(s(p, p->sample_type[i]->type), want[i][0]);
        CHECK_STR(s(p, p->sample_type[i]->unit), want[i][1]);
    }
    CHECK_STR(s(p, p->default_sample_type), "peak_space");
    CHECK(p->n_string_table > 0 && strcmp(p->string_table[0], "") == 0);
    uint64_t sums[5] = {0};
    int table_sample = 0, unattributed = 0;
    for (size_t i = 0; i < p->n_sample; i++) {
        const Perftools__Profiles__Sample *x = p->sample[i];
        CHECK(x->n_value == 5);
        for (size_t k = 0; k < 5 && k < x->n_value; k++) sums[k] += (uint64_t)x->value[k];
        CHECK(x->n_location_id > 0);
        for (size_t k = 0; k < x->n_location_id; k++) CHECK(has_location(p, x->location_id[k]));
        const char *leaf = x->n_location_id ? location_name(p, x->location_id[0]) : "";
        if (strncmp(leaf, "[table 1 gomap ", 15) == 0) {
            table_sample = 1;
            CHECK(x->value[4] == (int64_t)m->total_retained);
            CHECK(x->n_label == 4);
            if (x->n_label == 4) {
                CHECK_STR(s(p, x->label[0]->key), "table_id");
                CHECK(x->label[0]->num == 1);
                CHECK_STR(s(p, x->label[2]->key), "table_label");
                CHECK_STR(s(p, x->label[2]->str), FX_EVIL_LABEL);
                CHECK_STR(s(p, x->label[3]->str), FX_EVIL_SITE);
            }
        }
        if (strcmp(leaf, "[unattributed]") == 0) {
            unattributed = 1;
            CHECK(x->value[3] == 42505088); /* the peak's bytes in no stack */
        }
    }
    CHECK(table_sample && unattributed);
    const struct tm_heap *h = &m->heap;
    CHECK(sums[0] == h->allocs);
    CHECK(sums[1] == h->alloc_bytes);
    CHECK(sums[2] == h->in_use);
    CHECK(sums[3] == h->peak_bytes);
    CHECK(sums[4] == m->total_retained);
    for (size_t i = 0; i < p->n_location; i++)
        for (size_t k = 0; k < p->location[i]->n_line; k++)
            CHECK(has_function(p, p->location[i]->line[k]->function_id));
    /* Without symbols the frames are named by address. */
    CHECK_STR(location_name(p, p->sample[0]->location_id[0]), "0x1010");
    perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_shim_and_mapping(struct fixture *f)
{
    static uint8_t bid[4] = {0xde, 0xad, 0xbe, 0xef};
    struct tm_module mods[2] = {
        {1, 0x1000, 0x1000, 0x1030, bid, 4, (char *)"/usr/bin/app", 0, 0, 0},
        {2, 0x1000, 0x1030, 0x1040, NULL, 0, (char *)"/opt/lib/libtidemark.so", 0, 0, 0}};
    f->m.modules = mods;
    f->m.n_modules = 2;
    Profile *p = render(&f->m);
    f->m.n_modules = 0;
    if (!p) return;
    CHECK(p->n_mapping == 2);
    if (p->n_mapping == 2) {
        CHECK_STR(s(p, p->mapping[0]->filename), "/usr/bin/app");
        CHECK_STR(s(p, p->mapping[0]->build_id), "deadbeef");
        CHECK(p->mapping[0]->memory_start == 0x1000 && p->mapping[0]->memory_limit == 0x1030);
    }
    for (size_t i = 0; i < p->n_location; i++) {
        CHECK(p->location[i]->address != 0x1030); /* the shim's frame */
        if (p->location[i]->address == 0x1010) CHECK(p->location[i]->mapping_id == 1);
    }
    perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_reused_addresses(struct fixture *f)
{
    /* liba mapped at module event 1, gone at 2; libb mapped at the same
     * addresses at 3. Stack 1 was recorded in liba's time, stack 3 in
     * libb's; both have a frame at 0x1030. */
    struct tm_module mods[2] = {
        {1, 0x1000, 0x1000, 0x4000, NULL, 0, (char *)"/nonexistent/liba.so", 1, 1, 2},
        {2, 0x1000, 0x1000, 0x4000, NULL, 0, (char *)"/nonexistent/libb.so", 0, 3, 0}};
    f->m.modules = mods;
    f->m.n_modules = 2;
    f->m.opts.symbolize = 1;
    f->stacks[0].modules_at = 1;
    f->stacks[2].modules_at = 3;
    Profile *p = render(&f->m);
    f->m.n_modules = 0;
    f->m.opts.symbolize = 0;
    f->stacks[0].modules_at = f->stacks[2].modules_at = 0;
    if (!p) return;
    uint64_t seen = 0; /* bit k: a location at 0x1030 in mapping k */
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->address == 0x1030) seen |= 1u << p->location[i]->mapping_id;
    CHECK(seen == (1u << 1 | 1u << 2), "mappings of 0x1030's locations: %#llx",
          (unsigned long long)seen);
    perftools__profiles__profile__free_unpacked(p, NULL);
}

int main(void)
{
    struct fixture f;
    fx_build(&f);
    test_types_and_totals(&f.m);
    test_shim_and_mapping(&f);
    test_reused_addresses(&f);
    return check_status();
}
