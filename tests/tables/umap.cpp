// tests/tables/umap.cpp - libstdc++ std::unordered_map<long,long> grown to
// N entries, erased down to KEEP with unordered_map::erase (the bucket array
// keeps its size), optionally cured with m.rehash(0). CLI: table_cli.h.
// With dupkeys, a std::unordered_multimap on N/200 distinct keys, erased
// from its first entry on. With slow, the hasher sleeps 1 ms every 100
// calls in the insert that grows the map past 100,000 entries: its rehash
// takes over a second, so a probe pass reads the new array while the
// nodes are being moved into it.
//
// Prints: impl=unordered_map ... live= held= buckets= bucket_bytes=
//         nonempty=   (buckets whose word is not NULL: libstdc++ resets a
//                      bucket to NULL when it empties, so this is the
//                      count a reader of the array's contents sees)
// held = bucket_bytes = bucket_count() * 8, 0 while bucket_count() is 1 (the
// bucket embedded in the map object, no allocation).
#include <functional>
#include <unordered_map>

#include "table_cli.h"

namespace {

bool slow_hashing; // slow: the hasher sleeps now and then

// std::hash<long>, which sleeps 1 ms every 100 calls while slow_hashing.
struct Hash {
    size_t operator()(long k) const noexcept
    {
        static unsigned calls;
        if (slow_hashing && ++calls % 100 == 0) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, nullptr);
        }
        return std::hash<long>{}(k);
    }
};

} // namespace

// Not cached in the nodes (fast, and noexcept), as std::hash<long>'s is
// not: the rehash calls it for every node, and the nodes are laid out as
// std::hash<long>'s.
template <> struct std::__is_fast_hash<Hash> : std::true_type {
};

namespace {

using Map = std::unordered_map<long, long, Hash>;
using MultiMap = std::unordered_multimap<long, long, Hash>; // dupkeys

template <class M> struct Ctx {
    const table_args *a;
    M *m;
};

// The i-th entry's key: table_key, or one of N/200 keys over again (dupkeys).
long key_of(const table_args *a, long i)
{
    long distinct = a->n / 200 > 0 ? a->n / 200 : 1;
    return static_cast<long>(table_key(a, a->dupkeys ? i % distinct : i));
}

void insert(Map &m, long k, long v) { m[k] = v; }
void insert(MultiMap &m, long k, long v) { m.emplace(k, v); }

// Down to KEEP entries: each key erased (a map), or the first entries one
// by one (a multimap, where erasing a key takes all of its entries).
void erase_to_keep(Map &m, const table_args *a)
{
    for (long i = a->keep; i < a->n; i++)
        m.erase(key_of(a, i));
}

void erase_to_keep(MultiMap &m, const table_args *a)
{
    while (m.size() > static_cast<size_t>(a->keep))
        m.erase(m.begin());
}

template <class M> void build(void *p)
{
    Ctx<M> *c = static_cast<Ctx<M> *>(p);
    const table_args *a = c->a;
    c->m = new M;
    M &m = *c->m;
    if (a->lowload)
        m.max_load_factor(0.25f);
    for (long i = 0; i < a->n; i++) {
        slow_hashing = a->slow && m.size() > 100000 &&
                       m.size() + 1 > m.bucket_count() * m.max_load_factor();
        insert(m, key_of(a, i), i);
        slow_hashing = false;
    }
    erase_to_keep(m, a);
    if (a->fix)
        m.rehash(0);
}

template <class M> void destroy(void *p)
{
    Ctx<M> *c = static_cast<Ctx<M> *>(p);
    delete c->m;
    c->m = nullptr;
}

// Buckets whose word is not NULL, read through the public bucket interface:
// bucket_size(b) > 0 exactly when libstdc++ keeps a non-NULL word for b.
template <class M> size_t nonempty_buckets(const M &m)
{
    size_t n = 0;
    for (size_t b = 0; b < m.bucket_count(); b++)
        n += m.bucket_size(b) > 0;
    return n;
}

template <class M> int run(const table_args &a)
{
    Ctx<M> c{&a, nullptr};
    table_rounds(&a, build<M>, destroy<M>, &c, sizeof c);
    const M &m = *c.m;
    // One bucket is the map's own _M_single_bucket: no array is allocated.
    size_t bytes = m.bucket_count() > 1 ? m.bucket_count() * sizeof(void *) : 0;
    table_print_head(&a, a.dupkeys ? "unordered_multimap" : "unordered_map");
    printf(" live=%zu held=%zu buckets=%zu bucket_bytes=%zu nonempty=%zu\n", m.size(), bytes,
           m.bucket_count(), bytes, nonempty_buckets(m));
    table_end(&a, destroy<M>, &c);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    table_args a;
    if (table_parse(argc, argv, &a))
        return 2;
    return a.dupkeys ? run<MultiMap>(a) : run<Map>(a);
}
