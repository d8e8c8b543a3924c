/* preload/cfi.c - the CFI unwinder (TIDEMARK_UNWIND=cfi, x86-64): the walk
 * from the caller of the exported entry point (tmk_tls.caller) by compiled
 * rules (cfi.h), the per-thread cache from return address to rule, the
 * registry of compiled modules, and TIDEMARK_UNWIND_VERIFY's comparison
 * with libunwind. docs/architecture.md, "The CFI unwinder", says why the
 * stacks are libunwind's.
 *
 * Locks: the registry is behind cfi_lock, a spinlock taken only for a few
 * instructions (a lookup) or inside dl_iterate_phdr's callback (a module's
 * compilation): the loader's lock always comes first, so a thread that
 * allocates while holding the loader's lock (a dlopen'ed constructor, a
 * program's own dl_iterate_phdr callback) never waits for one that waits
 * for it.
 */
#include <string.h>

#include "cfi.h"
#include "tidemark/trace_path.h"
#include "intern.h"
#include "unwind.h"

#if defined(__x86_64__)

#define CFI_MODULES_MAX 1024
#define CFI_CACHE_BITS 10
#define CFI_CACHE (1u << CFI_CACHE_BITS) /* per thread, direct-mapped on the return address */

struct cfi_module {
    uintptr_t start, end, bias;
    const void *phdr;
    struct tmk_cfi_rows rows;
    int seen;
};

static int cfi_lock;
static struct cfi_module mods[CFI_MODULES_MAX];
static int nmods;
static uint32_t mods_gen; /* tmk_modules_gen when the registry was last synced */
static int mods_synced;

/* A rule as the walk reads it: kind, CFA register and offsets unpacked. */
struct cfi_slot {
    uintptr_t ip;    /* a return address; 0: empty */
    int32_t cfa_off; /* CFA = (cfa_rbp ? %rbp : %rsp) + cfa_off; SLOT_END, SLOT_FALLBACK */
    int16_t rbp_off; /* caller's %rbp at CFA + rbp_off, in [-RBP_BELOW, -8]; 0: unchanged */
    uint8_t cfa_rbp;
};

#define SLOT_END (-1)
#define SLOT_FALLBACK (-2)
/* A saved %rbp lies at most this far below its CFA (cfi_compile.c). The
 * walk does not bound-check that read: the CFA is at least CFA0 + 8 and the
 * walk's own frames hold this many bytes below CFA0 (checked at its start),
 * so the word is mapped. */
#define RBP_BELOW 1024

struct tmk_cfi_cache {
    uint32_t gen; /* tmk_modules_gen when filled */
    struct cfi_slot e[CFI_CACHE];
};

/* ---- the registry ---- */

/* The rule for pc (lock held); *found = 0 when no registered module holds it. */
static uint32_t find_locked(uintptr_t pc, int *found)
{
    for (int i = 0; i < nmods; i++) {
        const struct cfi_module *m = &mods[i];
        if (pc >= m->start && pc < m->end) {
            *found = 1;
            return tmk_cfi_rows_find(&m->rows, pc - m->start);
        }
    }
    *found = 0;
    return TMK_CFI_FALLBACK;
}

/* One pass over the loaded objects: marks the registered ones still
 * there, compiles the one holding pc if it is new. cfi_lock is taken at the
 * first callback (the loader's lock held) and kept until the pass ends. */
struct pass {
    uintptr_t pc;
    int locked;
};

static int pass_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct pass *p = arg;
    (void)size;
    if (!p->locked) {
        tmk_spin_lock(&cfi_lock);
        p->locked = 1;
        for (int i = 0; i < nmods; i++) mods[i].seen = 0;
    }
    uintptr_t start, end;
    tmk_module_range(info, &start, &end);
    if (!end) return 0;
    for (int i = 0; i < nmods; i++) {
        struct cfi_module *m = &mods[i];
        if (m->start == start && m->end == end && m->bias == info->dlpi_addr &&
            m->phdr == info->dlpi_phdr) {
            m->seen = 1;
            return 0;
        }
    }
    if (p->pc < start || p->pc >= end || nmods == CFI_MODULES_MAX) return 0;
    struct cfi_module *m = &mods[nmods++];
    m->start = start;
    m->end = end;
    m->bias = info->dlpi_addr;
    m->phdr = info->dlpi_phdr;
    m->seen = 1;
    tmk_cfi_compile(info, start, end, &m->rows); /* rows NULL: it all falls back */
    return 0;
}

/* Drops the modules the pass did not see (unloaded); lock held. */
static void drop_unseen_locked(void)
{
    int k = 0;
    for (int i = 0; i < nmods; i++) {
        if (mods[i].seen)
            mods[k++] = mods[i];
        else
            tmk_arena_free(mods[i].rows.row);
    }
    nmods = k;
}

