/* preload/spin.h - the shim's spinlocks (ptrmap.c's shards, probe.c's
 * registry, cfi.c's registry, infos.c, intern.c's list of ranges): taking
 * a free lock inline, the wait in spin.c.
 */
#ifndef TIDEMARK_PRELOAD_SPIN_H
#define TIDEMARK_PRELOAD_SPIN_H

#include "compiler.h"

/* A lock held for a few instructions: spins, then yields (the holder may
 * have been preempted). The wait is out of line (spin.c), so that taking a
 * free lock adds no saved register to the functions that take it. */
void tmk_spin_wait(int *word) TMK_HIDDEN;
static inline void tmk_spin_lock(int *word)
{
    if (TMK_UNLIKELY(__atomic_exchange_n(word, 1, __ATOMIC_ACQUIRE))) tmk_spin_wait(word);
}

static inline void tmk_spin_unlock(int *word)
{
    __atomic_store_n(word, 0, __ATOMIC_RELEASE);
}

#endif /* TIDEMARK_PRELOAD_SPIN_H */
