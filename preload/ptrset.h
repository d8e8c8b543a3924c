/* preload/ptrset.h - ptrset.c's interface: the addresses whose free must
 * be recorded, and the filter (inline) that lets most frees ask nothing
 * more.
 */
#ifndef TIDEMARK_PRELOAD_PTRSET_H
#define TIDEMARK_PRELOAD_PTRSET_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

void tmk_ptrset_add(uintptr_t p, size_t usable) TMK_HIDDEN;  /* caller holds no lock */
int tmk_ptrset_take(uintptr_t p, size_t usable) TMK_HIDDEN;  /* 1 if p was in, now removed */
int tmk_ptrset_contains(uintptr_t p) TMK_HIDDEN;
extern volatile int tmk_ptrset_used TMK_HIDDEN;              /* anything ever added */
/* The set's filter (ptrset.c): per hash slot of an address, how many of
 * the set's addresses, bootstrap blocks (real.c) and sigalloc.c blocks fall
 * there. 0: p is none of them, an ordinary block of the real allocator;
 * the free of such a block in tables mode asks nothing more. */
#define TMK_PTRSET_FILTER_BITS 16
#define TMK_PTRSET_FILTER_SLOTS (1u << TMK_PTRSET_FILTER_BITS)
extern uint8_t tmk_ptrset_filter[TMK_PTRSET_FILTER_SLOTS] TMK_HIDDEN;
static inline size_t tmk_ptrset_filter_slot(uintptr_t p)
{
    return (size_t)(((uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - TMK_PTRSET_FILTER_BITS));
}
void tmk_ptrset_filter_mark(uintptr_t p, int up) TMK_HIDDEN; /* async-signal-safe */
static inline int tmk_ptrset_may_hold(uintptr_t p)
{
    return __atomic_load_n(&tmk_ptrset_filter[tmk_ptrset_filter_slot(p)], __ATOMIC_RELAXED) != 0;
}
void tmk_ptrset_lock(void) TMK_HIDDEN;
void tmk_ptrset_unlock(void) TMK_HIDDEN;
void tmk_ptrset_after_fork_child(void) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_PTRSET_H */
