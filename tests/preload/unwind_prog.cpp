// tests/preload/unwind_prog.cpp - the CFI unwinder's hard cases, each a mode
// run by unwind_test.py with TIDEMARK_UNWIND_VERIFY=1 (every stack the CFI
// walk finds is compared with libunwind's):
//
//   throw    C++ exceptions thrown through recursion of varying depth;
//            allocations in constructors, in destructors run while the
//            exception unwinds (libgcc's frames on the stack) and in catch
//   signal   allocations in a SIGUSR1 handler (raise: the handler runs on the
//            thread's stack, above a signal frame) and in a SIGPROF timer's
//            handler interrupting the program anywhere (inside malloc too)
//   threads  4 threads allocating through recursion of varying depth
//   deep     recursion 200 deep: stacks longer than TIDEMARK_DEPTH
//
// Prints "ok N" (allocations it made itself) and exits 0.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <sys/time.h>
#include <vector>

static volatile unsigned long sink;
static unsigned long made;

__attribute__((noinline)) static void touch(void *p)
{
    sink = sink + (unsigned long)(uintptr_t)p;
}

__attribute__((noinline)) static void alloc_here(size_t n)
{
    void *p = malloc(n);
    touch(p);
    free(p);
    __atomic_add_fetch(&made, 1, __ATOMIC_RELAXED);
}

// ---- throw ----

struct Guard {
    std::string *s;
    explicit Guard(int i) : s(new std::string(40 + i % 7, 'x')) { __atomic_add_fetch(&made, 1, __ATOMIC_RELAXED); }
    ~Guard()
    {
        alloc_here(24); // during the exception's unwinding too
        delete s;
    }
};

__attribute__((noinline)) static int dive(int depth, int i)
{
    Guard g(i);
    if (depth == 0) {
        if (i % 3 == 0) throw std::runtime_error("deep " + std::to_string(i));
        return (int)g.s->size();
    }
    int r = dive(depth - 1, i) + 1;
    touch(g.s);
    return r;
}

static void mode_throw()
{
    for (int i = 0; i < 3000; i++) {
        try {
            sink = sink + (unsigned long)dive(i % 12, i);
        } catch (const std::exception &e) {
            std::vector<int> v(8 + i % 5, i);
            touch(v.data());
            sink = sink + strlen(e.what());
        }
    }
}

// ---- signal ----

static void on_usr1(int)
{
    alloc_here(48);
}

static void on_prof(int)
{
    alloc_here(32); // may interrupt malloc: then the shim serves it untraced
}

__attribute__((noinline)) static void signal_rec(int depth)
{
    if (depth == 0) {
        raise(SIGUSR1);
        alloc_here(16);
        return;
    }
    signal_rec(depth - 1);
    touch(&depth);
}

static void mode_signal()
{
    signal(SIGUSR1, on_usr1);
    signal(SIGPROF, on_prof);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_PROF, &it, nullptr);
    for (int i = 0; i < 20000; i++) signal_rec(i % 9);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, nullptr);
}

// ---- threads ----

__attribute__((noinline)) static void thread_rec(int depth, int i)
{
    if (depth == 0) {
        alloc_here(8 + (size_t)(i % 64));
        return;
    }
    thread_rec(depth - 1, i);
    touch(&i);
}

static void *worker(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < 20000; i++) thread_rec((i + base) % 15, i);
    return nullptr;
}

static void mode_threads()
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], nullptr, worker, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) pthread_join(th[i], nullptr);
}

// ---- deep ----

__attribute__((noinline)) static void deep_rec(int depth)
{
    if (depth == 0) {
        alloc_here(100);
        return;
    }
    deep_rec(depth - 1);
    touch(&depth);
}

static void mode_deep()
{
    for (int i = 0; i < 300; i++) deep_rec(150 + i % 50);
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    if (!strcmp(argv[1], "throw"))
        mode_throw();
    else if (!strcmp(argv[1], "signal"))
        mode_signal();
    else if (!strcmp(argv[1], "threads"))
        mode_threads();
    else if (!strcmp(argv[1], "deep"))
        mode_deep();
    else
        return 2;
    printf("ok %lu\n", made);
    return 0;
}
