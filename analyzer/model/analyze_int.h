/* analyzer/model/analyze_int.h - internals shared by the model's parts:
 * heap.c (ordinary allocations), table_life.c (table lives), sizing_rules.c
 * (bytes a table needs), advice.c (recommendations), analyze.c (drives the
 * reader and assembles struct tm_model). Not for renderers. */
#ifndef TIDEMARK_ANALYZER_ANALYZE_INT_H
#define TIDEMARK_ANALYZER_ANALYZE_INT_H

#include <stdint.h>

#include "model.h"
#include "free_runs.h"
#include "infomap.h"
#include "livemap.h"
#include "read/reader.h"
#include "u64map.h"

/* A bounded timeline of (t, held, live) points, spread evenly over time,
 * that always keeps the peak of `held` and of `live` (series.c). For the
 * heap's timeline, held = bytes in use and live = RSS. */
struct series_cell {
    uint64_t idx; /* t >> shift of the points in it */
    struct tm_point held_max, live_max;
};
struct series {
    struct series_cell *cells;
    size_t n;
    unsigned shift; /* a cell spans 2^shift ns */
};
/* A cell keeps its largest held and its largest live point (later on ties). */
static inline void series_cell_keep(struct series_cell *c, struct tm_point p)
{
    if (p.held >= c->held_max.held) c->held_max = p;
    if (p.live >= c->live_max.live) c->live_max = p;
}
void series_add(struct series *s, uint64_t t, uint64_t a, uint64_t b);
/* series_add with its common case inline: t falls in the last cell (nearly
 * every heap event once the cells have widened). Same effect. */
static inline void series_add_fast(struct series *s, uint64_t t, uint64_t a, uint64_t b)
{
    if (s->n && (t >> s->shift) <= s->cells[s->n - 1].idx) {
        series_cell_keep(&s->cells[s->n - 1], (struct tm_point){t, a, b});
        return;
    }
    series_add(s, t, a, b);
}
/* Closes the series with the final state; returns its points (owned by the
 * caller) and their count. */
struct tm_point *series_finish(struct series *s, uint64_t t, uint64_t a, uint64_t b, size_t *n);
void series_free(struct series *s);

/* ---- heap.c ---- */
struct heap_site {
    uint64_t stack_id;
    uint64_t cur, at_peak, gen, allocs, alloc_bytes;
};
struct heap_state {
    struct livemap live;      /* blocks by address: ptr -> (size, site index) */
    struct infomap infos;     /* blocks by info: (size, stack) -> live count, site */
    uint64_t info_live;       /* blocks by info counted and not freed */
    uint64_t info_overflow;   /* ALLOC_INFOs past 2^31 live blocks of one info */
    struct u64map site_ix;    /* stack id -> index into sites */
    uint64_t site_memo[64];   /* direct-mapped cache in front of site_ix: */
    uint32_t site_memo_ix[64]; /* stack id + 1 (0 = empty) -> site index */
    struct heap_site *sites;
    size_t n_sites, sites_cap;
    uint64_t gen;             /* number of times a new peak was reached */
    uint64_t in_use, peak, peak_t, allocs, frees, alloc_bytes;
    uint64_t unknown_frees, double_allocs;
    uint64_t rss, rss_peak;
    struct series tl;
    int oom;
};
void heap_init(struct heap_state *h);
void heap_alloc(struct heap_state *h, uint64_t t, uint64_t ptr, uint64_t size, uint64_t stack);
/* Returns 1 if ptr was a live allocation, its size in *size (else 0). */
int heap_free(struct heap_state *h, uint64_t t, uint64_t ptr, uint64_t *size);
/* The heap by info (by_info.c sends them): every ALLOC_INFO, FREE_INFO and
 * TABLE_ARRAY by info of the trace, in the merged order, also those after
 * --at: the live count of each info follows them all, and `counted`
 * (t <= at) says whether the figures do.
 *
 * heap_alloc_info: one more block of the info; when a free of the info was
 * read before it (count below 0: one tick, several threads), the block is
 * allocated and freed at once, as it happened. */
