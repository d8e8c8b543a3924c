/* preload/cfi.c - the CFI unwinder (TIDEMARK_UNWIND=cfi, x86-64): the walk
 * from the caller of the exported entry point (tmk_tls.caller) by compiled
 * rules (cfi.h), the per-thread cache from return address to rule, the
 * per-thread memo of walked stacks (re-checked word by word), and the
 * registry of modules and their compiled FDEs. docs/architecture.md, "The
 * CFI unwinder", says why the stacks are libunwind's.
 *
 * Locks: the registry is behind cfi_lock, a spinlock taken only for a few
 * instructions (a lookup) or inside dl_iterate_phdr's callback (a module's
 * registration, an FDE's compilation: the module stays mapped while the
 * loader's lock is held): the loader's lock always comes first, so a
 * thread that allocates while holding the loader's lock (a dlopen'ed
 * constructor, a program's own dl_iterate_phdr callback) never waits for
 * one that waits for it.
 */
#include <string.h>

#include "cfi.h"
#include "intern.h"
#include "unwind.h"

#if defined(__x86_64__)

#define CFI_MODULES_MAX 1024
#define CFI_CACHE_BITS 10
#define CFI_CACHE (1u << CFI_CACHE_BITS) /* per thread, direct-mapped on the return address */
#define MEMO_BITS 7
#define MEMO_ENTRIES (1u << MEMO_BITS)   /* per thread, direct-mapped on (RA0, CFA0) */
#define MEMO_WORDS 64                    /* stack words a memo entry re-reads */
#define MEMO_WINDOW 4096u                /* lookups per hit-rate window */
#define MEMO_BYPASS (16u * MEMO_WINDOW)  /* stacks walked without the memo after a poor window */

struct cfi_module {
    uintptr_t start, end, bias;
    const void *phdr;
    struct tmk_cfi_fdes fdes;
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

/* Far below any CFA: the walk's bounds check catches them (the stack above
 * CFA0 is less than 2 GiB, checked at its start). */
#define SLOT_END INT32_MIN
#define SLOT_FALLBACK (INT32_MIN + 1)
#define SLOT_NOFDE (INT32_MIN + 2) /* the stack ends here when %rbp is 0 (cfi.h) */
/* A saved %rbp lies at most this far below its CFA (cfi_compile.c). The
 * walk does not bound-check that read: the CFA is at least CFA0 + 8 and the
 * walk's own frames hold this many bytes below CFA0 (checked at its start),
 * so the word is mapped. */
#define RBP_BELOW 1024

/* A walked stack: its id, and every stack word the walk read, with its
 * value. The walk from the same (RA0, CFA0, RBP0) that reads the same values
 * finds the same frames: the rules are fixed by the return addresses (one
 * modules generation), every CFA follows from CFA0, RBP0 and the words. */
struct memo_entry {
    uintptr_t ra, cfa, rbp; /* the key; rbp compared only under rbp_mask */
    uintptr_t rbp_mask;     /* all ones when a CFA was computed from RBP0, else 0 */
    uint64_t seen;          /* hash of the last stack walked at this key */
    uint32_t seen_stamp;    /* the memo's stamp when seen was set */
    uint32_t id;
    uint32_t stamp;         /* the memo's stamp at the fill; another: empty */
    uint16_t nwords;        /* even: an odd count repeats its last word (memo_find's pairs) */
    struct {
        uintptr_t at, val;  /* in [CFA0, stack top): mapped while a call from CFA0 runs */
    } word[MEMO_WORDS];
};

struct tmk_cfi_cache {
    uint32_t gen;   /* tmk_modules_gen when filled */
    uint32_t stamp; /* memo entries of another stamp are empty; never 0 */
    uint32_t lookups, misses; /* the memo's, in the current window */
    uint32_t bypass;        /* stacks still to walk without the memo */
    struct cfi_slot e[CFI_CACHE];
    struct memo_entry memo[MEMO_ENTRIES];
};

/* ---- the registry ---- */

/* What the registry says of pc (lock held): its rule, or that its FDE is
 * still to be compiled, or nothing (no registered module holds it). */
enum lookup { LOOKUP_DONE, LOOKUP_COMPILE, LOOKUP_UNKNOWN };

static enum lookup find_locked(uintptr_t pc, uint32_t *rule)
{
    *rule = TMK_CFI_FALLBACK;
    for (int i = 0; i < nmods; i++) {
        const struct cfi_module *m = &mods[i];
        if (pc >= m->start && pc < m->end) {
            return tmk_cfi_fdes_rule(&m->fdes, pc, rule) ? LOOKUP_DONE : LOOKUP_COMPILE;
        }
    }
    return LOOKUP_UNKNOWN;
}

/* The registered module that is info's object (lock held), or NULL. */
static struct cfi_module *module_of(const struct dl_phdr_info *info, uintptr_t start,
                                    uintptr_t end)
{
    for (int i = 0; i < nmods; i++) {
        struct cfi_module *m = &mods[i];
        if (m->start == start && m->end == end && m->bias == info->dlpi_addr &&
            m->phdr == info->dlpi_phdr)
            return m;
    }
    return NULL;
}

/* One pass over the loaded objects: marks the registered ones still
 * there, registers the one holding pc if it is new, and compiles pc's
 * FDE. cfi_lock is taken at the first callback (the loader's lock held)
 * and kept until the pass ends. */
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
    struct cfi_module *m = module_of(info, start, end);
    if (!m) {
        if (p->pc < start || p->pc >= end || nmods == CFI_MODULES_MAX) return 0;
        m = &mods[nmods++];
        m->start = start;
        m->end = end;
        m->bias = info->dlpi_addr;
        m->phdr = info->dlpi_phdr;
        tmk_cfi_fdes_init(info, start, end, &m->fdes); /* no table: it all falls back */
    }
    m->seen = 1;
    if (p->pc >= start && p->pc < end) tmk_cfi_fdes_compile(info, &m->fdes, p->pc);
    return 0;
}

