/* preload/trace_name.h - trace_name.c's interface: who this process is in
 * a traced tree (its lineage) and which file it writes.
 */
#ifndef TIDEMARK_PRELOAD_TRACE_NAME_H
#define TIDEMARK_PRELOAD_TRACE_NAME_H

#include <stddef.h>

#include "compiler.h"

/* At start, after the settings: a relative TIDEMARK_OUTPUT made absolute
 * (tmk_opt.output; never the environment), then who this process is. */
void tmk_lineage_detect(void) TMK_HIDDEN;
void tmk_lineage_forked(void) TMK_HIDDEN; /* in a forked child */
/* Creates this process's trace file; its name in path. fd, or -1 with errno
 * (ELOOP: a symlink there; EEXIST: a non-regular file, or 99 suffixes taken). */
int tmk_trace_create(char *path, size_t cap) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_TRACE_NAME_H */
