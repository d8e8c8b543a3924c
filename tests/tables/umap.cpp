// tests/tables/umap.cpp - libstdc++ std::unordered_map<long,long> grown to
// N entries, erased down to KEEP with unordered_map::erase (the bucket array
// keeps its size), optionally cured with m.rehash(0). CLI: table_cli.h.
//
// Prints: impl=unordered_map ... live= held= buckets= bucket_bytes=
//         nonempty=   (buckets whose word is not NULL: libstdc++ resets a
//                      bucket to NULL when it empties, so this is the
//                      count a reader of the array's contents sees)
// held = bucket_bytes = bucket_count() * 8, 0 while bucket_count() is 1 (the
// bucket embedded in the map object, no allocation).
#include <unordered_map>

#include "table_cli.h"

namespace {

using Map = std::unordered_map<long, long>;

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
    if (a->lowload)
        m.max_load_factor(0.25f);
    for (long i = 0; i < a->n; i++)
        m[static_cast<long>(table_key(a, i))] = i;
    for (long i = a->keep; i < a->n; i++)
        m.erase(static_cast<long>(table_key(a, i)));
    if (a->fix)
        m.rehash(0);
}

void destroy(void *p)
{
    Ctx *c = static_cast<Ctx *>(p);
    delete c->m;
    c->m = nullptr;
}

// Buckets whose word is not NULL, read through the public bucket interface:
// bucket_size(b) > 0 exactly when libstdc++ keeps a non-NULL word for b.
size_t nonempty_buckets(const Map &m)
{
    size_t n = 0;
    for (size_t b = 0; b < m.bucket_count(); b++)
        n += m.bucket_size(b) > 0;
    return n;
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
    // One bucket is the map's own _M_single_bucket: no array is allocated.
    size_t bytes = m.bucket_count() > 1 ? m.bucket_count() * sizeof(void *) : 0;
    table_print_head(&a, "unordered_map");
    printf(" live=%zu held=%zu buckets=%zu bucket_bytes=%zu nonempty=%zu\n", m.size(), bytes,
           m.bucket_count(), bytes, nonempty_buckets(m));
    table_end(&a, destroy, &c);
    return 0;
}
