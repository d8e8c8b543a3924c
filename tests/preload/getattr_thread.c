/* tests/preload/getattr_thread.c - a thread whose first allocation is made
 * inside pthread_getattr_np(pthread_self()), as Rust's std does for every
 * thread it spawns (glibc reallocs the affinity mask there, holding the
 * thread's own lock). Under the shim this hung forever: the shim's thread
 * attach asked pthread_getattr_np for the stack bounds and waited on that
 * lock. Run under LD_PRELOAD by CTest with a timeout; prints "ok". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *first_thing_getattr(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return (void *)1;
    void *addr;
    size_t size;
    int bad = pthread_attr_getstack(&attr, &addr, &size) != 0 || size == 0;
    pthread_attr_destroy(&attr);
    void *volatile p = malloc(100); /* the thread's stack bounds are found now */
    free(p);
    return (void *)(long)bad;
}

int main(void)
{
    for (int i = 0; i < 8; i++) {
        pthread_t th;
        void *rc;
        if (pthread_create(&th, NULL, first_thing_getattr, NULL) != 0 ||
            pthread_join(th, &rc) != 0 || rc != NULL) {
            puts("failed");
            return 1;
        }
    }
    puts("ok");
    return 0;
}