/* The rule for pc from the registry, compiling its module when new. */
static uint32_t rule_slow(uintptr_t pc)
{
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    int found = 0;
    tmk_spin_lock(&cfi_lock);
    uint32_t r = mods_synced && mods_gen == gen ? find_locked(pc, &found) : 0;
    tmk_spin_unlock(&cfi_lock);
    if (found) return r;
    int saved = errno;
    struct pass p = {.pc = pc};
    dl_iterate_phdr(pass_one, &p);
    errno = saved;
    if (!p.locked) return TMK_CFI_FALLBACK;
    drop_unseen_locked();
    mods_gen = gen;
    mods_synced = 1;
    r = find_locked(pc, &found);
    tmk_spin_unlock(&cfi_lock);
    return r;
}

void tmk_cfi_before_fork(void) { tmk_spin_lock(&cfi_lock); }
void tmk_cfi_after_fork_parent(void) { tmk_spin_unlock(&cfi_lock); }
void tmk_cfi_after_fork_child(void) { cfi_lock = 0; }

/* ---- the per-thread cache ---- */

static struct tmk_cfi_cache *cache_for(struct tmk_thread *t)
{
    struct tmk_cfi_cache *c = t->cfi;
    if (TMK_UNLIKELY(!c)) {
        static int failed;
        if (failed) return NULL;
        int saved = errno;
        c = t->cfi = tmk_arena_alloc(sizeof *c); /* zeroed */
        errno = saved;
        if (!c) {
            failed = 1;
            return NULL;
        }
        c->gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    }
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    if (TMK_UNLIKELY(gen != c->gen)) {
        memset(c->e, 0, sizeof c->e);
        c->gen = gen;
    }
    return c;
}

void tmk_cfi_thread_reset(struct tmk_thread *t)
{
    if (t->cfi) memset(t->cfi->e, 0, sizeof t->cfi->e);
}

/* Fills slot s with the rule of return address ip (that of ip - 1). */
__attribute__((noinline)) static void slot_fill(struct cfi_slot *s, uintptr_t ip)
{
    uint32_t r = rule_slow(ip - 1);
    s->cfa_rbp = (uint8_t)TMK_CFI_CFA_RBP(r);
    s->cfa_off = TMK_CFI_KIND(r) == TMK_CFI_STD ? (int32_t)TMK_CFI_CFA_OFF(r)
                 : TMK_CFI_KIND(r) == TMK_CFI_END ? SLOT_END : SLOT_FALLBACK;
    s->rbp_off = TMK_CFI_RBP_SAVED(r) ? (int16_t)TMK_CFI_RBP_OFF(r) : 0;
    if (s->rbp_off < -RBP_BELOW || s->rbp_off > -8) {
        s->cfa_off = s->rbp_off ? SLOT_FALLBACK : s->cfa_off;
        s->rbp_off = 0;
    }
    s->ip = ip;
}

static inline const struct cfi_slot *slot_of(struct tmk_cfi_cache *c, uintptr_t ip)
{
    struct cfi_slot *s = &c->e[(ip * 0x9E3779B97F4A7C15ull) >> (64 - CFI_CACHE_BITS)];
    if (TMK_UNLIKELY(s->ip != ip)) slot_fill(s, ip);
    return s;
}

/* ---- the walk ---- */

static inline uintptr_t stack_word(uintptr_t a)
{
    uintptr_t v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}

int tmk_cfi_stack(struct tmk_thread *t, uintptr_t *out, int max, uint64_t *hash)
{
    const struct tmk_caller *c = &tmk_tls.caller;
    uintptr_t ip = c->ra, sp = c->cfa, bp = c->rbp;
    /* Every word read lies in [lo, lo + span): from CFA0 to the stack's top,
     * the program's frames above this call, mapped while it runs. */
    uintptr_t lo = sp, span = t->stack_hi - sp;
    if (!ip || sp < t->stack_lo || sp >= t->stack_hi || tmk_stack_pointer() + RBP_BELOW > sp ||
        tmk_in_self(ip))
        return -1;
    struct tmk_cfi_cache *cc = cache_for(t);
    if (!cc) return -1;
    uint64_t h = TMK_HASH_START;
    int n = 0;
    while (ip >= 0x4000) { /* libunwind ends a stack at a return address below 0x4000 */
        out[n++] = ip;
        h = tmk_hash_step(h, ip);
        if (n == max) break;
        const struct cfi_slot *s = slot_of(cc, ip);
        if (TMK_UNLIKELY(s->cfa_off < 0)) {
            if (s->cfa_off == SLOT_END) break;
            return -1;
        }
        uintptr_t cfa = (s->cfa_rbp ? bp : sp) + (uintptr_t)s->cfa_off;
        if (TMK_UNLIKELY(cfa - lo - 8 > span - 8)) return -1; /* [cfa - 8, cfa) outside */
        if (s->rbp_off) bp = stack_word(cfa + (uintptr_t)(intptr_t)s->rbp_off); /* RBP_BELOW */
        ip = stack_word(cfa - 8);
        sp = cfa;
    }
    *hash = tmk_hash_end(h, n);
    return n;
}