/* Compiles pc's FDE in its registered module, found among the loaded
 * objects (not there any more: nothing; the next sync drops it). */
static int compile_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    uintptr_t pc = *(const uintptr_t *)arg, start, end;
    (void)size;
    tmk_module_range(info, &start, &end);
    if (pc < start || pc >= end) return 0;
    tmk_spin_lock(&cfi_lock);
    struct cfi_module *m = module_of(info, start, end);
    if (m) tmk_cfi_fdes_compile(info, &m->fdes, pc);
    tmk_spin_unlock(&cfi_lock);
    return 1;
}

/* Drops the modules the pass did not see (unloaded); lock held. */
static void drop_unseen_locked(void)
{
    int k = 0;
    for (int i = 0; i < nmods; i++) {
        if (mods[i].seen)
            mods[k++] = mods[i];
        else
            tmk_cfi_fdes_free(&mods[i].fdes);
    }
    nmods = k;
}

/* The rule for pc from the registry: its FDE compiled when new, its module
 * registered when new (and the registry synced with the loaded objects
 * whenever the loader's counters moved). */
static uint32_t rule_slow(uintptr_t pc)
{
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    uint32_t r;
    tmk_spin_lock(&cfi_lock);
    enum lookup l = mods_synced && mods_gen == gen ? find_locked(pc, &r) : LOOKUP_UNKNOWN;
    tmk_spin_unlock(&cfi_lock);
    if (l == LOOKUP_DONE) return r;
    int saved = errno;
    if (l == LOOKUP_COMPILE) {
        dl_iterate_phdr(compile_one, &pc);
        errno = saved;
        tmk_spin_lock(&cfi_lock);
        if (find_locked(pc, &r) != LOOKUP_DONE) r = TMK_CFI_FALLBACK;
        tmk_spin_unlock(&cfi_lock);
        return r;
    }
    struct pass p = {.pc = pc};
    dl_iterate_phdr(pass_one, &p);
    errno = saved;
    if (!p.locked) return TMK_CFI_FALLBACK;
    drop_unseen_locked();
    mods_gen = gen;
    mods_synced = 1;
    if (find_locked(pc, &r) != LOOKUP_DONE) r = TMK_CFI_FALLBACK;
    tmk_spin_unlock(&cfi_lock);
    return r;
}

