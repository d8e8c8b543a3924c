/* preload/stacks.c - call stacks: unwinding, the caller cache, interning.
 *
 * Unwinding: libunwind's unw_backtrace (default) or a frame-pointer walk
 * (TIDEMARK_UNWIND=fp; stops at the first frame that does not look like one).
 * Leading frames inside the shim are dropped, then at most tmk_opt.depth
 * frames are kept, innermost first.
 *
 * Every libunwind call runs with in_unwind set (libunwind then validates
 * memory without a descriptor: unwind_nofd.c), cancellation disabled and
 * errno put back.
 *
 * The caller cache (libunwind unwinder, x86-64; TIDEMARK_STACK_CACHE=0 turns
 * it off). Most allocations come from the same call chain at the same stack
 * position again and again. Each exported entry point says who called it
 * (TMK_CALLER_SET: RA0 = its return address, CFA0 = the caller's %rsp after
 * the return, RBP0 = the caller's %rbp). A per-thread direct-mapped cache
 * keyed by (RA0, CFA0) keeps the stack id and the words the unwind depended
 * on: each stack slot libunwind loaded a kept frame's %rip, %rbp or %rsp
 * from (unw_get_save_loc), with the value it found. A lookup re-reads those
 * words; all equal -> the cached id, without unwinding or hashing. A miss
 * takes the plain path (unw_backtrace, intern) and notes the stack's hash
 * in the entry; when the same key comes back with the same stack, a second
 * unwind with libunwind's step API learns the slots, and the entry becomes
 * valid only if that walk found the very frames unw_backtrace did. So a
 * cached id is always unw_backtrace's, and a stack met once costs what it
 * cost before (the step API is several times slower than unw_backtrace).
 *
 * Why a hit is the stack libunwind would find: the CFI rule of a frame is
 * fixed by its code address: CFA = %rsp + K or %rbp + K, saved registers at
 * fixed offsets from the CFA. Frame 0 (the caller) has %rip = RA0 and %rsp =
 * CFA0, both in the key. If frame k's %rip, %rsp and %rbp are as they were,
 * so is its CFA, so its caller's %rip and %rbp come from the recorded slots,
 * whose values are re-checked; the caller's %rsp is that CFA. The one input
 * not in memory is RBP0 itself: when a CFA or a slot found while %rbp still
 * held RBP0 lies just above RBP0 (frame-pointer code: frame 0's CFA is
 * %rbp + 16), or libunwind had to guess a frame (no CFI: its frame-chain
 * heuristics look at %rbp) while %rbp held RBP0, the entry also requires
 * RBP0 to match. The end of the stack is fixed too: the outermost frame's
 * CFI says "no return address" (fixed by its code address), a zero return
 * address was read from a recorded slot, or the depth limit was reached.
 *
 * Remaining hole (TIDEMARK_STACK_CACHE=0 is the escape hatch): a CFA that
 * the CFI computes from memory libunwind does not report as a save slot, a
 * DWARF expression that dereferences (gcc's stack-realignment prologue: main
 * with -mstackrealign, or a function with over-aligned locals: CFA =
 * *(%rbp - 8)), or from a register other than %rsp and %rbp, or from %rbp
 * plus more than RBP_NEAR (hand-written assembly; compilers use %rbp + 16).
 * Two calls with the same key and the same re-read words whose
 * stacks differ only through such a word would get one id. Also: code
 * replaced at the same address without a dlclose (a JIT reusing its code
 * memory with registered unwind info), and a dlclose on another thread
 * racing a lookup in the moment between the unmapping and the generation
 * bump right after the real dlclose returns.
 *
 * Safety of the re-reads: the cache is used only when CFA0 lies in this
 * thread's stack (pthread_getattr_np bounds) above the current stack
 * pointer, and an entry keeps only words in [CFA0, stack top): memory that
 * is mapped while this call runs. On another stack (a sigaltstack handler,
 * makecontext coroutines, split stacks) the plain unw_backtrace path runs.
 *
 * Invalidation: an entry holds the cache's stamp at its fill; the stamp
 * moves when tmk_modules_gen does (modules.c scans, dlclose below) and when
 * the thread state is reset (a new thread, a forked child: stack ids
 * restart in the child's file).
 *
 * Adaptive: a fill costs a plain unwind plus the step walk (see
 * bench/NOTES-shim.md). A thread that hit less than 1 in 4 of its last
 * CC_WINDOW lookups unwinds the next CC_BYPASS stacks plainly, without
 * looking at the cache, then tries it again.
 *
 * Interning: each distinct stack gets a process-wide id (1-based) and one
 * STACK record, written by the thread that first met it. The global table
 * (uthash over the frame bytes, memory from arena.c) is behind a mutex; a
 * per-thread direct-mapped cache from the stack's 64-bit hash to its id keeps
 * the mutex off the common path. Two different stacks with the same 64-bit
 * hash would share an id through the cache; with n distinct stacks the odds
 * are about n^2 / 2^65.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "tidemark/trace_path.h"

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) tmk_arena_alloc(sz)
#define uthash_free(ptr, sz) tmk_arena_free(ptr)
#include <uthash.h>

#define CAPTURE_SLACK 8 /* room for the shim's own frames */