/* ---- TIDEMARK_UNWIND_VERIFY ---- */

static uint64_t v_stacks, v_cfi, v_mismatch;
static int v_first_frame = -1, v_first_n;
static uintptr_t v_first_cfi, v_first_unw;

void tmk_cfi_verify_count(int fast)
{
    __atomic_add_fetch(&v_stacks, 1, __ATOMIC_RELAXED);
    if (fast) __atomic_add_fetch(&v_cfi, 1, __ATOMIC_RELAXED);
}

/* Compares frames f[0, n) from the walk with libunwind's for this call. */
__attribute__((noinline)) void tmk_cfi_verify(struct tmk_thread *t, const uintptr_t *f, int n)
{
    uintptr_t raw[TMK_DEPTH_MAX + TMK_CAPTURE_SLACK];
    int m = tmk_capture(t, raw, (int)tmk_opt.depth + TMK_CAPTURE_SLACK);
    int skip = 0;
    while (skip < m && tmk_in_self(raw[skip])) skip++;
    m -= skip;
    if (m > (int)tmk_opt.depth) m = (int)tmk_opt.depth;
    if (m < 0) m = 0;
    int k = 0;
    while (k < n && k < m && f[k] == raw[skip + k]) k++;
    if (k == n && k == m) return;
    if (__atomic_add_fetch(&v_mismatch, 1, __ATOMIC_RELAXED) == 1) {
        v_first_frame = k;
        v_first_n = n;
        v_first_cfi = k < n ? f[k] : 0;
        v_first_unw = k < m ? raw[skip + k] : 0;
    }
}

static size_t append_hex(char *out, size_t n, size_t cap, uintptr_t v)
{
    char hex[19] = "0x";
    int len = 2;
    for (int s = 60; s >= 0; s -= 4)
        if ((v >> s) || len > 2 || s == 0) hex[len++] = "0123456789abcdef"[(v >> s) & 15];
    hex[len] = 0;
    return tmk_path_append(out, n, cap, hex);
}

void tmk_cfi_report(void)
{
    if (!tmk_opt.unwind_verify) return;
    char line[256];
    size_t n = tmk_path_append_u(line, 0, sizeof line, __atomic_load_n(&v_stacks, __ATOMIC_RELAXED));
    n = tmk_path_append(line, n, sizeof line, " stacks, ");
    n = tmk_path_append_u(line, n, sizeof line, __atomic_load_n(&v_cfi, __ATOMIC_RELAXED));
    n = tmk_path_append(line, n, sizeof line, " by cfi, ");
    n = tmk_path_append_u(line, n, sizeof line, __atomic_load_n(&v_mismatch, __ATOMIC_RELAXED));
    n = tmk_path_append(line, n, sizeof line, " mismatches");
    if (v_first_frame >= 0) {
        n = tmk_path_append(line, n, sizeof line, " (first: frame ");
        n = tmk_path_append_u(line, n, sizeof line, (uint64_t)v_first_frame);
        n = tmk_path_append(line, n, sizeof line, " of ");
        n = tmk_path_append_u(line, n, sizeof line, (uint64_t)v_first_n);
        n = tmk_path_append(line, n, sizeof line, ", cfi ");
        n = append_hex(line, n, sizeof line, v_first_cfi);
        n = tmk_path_append(line, n, sizeof line, ", libunwind ");
        n = append_hex(line, n, sizeof line, v_first_unw);
        n = tmk_path_append(line, n, sizeof line, ")");
    }
    tmk_warn("unwind verify: ", line, NULL);
}

void tmk_cfi_verify_after_fork_child(void)
{
    v_stacks = v_cfi = v_mismatch = 0;
    v_first_frame = -1;
}

#else /* no CFI unwinder off x86-64: every stack is libunwind's */

int tmk_cfi_stack(struct tmk_thread *t, uintptr_t *out, int max, uint64_t *hash)
{
    (void)t, (void)out, (void)max, (void)hash;
    return -1;
}
void tmk_cfi_thread_reset(struct tmk_thread *t) { (void)t; }
void tmk_cfi_verify_count(int fast) { (void)fast; }
void tmk_cfi_verify(struct tmk_thread *t, const uintptr_t *f, int n) { (void)t, (void)f, (void)n; }
void tmk_cfi_report(void) {}
void tmk_cfi_verify_after_fork_child(void) {}
void tmk_cfi_before_fork(void) {}
void tmk_cfi_after_fork_parent(void) {}
void tmk_cfi_after_fork_child(void) {}

#endif
