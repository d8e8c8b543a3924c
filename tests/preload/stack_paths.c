/* tests/preload/stack_paths.c - call paths into malloc that share their
 * caller's return address and stack position but not their stacks: the
 * cases the shim's caller cache (preload/caller_cache.c) must tell apart.
 *
 *   stack_paths [ROUNDS]
 *
 * Built twice by tests/preload/CMakeLists.txt: with frame pointers and with
 * -fomit-frame-pointer -O2. preload.stackcache runs each build with
 * TIDEMARK_STACK_CACHE=1 and =0 and requires the same frames for every
 * allocation, in order, on every thread. Deterministic: the same
 * allocations in the same order on each thread in every run, threads one
 * after the other. Sizes name the paths: thread * 2048 + kind * 256 + detail
 * + 64, all below malloc's mmap threshold.
 *
 * The paths:
 *  - twins: four functions with the same frame, called through one function
 *    pointer from one loop, each calling leaf(): same RA0 and CFA0 for
 *    malloc, different return addresses one frame up;
 * each path a few times in a row (the shim's cache fills on the second
 * call, hits after), and in turns with other paths to the same key (the
 * entry left must not be taken).
 *  - recursion to depths 0..7 above the twins, and past TIDEMARK_DEPTH;
 *  - shifted chains (below): the same frames one recursion level higher,
 *    where only a %rbp differs and every other word is as before;
 *  - VLAs and alloca of 25 sizes in the caller of malloc (frame 0) and one
 *    frame above, under recursion of 8 depths: many pairs land malloc's
 *    caller at the same CFA0 with a different %rbp and different frames
 *    above, with stale return addresses of earlier calls left in memory;
 *  - signal handlers that allocate: on the thread's stack (a signal frame
 *    inside the stack) and on a sigaltstack (not the thread's stack);
 *  - a makecontext coroutine (a stack from malloc);
 *  - a forked child that runs the main thread's paths again (the parent's
 *    entries name stacks of the parent's file, not the child's).
 */
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef __clang__ /* clang neither clones functions nor knows the attribute */
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif
#define MAX_DEPTH 8
#define VLA_SIZES 25
#define THREADS 3

enum kind { K_TWIN, K_VLA_LEAF, K_VLA_MID, K_DEEP, K_SIGNAL, K_COROUTINE, K_SHIFT0, K_SHIFT1, K_SHIFT2 };

static void *volatile sink;
static volatile unsigned vsink;
/* volatile: gcc must not peel these loops into call sites of their own */
static volatile unsigned reps = 6, three = 3;
static __thread size_t base;      /* this thread's size range */
static __thread unsigned vla_bytes; /* what the VLA paths reserve */

static size_t size_of(enum kind k, unsigned detail)
{
    return base + (size_t)k * 256 + detail + 64;
}

/* The one caller of malloc in most paths. */
NOINLINE static void leaf(size_t n)
{
    sink = malloc(n);
    free(sink);
}

/* Same frame, same body; only the return address into each differs. */
#define TWIN(name)                                                                            \
    NOINLINE static void name(size_t n)                                                       \
    {                                                                                         \
        volatile char pad[32];                                                                \
        pad[0] = (char)n;                                                                     \
        leaf(n);                                                                              \
        vsink += (unsigned)pad[0];                                                            \
    }
TWIN(twin_a)
TWIN(twin_b)
TWIN(twin_c)
TWIN(twin_d)

typedef void (*path_fn)(size_t);
static path_fn const twins[] = {twin_a, twin_b, twin_c, twin_d};

/* malloc's caller has a VLA: its %rbp - %rsp varies with vla_bytes. The
 * buffer is left as it was except one byte, so stale words stay. */
NOINLINE static void vla_leaf(size_t n)
{
    char buf[vla_bytes + 1];
    buf[vla_bytes] = 1;
    sink = malloc(n);
    free(sink);
    vsink += (unsigned)buf[vla_bytes];
}