struct stack_entry {
    UT_hash_handle hh;
    uint32_t id;
    uint32_t depth;
    uintptr_t frames[];
};

static pthread_mutex_t stacks_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct stack_entry *stacks;
static uint32_t next_stack_id = 1;

void tmk_stacks_lock(void) { pthread_mutex_lock(&stacks_mutex); }
void tmk_stacks_unlock(void) { pthread_mutex_unlock(&stacks_mutex); }

void tmk_stacks_init(void)
{
    tmk_modules_find_self();
    /* libunwind's global cache is behind a mutex taken in every dwarf step.
     * The per-thread cache would take none, but libunwind builds without
     * __thread support (Debian's 1.6.2) quietly make it the global one: the
     * fork handshake at unw_enter is what keeps a child from inheriting
     * that mutex locked. Setting the policy initializes libunwind, which
     * makes its validation pipe: in_unwind gives it no descriptor, as in an
     * unwind (unwind_nofd.c). */
    int saved = errno;
    tmk_unwind_nofd_init();
    tmk_tls.in_unwind = 1;
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    tmk_tls.in_unwind = 0;
    errno = saved;
}

static int in_self(uintptr_t pc)
{
    return pc >= tmk_self_start && pc < tmk_self_end;
}

/* Walks saved frame pointers from here. Each frame is [saved fp, return
 * address]; a frame is accepted only if it lies above the previous one
 * within this thread's stack and is 16-byte aligned. */
__attribute__((noinline)) static int unwind_fp(struct tmk_thread *t, uintptr_t *out, int max)
{
    uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t lo = t->stack_lo, hi = t->stack_hi;
    int n = 0;
    while (n < max) {
        uintptr_t f = (uintptr_t)fp;
        if (f < lo || f + 16 > hi || (f & 15)) break;
        uintptr_t ret = fp[1];
        if (ret < 4096) break;
        out[n++] = ret;
        uintptr_t *next = (uintptr_t *)fp[0];
        if ((uintptr_t)next <= f) break;
        fp = next;
    }
    return n;
}

/* Around every libunwind call. The guard stays TMK_GUARD_SHIM: what libunwind allocates
 * on a thread's first use (its per-thread cache key) comes from sigalloc.c
 * like a handler's, and a handler interrupting the unwind is told apart from
 * libunwind. libunwind's validation reads and writes its pipe: cancellation
 * points that must not end the program's thread inside malloc. libunwind's
 * first use in a process leaves errno = EAGAIN: the program's errno is put
 * back.
 *
 * Fork: every dwarf step (unw_backtrace meeting a new address, each step of
 * the caller cache's walk) takes libunwind's global cache mutex, and a child
 * forked while another thread held it hung in its first unwind. Handshake
 * (seq_cst, so that one side sees the other): a thread sets in_libunwind,
 * then looks at fork_waiting; the fork prepare handler sets fork_waiting,
 * then waits for every other thread's in_libunwind to drop. */
static int fork_waiting;

struct unw_bracket {
    int saved_errno, cancel;
};

