/* analyzer/model/recognize_after.c - what became of the small array a large
 * block was reallocated to (full mode, where every allocation is in the
 * trace): followed through the records of the thread that made it.
 *
 * A large block freed and followed by a smaller allocation on its thread
 * (free_runs.h: `after`) may be its table's shrink (recognize.c,
 * mark_shrinks). From then on, while a watch is open, every allocation and
 * free is shown here (recognize_heap_event):
 *  - the small array's free is found by its (size, stack): full mode writes
 *    small blocks by info, without an address;
 *  - a realloc is a free, then right away the thread's next allocation, of
 *    another size, from the same stack: the chain goes on with the new
 *    array (GLib shrinks its arrays one realloc at a time as entries are
 *    removed, from the same call site);
 *  - a free followed by another allocation says nothing more (an array of
 *    another table, a growth from another call site): the watch is closed;
 *  - a free followed by another free ends the chain: the array was freed.
 *    Within LINK_NS of its allocation, the array was a destructor's:
 *    GLib's g_hash_table_destroy empties the table, which shrinks it to 8
 *    slots, then frees the arrays one after another. The large block's own
 *    small array freed so says the table was destroyed, not shrunk; a later
 *    one's may say that the last reallocation was the destructor's
 *    (recognize_glib.c judges).
 * The large block's own free is watched too, for one record: another free
 * right after it says it was no realloc's (GLib's g_hash_table_unref frees
 * the keys, the values and the hashes one after another; a realloc's free
 * is followed by its allocation).
 * A watch is closed after WATCH_NS without its free (the small array lives
 * on: a shrink), or LINK_NS after a free without the thread's next record
 * (the thread ended: as at the trace's end); past AFTER_WATCH_MAX at once,
 * the one that waited longest makes room. A free
 * that the trace's end follows (a destroy as the program's last act) ends
 * the chain too (recognize_after_finish). */
#include "recognize_int.h"

#define WATCH_NS 1000000000ull /* 1 s */

static void close_watch(struct recognizer *rz, unsigned k)
{
    rz->watch[k] = rz->watch[--rz->n_watch];
}

/* When the watch last moved: its free, or its array's allocation. */
static uint64_t last_seen(const struct after_watch *w)
{
    return w->freed ? w->t_free : w->t_alloc;
}

/* Room for one more watch: the one that has waited longest goes when all
 * AFTER_WATCH_MAX are taken (the newest is the one a table's end needs:
 * 80 threads that each freed a large block and ended held every watch). */
static struct after_watch *new_watch(struct recognizer *rz)
{
    if (rz->n_watch == AFTER_WATCH_MAX) {
        unsigned oldest = 0;
        for (unsigned k = 1; k < rz->n_watch; k++)
            if (last_seen(&rz->watch[k]) < last_seen(&rz->watch[oldest])) oldest = k;
        close_watch(rz, oldest);
    }
    return &rz->watch[rz->n_watch++];
}

int recognize_after_start(struct recognizer *rz, size_t index)
{
    const struct block *b = &rz->b[index];
    if (b->after.size >= b->size) return rz->n_watch > 0;
    *new_watch(rz) = (struct after_watch){index, b->free_thread, 0, 0, b->after.size,
                                          b->after.stack, b->after.t, 0};
    return 1;
}

void recognize_after_freed(struct recognizer *rz, size_t index)
{
    const struct block *b = &rz->b[index];
    *new_watch(rz) = (struct after_watch){index, b->free_thread, 1, 1, b->size, b->stack,
                                          b->t_alloc, b->t_free};
}

/* The watched array was reallocated: from its size to `size`. */
static void step(struct after_chain *c, uint64_t from, uint64_t to)
{
    c->last_freed = 0;
    c->prev_from = c->from;
    c->prev_to = c->to;
    c->from = from;
    c->to = to;
    c->steps++;
}

/* The watched array was freed, not reallocated. */
static void ended(struct after_chain *c, const struct after_watch *w)
{
    if (w->t_free < w->t_alloc || w->t_free - w->t_alloc > LINK_NS) return; /* it lived */
    if (!c->steps) c->freed = 1;
    else c->last_freed = 1;
}

/* Has the watch waited longer than what it waits for can take? A small
 * array's free, WATCH_NS; the thread's next record after a free, LINK_NS
 * (a thread that ended after it has none: its watches stayed open, every
 * record of every thread went through them: 2.8 times the analyzer's
 * time on a trace of 15M records after 80 such threads). */
static int waited_out(const struct after_watch *w, uint64_t t)
{
    if (w->freed) return t > w->t_free && t - w->t_free > LINK_NS;
    return t > w->t_alloc && t - w->t_alloc > WATCH_NS;
}

int recognize_heap_event(struct recognizer *rz, uint32_t thread, int is_free, uint64_t t,
                         uint64_t size, uint64_t stack)
{
    for (unsigned k = rz->n_watch; k-- > 0;) {
        struct after_watch *w = &rz->watch[k];
        struct after_chain *c = &rz->b[w->block].fate;
        if (waited_out(w, t)) {
            if (w->freed && !w->large) ended(c, w); /* as at the trace's end */
            close_watch(rz, k);
            continue;
        }
        if (w->thread != thread) continue;
        if (w->large) {
            rz->b[w->block].free_alone = is_free;
            close_watch(rz, k);
        } else if (!w->freed) {
            if (is_free && size == w->size && stack == w->stack) {
                w->freed = 1;
                w->t_free = t;
            }
        } else if (!is_free && size != w->size && stack == w->stack && t >= w->t_free &&
                   t - w->t_free <= LINK_NS) {
            step(c, w->size, size); /* a realloc */
            *w = (struct after_watch){w->block, thread, 0, 0, size, stack, t, 0};
        } else {
            if (is_free) ended(c, w);
            close_watch(rz, k); /* after another allocation: not known */
        }
    }
    return rz->n_watch > 0;
}

void recognize_after_finish(struct recognizer *rz)
{
    for (unsigned k = 0; k < rz->n_watch; k++)
        if (rz->watch[k].freed && !rz->watch[k].large)
            ended(&rz->b[rz->watch[k].block].fate, &rz->watch[k]);
    rz->n_watch = 0;
}
