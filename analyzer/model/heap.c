/* analyzer/model/heap.c - the ordinary heap: live allocations, per-site bytes,
 * the heap's peak and each site's share of it.
 *
 * Peak attribution without snapshots: `gen` counts new heap peaks. A site
 * remembers the gen of its last change; when it changes again after a newer
 * peak, its value at that peak was its value before this change, so it is
 * saved in at_peak. At the end, a site unchanged since the last peak holds
 * its peak value in cur. O(1) per event. */
#include <stdlib.h>
#include <string.h>

#include "analyze_int.h"

void heap_init(struct heap_state *h)
{
    memset(h, 0, sizeof *h);
    livemap_init(&h->live);
    u64map_init(&h->site_ix);
}

static uint32_t site_for(struct heap_state *h, uint64_t stack)
{
    unsigned k = (unsigned)(stack & 63);
    if (h->site_memo[k] == stack + 1) return h->site_memo_ix[k];
    uint64_t *ix = u64map_get(&h->site_ix, stack);
    if (ix) {
        h->site_memo[k] = stack + 1;
        h->site_memo_ix[k] = (uint32_t)*ix;
        return (uint32_t)*ix;
    }
    if (h->n_sites >= LIVE_SITE_MAX) return UINT32_MAX; /* beyond 16M stacks: unattributed */
    if (h->n_sites == h->sites_cap) {
        size_t cap = h->sites_cap ? h->sites_cap * 2 : 256;
        struct heap_site *s = realloc(h->sites, cap * sizeof *s);
        if (!s) goto oom;
        h->sites = s;
        h->sites_cap = cap;
    }
    if (u64map_put(&h->site_ix, stack, h->n_sites)) goto oom;
    h->sites[h->n_sites] = (struct heap_site){.stack_id = stack, .gen = h->gen};
    return (uint32_t)h->n_sites++;
oom:
    h->oom = 1;
    return UINT32_MAX;
}

static void site_change(struct heap_state *h, uint32_t site, uint64_t add, uint64_t sub)
{
    if (site >= h->n_sites) return; /* unattributed */
    struct heap_site *s = &h->sites[site];
    if (s->gen != h->gen) {
        s->at_peak = s->cur;
        s->gen = h->gen;
    }
    s->cur = s->cur + add - (sub > s->cur + add ? s->cur + add : sub);
}

static void account_free(struct heap_state *h, uint64_t t, uint64_t packed)
{
    uint64_t size = live_size(packed);
    h->in_use -= size <= h->in_use ? size : h->in_use;
    h->frees++;
    site_change(h, live_site(packed), 0, size);
    series_add_fast(&h->tl, t, h->in_use, h->rss);
}

int heap_free(struct heap_state *h, uint64_t t, uint64_t ptr)
{
    uint64_t packed;
    if (!livemap_del(&h->live, ptr, &packed)) {
        h->unknown_frees++;
        return 0;
    }
    account_free(h, t, packed);
    return 1;
}

void heap_alloc(struct heap_state *h, uint64_t t, uint64_t ptr, uint64_t size, uint64_t stack)
{
    uint32_t site = site_for(h, stack);
    uint64_t old;
    int had = livemap_put(&h->live, ptr, live_pack(size, site), &old);
    if (had < 0) {
        h->oom = 1;
        return;
    }
    if (had) { /* allocated twice: the free was lost */
        h->double_allocs++;
        account_free(h, t, old);
    }
    h->allocs++;
    h->alloc_bytes += size;
    h->in_use += size;
    site_change(h, site, size, 0);
    if (site < h->n_sites) {
        h->sites[site].allocs++;
        h->sites[site].alloc_bytes += size;
    }
    if (h->in_use > h->peak) {
        h->peak = h->in_use;
        h->peak_t = t;
        h->gen++;
    }
    series_add_fast(&h->tl, t, h->in_use, h->rss);
}

