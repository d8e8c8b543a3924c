/* preload/bound.c - TIDEMARK_MAX_BYTES: the trace file never grows past it.
 *
 * The writer counts every byte it puts in the file and asks here before each
 * block (writer lock held):
 *  - soft bound, bound - bound/8: once the file passes it, tmk_bound_reached
 *    is set. Full mode then stops its heap records (heap.c: no
 *    ALLOC_INFO, FREE_INFO, ALLOC or FREE but those of bucket arrays;
 *    tables.c writes the ALLOC of an array allocated from then on), and the
 *    sampler writes one BOUND(SOFT) record and from then on samples at most
 *    once a second (sampler.c). Table events go on as before: the last
 *    eighth of the bound is theirs.
 *  - the bound itself: a block that would leave less than STOP_BLOCK bytes
 *    below it is not written; a block of a TICK and BOUND(STOP) takes its
 *    place (same thread, same seq: the thread's blocks stay without a gap)
 *    and tracing stops there, as when the disk is full but without a word on
 *    stderr. The file ends at most `bound` bytes long.
 * A forked child's file starts its own count (tmk_bound_start at its open).
 */
#include "internal.h"

/* A stop block: header, TICK (up to 11 bytes), BOUND (up to 23 bytes). */
#define STOP_PAYLOAD_MAX 40
#define STOP_BLOCK (TMK_BLOCK_HEADER_SIZE + STOP_PAYLOAD_MAX)

int tmk_bound_reached;
static uint64_t written; /* bytes in the file (writer lock) */

void tmk_bound_start(void)
{
    written = TMK_FILE_HEADER_SIZE;
    __atomic_store_n(&tmk_bound_reached, 0, __ATOMIC_RELAXED);
}

int tmk_bound_admit(size_t bytes)
{
    uint64_t bound = tmk_opt.max_bytes;
    if (written + bytes + STOP_BLOCK > bound) return 0;
    written += bytes;
    if (written >= bound - bound / 8 && !tmk_bound_reached)
        __atomic_store_n(&tmk_bound_reached, 1, __ATOMIC_RELAXED);
    return 1;
}

static size_t put_bound(uint8_t *p, enum tmk_bound_what what)
{
    uint8_t body[2 * TMK_VARINT_MAX];
    uint8_t *e = tmk_put_u(tmk_put_u(body, (uint64_t)what), tmk_opt.max_bytes);
    uint8_t *q = p;
    *q++ = TMK_REC_BOUND;
    q = tmk_put_u(q, (uint64_t)(e - body));
    for (uint8_t *b = body; b < e; b++) *q++ = *b;
    return (size_t)(q - p);
}

size_t tmk_bound_stop_payload(uint8_t out[TMK_BOUND_STOP_MAX], uint64_t time_base)
{
    uint64_t now = tmk_now();
    uint8_t *p = out;
    *p++ = TMK_REC_TICK;
    p = tmk_put_u(p, now > time_base ? now - time_base : 0);
    p += put_bound(p, TMK_BOUND_STOP);
    written += TMK_BLOCK_HEADER_SIZE + (size_t)(p - out);
    return (size_t)(p - out);
}

uint8_t *tmk_bound_put_soft(uint8_t *p)
{
    return p + put_bound(p, TMK_BOUND_SOFT);
}
