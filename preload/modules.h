/* preload/modules.h - modules.c's interface: the loaded objects (MODULE,
 * MODULE_GONE), the checks of the loader's counters, tmk_modules_gen, the
 * shim's own address range.
 */
#ifndef TIDEMARK_PRELOAD_MODULES_H
#define TIDEMARK_PRELOAD_MODULES_H

#include <link.h>
#include <stdint.h>

#include "compiler.h"

struct tmk_thread;

/* [start, end) of an object's PT_LOAD segments (end 0: none). */
static inline void tmk_module_range(const struct dl_phdr_info *info, uintptr_t *start,
                                    uintptr_t *end)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (s < lo) lo = s;
        if (s + ph->p_memsz > hi) hi = s + ph->p_memsz;
    }
    *start = lo == UINTPTR_MAX ? 0 : lo;
    *end = hi;
}

void tmk_modules_scan(struct tmk_thread *t) TMK_HIDDEN;        /* emits MODULE/_GONE */
void tmk_modules_scan_if_changed(struct tmk_thread *t) TMK_HIDDEN;
/* The loader's counters read, a scan when they moved: with
 * TMK_CHECK_ALWAYS, else only when no check completed since tmk_modules_gen
 * last moved. The mutex is tried, for about 2 ms with TMK_CHECK_PATIENT.
 * 0, or -1 when another thread held it. */
#define TMK_CHECK_ALWAYS 1
#define TMK_CHECK_PATIENT 2
int tmk_modules_check(struct tmk_thread *t, int how) TMK_HIDDEN;
void tmk_modules_lock(void) TMK_HIDDEN;
void tmk_modules_unlock(void) TMK_HIDDEN;
void tmk_modules_after_fork_child(void) TMK_HIDDEN;
/* Bumped whenever the loaded objects may have changed (every scan that
 * found a change, every dlclose): code at an address may be other code. */
extern uint32_t tmk_modules_gen TMK_HIDDEN;
/* [start, end) of the shim's own code, to drop its frames from stacks. */
extern uintptr_t tmk_self_start TMK_HIDDEN, tmk_self_end TMK_HIDDEN;
void tmk_modules_find_self(void) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_MODULES_H */
