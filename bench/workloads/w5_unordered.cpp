// bench/workloads/w5_unordered.cpp - W5, std::unordered_map churn (C++).
//
// A std::unordered_map<uint64_t, record> (a 40-byte value: every node one
// allocation through operator new) is filled to a peak, looked up, then
// erased down to a few entries, in waves. libstdc++ never shrinks the
// bucket array on erase: every other wave the map is swapped with a fresh
// one, so the arrays (up to 2 MiB at the default peak) come and go too.
// Nobody annotates this map: the arrays of 64 KiB and more are what the
// shim's content probes read (TIDEMARK_PROBE_MIN, docs/table-rules.md) and
// what `tidemark report` recognises as a libstdc++ table.
//
// Deterministic: fixed keys (a mixed counter); the checksum sums looked-up
// values and the size after each wave. Prints the number of nodes inserted
// and erased (each an allocation and a free; bucket arrays are not counted).
//
// Usage: bench_w5 [--allocs M] [--peak P] [--low L]
//        (M = nodes to insert in all, default 1,000,000)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "bench_options.h"
#include "peak_rss.h"

namespace {

struct record {
    uint64_t id;
    uint64_t words[4];
};

struct run {
    uint64_t allocs = 1000000, peak = 200000, low = 16;
    uint64_t inserted = 0, erased = 0, checksum = 0, waves = 0;
};

uint64_t mix(uint64_t x)
{
    // splitmix64 finalizer: spreads consecutive ids over the key space.
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

int parse_args(int argc, char **argv, run &r)
{
    const bench_option opt[] = {{"--allocs", &r.allocs}, {"--peak", &r.peak}, {"--low", &r.low}};
    return bench_options(argc, argv, opt, 3) == 0 && r.allocs > 0 && r.low < r.peak ? 0 : -1;
}

using map_type = std::unordered_map<uint64_t, record>;

// One wave: fill to the peak (or until the allocations are done), look up
// every third live key, erase the oldest down to the low water mark.
void wave(run &r, map_type &m, uint64_t &next_id, uint64_t &oldest)
{
    while (m.size() < r.peak && r.inserted < r.allocs) {
        uint64_t id = next_id++;
        record &v = m[mix(id)];
        v.id = id;
        v.words[3] = id * 3;
        r.inserted++;
    }
    for (uint64_t id = oldest; id < next_id; id += 3) {
        auto it = m.find(mix(id));
        r.checksum += it == m.end() ? 1 : it->second.words[3] ^ it->second.id;
    }
    while (m.size() > r.low) {
        r.erased += m.erase(mix(oldest++));
    }
    r.checksum += m.size();
    r.waves++;
}

} // namespace

int main(int argc, char **argv)
{
    run r;
    if (parse_args(argc, argv, r) != 0) {
        std::fprintf(stderr, "usage: bench_w5 [--allocs M] [--peak P] [--low L] (L < P)\n");
        return 2;
    }
    uint64_t next_id = 0, oldest = 0;
    map_type m;
    while (r.inserted < r.allocs) {
        wave(r, m, next_id, oldest);
        if (r.waves % 2 == 0) {
            // A fresh map takes the survivors; the old bucket array goes.
            map_type fresh(m.begin(), m.end());
            m.swap(fresh);
        }
    }
    r.erased += m.size();
    m.clear();
    std::printf("w5 waves=%llu inserted=%llu allocs=%llu frees=%llu events=%llu "
                "checksum=%016llx hwm_kib=%lu\n",
                (unsigned long long)r.waves, (unsigned long long)r.inserted,
                (unsigned long long)r.inserted, (unsigned long long)r.erased,
                (unsigned long long)(r.inserted + r.erased), (unsigned long long)r.checksum,
                bench_peak_rss_kib());
    return r.inserted == r.erased ? 0 : 1;
}
