/* preload/stack.h - the stack of a call as the rest of the shim sees it:
 * its id (tmk_stack_id, caller_cache.c), and the set-up, fork and reset
 * steps of the parts behind it (unwind.c, intern.c, caller_cache.c). Their
 * inline halves: unwind.h, intern.h; cfi.c's walk: cfi.h; the stored
 * stacks: stackstore.h.
 */
#ifndef TIDEMARK_PRELOAD_STACK_H
#define TIDEMARK_PRELOAD_STACK_H

#include <stdint.h>

#include "compiler.h"

struct tmk_thread;

/* The stack of the current call (guard set; 0 = none). With tmk_tls.caller
 * set, through the caller cache when it can (caller_cache.c). */
uint32_t tmk_stack_id(struct tmk_thread *t) TMK_HIDDEN;

/* unwind.c: libunwind's set-up, at start. */
void tmk_unwind_init(void) TMK_HIDDEN;
/* Fork prepare (before any shim lock): waits until no other thread is
 * inside libunwind, whose global cache mutex a child must not inherit
 * locked; no thread enters until tmk_unwind_after_fork_parent or the
 * child's tmk_unwind_after_fork_child. */
void tmk_unwind_before_fork(void) TMK_HIDDEN;
void tmk_unwind_after_fork_parent(void) TMK_HIDDEN;
void tmk_unwind_after_fork_child(void) TMK_HIDDEN;

/* intern.c: the stacks table's mutex; a forked child's file starts with no
 * stacks. */
void tmk_intern_lock(void) TMK_HIDDEN;
void tmk_intern_unlock(void) TMK_HIDDEN;
void tmk_intern_after_fork_child(void) TMK_HIDDEN;
/* modules.c found an object unloaded (its mutex held): the stacks with a
 * frame in [start, end) are to be forgotten before any stack is interned
 * (every thread's, intern.h's tmk_stacks_sync). */
void tmk_intern_forget(uintptr_t start, uintptr_t end) TMK_HIDDEN;
/* A thread state starts anew (its stack-id cache is empty). */
void tmk_intern_thread_reset(struct tmk_thread *t) TMK_HIDDEN;

/* caller_cache.c: a thread state starts anew (buffer.c's thread_reset): its
 * caller cache forgets every entry (stack ids restart in a forked child's
 * file), and so does intern.c's view of it. */
void tmk_caller_cache_thread_reset(struct tmk_thread *t) TMK_HIDDEN;
/* TIDEMARK_STACK_CACHE=2: one stderr line with the caller cache's counts. */
void tmk_caller_cache_report(void) TMK_HIDDEN;
void tmk_caller_cache_after_fork_child(void) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_STACK_H */
