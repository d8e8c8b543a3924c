/* analyzer/model/model.h - the analyzer's result: what every report renders.
 *
 * tm_analyze() reads a trace once (reader.h) and fills a struct tm_model:
 * trace facts, one struct tm_table per annotated table (rebuilt across all
 * its rehashes, with the retention figures, a verdict, recommendations and a
 * bounded timeline), the ordinary heap summary, and the stacks and modules
 * those refer to. Reports (text, json, html, collapsed, pprof, openmetrics)
 * only read it.
 *
 * Contract for renderers (report_*.c):
 *  - Every byte figure is an exact uint64_t of bytes; times are ns since the
 *    trace's start (tmk_file_header.start_monotonic_ns). TM_NO_TIME marks
 *    "never" / "not applicable".
 *  - model->tables is sorted by retained bytes, descending (ties: held bytes
 *    descending, then id ascending). A renderer may show a prefix of it
 *    (--top) but never reorders it.
 *  - Each table's recs[] is already filtered to those that apply and sorted
 *    best first (most bytes saved; ties by a fixed preference).
 *  - Strings (labels, paths, thread names, site, rec text) come from the
 *    trace and are arbitrary bytes made NUL-terminated: a renderer escapes
 *    them for its format (HTML, JSON). They never contain a NUL.
 *  - Stack ids are the trace's ids; 0 means "no stack recorded".
 *    tm_model_stack() finds one; it may return NULL (id never defined in a
 *    truncated trace): render "[unknown stack]".
 *  - `site` strings (table->site, tm_site.site) are the symbolized creation
 *    or allocation site chosen for humans ("file.c:42", "func", or
 *    "module+0x1a2b"); always non-NULL after tm_analyze ("?" if unknown).
 *  - Timelines are in time order, at most TM_TIMELINE_MAX points, and always
 *    include the table's final state at model->info.at.
 *  - Nothing in the model points into the reader; it outlives it.
 */
#ifndef TIDEMARK_ANALYZER_MODEL_H
#define TIDEMARK_ANALYZER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TM_NO_TIME UINT64_MAX
#define TM_TIMELINE_MAX 256 /* points per timeline (table or heap) */

/* Exit statuses of the tidemark command (documented in --help and README). */
enum tm_exit {
    TM_EXIT_OK = 0,      /* success; check: every gate holds */
    TM_EXIT_GATE = 1,    /* check: a gate failed */
    TM_EXIT_CANNOT = 2,  /* bad flag, unreadable/invalid trace, cannot judge */
};

/* ---- options that shape the analysis ----------------------------------- */

struct tm_options {
    uint64_t at;              /* evaluate at this time (ns); TM_NO_TIME = end */
    uint64_t min_retained;    /* oversized when retained >= this many bytes ... */
    double min_ratio;         /* ... and retained / held >= this */
    double rebuild_fraction;  /* advise rebuilding when live < this * capacity */
    size_t top_sites;         /* heap sites kept per list; 0 = all */
    const char *sysroot;      /* for symbols; NULL = / */
    const char *source_root;  /* sites are relative to this absolute directory
                                 when under it; NULL = the working directory */
    int symbolize;            /* 0 = skip libdw (addresses only; tests, speed) */
    const struct tm_rules *rules; /* recognition rules; NULL = the built-in ones */
};

/* Defaults: end of trace, 1 MiB, 0.5, 0.25, 10 sites, symbolize. */
void tm_options_default(struct tm_options *o);

/* ---- tables ------------------------------------------------------------ */

enum tm_verdict {
    TM_VERDICT_OK = 0,        /* holds about what it needs */
    TM_VERDICT_OVERSIZED = 1, /* retained passes both thresholds */
    TM_VERDICT_ENDED = 2,     /* table gone (TABLE_END) and holds nothing */
    TM_VERDICT_LEAKED = 3,    /* table gone but arrays still allocated */
};

