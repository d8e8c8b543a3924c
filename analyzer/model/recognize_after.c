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
 * on: a shrink), and none is opened past AFTER_WATCH_MAX at once. A free
 * that the trace's end follows (a destroy as the program's last act) ends
 * the chain too (recognize_after_finish). */
#include "recognize_int.h"

#define WATCH_NS 1000000000ull /* 1 s */

int recognize_after_start(struct recognizer *rz, size_t index)
{
    const struct block *b = &rz->b[index];
    if (b->after.size >= b->size || rz->n_watch == AFTER_WATCH_MAX) return rz->n_watch > 0;
    rz->watch[rz->n_watch++] = (struct after_watch){index, b->free_thread, 0, 0, b->after.size,
                                                    b->after.stack, b->after.t, 0};
    return 1;
}

void recognize_after_freed(struct recognizer *rz, size_t index)
{
    const struct block *b = &rz->b[index];
    if (rz->n_watch < AFTER_WATCH_MAX)
        rz->watch[rz->n_watch++] = (struct after_watch){index, b->free_thread, 1, 1, b->size,
                                                        b->stack, b->t_alloc, b->t_free};
}

static void close_watch(struct recognizer *rz, unsigned k)
{
    rz->watch[k] = rz->watch[--rz->n_watch];
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

int recognize_heap_event(struct recognizer *rz, uint32_t thread, int is_free, uint64_t t,
                         uint64_t size, uint64_t stack)
{
    for (unsigned k = rz->n_watch; k-- > 0;) {
        struct after_watch *w = &rz->watch[k];
        if (!w->freed && t > w->t_alloc && t - w->t_alloc > WATCH_NS) {
            close_watch(rz, k);
            continue;
        }
        if (w->thread != thread) continue;
        struct after_chain *c = &rz->b[w->block].fate;
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
