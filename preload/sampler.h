/* preload/sampler.h - sampler.c's interface: starting the background
 * thread, and MEMORY records.
 */
#ifndef TIDEMARK_PRELOAD_SAMPLER_H
#define TIDEMARK_PRELOAD_SAMPLER_H

#include "compiler.h"

struct tmk_thread;

void tmk_sampler_start(void) TMK_HIDDEN;
/* Before hooks.c's unshare and setns: when the kernel refuses the call to a
 * multi-threaded process (a user namespace; a mount or time namespace's
 * setns), the sampler thread stops, its records written, and is gone from
 * the process before the call; it starts again after it, if tracing goes
 * on. Any other call leaves it running (returns 0). Pauses by several
 * threads at once are counted: the first stops it, the last restarts it.
 * tmk_sampler_resume takes what the pause returned. */
int tmk_sampler_pause_for_unshare(int flags) TMK_HIDDEN;
int tmk_sampler_pause_for_setns(int fd, int type) TMK_HIDDEN;
void tmk_sampler_resume(int paused) TMK_HIDDEN;
void tmk_sampler_after_fork_child(void) TMK_HIDDEN;
/* A MEMORY record. In tables mode the heap figure is the allocator's
 * (mallinfo2, under its arena locks): read when due by the sampler thread
 * (TMK_HEAP_WHEN_DUE), never by another (TMK_HEAP_LAST: the last figure
 * read, no record when none was). Any other thread may be a signal
 * handler's (exit, _exit, quick_exit, exec, a fatal signal) that
 * interrupted the allocator on its thread, which holds the lock: tables
 * mode's pass-through leaves no mark to tell. */
enum tmk_heap_read { TMK_HEAP_WHEN_DUE, TMK_HEAP_LAST };
void tmk_memory_sample(struct tmk_thread *t, enum tmk_heap_read read) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_SAMPLER_H */
