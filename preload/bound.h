/* preload/bound.h - bound.c's interface: TIDEMARK_MAX_BYTES, the soft
 * bound and the stop block.
 */
#ifndef TIDEMARK_PRELOAD_BOUND_H
#define TIDEMARK_PRELOAD_BOUND_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define TMK_BOUND_STOP_MAX 40 /* bytes of a stop block's payload */
extern int tmk_bound_reached TMK_HIDDEN; /* the file passed bound - bound / 8 */
void tmk_bound_start(void) TMK_HIDDEN;   /* a new file, its header written */
/* Before a block of `bytes` (header and stored payload), writer lock held:
 * 1 = write it; 0 = write the stop block (tmk_bound_stop_payload) in its
 * place, and stop. */
int tmk_bound_admit(size_t bytes) TMK_HIDDEN;
size_t tmk_bound_stop_payload(uint8_t out[TMK_BOUND_STOP_MAX], uint64_t time_base) TMK_HIDDEN;
uint8_t *tmk_bound_put_soft(uint8_t *p) TMK_HIDDEN; /* BOUND(SOFT) at p */

#endif /* TIDEMARK_PRELOAD_BOUND_H */
