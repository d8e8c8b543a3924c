/* preload/sigalloc.h - sigalloc.c's interface: the malloc family inside a
 * handler that interrupted the real allocator on its thread
 * (async-signal-safe, untraced), and the frees it defers.
 */
#ifndef TIDEMARK_PRELOAD_SIGALLOC_H
#define TIDEMARK_PRELOAD_SIGALLOC_H

#include <stddef.h>

#include "compiler.h"

void *tmk_sig_alloc(size_t size, size_t align) TMK_HIDDEN; /* zeroed; NULL + ENOMEM */
int tmk_sig_owns(const void *p) TMK_HIDDEN;    /* one load when none are live */
size_t tmk_sig_size(const void *p) TMK_HIDDEN; /* usable bytes */
void tmk_sig_release(void *p) TMK_HIDDEN;         /* unrecorded: a mapping, or a noted block */
/* A real-allocator block a handler got when no mapping could be had (a lost
 * allocation): tmk_sig_owns then owns it too, so that its free is not
 * recorded. */
void tmk_sig_note_lost(void *p) TMK_HIDDEN;
void tmk_sig_defer_free(void *p) TMK_HIDDEN;   /* real memory freed by such a handler */
void tmk_sig_drain(void) TMK_HIDDEN;           /* does the deferred frees (in_real == 0) */

#endif /* TIDEMARK_PRELOAD_SIGALLOC_H */
