/* preload/unwind_nofd.c - libunwind's memory validation, without a
 * descriptor in the program's space.
 *
 * Before libunwind reads a word it is not sure of (a frame-chain guess, a
 * frame without CFI), it checks that the page is readable by writing one
 * byte of it into a pipe of its own: `read(pipe[0])` (a failed read makes it
 * close both ends and call pipe2 again), then `syscall(SYS_write, pipe[1],
 * addr, 1)`, which fails with EFAULT on an unreadable address (Debian's
 * 1.6.2, the build the shim links). That pipe lives in the program's
 * descriptor table: a program that put its own file on one of its numbers
 * (`exec 100>out.txt`, a dup2, a flock'ed lock file) had it closed by
 * libunwind's re-open, or received bytes of process memory.
 *
 * So libunwind never gets a descriptor. While the shim is inside libunwind
 * (tmk_tls.in_unwind), pipe2/pipe hand out two negative sentinel numbers,
 * which no descriptor can be; libunwind's read and close of them fail with
 * EBADF and touch nothing; its write of one byte to the sentinel is answered
 * here, by asking the kernel whether the byte is readable: rt_sigprocmask
 * with an invalid `how` copies the new mask from the address first (EFAULT
 * if it cannot), then rejects `how` (EINVAL) without changing anything.
 * (A libunwind built to validate with write() instead would find every
 * guessed page unreadable: shorter stacks, still no descriptor.)
 * The wrappers of syscall, pipe2 and pipe (hooks.c) call tmk_nofd_*.
 * Outside the shim's unwinds every call goes to the real function unchanged
 * (a program that uses libunwind itself gets its own real pipe), and a
 * sentinel outside an unwind gets the real function's EBADF.
 *
 * Cost: validation runs only for pages missing from libunwind's small cache
 * of valid pages; each then costs the failed read and two failed closes
 * (three system calls, as the pipe's read and write were two) and one
 * rt_sigprocmask, and every program call of syscall() passes one comparison.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "real.h"

/* Never a descriptor (descriptors are >= 0), never -1 (libunwind's "none"). */
#define SENTINEL_READ (-0x544d4b30)
#define SENTINEL_WRITE (-0x544d4b31)

typedef long (*syscall_fn)(long, ...);

/* The real functions, found at start (tmk_unwind_nofd_init) so that a
 * signal handler's syscall() never runs dlsym; found on first use when
 * another library's constructor calls before the shim's. */
static void *real_syscall, *real_pipe2, *real_pipe;

void tmk_unwind_nofd_init(void)
{
    tmk_next_fn(&real_syscall, "syscall");
    tmk_next_fn(&real_pipe2, "pipe2");
    tmk_next_fn(&real_pipe, "pipe");
}

/* Is the byte at addr readable? Reads the aligned 8-byte word holding it,
 * which lies in the same page. */
static int readable(uintptr_t addr, syscall_fn real)
{
    uintptr_t word = addr & ~(uintptr_t)7;
    long rc = real(SYS_rt_sigprocmask, -1L, (long)word, 0L, 8L);
    return !(rc < 0 && errno == EFAULT);
}

long tmk_nofd_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    syscall_fn f = (syscall_fn)tmk_next_fn(&real_syscall, "syscall");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    if (TMK_UNLIKELY(nr == SYS_write && (int)a1 == SENTINEL_WRITE /* an int: the upper half is junk */ && tmk_tls.in_unwind)) {
        if (!readable((uintptr_t)a2, f)) {
            errno = EFAULT;
            return -1;
        }
        errno = 0; /* libunwind loops while errno == EINTR */
        return a3 > 0 ? 1 : 0;
    }
    return f(nr, a1, a2, a3, a4, a5, a6);
}

static int hand_out_sentinels(int fds[2])
{
    fds[0] = SENTINEL_READ;
    fds[1] = SENTINEL_WRITE;
    return 0;
}

int tmk_nofd_pipe2(int fds[2], int flags)
{
    if (tmk_tls.in_unwind) return hand_out_sentinels(fds);
    int (*f)(int[2], int) = (int (*)(int[2], int))tmk_next_fn(&real_pipe2, "pipe2");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return f(fds, flags);
}

int tmk_nofd_pipe(int fds[2])
{
    if (tmk_tls.in_unwind) return hand_out_sentinels(fds);
    int (*f)(int[2]) = (int (*)(int[2]))tmk_next_fn(&real_pipe, "pipe");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return f(fds);
}
