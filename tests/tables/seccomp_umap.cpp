// tests/tables/seccomp_umap.cpp - a program that forbids process_vm_readv
// (a seccomp filter returning EPERM, as a sandbox's may) and then builds an
// unordered_map of N entries and erases all but KEEP: the shim cannot read
// its bucket array, and the report and check must say so
// (probe_refused_test.py).
//
//   seccomp_umap eperm|none [N [KEEP]]
//
// Prints "filter=installed|none|unavailable size=... buckets=..."; exits 0
// (3 when the filter cannot be installed: the test is then skipped).
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static int forbid_process_vm_readv()
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(int argc, char **argv)
{
    bool filter = argc > 1 && std::strcmp(argv[1], "eperm") == 0;
    long n = argc > 2 ? std::atol(argv[2]) : 300000, keep = argc > 3 ? std::atol(argv[3]) : 10;
    if (filter && forbid_process_vm_readv() != 0) {
        std::printf("filter=unavailable (%s)\n", std::strerror(errno));
        return 3;
    }
    std::unordered_map<long, long> m;
    for (long i = 0; i < n; i++) m[i * 7919] = i;
    for (long i = keep; i < n; i++) m.erase(i * 7919);
    std::printf("filter=%s size=%zu buckets=%zu\n", filter ? "installed" : "none", m.size(),
                m.bucket_count());
    return 0;
}