/* One frame above malloc's caller reserves the bytes. */
NOINLINE static void vla_mid(size_t n)
{
    char *buf = alloca(vla_bytes + 1);
    buf[vla_bytes] = 1;
    leaf(n);
    vsink += (unsigned)buf[vla_bytes];
}

/* d frames of its own, then fn(n). */
NOINLINE static void recurse(unsigned d, size_t n, path_fn fn)
{
    volatile char pad[16];
    pad[0] = 0;
    if (d == 0)
        fn(n);
    else
        recurse(d - 1, n, fn);
    vsink += (unsigned)pad[0];
}

/* Each path a few times in a row (the cache may hit), then interleaved with
 * the other twins (same key, other stack: the entry must not be taken). */
static void run_twins(void)
{
    for (unsigned d = 0; d < MAX_DEPTH; d++) {
        for (unsigned i = 0; i < 4; i++)
            for (unsigned rep = 0; rep < reps; rep++)
                recurse(d, size_of(K_TWIN, d * 4 + i), twins[i]);
        for (unsigned rep = 0; rep < reps; rep++)
            for (unsigned i = 0; i < 4; i++) recurse(d, size_of(K_TWIN, d * 4 + i), twins[i]);
    }
}

static void run_vlas(path_fn fn, enum kind k)
{
    for (unsigned d = 0; d < MAX_DEPTH; d++)
        for (unsigned v = 0; v < VLA_SIZES; v++) {
            vla_bytes = 16 * v;
            for (unsigned rep = 0; rep < reps; rep++) recurse(d, size_of(k, d * VLA_SIZES + v), fn);
        }
    /* the other way round: the same CFA0 reached from the other side */
    for (unsigned v = VLA_SIZES; v-- > 0;)
        for (unsigned d = MAX_DEPTH; d-- > 0;) {
            vla_bytes = 16 * v;
            recurse(d, size_of(k, d * VLA_SIZES + v), fn);
        }
}

/* ---- shifted chains ----
 *
 * step() recurses through one call site, also for its last call (into the
 * bottom function), so that a chain of d + 1 steps and one of d steps hold
 * the same words at the same addresses from the top down to the lowest
 * step's frame. Call 1: d + 1 steps, then a bottom function reserving v
 * bytes (twice: the second fills the cache); call 2, right after: d steps, the bottom function reserving v + S
 * (S = a step's frame), from the same call site: malloc's caller is at the
 * same CFA0, and the words
 * of call 1's frames below the steps are still there, unwritten, in call 2's
 * reserved bytes. Only the %rbp of a frame tells the two stacks apart:
 *  - shift0: the bottom function calls malloc: RBP0 differs;
 *  - shift1: it calls leaf(): with frame pointers the %rbp leaf() saved
 *    differs (a slot's value), without them RBP0;
 *  - shift2: it calls fixed_mid(), which calls leaf(): likewise one frame up.
 */
typedef void (*step_fn)(unsigned, size_t);
static void step(unsigned d, size_t n);
static step_fn volatile chain_fns[2] = {NULL, step}; /* [0]: the bottom function */
static __thread uintptr_t step_frame[2];            /* calibration: S */

NOINLINE static void step(unsigned d, size_t n)
{
    volatile char pad[16];
    pad[0] = 0;
    if (d < 2) step_frame[d] = (uintptr_t)&pad[0];
    chain_fns[d != 0](d - 1, n);
    vsink += (unsigned)pad[0];
}

NOINLINE static void bottom_malloc(unsigned d, size_t n)
{
    (void)d;
    char *buf = alloca(vla_bytes + 1);
    buf[vla_bytes] = 1;
    sink = malloc(n);
    free(sink);
    vsink += (unsigned)buf[vla_bytes];
}

NOINLINE static void bottom_leaf(unsigned d, size_t n)
{
    (void)d;
    char *buf = alloca(vla_bytes + 1);
    buf[vla_bytes] = 1;
    leaf(n);
    vsink += (unsigned)buf[vla_bytes];
}

NOINLINE static void fixed_mid(size_t n)
{
    volatile char pad[16];
    pad[0] = 0;
    leaf(n);
    vsink += (unsigned)pad[0];
}

