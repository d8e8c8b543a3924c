/* analyzer/model/series.c - bounded timelines that keep both peaks (see
 * analyze_int.h).
 *
 * Time is cut into cells of 2^shift ns. A cell keeps two of
 * its points: the one with the largest `held` and the one with the largest
 * `live` (the later one on ties, so a flat stretch shows its newest value).
 * When more than TM_TIMELINE_MAX / 2 - 1 cells exist, the cells double and
 * neighbouring cells merge, keeping the larger of each pair. So:
 *  - the points are spread evenly over time, whatever the event rate (a
 *    burst of array events cannot crowd out a quiet tail of count samples);
 *  - the peak of `held` and the peak of `live` always survive;
 *  - each update costs O(1) amortized, and memory is bounded.
 */
#include <stdlib.h>

#include "analyze_int.h"

#define CELLS_MAX (TM_TIMELINE_MAX / 2 - 1) /* two points a cell, plus the final one */

/* Doubles the cells' span, merging the cells that now share an index. */
static void coarsen(struct series *s)
{
    size_t j = 0;
    s->shift++;
    for (size_t i = 0; i < s->n; i++) {
        struct series_cell c = s->cells[i];
        c.idx >>= 1;
        if (j && s->cells[j - 1].idx == c.idx) {
            series_cell_keep(&s->cells[j - 1], c.held_max);
            series_cell_keep(&s->cells[j - 1], c.live_max);
        } else {
            s->cells[j++] = c;
        }
    }
    s->n = j;
}

void series_add(struct series *s, uint64_t t, uint64_t held, uint64_t live)
{
    struct tm_point p = {t, held, live};
    if (!s->cells) {
        s->cells = malloc(CELLS_MAX * sizeof *s->cells);
        if (!s->cells) return; /* no timeline, never a crash */
        s->shift = 0; /* 1 ns: no point merges until the cells run out */
    }
    uint64_t idx = t >> s->shift;
    /* Records arrive in time order; one that does not joins the last cell. */
    if (s->n && idx <= s->cells[s->n - 1].idx) {
        series_cell_keep(&s->cells[s->n - 1], p);
        return;
    }
    while (s->n == CELLS_MAX) {
        coarsen(s);
        idx = t >> s->shift;
        if (idx <= s->cells[s->n - 1].idx) {
            series_cell_keep(&s->cells[s->n - 1], p);
            return;
        }
    }
    s->cells[s->n++] = (struct series_cell){idx, p, p};
}

static int same_point(struct tm_point a, struct tm_point b)
{
    return a.t == b.t && a.held == b.held && a.live == b.live;
}

struct tm_point *series_finish(struct series *s, uint64_t t, uint64_t held, uint64_t live,
                               size_t *n)
{
    struct tm_point *pts = malloc((2 * s->n + 1) * sizeof *pts);
    size_t k = 0;
    *n = 0;
    if (!pts) {
        series_free(s);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++) {
        struct tm_point a = s->cells[i].held_max, b = s->cells[i].live_max;
        if (b.t < a.t) { struct tm_point x = a; a = b; b = x; }
        pts[k++] = a;
        if (!same_point(a, b)) pts[k++] = b;
    }
    struct tm_point last = {t, held, live};
    if (k == 0 || !same_point(pts[k - 1], last)) pts[k++] = last;
    series_free(s);
    *n = k;
    return pts;
}

void series_free(struct series *s)
{
    free(s->cells);
    s->cells = NULL;
    s->n = 0;
    s->shift = 0;
}
