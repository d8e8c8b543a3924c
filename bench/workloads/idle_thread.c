/* bench/workloads/idle_thread.c - LD_PRELOAD'ed into a workload by
 * bench/run.sh's `nativethread` config: one thread that only sleeps. It
 * shows what any second thread costs a program: glibc's malloc takes its
 * single-thread shortcuts (no arena lock, no atomic fastbin operations) only
 * while the process has never had a second thread, and the shim's sampler is
 * one, as heaptrack's own thread is. */
#include <pthread.h>
#include <unistd.h>

static void *sleep_forever(void *arg)
{
    (void)arg;
    for (;;) pause();
    return NULL;
}

__attribute__((constructor)) static void start_idle_thread(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, sleep_forever, NULL) == 0) pthread_detach(t);
}
