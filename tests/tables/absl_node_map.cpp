// tests/tables/absl_node_map.cpp - Abseil absl::node_hash_map<int64_t,int64_t>
// grown to N entries and erased down to KEEP: its backing array has 8-byte
// slots (pointers to the nodes), so its size is often 8 x a prime, and must
// not be taken for a libstdc++ bucket array (absl_by_size_test.py).
// CLI: table_cli.h. Prints impl=absl_node_hash_map ... live= held= capacity=
// with held = Abseil's AllocSize(capacity) for 8-byte slots.
#include <absl/container/node_hash_map.h>

#include "table_cli.h"

namespace {

using Map = absl::node_hash_map<int64_t, int64_t>;
namespace ci = absl::container_internal;

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
    size_t held = cap ? ci::AllocSize(cap, sizeof(void *), alignof(void *)) : 0;
    table_print_head(&a, "absl_node_hash_map");
    printf(" live=%zu held=%zu capacity=%zu slot_size=%zu\n", m.size(), held, cap, sizeof(void *));
    table_end(&a, destroy, &c);
    return 0;
}
