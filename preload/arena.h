/* preload/arena.h - arena.c's interface: the shim's own allocator
 * (mmap-backed, never malloc) and whole-page mappings.
 */
#ifndef TIDEMARK_PRELOAD_ARENA_H
#define TIDEMARK_PRELOAD_ARENA_H

#include <stddef.h>

#include "compiler.h"

void *tmk_arena_alloc(size_t bytes) TMK_HIDDEN;   /* zeroed */
void tmk_arena_free(void *p) TMK_HIDDEN;
void tmk_arena_after_fork_child(void) TMK_HIDDEN;
void tmk_arena_lock(void) TMK_HIDDEN;
void tmk_arena_unlock(void) TMK_HIDDEN;
/* Whole pages in a mapping of their own, zeroed, no header (bytes rounded up
 * to pages): for tables that grow by replacement and must give their old
 * memory back. NULL when the kernel says no. */
void *tmk_pages_map(size_t bytes) TMK_HIDDEN;
void tmk_pages_unmap(void *p, size_t bytes) TMK_HIDDEN;
/* Gives the pages back but keeps the range mapped: it reads as zeros. */
void tmk_pages_forget(void *p, size_t bytes) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_ARENA_H */
