// tests/e2e/cxx_sites.cpp - a C++ program whose allocations all go through
// operator new and libstdc++'s inlined containers: the report must name the
// lines below (marked SITE), not operator new, not the allocator's header,
// not __libc_start_call_main. Threads, exceptions and a lambda on purpose.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

int main()
{
    std::unordered_map<long, std::string> names;
    std::unordered_map<long, long> local; // filled by the worker, alive at the peak
    std::thread worker([&local] {
        for (long i = 0; i < 100000; i++) local[i * 7] = i; // SITE worker
        try {
            throw std::runtime_error("caught");
        } catch (const std::exception &) {
        }
    });
    for (long i = 0; i < 100000; i++) names[i] = std::string(40, 'x'); // SITE main
    worker.join();
    std::printf("%zu\n", names.size());
    return 0;
}
