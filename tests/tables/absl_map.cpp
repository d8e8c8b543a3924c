// tests/tables/absl_map.cpp - Abseil absl::flat_hash_map<int64_t,int64_t>
// (Debian libabsl-dev) grown to N entries, erased down to KEEP with erase
// (slots become tombstones, the backing array keeps its size), optionally
// cured with m.rehash(0). CLI: table_cli.h. Built with
// -DTABLES_ABSL_NODE it is absl::node_hash_map<int64_t,int64_t> instead
// (absl_node_map): its backing array has 8-byte slots (pointers to the
// nodes), so its size is often 8 x a prime, and must not be taken for a
// libstdc++ bucket array (absl_by_size_test.py).
//
// Prints: impl=absl_flat_hash_map (absl_node_hash_map) ... live= held=
//         capacity= bucket_count= slot_size= group_width=
// held = the one backing array, Abseil's own AllocSize(capacity): control
// bytes (capacity + 1 + group_width - 1, rounded up to the slot alignment)
// followed by capacity slots; 0 while capacity() is 0 (no array).
#ifdef TABLES_ABSL_NODE
#include <absl/container/node_hash_map.h>
#else
#include <absl/container/flat_hash_map.h>
#endif

#include "table_cli.h"

namespace {

namespace ci = absl::container_internal;
#ifdef TABLES_ABSL_NODE
using Map = absl::node_hash_map<int64_t, int64_t>;
using Slot = void *; // a pointer to the node
const char *const kImpl = "absl_node_hash_map";
#else
using Map = absl::flat_hash_map<int64_t, int64_t>;
using Slot = ci::map_slot_type<int64_t, int64_t>;
const char *const kImpl = "absl_flat_hash_map";
#endif

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
    table_rounds(&a, build, destroy, &c, sizeof c);
    const Map &m = *c.m;
    size_t cap = m.capacity();
    size_t held = cap ? ci::AllocSize(cap, sizeof(Slot), alignof(Slot)) : 0;
    table_print_head(&a, kImpl);
    printf(" live=%zu held=%zu capacity=%zu bucket_count=%zu slot_size=%zu group_width=%zu\n",
           m.size(), held, cap, m.bucket_count(), sizeof(Slot),
           static_cast<size_t>(ci::Group::kWidth));
    table_end(&a, destroy, &c);
    return 0;
}
