/* preload/internal.h - what the shim's files share, one header per interface
 * (included here, in the order below), and the invariants that hold across
 * them.
 *
 * Invariants that hold everywhere in preload/:
 *  - The shim never allocates through malloc; its own memory comes from
 *    arena.c (mmap). Code that may call out into libc/libunwind in a way
 *    that can allocate runs with the thread's guard set, so those calls pass
 *    straight through to the real allocator, untraced.
 *  - A thread's buffer is appended to only by its owning thread, with its
 *    guard set. `pos` is published after the record bytes are written, so a
 *    final flush from another thread always sees whole records.
 *  - The handoff (buffer.c): the owner is `busy` from tmk_reserve to
 *    tmk_publish; the sampler writes the buffer of a thread that is not busy
 *    and has written no block for TMK_HANDOFF_AGE_NS, holding `handoff`
 *    meanwhile; an owner that finds `handoff` set waits for the write.
 *  - Lock order: tables -> ptrset -> stacks (intern.c) -> modules -> threads -> writer
 *    -> arena (modules is only tried from allocation paths, for 2 ms at
 *    most). intern.c's list of ranges to forget: a spinlock taken holding
 *    stacks or modules (or neither), nothing taken inside it. cfi.c's registry
 *    lock: taken holding no other (or inside dl_iterate_phdr, after the
 *    loader's), arena after it. Every lock is
 *    taken only with the taking thread's guard set: a signal handler that
 *    allocates on that thread passes through and cannot deadlock on it.
 */
#ifndef TIDEMARK_PRELOAD_INTERNAL_H
#define TIDEMARK_PRELOAD_INTERNAL_H

#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "tidemark/trace_format.h"

#include "compiler.h"
#include "options.h"
#include "trace_name.h"
#include "arena.h"
#include "tls.h"
#include "clock.h"
#include "lifecycle.h"
#include "thread.h"
#include "buffer.h"
#include "writer.h"
#include "spin.h"
#include "probe.h"
#include "bound.h"
#include "unwind_nofd.h"
#include "stack.h"
#include "stackstore.h"
#include "modules.h"
#include "sigalloc.h"
#include "ptrset.h"
#include "tables.h"
#include "sampler.h"
#include "heap.h"
#include "signals.h"

#endif /* TIDEMARK_PRELOAD_INTERNAL_H */