enum tm_model_kind {
    TM_MODEL_GOMAP = 0,   /* exact: Go 1.19's rules via gomap_sizing.h */
    TM_MODEL_UTHASH = 1,  /* expected array for `live` keys, uniform hash */
    TM_MODEL_GENERIC = 2, /* live entries x slot size; said in the report */
    TM_MODEL_RULE = 3,    /* the growth rule the table stated (TABLE_GROWTH) */
    TM_MODEL_RECOGNISED = 4, /* not annotated: its recognition rule's implementation */
};

/* What gave a table's `needed`: its model (above), or its own history,
 * when the table held more than the model says the last time it grew to
 * hold its current live count (DESIGN.md "Retention model"). */
enum tm_needed_basis {
    TM_NEEDED_MODEL = 0,
    TM_NEEDED_HISTORY = 1,
};

/* tm_table.kind of a table recognised by a rule (table_rules.h), not one
 * the program announced: outside annotate.h's kinds. */
#define TM_KIND_RECOGNISED 0x100

enum tm_rec_kind {
    TM_REC_SHRINK = 0,         /* gomap_shrink(m) now */
    TM_REC_CLONE = 1,          /* copy live entries into a fresh table */
    TM_REC_POINTER_VALUES = 2, /* store 8-byte pointers to values */
    TM_REC_SMALLER_HINT = 3,   /* size hint above the peak ever reached */
    TM_REC_REBUILD_POLICY = 4, /* rebuild when live < fraction of capacity */
    TM_REC_RESTART = 5,        /* last resort: restart the process */
};

struct tm_recommendation {
    enum tm_rec_kind kind;
    uint64_t bytes_saved; /* exact, from the table's model */
    char *text;           /* one sentence for humans, no trailing newline */
};

struct tm_point {
    uint64_t t;    /* ns */
    uint64_t held; /* bytes of live bucket arrays */
    uint64_t live; /* live entries */
};

struct tm_table {
    uint64_t id;             /* trace's table id */
    uint32_t kind;           /* enum tmk_table_kind (annotate.h) as recorded */
    enum tm_model_kind model;
    uint32_t flags;          /* TMK_TABLE_* */
    char *label;             /* "" when none */
    uint64_t stack_id;       /* creation stack; 0 = none */
    char *site;              /* symbolized creation site (see contract) */
    uint32_t key_size, value_size, bucket_size, slots_per_bucket;
    uint64_t hint;
    /* The growth rule the table stated (annotate.h; all 0 when none): grows
     * past live > capacity x num / den, by factor, from min_buckets. */
    uint32_t grow_load_num, grow_load_den, grow_factor, min_buckets;

    uint64_t created_t, ended_t;   /* ended_t = TM_NO_TIME while alive */
    uint64_t buckets_now;          /* buckets of the newest live main array */
    uint64_t buckets_peak;         /* most buckets any main array had */
    uint64_t live_now, live_peak, live_peak_t;
    int live_peak_exact;           /* the table reported its high-water count
                                      (tmk_table_peak); else live_peak is the
                                      largest count sampled, a lower bound */
    uint64_t held, held_peak, held_peak_t; /* bucket-array bytes */
    uint32_t arrays_live;          /* allocations counted in held */
    uint64_t growths;              /* GROW + SAMESIZE_GROW arrays */
    uint64_t needed;               /* same table built fresh for live_now, and
                                      never less than what it held when it
                                      last grew to hold live_now entries */
    enum tm_needed_basis needed_basis;
    uint64_t retained;             /* held - needed, never negative */
    int after_deletes;             /* alive, and live_now < live_peak_lo */
    uint64_t oversized_since;      /* oversized continuously since; TM_NO_TIME */
    /* An ended table as it was right before its end (its END, or for a
     * recognised table the first free of its last arrays): what a program
     * that frees its tables as it ends (CPython finalizing, C++ leaving
     * main) kept until then. last_oversized_since = TM_NO_TIME when it was
     * not oversized then (or the table is alive). */
    uint64_t last_live, last_held, last_needed, last_retained, last_oversized_since;
    int shrunk;                    /* a recognised table that ended as its owner
                                      shrank it below the arrays the shim
                                      follows (rehash(0), shrink_to_fit): not
                                      freed; last_oversized_since is TM_NO_TIME */
    enum tm_verdict verdict;
    /* Recognised tables (kind TM_KIND_RECOGNISED): the rule, and the live
     * count's range where the array cannot say it exactly (live_now is the
     * upper end); NULL and live_lo == live_now otherwise. */
    const struct tm_rule *rule;
    double load;                   /* the load it grows at, measured where it
                                      is not the rule's (libstdc++ at a lower
                                      max_load_factor); 0: the rule's */
    uint64_t live_lo;
    uint64_t live_peak_lo;         /* the lower end of the peak's range: a
                                      count under it was surely lower (an
                                      estimate's noise is no delete) */
    int live_counted;              /* a count came: a recognised table's live
                                      count is not known before its first
                                      probe or growth (never oversized then) */

