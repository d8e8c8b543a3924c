/* preload/tables.h - tables.c's interface: the annotation API's shim side
 * (hooks.c exports the object) and the sampler's reading of live counts.
 */
#ifndef TIDEMARK_PRELOAD_TABLES_H
#define TIDEMARK_PRELOAD_TABLES_H

#include <stddef.h>

#include "compiler.h"

struct tmk_thread;

/* The annotation API's calls (hooks.c enters the shim, sets the caller,
 * and calls these with the guard at TMK_GUARD_SHIM): */
struct tmk_table_info;
/* tmk_table_new: reads info_size bytes of *info at most. */
void tmk_tables_new(struct tmk_thread *t, const void *addr, const struct tmk_table_info *info,
                    size_t info_size) TMK_HIDDEN;
/* tmk_table_count (peak = 0) and tmk_table_peak (peak = 1). */
void tmk_tables_counter(struct tmk_thread *t, const void *addr, const void *at, unsigned width,
                        int peak) TMK_HIDDEN;
void tmk_tables_array(struct tmk_thread *t, const void *addr, const void *array, size_t bytes,
                      size_t buckets, unsigned reason) TMK_HIDDEN;
void tmk_tables_end(struct tmk_thread *t, const void *addr) TMK_HIDDEN;

void tmk_tables_sample(struct tmk_thread *t, int only_changed) TMK_HIDDEN; /* TABLE_COUNTs */
void tmk_tables_lock(void) TMK_HIDDEN;
void tmk_tables_unlock(void) TMK_HIDDEN;
void tmk_tables_after_fork_child(struct tmk_thread *t) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_TABLES_H */