NOINLINE static void bottom_mid(unsigned d, size_t n)
{
    (void)d;
    char *buf = alloca(vla_bytes + 1);
    buf[vla_bytes] = 1;
    fixed_mid(n);
    vsink += (unsigned)buf[vla_bytes];
}

static void run_shifted(step_fn bottom, enum kind k)
{
    chain_fns[0] = bottom;
    vla_bytes = 0;
    step(1, 0 + base + 64); /* calibration (size 64: not a path of its own) */
    unsigned frame = (unsigned)(step_frame[1] - step_frame[0]);
    for (unsigned d = 1; d < MAX_DEPTH; d++)
        for (unsigned v = 0; v < 12; v++)
            for (unsigned j = 0; j < three; j++) { /* one call site for all */
                unsigned second = j == 2;        /* call 1 twice: the cache fills */
                vla_bytes = 16 * v + second * frame;
                step(d + 1 - second, size_of(k, d * 24 + 2 * v + second));
            }
}

static void run_deep(void)
{
    static const unsigned depths[] = {30, 31, 32, 33, 40, 60, 33, 32};
    for (unsigned i = 0; i < sizeof depths / sizeof depths[0]; i++)
        recurse(depths[i], size_of(K_DEEP, i), twins[i % 4]);
}

/* ---- signal handlers that allocate (main thread) ---- */

static void on_signal(int sig)
{
    leaf(size_of(K_SIGNAL, (unsigned)sig));
}

NOINLINE static void raise_usr1(size_t n)
{
    (void)n;
    raise(SIGUSR1); /* handler on the sigaltstack */
}

NOINLINE static void raise_usr2(size_t n)
{
    (void)n;
    raise(SIGUSR2); /* handler on this stack */
}

static void run_signals(void)
{
    static char altstack[64 << 10];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaltstack(&ss, NULL);
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_flags = 0;
    sigaction(SIGUSR2, &sa, NULL);
    for (unsigned d = 0; d < 4; d++)
        for (unsigned rep = 0; rep < reps; rep++) {
            recurse(d, 0, raise_usr1);
            recurse(d, 0, raise_usr2);
        }
}

/* ---- a coroutine on a stack from malloc (main thread) ---- */

static ucontext_t main_ctx, co_ctx;

static void co_body(void)
{
    for (unsigned i = 0; i < 8; i++) {
        recurse(i % 3, size_of(K_COROUTINE, i), twins[i % 4]);
        swapcontext(&co_ctx, &main_ctx);
    }
}

static void run_coroutine(void)
{
    size_t bytes = 256 << 10;
    void *stack = malloc(bytes);
    if (!stack || getcontext(&co_ctx) != 0) exit(3);
    co_ctx.uc_stack.ss_sp = stack;
    co_ctx.uc_stack.ss_size = bytes;
    co_ctx.uc_link = &main_ctx;
    makecontext(&co_ctx, co_body, 0);
    for (unsigned i = 0; i < 9; i++) swapcontext(&main_ctx, &co_ctx);
    free(stack);
}

static unsigned rounds = 3;

static void *workload(void *arg)
{
    base = (size_t)(uintptr_t)arg * 2048;
    for (unsigned r = 0; r < rounds; r++) {
        run_twins();
        run_vlas(vla_leaf, K_VLA_LEAF);
        run_vlas(vla_mid, K_VLA_MID);
        run_deep();
        run_shifted(bottom_malloc, K_SHIFT0);
        run_shifted(bottom_leaf, K_SHIFT1);
        run_shifted(bottom_mid, K_SHIFT2);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) rounds = (unsigned)atoi(argv[1]);
    workload((void *)0);
    run_signals();
    run_coroutine();
    for (uintptr_t i = 1; i < THREADS; i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, workload, (void *)i) != 0) return 3;
        pthread_join(th, NULL);
    }
    pid_t pid = fork();
    if (pid == 0) {
        workload((void *)0);
        exit(0);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) return 4;
    printf("done rounds=%u vsink=%u\n", rounds, vsink);
    return 0;
}
