/* preload/cfi.h - the CFI unwinder's interface (TIDEMARK_UNWIND=cfi,
 * x86-64): the one-word rule a code address unwinds by, as cfi_compile.c
 * makes it from a module's .eh_frame and cfi.c walks it; the walk, the
 * memo and their check (cfi.c, cfi_verify.c) for caller_cache.c.
 *
 * A rule says, for the frame whose return address (minus one) lies in its
 * range: CFA = %rsp + off or %rbp + off; the return address at CFA - 8; the
 * caller's %rbp unchanged or at CFA + rbp_off. END: the CFI says the return
 * address is undefined (the outermost frame). NOFDE: between two FDEs the
 * module's .eh_frame_hdr lists, no FDE covers the address (ld.so's
 * _dl_start_user, under every constructor): libunwind then ends the stack
 * there when the frame's %rbp is 0, as the walk does, and else guesses from
 * %rbp (the walk falls back). FALLBACK (0, what zeroed memory says):
 * anything else (a DWARF expression, a signal frame, a CFA from another
 * register, an FDE this file cannot read, no .eh_frame_hdr): that stack is
 * unwound by libunwind.
 */
#ifndef TIDEMARK_PRELOAD_CFI_H
#define TIDEMARK_PRELOAD_CFI_H

#include <link.h>
#include <stdint.h>

#include "internal.h"

#define TMK_CFI_FALLBACK 0u
#define TMK_CFI_STD 1u
#define TMK_CFI_END 2u
#define TMK_CFI_NOFDE 3u
#define TMK_CFI_KIND(r) ((r) & 3u)
#define TMK_CFI_CFA_RBP(r) (((r) >> 2) & 1u)   /* CFA from %rbp (else %rsp) */
#define TMK_CFI_RBP_SAVED(r) (((r) >> 3) & 1u) /* caller's %rbp at CFA + RBP_OFF */
#define TMK_CFI_RBP_OFF(r) ((intptr_t)(int8_t)(uint8_t)((r) >> 4) * 8)
#define TMK_CFI_CFA_OFF(r) ((uintptr_t)((r) >> 12))
#define TMK_CFI_CFA_OFF_MAX ((1u << 20) - 1)

static inline uint32_t tmk_cfi_rule(int cfa_rbp, uint32_t cfa_off, int rbp_saved, int rbp_off)
{
    return TMK_CFI_STD | (uint32_t)cfa_rbp << 2 | (uint32_t)rbp_saved << 3 |
           (uint32_t)(uint8_t)(int8_t)(rbp_off / 8) << 4 | cfa_off << 12;
}

/* One module's FDEs, each compiled the first time the walk meets an
 * address it covers (cfi_compile.c): what a process pays grows with the
 * code its stacks pass through, not with the size of its libraries.
 * pcs: where each entry of the module's .eh_frame_hdr search table starts
 * (offsets from start, clamped to [0, 2^32 - 1]; NULL: no usable table, it
 * all falls back); page: per 1024 FDEs, NULL until one of them is
 * compiled, else each FDE's rows in row[] (first = 1 + index, 0 = not
 * compiled yet). A row: (offset from start << 32) | rule, each up to the
 * next one's offset; an FDE's rows are sorted. */
struct tmk_cfi_fde_rows {
    uint32_t first, n;
};

struct tmk_cfi_fdes {
    uintptr_t start, end;
    uint32_t *pcs;
    uint64_t count;
    struct tmk_cfi_fde_rows **page;
    uint64_t *row;
    size_t n, cap;
};

/* Sets f up for the object (its search table copied; from arena.c). Run
 * with the loader's lock held (inside dl_iterate_phdr), so the object
 * stays mapped; so does tmk_cfi_fdes_compile. */
void tmk_cfi_fdes_init(const struct dl_phdr_info *info, uintptr_t start, uintptr_t end,
                       struct tmk_cfi_fdes *f) TMK_HIDDEN;

/* The rule for code address pc (in [start, end)) from what is compiled:
 * 1 with *rule, or 0 when pc's FDE is not compiled yet. Reads none of the
 * object's memory. */
int tmk_cfi_fdes_rule(const struct tmk_cfi_fdes *f, uintptr_t pc, uint32_t *rule) TMK_HIDDEN;

/* Compiles the FDE that covers pc, if not yet (its rows are FALLBACK where
 * it cannot be read or there is no memory). */
void tmk_cfi_fdes_compile(const struct dl_phdr_info *info, struct tmk_cfi_fdes *f,
                          uintptr_t pc) TMK_HIDDEN;

/* Gives f's memory back (its module was unloaded). */
void tmk_cfi_fdes_free(struct tmk_cfi_fdes *f) TMK_HIDDEN;

/* ---- the walk, the memo and their check (cfi.c, cfi_verify.c) ---- */

/* cfi.c: the CFI unwinder (TIDEMARK_UNWIND=cfi). The stack of the current
 * call from tmk_tls.caller: up to max return addresses into out and their
 * tmk_hash_frames in *hash, or -1 when a frame needs libunwind (the caller
 * then unwinds the stack with it). */
int tmk_cfi_stack(struct tmk_thread *t, uintptr_t *out, int max, uint64_t *hash) TMK_HIDDEN;
/* The stack id the thread's memo has for the current call (0: none), and
 * the memo's entry for the walk of this call that found frames f[0, n)
 * (hash) and got id. */
uint32_t tmk_cfi_memo_find(struct tmk_thread *t) TMK_HIDDEN;
void tmk_cfi_memo_fill(struct tmk_thread *t, const uintptr_t *f, int n, uint64_t hash,
                       uint32_t id) TMK_HIDDEN;
void tmk_cfi_thread_reset(struct tmk_thread *t) TMK_HIDDEN; /* forgets rules and memo */
/* cfi_verify.c, TIDEMARK_UNWIND_VERIFY: counts a stack (walked: by the CFI
 * walk; memo_hit: the memo had it), compares the walk's frames with
 * unw_backtrace's and the memo's id with the walk's, says the counts at
 * exit. */
void tmk_cfi_verify_count(int walked, int memo_hit) TMK_HIDDEN;
void tmk_cfi_verify(struct tmk_thread *t, const uintptr_t *f, int n) TMK_HIDDEN;
void tmk_cfi_verify_memo(uint32_t memo_id, uint32_t walk_id) TMK_HIDDEN;
void tmk_cfi_report(void) TMK_HIDDEN;
void tmk_cfi_verify_after_fork_child(void) TMK_HIDDEN;
/* The registry's lock across fork (from unwind.c's fork handlers). */
void tmk_cfi_before_fork(void) TMK_HIDDEN;
void tmk_cfi_after_fork_parent(void) TMK_HIDDEN;
void tmk_cfi_after_fork_child(void) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_CFI_H */