static void unw_enter(struct tmk_thread *t, struct unw_bracket *b)
{
    b->saved_errno = errno;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &b->cancel);
    tmk_tls.in_unwind = 1;
    for (;;) {
        __atomic_store_n(&t->in_libunwind, 1, __ATOMIC_SEQ_CST);
        if (TMK_LIKELY(!__atomic_load_n(&fork_waiting, __ATOMIC_SEQ_CST))) break;
        __atomic_store_n(&t->in_libunwind, 0, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&fork_waiting, __ATOMIC_ACQUIRE)) sched_yield();
    }
}

static void unw_leave(struct tmk_thread *t, const struct unw_bracket *b)
{
    __atomic_store_n(&t->in_libunwind, 0, __ATOMIC_RELEASE);
    tmk_tls.in_unwind = 0;
    pthread_setcancelstate(b->cancel, NULL);
    errno = b->saved_errno;
}

void tmk_stacks_before_fork(void)
{
    __atomic_store_n(&fork_waiting, 1, __ATOMIC_SEQ_CST);
    tmk_threads_wait_unwinds();
}

void tmk_stacks_after_fork_parent(void)
{
    __atomic_store_n(&fork_waiting, 0, __ATOMIC_RELEASE);
}

static inline __attribute__((always_inline)) int capture(struct tmk_thread *t, uintptr_t *out,
                                                          int max)
{
    if (tmk_opt.unwinder == TMK_UNWIND_FP) return unwind_fp(t, out, max);
    struct unw_bracket b;
    unw_enter(t, &b);
    int n = unw_backtrace((void **)out, max);
    unw_leave(t, &b);
    return n < 0 ? 0 : n;
}

/* ---- the real functions behind the shim's hooks -------------------------- */

