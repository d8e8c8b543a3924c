/* preload/caller_cache.c - the stack of the current call (tmk_stack_id):
 * the CFI unwinder's walk (cfi.c, the default), or the per-thread caller
 * cache in front (libunwind unwinder, x86-64); else a plain unwind
 * (unwind.h); then interning (intern.h). A cache entry keyed by
 * the exported function's caller (TMK_CALLER_SET) keeps the stack id and the
 * stack words the unwind depended on; a hit re-reads those words. Why a hit
 * is the stack libunwind would find, the cases it cannot tell apart, and
 * when entries are dropped: docs/architecture.md, "Inside the shim".
 */
#include <string.h>

#include "intern.h"
#include "tidemark/trace_path.h"
#include "cfi.h"
#include "unwind.h"

_Static_assert(TMK_FRAMES_SCRATCH == TMK_DEPTH_MAX + TMK_CAPTURE_SLACK, "thread.h's frames");

/* Unwinds with unw_backtrace (or the fp walk) and interns; *hash gets the
 * frames' hash (0: no frames). Inlined: a frame of its own would be one more
 * frame for libunwind to unwind (~80 instructions on W1). */
static inline __attribute__((always_inline)) uint32_t stack_id_plain(struct tmk_thread *t,
                                                                     uint64_t *hash)
{
    *hash = 0;
    uintptr_t *raw = t->frames;
    int skip, n = tmk_capture_program(t, raw, &skip);
    if (n <= 0) return 0;
    *hash = tmk_hash_frames(raw + skip, n);
    return tmk_id_of_frames(t, raw + skip, n, *hash);
}

/* The CFI unwinder's stack (cfi.c): the memo's id, else the walk's frames
 * interned (and memoized), or libunwind's when a frame needs it.
 * TIDEMARK_UNWIND_VERIFY: every stack is walked and compared with
 * libunwind's, and a memo id with the walk's. */
static TMK_NOINLINE uint32_t stack_id_cfi_walk(struct tmk_thread *t, uint32_t memo)
{
    /* On the stack, not in t->frames: cfi.c's walk reads up to RBP_BELOW
     * bytes below CFA0 unchecked, and relies on this frame to hold them. */
    uintptr_t f[TMK_DEPTH_MAX];
    uint64_t h;
    int n = tmk_cfi_stack(t, f, (int)tmk_opt.depth, &h);
    if (TMK_UNLIKELY(tmk_opt.unwind_verify)) {
        tmk_cfi_verify_count(n >= 0, memo != 0);
        if (n >= 0) tmk_cfi_verify(t, f, n);
    }
    if (TMK_UNLIKELY(n < 0)) return stack_id_plain(t, &h);
    if (n == 0) return 0;
    uint32_t id = tmk_id_of_frames(t, f, n, h);
    if (TMK_UNLIKELY(memo)) tmk_cfi_verify_memo(memo, id);
    if (id && id != memo) tmk_cfi_memo_fill(t, f, n, h, id);
    return id;
}

/* The memo's hit is the common case: no frame of its own (the walk's
 * frames array is in stack_id_cfi_walk's). */
static inline __attribute__((always_inline)) uint32_t stack_id_cfi(struct tmk_thread *t)
{
    uint32_t memo = tmk_cfi_memo_find(t);
    if (TMK_LIKELY(memo) && !tmk_opt.unwind_verify) return memo;
    return stack_id_cfi_walk(t, memo);
}

/* ---- the caller cache ------------------------------------------------------ */

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
    uint64_t hash;          /* tmk_hash_frames of the stack unw_backtrace found for the key */
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
    uintptr_t sp = tmk_stack_pointer();
    if (sp < t->stack_lo || c->cfa <= sp || c->cfa >= t->stack_hi || tmk_in_self(c->ra)) return NULL;
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
 * kept frames, or -1 when more than TMK_CAPTURE_SLACK leading frames were the
 * shim's (nothing is cached then). */
__attribute__((noinline)) static int unwind_steps(struct walk *w, uintptr_t *f)
{
    unw_context_t uc;
    unw_cursor_t cur;
    int n = 0, own = 0, ret = -1, depth = (int)tmk_opt.depth;
    w->own_lo = tmk_stack_pointer();
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
        if (n == 0 && tmk_in_self(ip)) {
            if (++own > TMK_CAPTURE_SLACK) return -1;
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
    struct tmk_unw_bracket b;
    tmk_unw_enter(t, &b);
    int n = unwind_steps(&w, f);
    tmk_unw_leave(t, &b);
    if (n <= 0 || !w.ok || tmk_hash_frames(f, n) != h) return 0;
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

/* The libunwind unwinder's stack, through the caller cache. Out of line:
 * its frame (the unwind's array) is not the CFI memo's hit's; libunwind
 * steps through it on a miss (a shim frame, skipped). */
static TMK_NOINLINE uint32_t stack_id_cached(struct tmk_thread *t)
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

uint32_t tmk_stack_id(struct tmk_thread *t)
{
    tmk_thread_bounds_due(t);
    tmk_stacks_sync(t);
    if (TMK_LIKELY(tmk_opt.unwinder == TMK_UNWIND_CFI)) return stack_id_cfi(t);
    return stack_id_cached(t);
}

/* The counts are the process's own. */
void tmk_caller_cache_after_fork_child(void)
{
    stat_lookups = stat_hits = stat_fills = stat_plain = 0;
}

void tmk_caller_cache_report(void)
{
    tmk_cfi_report();
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

void tmk_caller_cache_thread_reset(struct tmk_thread *t)
{
    tmk_intern_thread_reset(t);
    tmk_cfi_thread_reset(t);
    struct tmk_caller_cache *cc = t->callers;
    if (!cc) return;
    cc_next_stamp(cc);
    cc->lookups = cc->hits = cc->bypass = 0;
}

#else /* no caller cache off x86-64 */

uint32_t tmk_stack_id(struct tmk_thread *t)
{
    tmk_thread_bounds_due(t);
    tmk_stacks_sync(t);
    uint64_t h;
    return stack_id_plain(t, &h);
}
void tmk_caller_cache_thread_reset(struct tmk_thread *t) { tmk_intern_thread_reset(t); }
void tmk_caller_cache_report(void) { tmk_cfi_report(); }
void tmk_caller_cache_after_fork_child(void) {}

#endif
