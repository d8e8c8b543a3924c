/* preload/heap.h - heap.c's interface: the heap's records (hooks.c calls it
 * around the real allocator), tables mode's pass-through, realloc's old
 * block.
 */
#ifndef TIDEMARK_PRELOAD_HEAP_H
#define TIDEMARK_PRELOAD_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

struct tmk_thread;

/* Tables mode's pass-through (hooks.c): an allocation below it, and a free
 * of an address no set holds, go straight to the real allocator. 0 outside
 * tables mode; set by tmk_heap_start once the real functions are found and
 * the settings read, which also gives the block map its budget. */
extern size_t tmk_pass_below TMK_HIDDEN;
void tmk_heap_start(void) TMK_HIDDEN;
/* After the real allocator returned p (guard TMK_GUARD_SHIM). */
void tmk_heap_on_alloc(void *p, size_t size) TMK_HIDDEN;
/* Before the real free of p, p != NULL (guard TMK_GUARD_SHIM). */
void tmk_heap_on_free(void *p) TMK_HIDDEN;
/* Records an ALLOC by address with the given stack (guard set). */
void tmk_record_alloc(struct tmk_thread *t, void *p, size_t size, uint32_t stack) TMK_HIDDEN;
/* realloc's old block (guard TMK_GUARD_SHIM): taken before the real call,
 * then either moved (the call freed it: its free is written, with the time
 * taken before the call) or kept (the call failed: it is tracked again as
 * it was, and the trace has no record of the call). */
struct tmk_heap_moving {
    void *p;
    uint64_t now;          /* the free's time */
    uint32_t stack, size;  /* by info: the block's info */
    size_t usable;         /* tables and sampled modes */
    uint64_t probed;       /* its size in the probes' registry, which it left; 0 */
    int how;               /* heap.c's enum moving_how */
};
void tmk_heap_realloc_take(void *old, struct tmk_heap_moving *m) TMK_HIDDEN;
void tmk_heap_realloc_moved(const struct tmk_heap_moving *m) TMK_HIDDEN;
void tmk_heap_realloc_kept(const struct tmk_heap_moving *m) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_HEAP_H */