void tmk_cfi_before_fork(void) { tmk_spin_lock(&cfi_lock); }
void tmk_cfi_after_fork_parent(void) { tmk_spin_unlock(&cfi_lock); }
void tmk_cfi_after_fork_child(void) { cfi_lock = 0; }

/* ---- the per-thread cache ---- */

/* Every memo entry made so far becomes empty. */
static void next_stamp(struct tmk_cfi_cache *c)
{
    if (++c->stamp == 0) {
        for (unsigned i = 0; i < MEMO_ENTRIES; i++) c->memo[i].stamp = c->memo[i].seen_stamp = 0;
        c->stamp = 1;
    }
}

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
        c->stamp = 1;
    }
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    if (TMK_UNLIKELY(gen != c->gen)) {
        memset(c->e, 0, sizeof c->e);
        c->gen = gen;
        next_stamp(c);
    }
    return c;
}

/* A new thread state, a forked child (stack ids restart): rules and memo
 * forgotten. */
void tmk_cfi_thread_reset(struct tmk_thread *t)
{
    if (!t->cfi) return;
    memset(t->cfi->e, 0, sizeof t->cfi->e);
    next_stamp(t->cfi);
    t->cfi->lookups = t->cfi->misses = t->cfi->bypass = 0;
}

/* Fills slot s with the rule of return address ip (that of ip - 1). */
__attribute__((noinline)) static void slot_fill(struct cfi_slot *s, uintptr_t ip)
{
    uint32_t r = rule_slow(ip - 1);
    s->cfa_rbp = (uint8_t)TMK_CFI_CFA_RBP(r);
    s->cfa_off = TMK_CFI_KIND(r) == TMK_CFI_STD     ? (int32_t)TMK_CFI_CFA_OFF(r)
                 : TMK_CFI_KIND(r) == TMK_CFI_END   ? SLOT_END
                 : TMK_CFI_KIND(r) == TMK_CFI_NOFDE ? SLOT_NOFDE
                                                    : SLOT_FALLBACK;
    s->rbp_off = TMK_CFI_RBP_SAVED(r) ? (int16_t)TMK_CFI_RBP_OFF(r) : 0;
    if (s->rbp_off < -RBP_BELOW || s->rbp_off > -8) {
        s->cfa_off = s->rbp_off ? SLOT_FALLBACK : s->cfa_off;
        s->rbp_off = 0;
    }
    if (s->cfa_off < 0) s->cfa_rbp = 0, s->rbp_off = 0; /* CFA from %rsp: caught by the bounds */
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

/* May the walk (or the memo) start from caller c? Every word either reads
 * lies in [CFA0 - RBP_BELOW, stack top): the program's frames above this
 * call and the shim's own below, mapped while it runs. */
static inline int start_ok(const struct tmk_thread *t, const struct tmk_caller *c)
{
    return c->ra && c->cfa >= t->stack_lo && c->cfa < t->stack_hi &&
           tmk_stack_pointer() + RBP_BELOW <= c->cfa && !tmk_in_self(c->ra);
}

int tmk_cfi_stack(struct tmk_thread *t, uintptr_t *out, int max, uint64_t *hash)
{
    const struct tmk_caller *c = &tmk_tls.caller;
    uintptr_t ip = c->ra, sp = c->cfa, bp = c->rbp;
    uintptr_t lo = sp, span = t->stack_hi - sp;
    if (!start_ok(t, c) || span >= (uintptr_t)1 << 31) return -1;
    struct tmk_cfi_cache *cc = cache_for(t);
    if (!cc) return -1;
    uint64_t h = TMK_HASH_START;
    int n = 0;
    while (ip >= 0x4000) { /* libunwind ends a stack at a return address below 0x4000 */
        out[n++] = ip;
        h = tmk_hash_step(h, ip);
        if (n == max) break;
        const struct cfi_slot *s = slot_of(cc, ip);
        uintptr_t cfa = (s->cfa_rbp ? bp : sp) + (uintptr_t)(intptr_t)s->cfa_off;
        if (TMK_UNLIKELY(cfa - lo - 8 > span - 8)) { /* [cfa - 8, cfa) outside; or no CFA */
            if (s->cfa_off == SLOT_END || (s->cfa_off == SLOT_NOFDE && !bp)) break;
            return -1;
        }
        if (s->rbp_off) bp = stack_word(cfa + (uintptr_t)(intptr_t)s->rbp_off); /* RBP_BELOW */
        ip = stack_word(cfa - 8);
        sp = cfa;
    }
    *hash = tmk_hash_end(h, n);
    return n;
}

/* ---- the memo ---- */

static struct memo_entry *memo_slot(struct tmk_cfi_cache *cc, const struct tmk_caller *c)
{
    uint64_t h = ((uint64_t)c->ra ^ ((uint64_t)c->cfa << 16)) * 0x9E3779B97F4A7C15ull;
    return &cc->memo[h >> (64 - MEMO_BITS)];
}

/* Adaptive: a window with fewer than 1 hit in 4 lookups (more than 3
 * misses in 4) sends the thread past the memo (no lookups, no fills) for
 * MEMO_BYPASS stacks. A hit costs the count of lookups only. */
__attribute__((noinline)) static void memo_window_end(struct tmk_cfi_cache *cc)
{
    if (cc->misses > MEMO_WINDOW - MEMO_WINDOW / 4) cc->bypass = MEMO_BYPASS;
    cc->lookups = cc->misses = 0;
}

static inline void memo_count(struct tmk_cfi_cache *cc, int hit)
{
    cc->misses += (uint32_t)!hit;
    if (TMK_UNLIKELY(++cc->lookups == MEMO_WINDOW)) memo_window_end(cc);
}

/* Does every word e keeps still hold its value? Two words a turn, without
 * a branch between them (nwords is even). */
static inline int memo_words_hold(const struct memo_entry *e)
{
    uintptr_t diff = 0;
    for (unsigned i = 0, n = e->nwords; i < n; i += 2)
        diff |= (stack_word(e->word[i].at) ^ e->word[i].val) |
                (stack_word(e->word[i + 1].at) ^ e->word[i + 1].val);
    return diff == 0;
}

/* No start_ok here: an entry's key was checked by it when the entry was
 * filled (same thread, same stack bounds: a reset changes the stamp), and
 * every word it re-reads lies in [CFA0, stack top). */
uint32_t tmk_cfi_memo_find(struct tmk_thread *t)
{
    struct tmk_cfi_cache *cc = t->cfi;
    if (!cc) return 0;
    if (TMK_UNLIKELY(cc->bypass)) {
        cc->bypass--;
        return 0;
    }
    if (cc->gen != __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE)) return 0; /* the walk resets */
    const struct tmk_caller *c = &tmk_tls.caller;
    const struct memo_entry *e = memo_slot(cc, c);
    uint32_t id = 0;
    uintptr_t key_diff = (e->ra ^ c->ra) | (e->cfa ^ c->cfa) | ((e->rbp ^ c->rbp) & e->rbp_mask) |
                         (uintptr_t)(e->stamp ^ cc->stamp);
    if (key_diff == 0 && memo_words_hold(e)) id = e->id;
    memo_count(cc, id != 0);
    return id;
}

