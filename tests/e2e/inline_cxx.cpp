// tests/e2e/inline_cxx.cpp - a C++ program whose allocations happen in
// functions the compiler inlines (built with -O2 -g, so DWARF has inline
// entries for them): fill_values and name_keys are inlined into build, which
// is not inlined into main. Every report format must show main, build and
// the inlined function in the stacks (tests/e2e/formats.py).
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

__attribute__((always_inline)) static inline void fill_values(std::vector<long> &v, long n)
{
    for (long i = 0; i < n; i++) v.push_back(i * 3);
}

__attribute__((always_inline)) static inline void
name_keys(std::unordered_map<long, std::string> &m, long n)
{
    for (long i = 0; i < n; i++) m[i] = std::string(40, 'x');
}

__attribute__((noinline)) static long build(std::unordered_map<long, std::string> &m)
{
    std::vector<long> v;
    fill_values(v, 50000);
    name_keys(m, 20000);
    return (long)v.size();
}

int main()
{
    std::unordered_map<long, std::string> m;
    long n = build(m);
    std::printf("%ld %zu\n", n, m.size());
    return 0;
}
