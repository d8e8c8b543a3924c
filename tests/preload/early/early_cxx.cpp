// tests/preload/early/early_cxx.cpp - a C++ program: libstdc++'s constructor
// allocates its emergency exception pool (72,704 B with GCC 12's libstdc++)
// before the shim's constructor runs. Large enough to be probed
// (TIDEMARK_PROBE_MIN, 64 KiB), it must be recorded and must not be taken
// for a hash table. The control: a std::unordered_map whose bucket array
// (8 x a prime, over 64 KiB) the analyzer does recognise.
// Prints the map's size and a string's; exit status 3.
#include <cstdio>
#include <string>
#include <unordered_map>

int main()
{
    std::unordered_map<long, long> m;
    for (long i = 0; i < 12000; i++) m[i * 7919] = i;
    std::string s(40, 'x');
    std::printf("%zu %zu\n", m.size(), s.size());
    return 3;
}
