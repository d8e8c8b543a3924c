/* tests/preload/idle_prog.c - programs whose threads record, then go idle,
 * for live_test.py (records of idle threads on disk within a second, live
 * traces, tidemark top, TIDEMARK_MAX_BYTES).
 *
 *   idle_prog states SECONDS
 *       three threads each allocate one block of a size of their own (7771
 *       bytes: then blocked in read on a pipe; 7772: in pthread_cond_wait;
 *       7773: in sleep), the main thread allocates 7770 bytes and waits for
 *       them; "ready" once all four allocated; exit after SECONDS.
 *   idle_prog server SECONDS
 *       the server: a thread fills a gomap (key 8 B, value 56 B,
 *       label "sessions") to 300,000 entries, deletes all but 1,000, and
 *       blocks in epoll_wait; another thread keeps allocating (a small block
 *       every millisecond). "ready" once the table is down to 1,000; exit(0)
 *       after SECONDS.
 *   idle_prog churn SECONDS
 *       a thread allocates and frees blocks of many sizes as fast as it can
 *       for SECONDS (a trace that grows fast) while the main thread keeps a
 *       gomap of 1,000 entries that it rebuilds every 10 ms.
 *   idle_prog tables SECONDS
 *       keeps a gomap "kept" of 5,000 entries, and makes and frees gomaps of
 *       200 entries ("churn") as fast as it can for SECONDS: table records
 *       only, as fast as they come.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "tidemark/gomap.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready_count;
static int pipe_fds[2];
static void *volatile keep[8]; /* blocks the threads hold (never freed) */

static void one_ready(void)
{
    pthread_mutex_lock(&mu);
    ready_count++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void say_ready(void)
{
    printf("ready\n");
    fflush(stdout);
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- states ---------------------------------------------------------------- */

static void *in_read(void *arg)
{
    (void)arg;
    keep[1] = malloc(7771);
    one_ready();
    char c;
    ssize_t n = read(pipe_fds[0], &c, 1); /* nobody writes */
    (void)n;
    return NULL;
}

static void *in_cond_wait(void *arg)
{
    (void)arg;
    keep[2] = malloc(7772);
    pthread_mutex_lock(&mu);
    ready_count++;
    pthread_cond_broadcast(&cv);
    for (;;) pthread_cond_wait(&cv, &mu); /* woken by the others, waits again */
    return NULL;
}

static void *in_sleep(void *arg)
{
    (void)arg;
    keep[3] = malloc(7773);
    one_ready();
    for (;;) sleep(100);
    return NULL;
}

static int cmd_states(double seconds)
{
    if (pipe(pipe_fds)) return 1;
    keep[0] = malloc(7770);
    void *(*fns[])(void *) = {in_read, in_cond_wait, in_sleep};
    for (int i = 0; i < 3; i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, fns[i], NULL)) return 1;
        pthread_detach(th);
    }
    pthread_mutex_lock(&mu);
    while (ready_count < 3) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    say_ready();
    sleep_s(seconds); /* the main thread is idle too */
    exit(0);
}

/* ---- server ---------------------------------------------------------------- */

static void *table_thread(void *arg)
{
    (void)arg;
    struct gomap_options o = {.key_size = 8, .value_size = 56, .label = "sessions"};
    gomap *m = gomap_new(&o);
    for (uint64_t k = 0; k < 300000; k++) memset(gomap_put(m, &k), 1, 56);
    for (uint64_t k = 1000; k < 300000; k++) gomap_delete(m, &k);
    keep[4] = m;
    one_ready();
    int ep = epoll_create1(0);
    struct epoll_event ev;
    for (;;) epoll_wait(ep, &ev, 1, -1); /* as a server between requests */
    return NULL;
}

static void *busy_thread(void *arg)
{
    (void)arg;
    for (unsigned i = 0;; i++) {
        void *p = malloc(64 + i % 64);
        sleep_s(0.001);
        free(p);
    }
    return NULL;
}

static int cmd_server(double seconds)
{
    pthread_t th;
    if (pthread_create(&th, NULL, table_thread, NULL)) return 1;
    pthread_detach(th);
    pthread_mutex_lock(&mu);
    while (ready_count < 1) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    if (pthread_create(&th, NULL, busy_thread, NULL)) return 1;
    pthread_detach(th);
    say_ready();
    sleep_s(seconds);
    exit(0);
}

/* ---- churn ------------------------------------------------------------------- */

static volatile int stop;

static void *churn_thread(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    void *slots[256] = {0};
    for (uint64_t i = 0; !stop; i++) {
        unsigned k = (unsigned)((i * 2654435761u + seed) & 255);
        free(slots[k]);
        slots[k] = malloc(16 + (size_t)((i * 40503u + seed) % 4000));
    }
    for (unsigned k = 0; k < 256; k++) free(slots[k]);
    return NULL;
}

static int cmd_churn(double seconds)
{
    pthread_t th;
    if (pthread_create(&th, NULL, churn_thread, NULL)) return 1;
    struct gomap_options o = {.key_size = 8, .value_size = 8, .label = "churned"};
    gomap *m = gomap_new(&o);
    say_ready();
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        gomap *n = gomap_new(&o);
        for (uint64_t k = 0; k < 1000; k++) memset(gomap_put(n, &k), 2, 8);
        gomap_free(m);
        m = n;
        sleep_s(0.01);
    } while (since(&t0) < seconds);
    stop = 1;
    pthread_join(th, NULL);
    gomap_free(m);
    return 0;
}

/* ---- tables ------------------------------------------------------------------ */

static int cmd_tables(double seconds)
{
    struct gomap_options kept_o = {.key_size = 8, .value_size = 8, .label = "kept"};
    gomap *kept = gomap_new(&kept_o);
    for (uint64_t k = 0; k < 5000; k++) memset(gomap_put(kept, &k), 3, 8);
    say_ready();
    struct gomap_options o = {.key_size = 8, .value_size = 8, .label = "churn"};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (since(&t0) < seconds) {
        gomap *m = gomap_new(&o);
        for (uint64_t k = 0; k < 200; k++) memset(gomap_put(m, &k), 4, 8);
        gomap_free(m);
    }
    gomap_free(kept);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    double seconds = argc > 2 ? atof(argv[2]) : 5;
    if (!strcmp(cmd, "states")) return cmd_states(seconds);
    if (!strcmp(cmd, "server")) return cmd_server(seconds);
    if (!strcmp(cmd, "churn")) return cmd_churn(seconds);
    if (!strcmp(cmd, "tables")) return cmd_tables(seconds);
    fprintf(stderr, "usage: idle_prog states|server|churn|tables SECONDS\n");
    return 2;
}
