/* analyzer/read/reader_merge.c - the merge of the threads' cursors into one
 * stream of records in time order: a min-heap on (time, then non-FREE
 * before FREE, then thread); the top cursor goes on while it stays first,
 * decoding the common heap records inline (reader_decode.h); up to a time
 * (tm_reader_run_until) or to the end (tm_reader_run).
 */
#include <stdint.h>

#include "reader.h"
#include "reader_decode.h"
#include "reader_int.h"

/* FREE, FREE_INFO: at equal times they come after the rest. */
static inline int frees(uint8_t type)
{
    return type == TMK_REC_FREE || type == TMK_REC_FREE_INFO;
}

static int before(const struct tm_reader *r, size_t a, size_t b)
{
    const struct tm_record *x = &r->cur[a].rec, *y = &r->cur[b].rec;
    if (x->t != y->t) return x->t < y->t;
    int fx = frees(x->type), fy = frees(y->type);
    if (fx != fy) return fy;
    return r->cur[a].thread < r->cur[b].thread;
}

static void sift_down(struct tm_reader *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->nheap && before(r, r->heap[l], r->heap[m])) m = l;
        if (l + 1 < r->nheap && before(r, r->heap[l + 1], r->heap[m])) m = l + 1;
        if (m == i) return;
        size_t t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

/* Merges the cursors' records into fn in time order, up to `until`: the
 * first record of each thread that is later stays in its cursor for the
 * next call. A cursor at the end of its blocks goes on when new blocks came
 * (tm_reader_follow). 0 (*stopped when fn stopped it), -1 out of memory. */
static int merge(struct tm_reader *r, uint64_t until, tm_record_fn fn, void *ctx, int *stopped)
{
    r->nheap = 0;
    for (size_t i = 0; i < r->ncur; i++) { /* a cursor without a record: at its next block */
        if (!r->cur[i].has) reader_park(r, &r->cur[i]);
        if (r->cur[i].has) r->heap[r->nheap++] = i;
    }
    for (size_t i = r->nheap; i-- > 0;) sift_down(r, i);
    while (r->nheap && r->cur[r->heap[0]].rec.t <= until) {
        size_t top = r->heap[0], next = SIZE_MAX;
        struct cursor *c = &r->cur[top];
        if (c->parked) { /* its block's time came: load it, read its first record */
            c->parked = 0;
            if (reader_load_block(r, c) || reader_advance(r, c)) return -1;
            if (!c->has) r->heap[0] = r->heap[--r->nheap];
            sift_down(r, 0);
            continue;
        }
        /* The top cursor goes on while its next record still comes before
         * the runner-up's (the smaller of the top's children): one compare
         * per record, a sift only when another cursor takes over. */
        if (r->nheap > 1) next = r->heap[1];
        if (r->nheap > 2 && before(r, r->heap[2], next)) next = r->heap[2];
        do {
            if (__builtin_expect(r->saw_end, 0) && c->thread == r->end_thread && !ends_trace(&c->rec))
                r->saw_end = 0; /* its thread went on: an exec that failed (trace-format.md) */
            if (fn(ctx, &c->rec)) goto stop;
            /* The common case inline: a heap record inside the block (on
             * any failure reader_advance() decodes it again and reports it). */
            if (!decode_fast(c) && reader_advance(r, c)) return -1;
        } while (c->has && !c->parked && c->rec.t <= until &&
                 (next == SIZE_MAX || before(r, top, next)));
        if (!c->has) r->heap[0] = r->heap[--r->nheap];
        sift_down(r, 0);
    }
    return 0;
stop:
    *stopped = 1;
    return 0;
}

int tm_reader_run(struct tm_reader *r, tm_record_fn fn, void *ctx, char *err, size_t errlen)
{
    int stopped = 0;
    if (merge(r, UINT64_MAX, fn, ctx, &stopped)) {
        reader_set_err(err, errlen, "out of memory reading the trace");
        return -1;
    }
    if (!stopped) tm_reader_end(r);
    return 0;
}

int tm_reader_run_until(struct tm_reader *r, uint64_t until, tm_record_fn fn, void *ctx,
                        char *err, size_t errlen)
{
    int stopped = 0;
    if (merge(r, until, fn, ctx, &stopped)) {
        reader_set_err(err, errlen, "out of memory reading the trace");
        return -1;
    }
    return 0;
}
