/* preload/stackstore.h - stackstore.c's interface: the interned stacks,
 * stored compactly, behind intern.c's lock; forgetting those of objects
 * unloaded (struct tmk_range).
 */
#ifndef TIDEMARK_PRELOAD_STACKSTORE_H
#define TIDEMARK_PRELOAD_STACKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

/* An address range: an object's [start, end) (modules.c, stackstore.c). */
struct tmk_range {
    uintptr_t start, end; /* [start, end) */
};

/* stackstore.c: the interned stacks, compactly (intern.c's lock held).
 * Frames f[0, n) (0 <= n <= TMK_DEPTH_MAX) of hash h: find gives their id or
 * 0; add (when find said 0) stores them under the next id (1, 2, ...), 0
 * when out of memory. frames writes up to cap frames of id to out and gives
 * the stack's depth (also of a forgotten one), -1 for an id never given.
 * bytes: the memory the store has mapped. reset forgets every stack and
 * gives the memory back. */
uint32_t tmk_store_find(const uintptr_t *f, int n, uint64_t h) TMK_HIDDEN;
uint32_t tmk_store_add(const uintptr_t *f, int n, uint64_t h) TMK_HIDDEN;
int tmk_store_frames(uint32_t id, uintptr_t *out, int cap) TMK_HIDDEN;
size_t tmk_store_bytes(void) TMK_HIDDEN;
void tmk_store_reset(void) TMK_HIDDEN;
/* Forgets every stack with a frame in one of r[0, n) (objects unloaded):
 * find no longer gives them, add gives them new ids; others keep theirs.
 * Returns how many were forgotten. */
size_t tmk_store_forget(const struct tmk_range *r, int n) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_STACKSTORE_H */
