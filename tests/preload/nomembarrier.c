/* tests/preload/nomembarrier.c - runs a program with membarrier(2) failing
 * (ENOSYS, as under an old kernel or a seccomp profile without it), so that
 * the shim's handoff takes its fenced path (preload/buffer.c).
 *
 *   nomembarrier SHIM PROGRAM ARGS...
 *       runs PROGRAM with LD_PRELOAD=SHIM (the launcher itself is not
 *       traced); exit 3 when the filter could not be set
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: nomembarrier SHIM PROGRAM ARGS...\n");
        return 2;
    }
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        perror("nomembarrier: seccomp");
        return 3;
    }
    if (syscall(SYS_membarrier, 0, 0, 0) != -1 || errno != ENOSYS) {
        fprintf(stderr, "nomembarrier: membarrier still answers\n");
        return 3;
    }
    setenv("LD_PRELOAD", argv[1], 1);
    execvp(argv[2], argv + 2);
    perror("nomembarrier: exec");
    return 127;
}