void heap_rename(struct heap_state *h, uint64_t t, uint64_t from, uint64_t to)
{
    uint64_t packed, old;
    if (!livemap_del(&h->live, from, &packed)) {
        h->unknown_frees++;
        return;
    }
    int had = livemap_put(&h->live, to, packed, &old);
    if (had < 0) {
        h->oom = 1;
    } else if (had) { /* `to` was live already: its free was lost */
        h->double_allocs++;
        account_free(h, t, old);
    }
}

int heap_is_live(const struct heap_state *h, uint64_t ptr)
{
    return livemap_has(&h->live, ptr);
}

void heap_memory(struct heap_state *h, uint64_t t, uint64_t rss)
{
    h->rss = rss;
    if (rss > h->rss_peak) h->rss_peak = rss;
    series_add_fast(&h->tl, t, h->in_use, h->rss);
}

/* A site's bytes at the heap's last peak. */
static uint64_t site_at_peak(const struct heap_state *h, const struct heap_site *s)
{
    return s->gen != h->gen ? s->cur : s->at_peak;
}

/* Every stack with bytes by `at_peak` (or cur), nonzero only, unranked:
 * sites.c names, merges and ranks them. */
static int site_list(const struct heap_state *h, int peak, struct tm_site **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct tm_site *all = malloc((h->n_sites ? h->n_sites : 1) * sizeof *all);
    if (!all) return -1;
    size_t k = 0;
    for (size_t i = 0; i < h->n_sites; i++) {
        const struct heap_site *s = &h->sites[i];
        uint64_t v = peak ? site_at_peak(h, s) : s->cur;
        if (v) all[k++] = (struct tm_site){s->stack_id, NULL, v, s->allocs};
    }
    *n = k;
    *out = all;
    return 0;
}

static int by_stack_id(const void *a, const void *b)
{
    const struct tm_stack_heap *x = a, *y = b;
    return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* Every stack's figures, sorted by stack id. */
static int stack_list(const struct heap_state *h, struct tm_heap *out)
{
    out->by_stack = malloc((h->n_sites ? h->n_sites : 1) * sizeof *out->by_stack);
    if (!out->by_stack) return -1;
    for (size_t i = 0; i < h->n_sites; i++) {
        const struct heap_site *s = &h->sites[i];
        out->by_stack[i] = (struct tm_stack_heap){s->stack_id, site_at_peak(h, s), s->cur,
                                                  s->alloc_bytes, s->allocs};
    }
    out->n_by_stack = h->n_sites;
    qsort(out->by_stack, out->n_by_stack, sizeof *out->by_stack, by_stack_id);
    return 0;
}

int heap_finish(struct heap_state *h, uint64_t t_end, struct tm_heap *out)
{
    memset(out, 0, sizeof *out);
    out->peak_bytes = h->peak;
    out->peak_t = h->peak ? h->peak_t : TM_NO_TIME;
    out->in_use = h->in_use;
    out->allocs = h->allocs;
    out->frees = h->frees;
    out->alloc_bytes = h->alloc_bytes;
    out->live_allocs = h->live.count;
    out->rss_peak = h->rss_peak;
    size_t n;
    struct tm_point *pts = series_finish(&h->tl, t_end, h->in_use, h->rss, &n);
    out->timeline = malloc((n ? n : 1) * sizeof *out->timeline);
    if (!out->timeline) {
        free(pts);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out->timeline[i] = (struct tm_heap_point){pts[i].t, pts[i].held, pts[i].live};
    out->n_points = n;
    free(pts);
    if (site_list(h, 1, &out->top_peak, &out->n_top_peak) ||
        site_list(h, 0, &out->top_end, &out->n_top_end) || stack_list(h, out))
        return -1;
    return 0;
}

void heap_free_state(struct heap_state *h)
{
    livemap_free(&h->live);
    u64map_free(&h->site_ix);
    free(h->sites);
    series_free(&h->tl);
}
