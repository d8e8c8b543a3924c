/* preload/spin.c - the wait for a spinlock another thread holds (the lock
 * itself is inline in spin.h: tmk_spin_lock, tmk_spin_unlock). Spins,
 * then yields: the holder may have been preempted (more threads than cores).
 */
#include "internal.h"

void tmk_spin_wait(int *word)
{
    unsigned spins = 0;
    do {
        while (__atomic_load_n(word, __ATOMIC_RELAXED)) {
            if (++spins < 256)
                __builtin_ia32_pause();
            else
                sched_yield();
        }
    } while (__atomic_exchange_n(word, 1, __ATOMIC_ACQUIRE));
}
