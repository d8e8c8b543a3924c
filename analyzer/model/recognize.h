/* analyzer/model/recognize.h - tables nobody annotated, found in the trace.
 *
 * During the pass, recognize_* collect every large block written by address
 * (its allocation, free, thread and stack), the shim's PROBE records of it,
 * and how many blocks its thread freed right before it (free_runs.h). After the pass, recognize_finish matches each block against the rules
 * (table_rules.h: frames of its symbolized stack, its size, or the layout
 * its probe found), links the arrays of one table across its rehashes (see
 * recognize.c), and replays each table's life into table_life.c as if it had
 * been annotated (TABLE_NEW, TABLE_ARRAY, TABLE_COUNT, frees), in time order,
 * so that every report and `check` treat it like any other table.
 */
#ifndef TIDEMARK_ANALYZER_RECOGNIZE_H
#define TIDEMARK_ANALYZER_RECOGNIZE_H

#include "analyze_int.h"
#include "read/reader.h"
#include "table_rules.h"

/* Blocks below this are never table candidates (the shim probes from 64 KiB
 * by default; annotated arrays and tables mode's blocks come smaller). */
#define TM_RECOGNIZE_MIN 4096

struct recognizer;

struct recognizer *recognize_new(void);
void recognize_free(struct recognizer *rz);
/* The blocks written by address, allocated and freed, in the trace's order.
 * 1 when the block is one of the collected large blocks. */
int recognize_alloc(struct recognizer *rz, uint64_t t, uint32_t thread, uint64_t ptr,
                    uint64_t size, uint64_t stack);
/* What the freeing thread did right before a free (free_runs.h). */
struct recognize_freed {
    uint64_t freed_before;     /* frees of the last one's size since its allocation */
    struct thread_alloc latest; /* its latest allocation */
};
/* The collected block's index when ptr is one, else -1 (when one,
 * recognize_heap_event wants the thread's next record). */
long recognize_free_block(struct recognizer *rz, uint64_t t, uint32_t thread, uint64_t ptr,
                          const struct recognize_freed *f);
/* The freeing thread's first allocation after block `index` was freed.
 * 1 when recognize_heap_event wants the records that follow. */
int recognize_next_alloc(struct recognizer *rz, size_t index, uint32_t thread,
                         struct thread_alloc a);
/* An allocation or a free (size; stack: 0 when not known) of a full trace,
 * in the thread's order, while recognize_next_alloc or this said 1: what
 * became of a shrink's small array (recognize_after.c). 1 while wanted. */
int recognize_heap_event(struct recognizer *rz, uint32_t thread, int is_free, uint64_t t,
                         uint64_t size, uint64_t stack);
void recognize_probe(struct recognizer *rz, const struct tm_record *r);
/* 1 when it stopped collecting (too many large blocks: recognize.c). */
int recognize_full(const struct recognizer *rz);
/* A TABLE_ARRAY named this block: an annotated table counts it. */
void recognize_annotated(struct recognizer *rz, uint64_t ptr);

/* Matches, links and replays into tb (records after `at` are not applied).
 * The model's stacks and modules must be complete (symbolization). Table
 * ids start above every annotated table's. 0, or -1 when out of memory. */
int recognize_finish(struct recognizer *rz, const struct tm_model *m, const struct tm_rules *rules,
                     struct tables *tb, const struct tm_options *o);

#endif