/* Keeps the word at a (read by the walk) in e; 0, or -1 when it cannot be. */
static inline int memo_word(struct memo_entry *e, uintptr_t cfa0, uintptr_t a, uintptr_t v)
{
    if (e->nwords == MEMO_WORDS || a < cfa0) return -1; /* below CFA0: the shim's own frames */
    e->word[e->nwords].at = a;
    e->word[e->nwords++].val = v;
    return 0;
}

/* A fill costs about a walk: it is made only when the same stack was walked
 * at this key twice in a row (W1, fixed call sites: nearly every stack; W3,
 * recursion of every depth: the ones that come back). The first time, the
 * entry just notes the stack's hash. */
static int memo_worth_filling(struct tmk_cfi_cache *cc, struct memo_entry *e,
                              const struct tmk_caller *c, uint64_t hash)
{
    int same_key = e->ra == c->ra && e->cfa == c->cfa;
    if (same_key && e->seen_stamp == cc->stamp && e->seen == hash) return 1;
    if (!same_key) {
        e->stamp = 0; /* another key's entry: gone */
        e->ra = c->ra;
        e->cfa = c->cfa;
    }
    e->seen = hash;
    e->seen_stamp = cc->stamp;
    return 0;
}

/* Steps the walk w again (its rules are in the cache), keeping every word
 * read. Out of line: the bypassed call is a test and a return. */