void *tmk_next_fn(void **cache, const char *name)
{
    void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!f) {
        enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL); /* dlsym may allocate */
        f = dlsym(RTLD_NEXT, name);
        tmk_tls.guard = guard;
        __atomic_store_n(cache, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* The caller cache keys on code addresses: once an object is unloaded, other
 * code may come to the same addresses. The generation moves as soon as the
 * real dlclose returns (modules.c's scans move it too, later). */
TMK_EXPORT int dlclose(void *handle)
{
    static void *real;
    int (*f)(void *) = (int (*)(void *))tmk_next_fn(&real, "dlclose");
    if (!f) return -1;
    int rc = f(handle);
    __atomic_add_fetch(&tmk_modules_gen, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static uint64_t hash_frames(const uintptr_t *f, int n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    for (int i = 0; i < n; i++) {
        h ^= f[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static void put_stack_record(struct tmk_thread *t, uint32_t id, const uintptr_t *f, int n)
{
    uint8_t *p = tmk_reserve(t, 16 + (size_t)n * TMK_VARINT_MAX);
    *p++ = TMK_REC_STACK;
    p = tmk_put_u(p, id);
    p = tmk_put_u(p, (uint64_t)n);
    uintptr_t prev = 0;
    for (int i = 0; i < n; i++) {
        p = tmk_put_s(p, (int64_t)(f[i] - prev));
        prev = f[i];
    }
    tmk_publish(t, p);
}

/* Slow path: find or add the stack in the global table. */
static uint32_t intern(struct tmk_thread *t, const uintptr_t *f, int n)
{
    struct stack_entry *e;
    size_t key_len = (size_t)n * sizeof(uintptr_t);
    uint32_t id = 0;
    pthread_mutex_lock(&stacks_mutex);
    HASH_FIND(hh, stacks, f, key_len, e);
    if (e) {
        id = e->id;
    } else if ((e = tmk_arena_alloc(sizeof *e + key_len)) != NULL) {
        e->id = next_stack_id++;
        e->depth = (uint32_t)n;
        memcpy(e->frames, f, key_len);
        HASH_ADD_KEYPTR(hh, stacks, e->frames, key_len, e);
        id = e->id;
        put_stack_record(t, id, f, n);
    }
    pthread_mutex_unlock(&stacks_mutex);
    return id;
}

/* The id of frames f[0, n), n > 0, whose hash_frames is h: the thread's
 * hash cache, else the global table (after a module check, so that a new
 * object's MODULE comes first). */
static inline __attribute__((always_inline)) uint32_t id_of_frames(struct tmk_thread *t,
                                                                   const uintptr_t *f, int n,
                                                                   uint64_t h)
{
    struct tmk_stack_cache_entry *c = &t->cache[h & (TMK_STACK_CACHE - 1)];
    if (TMK_LIKELY(c->hash == h)) return c->id;
    tmk_modules_scan_if_changed(t);
    uint32_t id = intern(t, f, n);
    if (id) {
        c->hash = h;
        c->id = id;
    }
    return id;
}

/* Unwinds with unw_backtrace (or the fp walk) and interns; *hash gets the
 * frames' hash (0: no frames). Inlined: a frame of its own would be one more
 * frame for libunwind to unwind (~80 instructions on W1). */
static inline __attribute__((always_inline)) uint32_t stack_id_plain(struct tmk_thread *t,
                                                                     uint64_t *hash)
{
    *hash = 0;
    uintptr_t raw[TMK_DEPTH_MAX + CAPTURE_SLACK];
    int n = capture(t, raw, (int)tmk_opt.depth + CAPTURE_SLACK);
    int skip = 0;
    while (skip < n && in_self(raw[skip])) skip++;
    n -= skip;
    if (n > (int)tmk_opt.depth) n = (int)tmk_opt.depth;
    if (n <= 0) return 0;
    *hash = hash_frames(raw + skip, n);
    return id_of_frames(t, raw + skip, n, *hash);
}

/* ---- the caller cache (see the top of the file) ---------------------------- */

#if defined(__x86_64__)

#define CC_BITS 8
#define CC_ENTRIES (1u << CC_BITS)  /* per thread, direct-mapped on (RA0, CFA0) */
#define CC_WORDS 64                 /* words an entry re-reads: %rip + %rbp of 32 frames */
#define CC_WINDOW 4096u             /* lookups per hit-rate window */
#define CC_BYPASS (16u * CC_WINDOW) /* stacks unwound plainly after a poor window */
#define RBP_NEAR 4096u              /* how far above RBP0 a CFA or slot may come from it */

struct cc_entry {
    uintptr_t ra, cfa;      /* the key */
    uintptr_t rbp;          /* RBP0, compared when need_rbp */
    uint64_t hash;          /* hash_frames of the stack unw_backtrace found for the key */
    uint32_t stamp;         /* the cache's stamp at the fill; another: not valid */
    uint32_t seen;          /* the stamp when (ra, cfa, hash) was met here, not yet filled */
    uint32_t id;
    uint32_t nwords;
    uint32_t need_rbp;
    uint32_t off[CC_WORDS]; /* word address - cfa; each word lies in [cfa, stack top) */
    uintptr_t val[CC_WORDS];
};

struct tmk_caller_cache {
    uint32_t stamp;         /* never 0 */
    uint32_t gen;           /* tmk_modules_gen when the stamp was taken */
    uint32_t lookups, hits; /* in the current window */
    uint32_t bypass;        /* stacks still to unwind without the cache */
    struct cc_entry e[CC_ENTRIES];
};

/* TIDEMARK_STACK_CACHE=2: counts for tests and tuning, one line at the end */
static uint64_t stat_lookups, stat_hits, stat_fills, stat_plain;
#define STAT(x)                                                                               \
    do {                                                                                      \
        if (TMK_UNLIKELY(tmk_opt.stack_cache == 2)) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED); \
    } while (0)

static uintptr_t stack_pointer(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    return sp;
}

static uintptr_t load_word(uintptr_t a)
{
    uintptr_t v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}

/* Every entry made so far becomes empty. */
static void cc_next_stamp(struct tmk_caller_cache *cc)
{
    if (++cc->stamp == 0) {
        memset(cc->e, 0, sizeof cc->e);
        cc->stamp = 1;
    }
}

static struct tmk_caller_cache *cc_new(void)
{
    static int failed;
    if (failed) return NULL;
    int saved = errno;
    struct tmk_caller_cache *cc = tmk_arena_alloc(sizeof *cc); /* its own mapping, zeroed */
    errno = saved;
    if (!cc) {
        failed = 1;
        return NULL;
    }
    cc->stamp = 1;
    cc->gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    return cc;
}

/* The thread's cache if this call may use it, else NULL (the plain path).
 * Safety rule: CFA0 lies in this thread's stack, above the stack pointer,
 * so the words an entry keeps ([CFA0, stack top)) are mapped now. */
static struct tmk_caller_cache *cc_for(struct tmk_thread *t, const struct tmk_caller *c)
{
    if (!tmk_opt.stack_cache || tmk_opt.unwinder != TMK_UNWIND_LIBUNWIND || !c->ra) return NULL;
    uintptr_t sp = stack_pointer();
    if (sp < t->stack_lo || c->cfa <= sp || c->cfa >= t->stack_hi || in_self(c->ra)) return NULL;
    struct tmk_caller_cache *cc = t->callers;
    if (TMK_UNLIKELY(!cc) && !(cc = t->callers = cc_new())) return NULL;
    if (cc->bypass) {
        cc->bypass--;
        return NULL;
    }
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    if (TMK_UNLIKELY(gen != cc->gen)) {
        cc->gen = gen;
        cc_next_stamp(cc);
    }
    return cc;
}

static struct cc_entry *cc_slot(struct tmk_caller_cache *cc, const struct tmk_caller *c)
{
    uint64_t h = ((uint64_t)c->ra ^ ((uint64_t)c->cfa << 16)) * 0x9E3779B97F4A7C15ull;
    return &cc->e[h >> (64 - CC_BITS)];
}

/* A hit: same key, same RBP0 where it matters, every kept word unchanged. */
static int cc_valid(const struct cc_entry *e, const struct tmk_caller *c, uint32_t stamp)
{
    if (e->stamp != stamp || e->ra != c->ra || e->cfa != c->cfa) return 0;
    if (e->need_rbp && e->rbp != c->rbp) return 0;
    for (uint32_t i = 0; i < e->nwords; i++)
        if (load_word(c->cfa + e->off[i]) != e->val[i]) return 0;
    return 1;
}

/* Adaptive: a window with fewer than 1 hit in 4 sends the thread to the
 * plain path for CC_BYPASS stacks. */
static void cc_count(struct tmk_caller_cache *cc, int hit)
{
    cc->hits += (uint32_t)hit;
    if (++cc->lookups < CC_WINDOW) return;
    if (cc->hits < CC_WINDOW / 4) cc->bypass = CC_BYPASS;
    cc->lookups = cc->hits = 0;
}

/* ---- a miss: the step walk that learns what the stack depends on ---- */

enum slot { SLOT_NONE, SLOT_OWN, SLOT_STACK, SLOT_ELSE };
enum { R_RIP, R_RBP, R_RSP };

struct walk {
    const struct tmk_caller *c;
    struct cc_entry *e;   /* words go to e->off/val */
    uintptr_t own_lo, hi; /* [own_lo, CFA0): the shim's frames; [CFA0, hi): the program's */
    uintptr_t last[3];    /* last slot kept per register (R_*) */
    int ok;               /* the result may be cached */
    int rbp0;             /* the current frame's %rbp is still RBP0 */
    int need_rbp;
};

/* Where libunwind got register reg of the cursor's frame from. */
static enum slot slot_of(const struct walk *w, unw_cursor_t *cur, int reg, uintptr_t *addr)
{
    unw_save_loc_t loc;
    if (unw_get_save_loc(cur, reg, &loc) < 0) return SLOT_ELSE;
    if (loc.type == UNW_SLT_NONE) return SLOT_NONE;
    if (loc.type != UNW_SLT_MEMORY) return SLOT_ELSE;
    *addr = loc.u.addr;
    if (*addr >= w->c->cfa && *addr <= w->hi - sizeof(uintptr_t)) return SLOT_STACK;
    if (*addr >= w->own_lo && *addr < w->c->cfa) return SLOT_OWN;
    return SLOT_ELSE;
}

/* A CFA or slot that a step made while %rbp was RBP0 may have computed
 * from it when it lies just above it: then RBP0 is part of the key. */
static void near_rbp0(struct walk *w, uintptr_t x)
{
    if (x - w->c->rbp < RBP_NEAR) w->need_rbp = 1;
}

/* Keeps the word at addr (in [CFA0, stack top)) with its value. */
static void keep_word(struct walk *w, uintptr_t addr)
{
    struct cc_entry *e = w->e;
    if (e->nwords == CC_WORDS || addr - w->c->cfa > UINT32_MAX) {
        w->ok = 0;
        return;
    }
    e->off[e->nwords] = (uint32_t)(addr - w->c->cfa);
    e->val[e->nwords++] = load_word(addr);
}

/* Register r of the cursor's frame, reached by a step made while %rbp was
 * RBP0 (from_rbp0); k is the kept frame's index, -1 after the last step.
 * A new stack slot is kept. A slot in the shim's frames or libunwind's
 * context is right only for frame 0's %rip (RA0, in the key), for %rbp while
 * it is RBP0, and for %rsp (libunwind keeps the CFA apart). */
static void note_slot(struct walk *w, unw_cursor_t *cur, int r, int k, int from_rbp0)
{
    static const int regs[3] = {UNW_X86_64_RIP, UNW_X86_64_RBP, UNW_X86_64_RSP};
    uintptr_t addr = 0;
    switch (slot_of(w, cur, regs[r], &addr)) {
    case SLOT_STACK:
        if (addr != w->last[r]) {
            if (from_rbp0) near_rbp0(w, addr);
            keep_word(w, addr);
            w->last[r] = addr;
        }
        if (r == R_RBP) w->rbp0 = 0;
        break;
    case SLOT_OWN:
        if ((r == R_RIP && k != 0) || (r == R_RBP && !w->rbp0)) w->ok = 0;
        break;
    case SLOT_NONE: /* %rip: the end (k == -1); %rbp: undefined, not RBP0 */
        if (r == R_RIP && k >= 0) w->ok = 0;
        if (r == R_RBP) w->rbp0 = 0;
        break;
    case SLOT_ELSE:
        w->ok = 0;
        break;
    }
}

/* After a step: the cursor's frame is kept frame k (or k == -1: the step
 * that ended the stack). */
static void walk_step(struct walk *w, unw_cursor_t *cur, int k, uintptr_t ip)
{
    int from_rbp0 = k != 0 && w->rbp0;
    unw_word_t sp;
    if (unw_get_reg(cur, UNW_REG_SP, &sp) < 0) w->ok = 0;
    if (k == 0) {
        /* frame 0 is the caller the entry point saw, or nothing is cached */
        unw_word_t rbp;
        if (ip != w->c->ra || sp != w->c->cfa || unw_get_reg(cur, UNW_X86_64_RBP, &rbp) < 0 ||
            rbp != w->c->rbp)
            w->ok = 0;
        w->rbp0 = 1;
    }
    if (from_rbp0) {
        near_rbp0(w, sp); /* the previous frame's CFA */
        /* libunwind's guess for a frame without CFI marks every register but
         * %rip, %rsp, %rbp unsaved; its decisions there look at %rbp */
        unw_save_loc_t rbx;
        if (unw_get_save_loc(cur, UNW_X86_64_RBX, &rbx) < 0 || rbx.type == UNW_SLT_NONE)
            w->need_rbp = 1;
    }
    note_slot(w, cur, R_RIP, k, from_rbp0);
    note_slot(w, cur, R_RBP, k, from_rbp0);
    note_slot(w, cur, R_RSP, k, from_rbp0);
}

/* Unwinds with the step API into f, with the frames unw_backtrace and the
 * leading-frame drop give, noting what they depend on in w. Returns the
 * kept frames, or -1 when more than CAPTURE_SLACK leading frames were the
 * shim's (nothing is cached then). */
__attribute__((noinline)) static int unwind_steps(struct walk *w, uintptr_t *f)
{
    unw_context_t uc;
    unw_cursor_t cur;
    int n = 0, own = 0, ret = -1, depth = (int)tmk_opt.depth;
    w->own_lo = stack_pointer();
    if (unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0) {
        w->ok = 0;
        return 0;
    }
    while (n < depth && (ret = unw_step(&cur)) > 0) {
        unw_word_t ip;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0) {
            ret = -1;
            break;
        }
        if (n == 0 && in_self(ip)) {
            if (++own > CAPTURE_SLACK) return -1;
            continue;
        }
        walk_step(w, &cur, n, ip);
        f[n++] = ip;
    }
    if (n < depth) {
        if (ret == 0 && n > 0)
            walk_step(w, &cur, -1, 0);
        else
            w->ok = 0;
    }
    return n;
}

/* The step walk for an entry: fills e with the words the stack depends on.
 * 1 when e may be used for hits: the walk allowed it and found the frames
 * unw_backtrace found (their hash h). */
static int cc_fill(struct tmk_thread *t, const struct tmk_caller *c, struct cc_entry *e,
                   uint64_t h)
{
    uintptr_t f[TMK_DEPTH_MAX];
    struct walk w = {.c = c, .e = e, .hi = t->stack_hi, .ok = 1};
    e->nwords = 0;
    struct unw_bracket b;
    unw_enter(t, &b);
    int n = unwind_steps(&w, f);
    unw_leave(t, &b);
    if (n <= 0 || !w.ok || hash_frames(f, n) != h) return 0;
    e->rbp = c->rbp;
    e->need_rbp = (uint32_t)w.need_rbp;
    return 1;
}

/* A miss: the plain unwind gives the id. The step walk costs several plain
 * unwinds (~1,000 instructions a frame against ~200 for unw_backtrace's
 * trace cache), so it runs only for a stack met at this key once before:
 * a first sighting just leaves (key, hash) in the entry. */
static inline __attribute__((always_inline)) uint32_t cc_miss(struct tmk_thread *t,
                                                              const struct tmk_caller *c,
                                                              struct cc_entry *e, uint32_t stamp)
{
    uint64_t h;
    uint32_t id = stack_id_plain(t, &h);
    if (!id) return 0;
    int again = e->seen == stamp && e->ra == c->ra && e->cfa == c->cfa && e->hash == h;
    e->stamp = 0; /* not valid while it is rewritten */
    e->ra = c->ra;
    e->cfa = c->cfa;
    e->hash = h;
    e->id = id;
    e->seen = stamp;
    if (again && cc_fill(t, c, e, h)) {
        STAT(stat_fills);
        e->stamp = stamp;
    }
    return id;
}

uint32_t tmk_stack_id(struct tmk_thread *t)
{
    struct tmk_caller c = tmk_tls.caller;
    struct tmk_caller_cache *cc = cc_for(t, &c);
    if (!cc) {
        STAT(stat_plain);
        uint64_t h;
        return stack_id_plain(t, &h);
    }
    struct cc_entry *e = cc_slot(cc, &c);
    int hit = cc_valid(e, &c, cc->stamp);
    cc_count(cc, hit);
    STAT(stat_lookups);
    if (hit) {
        STAT(stat_hits);
        return e->id;
    }
    return cc_miss(t, &c, e, cc->stamp);
}

/* The counts are the process's own. */
static void stats_after_fork_child(void)
{
    stat_lookups = stat_hits = stat_fills = stat_plain = 0;
}

void tmk_stacks_report(void)
{
    if (tmk_opt.stack_cache != 2) return;
    const struct { const uint64_t *count; const char *label; } parts[] = {
        {&stat_lookups, " lookups, "}, {&stat_hits, " hits, "},
        {&stat_fills, " fills, "}, {&stat_plain, " plain"}};
    char line[160];
    size_t n = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        uint64_t v = __atomic_load_n(parts[i].count, __ATOMIC_RELAXED);
        n = tmk_path_append_u(line, n, sizeof line, v);
        n = tmk_path_append(line, n, sizeof line, parts[i].label);
    }
    tmk_warn("stack cache: ", line, NULL);
}

void tmk_stacks_thread_reset(struct tmk_thread *t)
{
    struct tmk_caller_cache *cc = t->callers;
    if (!cc) return;
    cc_next_stamp(cc);
    cc->lookups = cc->hits = cc->bypass = 0;
}

#else /* no caller cache off x86-64 */

uint32_t tmk_stack_id(struct tmk_thread *t)
{
    uint64_t h;
    return stack_id_plain(t, &h);
}
void tmk_stacks_thread_reset(struct tmk_thread *t) { (void)t; }
void tmk_stacks_report(void) {}
static void stats_after_fork_child(void) {}

#endif

/* The child's file starts with no stacks defined: forget them all. (The
 * forking thread's caller cache is emptied by its thread reset.) */
void tmk_stacks_after_fork_child(void)
{
    fork_waiting = 0;
    stats_after_fork_child();
    struct stack_entry *e, *tmp;
    pthread_mutex_init(&stacks_mutex, NULL);
    HASH_ITER(hh, stacks, e, tmp) {
        HASH_DEL(stacks, e);
        tmk_arena_free(e);
    }
    stacks = NULL;
    next_stack_id = 1;
}
