/* preload/cfi.h - the CFI unwinder's shared parts (TIDEMARK_UNWIND=cfi,
 * x86-64): the one-word rule a code address unwinds by, as cfi_compile.c
 * makes it from a module's .eh_frame and cfi.c walks it.
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

/* A module's rows, sorted: (offset from the module's start << 32) | rule,
 * each up to the next one's offset. */
struct tmk_cfi_rows {
    uint64_t *row;
    size_t n;
};

/* Compiles the object's .eh_frame (through its .eh_frame_hdr's table) into
 * rows relative to start (from arena.c). 0, or -1 when the object has no
 * usable table (out->row NULL: every address in it falls back). Run with
 * the loader's lock held (inside dl_iterate_phdr), so the object stays
 * mapped. */
int tmk_cfi_compile(const struct dl_phdr_info *info, uintptr_t start, uintptr_t end,
                    struct tmk_cfi_rows *out) TMK_HIDDEN;

/* The rule for code address pc among rows (pc relative to the start). */
uint32_t tmk_cfi_rows_find(const struct tmk_cfi_rows *rows, uintptr_t off) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_CFI_H */
