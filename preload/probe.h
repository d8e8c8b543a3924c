/* preload/probe.h - probe.c's interface: the registry of large live blocks
 * whose contents are probed (tables nobody annotated), the sampler's
 * passes and the probe at free.
 */
#ifndef TIDEMARK_PRELOAD_PROBE_H
#define TIDEMARK_PRELOAD_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "options.h"

struct tmk_thread;

/* Is this a block whose contents are probed (a live block of probe_min
 * bytes or more)? Such blocks are written by address in every mode. */
static inline int tmk_probed_size(size_t size)
{
    return tmk_opt.probe_min && size >= tmk_opt.probe_min;
}
extern int tmk_probe_used TMK_HIDDEN; /* a block was ever registered */
/* p (size bytes, allocated from stack) joins the probes' registry; t, the
 * allocating thread (or NULL), remembers it as its newest (tmk_probe_freed:
 * resizes). */
void tmk_probe_add(struct tmk_thread *t, uintptr_t p, uint64_t size, uint32_t stack) TMK_HIDDEN;
void tmk_probe_remove(uintptr_t p) TMK_HIDDEN;
void tmk_probe_start(void) TMK_HIDDEN; /* the probes at free get their first second's bytes */
/* p is being freed: its last probe (within the budget) at time now (its
 * FREE's), and it leaves the registry. Its size there, or 0 when absent. */
uint64_t tmk_probe_freed(struct tmk_thread *t, uintptr_t p, uint64_t now) TMK_HIDDEN;
/* The sampler's pass, at most once a second (guard set). */
void tmk_probe_sample(struct tmk_thread *t) TMK_HIDDEN;
/* The last pass at exit, over every block (guard set). */
void tmk_probe_final(struct tmk_thread *t) TMK_HIDDEN;
void tmk_probe_after_fork_child(void) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_PROBE_H */
