/* analyzer/model/heap.c - the ordinary heap: live allocations, per-site bytes,
 * the heap's peak and each site's share of it.
 *
 * Two kinds of records feed it: blocks by address (ALLOC/FREE: 1.x, tables
 * and sampled modes, and in 3.x full mode blocks of 64 KiB or more, of
 * 4 GiB or more, and table arrays), kept in `live` (livemap.h), and blocks
 * by info (3.x full mode's ALLOC_INFO/FREE_INFO: size and stack, no
 * address), counted per info in `infos` (infomap.h). A table array
 * recorded by info moves from its info's count to `live` when its
 * TABLE_ARRAY names its address (heap_info_to_address).
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
    infomap_init(&h->infos);
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

/* A block of `size` bytes at `site` ended. */
static void account_free(struct heap_state *h, uint64_t t, uint64_t size, uint32_t site)
{
    h->in_use -= size <= h->in_use ? size : h->in_use;
    h->frees++;
    site_change(h, site, 0, size);
    series_add_fast(&h->tl, t, h->in_use, h->rss);
}

static void account_free_packed(struct heap_state *h, uint64_t t, uint64_t packed)
{
    account_free(h, t, live_size(packed), live_site(packed));
}

/* A block of `size` bytes at `site` was allocated. */
static void account_alloc(struct heap_state *h, uint64_t t, uint64_t size, uint32_t site)
{
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

int heap_free(struct heap_state *h, uint64_t t, uint64_t ptr, uint64_t *size)
{
    uint64_t packed;
    *size = 0;
    if (!livemap_del(&h->live, ptr, &packed)) {
        h->unknown_frees++;
        return 0;
    }
    *size = live_size(packed);
    account_free_packed(h, t, packed);
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
        account_free_packed(h, t, old);
    }
    account_alloc(h, t, size, site);
}

/* ---- the heap by info ---- */

/* The site of info slot s (of `stack`), looked up at its first counted
 * allocation (so that sites are numbered as the allocations came). */
static uint32_t info_site(struct heap_state *h, struct info_slot *s, uint64_t stack)
{
    if (s->site == INFO_SITE_UNSET) {
        uint32_t site = site_for(h, stack);
        s->site = site == UINT32_MAX ? INFO_SITE_NONE : site + INFO_SITE_BIAS;
    }
    return s->site == INFO_SITE_NONE ? UINT32_MAX : s->site - INFO_SITE_BIAS;
}

static struct info_slot *info_of(struct heap_state *h, uint64_t size, uint64_t stack)
{
    struct info_slot *s = infomap_get(&h->infos, infomap_key(size, stack));
    if (!s) h->oom = 1;
    return s;
}

void heap_alloc_info(struct heap_state *h, uint64_t t, uint64_t size, uint64_t stack, int counted)
{
    struct info_slot *s = info_of(h, size, stack);
    if (!s) return;
    if (s->count == INT32_MAX) { /* 2^31 blocks of one info live: not counted */
        h->info_overflow++;
        return;
    }
    int owed = s->count < 0; /* its free was read first */
    s->count++;
    if (!counted) return;
    uint32_t site = info_site(h, s, stack);
    account_alloc(h, t, size, site);
    if (owed) account_free(h, t, size, site);
    else h->info_live++;
}

int heap_free_info(struct heap_state *h, uint64_t t, uint64_t size, uint64_t stack, int counted)
{
    struct info_slot *s = info_of(h, size, stack);
    if (!s) return 0;
    if (s->count <= 0) { /* its allocation comes later in the tick */
        if (s->count > INT32_MIN) s->count--;
        return 0;
    }
    s->count--;
    if (counted) {
        if (h->info_live) h->info_live--;
        account_free(h, t, size, info_site(h, s, stack));
    }
    return 1;
}

int heap_info_to_address(struct heap_state *h, uint64_t t, uint64_t size, uint64_t stack,
                         uint64_t ptr, int counted)
{
    struct info_slot *s = info_of(h, size, stack);
    if (!s || s->count <= 0) return 0;
    s->count--;
    if (!counted) return 1;
    if (h->info_live) h->info_live--;
    uint64_t old;
    int had = livemap_put(&h->live, ptr, live_pack(size, info_site(h, s, stack)), &old);
    if (had < 0) {
        h->oom = 1;
    } else if (had) { /* `ptr` was live already: its free was lost */
        h->double_allocs++;
        account_free_packed(h, t, old);
    }
    return 1;
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
    out->live_allocs = h->live.count + h->info_live;
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
    infomap_free(&h->infos);
    free(h->sites);
    series_free(&h->tl);
}