    struct tm_recommendation *recs;
    size_t n_recs;
    struct tm_point *timeline;
    size_t n_points;
};

/* Did the table end while oversized (it kept its retained bytes until the
 * program freed it)? */
static inline int tm_table_ended_oversized(const struct tm_table *t)
{
    return t->ended_t != TM_NO_TIME && t->last_oversized_since != TM_NO_TIME;
}

/* An ended table seen oversized before its end, not only by what it held
 * as it was freed (a count read at its free, or the nodes its destructor
 * freed: since when it held so few is not known, and a table erased and
 * then destroyed, or replaced by a copy built from its elements as the
 * advice says, retained nothing for any time): what check --until-freed
 * judges. */
static inline int tm_table_kept_oversized(const struct tm_table *t)
{
    return tm_table_ended_oversized(t) && t->last_oversized_since < t->ended_t;
}

/* ---- ordinary heap ----------------------------------------------------- */

struct tm_site {
    uint64_t stack_id;
    char *site;         /* symbolized, see contract */
    uint64_t bytes;     /* the figure the list is ranked by */
    uint64_t allocs;    /* allocations made from this stack (whole run) */
};

/* One allocation stack's share of the heap; the sums over all stacks are the
 * heap's totals (bytes beyond LIVE_SITE_MAX distinct stacks are in no stack). */
struct tm_stack_heap {
    uint64_t stack_id;
    uint64_t peak_bytes;  /* live at the heap's peak */
    uint64_t end_bytes;   /* still allocated at `at` */
    uint64_t alloc_bytes; /* sum of the sizes allocated from it */
    uint64_t allocs;      /* allocations made from it */
};

struct tm_heap_point {
    uint64_t t;
    uint64_t heap; /* bytes in use as the analyzer counted them */
    uint64_t rss;  /* last MEMORY record's rss, 0 if none yet */
};

struct tm_heap {
    int tracked;            /* 0 in mode=tables: no ordinary allocations */
    uint64_t peak_bytes, peak_t;
    uint64_t in_use;        /* at model->info.at */
    uint64_t allocs, frees; /* counts of ALLOC / FREE records applied */
    uint64_t alloc_bytes;   /* sum of allocation sizes */
    uint64_t live_allocs;   /* allocations still live at `at` */
    struct tm_site *top_peak; /* by bytes live at the heap's peak */
    size_t n_top_peak;
    struct tm_site *top_end;  /* by bytes still allocated at `at` */
    size_t n_top_end;
    struct tm_heap_point *timeline;
    size_t n_points;
    uint64_t rss_peak;        /* from MEMORY records; 0 if none */
    struct tm_stack_heap *by_stack; /* every stack that allocated, by stack id */
    size_t n_by_stack;
};

/* ---- stacks and modules ------------------------------------------------ */

/* Module events (MODULE and MODULE_GONE records, counted 1, 2, ... in the
 * order read) are the time a stack's frames are named at: a stack is named
 * after the modules mapped when its STACK record was read, not after
 * another object loaded at the same addresses before or after. */
struct tm_stack {
    uint64_t id;
    uint32_t depth;
    uint64_t *frames; /* return addresses, innermost first */
    uint64_t modules_at; /* module events read before its STACK record */
};

struct tm_module {
    uint64_t id, bias, start, end;
    uint8_t *build_id;  /* raw bytes; NULL when none */
    size_t build_id_len;
    char *path;         /* "" when unnamed */
    int gone;           /* a MODULE_GONE was seen */
    uint64_t loaded_at, gone_at; /* its MODULE's and MODULE_GONE's events (0: none) */
};

