/* analyzer/series.c - bounded, peak-preserving timelines (see analyze_int.h). */
#include <stdlib.h>

#include "analyze_int.h"

static void push(struct series *s, struct tm_point p)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        if (cap > 2 * TM_TIMELINE_MAX) cap = 2 * TM_TIMELINE_MAX;
        struct tm_point *np = realloc(s->pts, cap * sizeof *np);
        if (!np) return; /* a shorter timeline, never a crash */
        s->pts = np;
        s->cap = cap;
    }
    if (s->n == s->cap) return;
    s->pts[s->n++] = p;
}

/* Halves the kept points, each pair keeping its larger `a` (later on ties). */
static void halve(struct series *s)
{
    size_t j = 0;
    for (size_t i = 0; i + 1 < s->n; i += 2)
        s->pts[j++] = s->pts[i].held > s->pts[i + 1].held ? s->pts[i] : s->pts[i + 1];
    if (s->n % 2) s->pts[j++] = s->pts[s->n - 1];
    s->n = j;
}

void series_add(struct series *s, uint64_t t, uint64_t a, uint64_t b)
{
    struct tm_point p = {t, a, b};
    if (s->stride == 0) s->stride = 1;
    if (!s->has_pending || a >= s->pending.held) s->pending = p;
    s->has_pending = 1;
    if (++s->in_window < s->stride) return;
    push(s, s->pending);
    s->has_pending = 0;
    s->in_window = 0;
    if (s->n >= 2 * TM_TIMELINE_MAX) {
        halve(s);
        s->stride *= 2;
    }
}

struct tm_point *series_finish(struct series *s, uint64_t t, uint64_t a, uint64_t b, size_t *n)
{
    if (s->has_pending) push(s, s->pending);
    while (s->n >= TM_TIMELINE_MAX) halve(s);
    if (s->n == 0 || s->pts[s->n - 1].t != t || s->pts[s->n - 1].held != a ||
        s->pts[s->n - 1].live != b)
        push(s, (struct tm_point){t, a, b});
    struct tm_point *pts = s->pts;
    *n = pts ? s->n : 0;
    s->pts = NULL;
    s->n = s->cap = 0;
    return pts;
}

void series_free(struct series *s)
{
    free(s->pts);
    s->pts = NULL;
    s->n = s->cap = 0;
}
