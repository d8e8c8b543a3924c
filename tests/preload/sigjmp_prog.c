/* tests/preload/sigjmp_prog.c - a SIGALRM handler that siglongjmp's back
 * into a malloc/free loop, as interpreters do on SIGINT: the jump often
 * leaves the shim, whose guard must not stay set (sweep 3, F11; the
 * sweep's sigjmp2.c, adapted). The loop keeps 4 blocks of 1..64 bytes, so
 * that glibc serves it from its tcache, where no lock is held that a jump
 * could leave locked (a jump out of malloc is undefined; this is its least
 * undefined form).
 *
 *   sigjmp_prog ITERATIONS INTERVAL_US
 *
 * Prints "jumps=J allocs=A": A the mallocs that returned. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

static sigjmp_buf env;
static volatile long jumps;

static void on_alarm(int sig)
{
    (void)sig;
    jumps++;
    siglongjmp(env, 1);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000, us = argc > 2 ? atol(argv[2]) : 2000;
    static void *volatile keep[4];
    static volatile long i, allocs, nulls;
    signal(SIGALRM, on_alarm);
    struct itimerval it = {{0, us}, {0, us}};
    setitimer(ITIMER_REAL, &it, 0);
    sigsetjmp(env, 1);
    for (; i < n; i++) {
        int k = (int)(i & 3);
        void *old = keep[k];
        keep[k] = 0;
        free(old);
        void *p = malloc((size_t)(i * 31) % 64 + 1);
        allocs++;
        nulls += p == NULL;
        keep[k] = p;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, 0);
    printf("jumps=%ld allocs=%ld nulls=%ld\n", jumps, allocs, nulls);
    return 0;
}