void heap_alloc_info(struct heap_state *h, uint64_t t, uint64_t size, uint64_t stack, int counted);
/* One block of the info ends: 1; or, when none is live, 0 and the count
 * goes below 0 until the allocation it ends is read. */
int heap_free_info(struct heap_state *h, uint64_t t, uint64_t size, uint64_t stack, int counted);
/* TABLE_ARRAY by info: one live block of the info is known by its address
 * `ptr` from now on (the same size and site; nothing counted): 1, or 0 when
 * the info has no live block (the array was read before its allocation). */
int heap_info_to_address(struct heap_state *h, uint64_t t, uint64_t size, uint64_t stack,
                         uint64_t ptr, int counted);
int heap_is_live(const struct heap_state *h, uint64_t ptr);
void heap_memory(struct heap_state *h, uint64_t t, uint64_t rss);
/* Fills out (its site lists hold every stack with bytes, unranked, until
 * sites_symbolize merges and cuts them) and frees the state. */
int heap_finish(struct heap_state *h, uint64_t t_end, struct tm_heap *out);
void heap_free_state(struct heap_state *h);

/* ---- analyze.c ---- */
/* Appends a warning line to the trace info; -1 when out of memory. */
int analysis_warning(struct tm_trace_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- table_life.c ---- (declared early: struct analysis holds one) */
struct table_state;
struct tables {
    struct u64map by_id;      /* table id -> index */
    struct table_state *ts;
    size_t n, cap;
    struct u64map arrays;     /* array ptr -> index into arr */
    struct table_array *arr;
    size_t n_arr, arr_cap;
    uint64_t contradictions;
    char *first_problem[4];   /* the first few contradictions, as text */
    size_t n_problems;
    int oom;
};

/* One pass of records into the model's parts (analyze.c): tm_analyze runs
 * one over the whole trace, follow.c keeps one open while a trace grows.
 * ALLOC/FREE records wait in `batch` (up to ANALYSIS_BATCH, their live-map
 * slots prefetched), and so do ALLOC_INFO/FREE_INFO (their info's slot
 * prefetched), until a record with another effect, or analysis_flush. */
#define ANALYSIS_BATCH 64
struct recognizer;
struct analysis_pending {
    uint8_t type;
    uint32_t thread;
    uint64_t t, ptr, size, stack; /* ptr: by address only */
};
struct analysis {
    const struct tm_options *o; /* records after o->at are read, not applied */
    struct tm_model *m;         /* its info, stacks and modules fill as records come */
    struct heap_state heap;
    struct tables tables;
    int track_heap;             /* full mode: ALLOC/FREE define liveness */
    struct u64map stack_ix;     /* stack id -> index into m->stacks */
    size_t stacks_cap, modules_cap;
    uint64_t module_events;     /* MODULE and MODULE_GONE records read */
    uint64_t last_t;            /* of the latest record applied (not STACK or MODULE) */
    uint32_t end_thread;        /* the thread whose END info->ended is */
    uint64_t last_read_t;       /* of the latest record read */
    int oom;
    struct analysis_pending batch[ANALYSIS_BATCH];
    unsigned nbatch;
    struct recognizer *rz;      /* tables nobody annotated (recognize.c) */
    int rz_watching;            /* recognize_heap_event wants the heap records */
    struct free_runs runs;      /* each thread's frees since its allocation (free_runs.h) */
    struct tm_record *held;     /* TABLE_ARRAYs by info waiting for their block (by_info.c) */
    size_t n_held, held_cap;
};
/* Also fills m->info from the header (path: the trace's name, or a label). */
void analysis_init(struct analysis *c, struct tm_model *m, const struct tmk_file_header *h,
                   const char *path);
int analysis_record(void *c, const struct tm_record *r); /* a tm_record_fn */
/* analysis_record without counting r as read (by_info.c's held arrays). */
int analysis_apply(struct analysis *c, const struct tm_record *r);
void analysis_flush(struct analysis *c);
static inline int analysis_oom(const struct analysis *c)
{
    return c->oom || c->heap.oom || c->tables.oom;
}
void analysis_free(struct analysis *c);

/* ---- by_info.c ---- */
/* ALLOC_INFO or FREE_INFO r: into the batch (or, for the block of a held
 * array, applied by address with its array). Nonzero when out of memory. */
int by_info_record(struct analysis *c, const struct tm_record *r);
/* Applies a batched ALLOC_INFO or FREE_INFO. */
void by_info_apply(struct analysis *c, const struct analysis_pending *p);
/* TABLE_ARRAY r by info (the batch applied): 0 when its block moved to the
 * address map (apply the array as by address), 1 when it waits for its
 * block. */
int by_info_array(struct analysis *c, const struct tm_record *r);
/* After the last record: what is still waiting becomes the heap's unknown
 * frees and the reader's warnings (before tm_reader_end). */
void by_info_end(struct analysis *c, struct tm_reader *r);

/* ---- sites.c ---- */
/* Names every table's creation site and the heap's sites (the first frame
 * outside the allocator and table plumbing), merges heap sites that name the
 * same place, keeps the top m->opts.top_sites of each list. -1 when out of
 * memory. */
int sites_symbolize(struct tm_model *m);

/* ---- sizing_rules.c ---- */
/* Which model a table gets from what TABLE_NEW recorded. */
enum tm_model_kind sizing_model_for(const struct tm_table *t);
/* Bytes the table's arrays would take for `live` entries if built fresh,
 * by its model (not its history: table_life.c adds that). */
uint64_t sizing_needed_bytes(const struct tm_table *t, uint64_t live);
/* The table stated a usable growth rule (load num and den > 0, factor >= 2). */
int sizing_rule_stated(const struct tm_table *t);
/* Buckets the table's rule gives for `live` entries grown from empty. */
uint64_t sizing_rule_buckets(const struct tm_table *t, uint64_t live);

/* ---- advice.c ---- */
/* Fills t->recs (sorted best first) from the table's final figures.
 * main_bytes = bytes of its newest live main array. -1 when out of memory. */
int advice_make(struct tm_table *t, uint64_t main_bytes, const struct tm_options *o);

/* ---- table_life.c ---- */
void tables_init(struct tables *tb);
/* How long before a recognised table's end its destructor may be clearing
 * its arrays (libstdc++, GLib): a count read then says nothing of what it
 * held. */
#define TM_CLEAR_NS 10000000ull /* 10 ms */

void tables_new(struct tables *tb, const struct tm_record *r, const struct tm_options *o);
/* heap_live: -1 unknown (mode tables), else whether ptr is a live allocation. */
void tables_array(struct tables *tb, const struct tm_record *r, int heap_live,
                  const struct tm_options *o);
/* TABLE_PEAK: the table's high-water count (exact, may follow its END). */
void tables_peak(struct tables *tb, const struct tm_record *r);
/* TABLE_GROWTH: the growth rule the table stated (an extended record). */
void tables_growth(struct tables *tb, const struct tm_record *r, const struct tm_options *o);
void tables_count(struct tables *tb, const struct tm_record *r, int end,
                  const struct tm_options *o);
/* An allocation was freed: if it was a table's array, the table lets it go. */
void tables_freed(struct tables *tb, uint64_t t, uint64_t ptr, const struct tm_options *o);
/* Table i (0 <= i < tb->n) as of the latest record applied: its figures
 * (held, needed, retained, live, peaks) are current; model, verdict,
 * recommendations and timeline are set only by tables_finish. */
const struct tm_table *tables_current(const struct tables *tb, size_t i);
/* The largest table id so far (0 when none). */
uint64_t tables_max_id(const struct tables *tb);
/* A recognised table (recognize.c): its rule, the load it grows at where
 * measured (0: the rule's), and the range of its count. */
void tables_set_rule(struct tables *tb, uint64_t id, const struct tm_rule *rule, double load);
void tables_set_live_range(struct tables *tb, uint64_t id, uint64_t lo, uint64_t hi);
/* Table id (recognised, just ended) was shrunk by its owner, not freed. */
void tables_mark_shrunk(struct tables *tb, uint64_t id);
/* Moves the finished tables into out (sorted per the model contract). */
int tables_finish(struct tables *tb, uint64_t t_end, const struct tm_options *o,
                  struct tm_table **out, size_t *n);
void tables_free(struct tables *tb);

#endif /* TIDEMARK_ANALYZER_ANALYZE_INT_H */