/* ---- trace facts ------------------------------------------------------- */

struct tm_trace_info {
    char *path;
    uint32_t version_major, version_minor;
    uint32_t flags;              /* TMK_FILE_* */
    const char *mode;            /* "full" or "tables" */
    uint32_t pid, ppid;
    uint64_t start_realtime_ns;
    uint64_t sample_interval;
    uint64_t duration_ns;        /* time of the last record */
    uint64_t at;                 /* time the model describes (<= duration) */
    int ended;                   /* an END record was read */
    uint32_t end_why, end_status;
    int truncated;               /* cut short or corrupt: see warnings */
    uint64_t records, blocks, threads;
    uint64_t lost_events;        /* sum of LOST records */
    uint64_t contradictions;     /* events that contradicted earlier ones */
    char **warnings;             /* one line each, no newline */
    size_t n_warnings;
    /* A live trace: its process was still writing it (no END yet). The
     * model is then the state as of `at`, the trace's clock now minus
     * TM_LIVE_SETTLE_NS (liveness.h) or its last record, whichever is
     * earlier: later records may wait for older ones of other threads. */
    int running;
    /* TIDEMARK_MAX_BYTES (BOUND records): the bound, when the trace passed
     * its soft bound and when it stopped (TM_NO_TIME: never). */
    uint64_t bound_bytes, bound_soft_t, bound_stop_t;
    /* PROBE_OFF: the shim could not read the program's memory (a seccomp
     * filter refused process_vm_readv): its errno (0: it could), since
     * when, and the recognised tables (tables nobody annotated) whose
     * contents were therefore not read. */
    int probes_refused;
    uint64_t probes_refused_t;
    uint64_t tables_unread;
    char **notices;              /* facts that are not problems, one line each:
                                    still running, the bound */
    size_t n_notices;
};

struct tm_model {
    struct tm_trace_info info;
    struct tm_options opts;       /* as used */
    struct tm_table *tables;      /* sorted, see contract */
    size_t n_tables;
    size_t n_oversized;
    uint64_t total_retained;      /* over all tables */
    struct tm_heap heap;
    struct tm_stack *stacks;      /* sorted by id */
    size_t n_stacks;
    struct tm_module *modules;    /* in trace order */
    size_t n_modules;
};

/* "EPERM", "ENOSYS" or "errno N" for PROBE_OFF's errno (buf: 24 bytes). */
const char *tm_probe_error_name(int err, char *buf, size_t len);

/* Reads the trace at `path` and fills *m. Returns TM_EXIT_OK, or
 * TM_EXIT_CANNOT with one line (no newline) in err: no such file, not a
 * trace, newer version, ... A truncated or corrupt trace is NOT an error: the
 * model describes what was complete and info.truncated/warnings say so. */
int tm_analyze(const char *path, const struct tm_options *o, struct tm_model *m,
               char *err, size_t errlen);
/* Same from bytes in memory (fuzzing, tests). path_label names it. */
int tm_analyze_mem(const void *data, size_t size, const char *path_label,
                   const struct tm_options *o, struct tm_model *m, char *err, size_t errlen);
void tm_model_free(struct tm_model *m);

/* The stack with this id, or NULL. */
const struct tm_stack *tm_model_stack(const struct tm_model *m, uint64_t id);

/* How a table's live_peak is known: the table registered it (exact), the
 * largest count sampled (a lower bound), or an estimate's upper end (a
 * recognised table counted by its non-empty buckets). */
enum tm_peak_kind { TM_PEAK_EXACT, TM_PEAK_SAMPLED, TM_PEAK_ESTIMATED };
enum tm_peak_kind tm_table_peak_kind(const struct tm_table *t);

/* Names for enums (stable; used as JSON values). */
const char *tm_verdict_name(enum tm_verdict v);
const char *tm_model_kind_name(enum tm_model_kind k);
const char *tm_rec_kind_name(enum tm_rec_kind k);
const char *tm_table_kind_name(uint32_t kind);
const char *tm_needed_basis_name(enum tm_needed_basis b);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_MODEL_H */