__attribute__((noinline)) static void memo_fill(struct tmk_cfi_cache *cc, const uintptr_t *f,
                                                int n, uint64_t hash, uint32_t id)
{
    const struct tmk_caller *c = &tmk_tls.caller;
    struct memo_entry *e = memo_slot(cc, c);
    if (!memo_worth_filling(cc, e, c, hash)) return;
    /* the frames the walk stepped from: all but the last, unless a return
     * address below 0x4000 read from the last one ended the stack */
    const struct cfi_slot *last = slot_of(cc, f[n - 1]);
    int steps = n < (int)tmk_opt.depth && last->cfa_off >= 0 ? n : n - 1;
    e->stamp = 0; /* empty while it is rewritten */
    e->nwords = 0;
    uintptr_t sp = c->cfa, bp = c->rbp;
    int rbp0 = 1, need_rbp = 0;
    for (int i = 0; i < steps; i++) {
        const struct cfi_slot *s = slot_of(cc, f[i]);
        if (s->cfa_off < 0) return;
        need_rbp |= s->cfa_rbp & rbp0;
        uintptr_t cfa = (s->cfa_rbp ? bp : sp) + (uintptr_t)s->cfa_off;
        uintptr_t ra = i + 1 < n ? f[i + 1] : stack_word(cfa - 8);
        if (memo_word(e, c->cfa, cfa - 8, ra)) return;
        if (s->rbp_off) {
            uintptr_t at = cfa + (uintptr_t)(intptr_t)s->rbp_off;
            bp = stack_word(at);
            if (memo_word(e, c->cfa, at, bp)) return;
            rbp0 = 0;
        }
        sp = cfa;
    }
    if (last->cfa_off == SLOT_NOFDE) need_rbp |= rbp0; /* the stack ended on %rbp == 0 */
    if (e->nwords & 1) { /* memo_find reads pairs: the last word again */
        e->word[e->nwords] = e->word[e->nwords - 1];
        e->nwords++;
    }
    e->ra = c->ra;
    e->cfa = c->cfa;
    e->rbp = c->rbp;
    e->rbp_mask = need_rbp ? ~(uintptr_t)0 : 0;
    e->id = id;
    e->stamp = cc->stamp;
}

void tmk_cfi_memo_fill(struct tmk_thread *t, const uintptr_t *f, int n, uint64_t hash, uint32_t id)
{
    struct tmk_cfi_cache *cc = t->cfi;
    if (cc && !cc->bypass && n > 0) memo_fill(cc, f, n, hash, id);
}

#else /* no CFI unwinder off x86-64: every stack is libunwind's */

int tmk_cfi_stack(struct tmk_thread *t, uintptr_t *out, int max, uint64_t *hash)
{
    (void)t, (void)out, (void)max, (void)hash;
    return -1;
}
uint32_t tmk_cfi_memo_find(struct tmk_thread *t) { (void)t; return 0; }
void tmk_cfi_memo_fill(struct tmk_thread *t, const uintptr_t *f, int n, uint64_t hash, uint32_t id)
{
    (void)t, (void)f, (void)n, (void)hash, (void)id;
}
void tmk_cfi_thread_reset(struct tmk_thread *t) { (void)t; }
void tmk_cfi_before_fork(void) {}
void tmk_cfi_after_fork_parent(void) {}
void tmk_cfi_after_fork_child(void) {}

#endif
