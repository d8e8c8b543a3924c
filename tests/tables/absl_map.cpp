// tests/tables/absl_map.cpp - Abseil absl::flat_hash_map<int64_t,int64_t>
// (Debian libabsl-dev) grown to N entries, erased down to KEEP with
// flat_hash_map::erase (slots become tombstones, the backing array keeps its
// size), optionally cured with m.rehash(0). CLI: table_cli.h.
//
// Prints: impl=absl_flat_hash_map ... live= held= capacity= bucket_count=
//         slot_size= group_width=
// held = the one backing array, Abseil's own AllocSize(capacity): control
// bytes (capacity + 1 + group_width - 1, rounded up to the slot alignment)
// followed by capacity slots; 0 while capacity() is 0 (no array).
#include <absl/container/flat_hash_map.h>

#include "table_cli.h"

namespace {

using Map = absl::flat_hash_map<int64_t, int64_t>;
namespace ci = absl::container_internal;
using Slot = ci::map_slot_type<int64_t, int64_t>;

struct Ctx {
    const table_args *a;
    Map *m;
};

void build(void *p)
{
    Ctx *c = static_cast<Ctx *>(p);
    const table_args *a = c->a;
    c->m = new Map;
    Map &m = *c->m;
    for (long i = 0; i < a->n; i++)
        m[static_cast<int64_t>(table_key(a, i))] = i;
    for (long i = a->keep; i < a->n; i++)
        m.erase(static_cast<int64_t>(table_key(a, i)));
    if (a->fix)
        m.rehash(0);
}

void destroy(void *p)
{
    Ctx *c = static_cast<Ctx *>(p);
    delete c->m;
    c->m = nullptr;
}

} // namespace

int main(int argc, char **argv)
{
    table_args a;
    if (table_parse(argc, argv, &a))
        return 2;
    Ctx c{&a, nullptr};
    table_rounds(&a, build, destroy, &c);
    const Map &m = *c.m;
    size_t cap = m.capacity();
    size_t held = cap ? ci::AllocSize(cap, sizeof(Slot), alignof(Slot)) : 0;
    table_print_head(&a, "absl_flat_hash_map");
    printf(" live=%zu held=%zu capacity=%zu bucket_count=%zu slot_size=%zu group_width=%zu\n",
           m.size(), held, cap, m.bucket_count(), sizeof(Slot),
           static_cast<size_t>(ci::Group::kWidth));
    table_end(&a, destroy, &c);
    return 0;
}
