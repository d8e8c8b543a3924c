/* analyzer/cli/snapshot.h - the figures check and diff compare, loaded either
 * from a trace (analyzed) or from a JSON report (schema tidemark.report/1),
 * and how the tables of two runs are matched.
 *
 * Table ids differ between runs, so tables are matched by kind and site
 * (file:line, relative to the source root the report was made with), in
 * passes from the strongest to the weakest, each pairing tables in report
 * order, never one table twice:
 *   1. same kind and label, and the same site: equal, or one is the other
 *      with leading directories ("/home/ci/src/examples/seed.c:56" and
 *      "examples/seed.c:56": a report made outside the source root);
 *   2. the same without the label;
 *   3. same kind and label, same file name and line ("a/util.c:10" and
 *      "b/util.c:10": two checkouts at different absolute paths);
 *   4. same kind and label, same file, another line (an edit above the
 *      table's creation moved it).
 * Heap sites are matched by passes 1 and 3. */
#ifndef TIDEMARK_ANALYZER_SNAPSHOT_H
#define TIDEMARK_ANALYZER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

#define SNAP_NONE SIZE_MAX /* snapshot_match: no partner */

struct snap_table {
    char *site, *label, *kind;
    uint64_t id, retained, held, needed, live, live_peak;
    int oversized;     /* the source's verdict was "oversized" */
    int after_deletes; /* alive, and fewer entries than at its peak */
    int ended;         /* the table ended (verdict "ended" or "leaked") */
    /* An ended table seen oversized before its end (not only as it was
     * freed: model.h, tm_table_kept_oversized): what it held and retained
     * right before (report minor 2, tables[].last_*). */
    int ended_oversized;
    uint64_t last_retained, last_held;
    int until_freed;   /* judged by those (check --until-freed) */
    /* NULL, or the other trace of the run it came from (snapshot_merge) */
    const char *trace;
};

struct snap_site {
    char *site;
    uint64_t bytes; /* still allocated at the end */
};

struct snapshot {
    struct snap_table *t;
    size_t nt;
    struct snap_site *s;
    size_t ns;
    uint64_t total_retained, heap_peak, heap_in_use;
    /* 0: a tables-mode or sampled trace (or its report): heap_peak,
     * heap_in_use and the sites are not the whole heap; diff does not
     * compare them */
    int heap_tracked;
    int truncated;
    /* The shim could not read the program's memory (PROBE_OFF; report
     * minor 3, trace.probes_refused): the error ("EPERM"), or "" when it
     * could, and the recognised tables whose contents it did not read. */
    char probes_refused[24];
    uint64_t tables_unread;
    /* A report written with --top N lists only some tables: n_tables counts
     * all of them, top is the N (0 = not given). A table missing from a
     * partial snapshot is unknown there, not absent. */
    uint64_t n_tables, top;
    int partial;
    int from_report;   /* loaded from a JSON report, not analyzed */
    size_t merged;     /* other traces merged in (snapshot_merge) */
    uint64_t minor;    /* its schema_minor (0 without the key) */
};

/* 0, or -1 after printing one error line. */
int snapshot_load(const char *path, const struct tm_options *o, struct snapshot *s);
int snapshot_from_model(const struct tm_model *m, struct snapshot *s);
void snapshot_free(struct snapshot *s);
/* check on a run of several traces: moves from's tables into s, each naming
 * `trace` (kept by the caller), and adds from's totals (retained, tables,
 * unread; truncated when either is); from is freed. 0, or -1 when out of
 * memory (from is freed then too). */
int snapshot_merge(struct snapshot *s, struct snapshot *from, const char *trace);

/* check and diff --until-freed: an ended table that was oversized right
 * before its end is judged by what it held and retained then, as if alive. */
void snapshot_until_freed(struct snapshot *s);
/* The same, refused (one error line naming cmd and path, -1) for a report
 * older than schema minor 2, which does not say what ended tables held
 * right before. */
int snapshot_judge_until_freed(struct snapshot *s, const char *cmd, const char *path);
/* Judges again which tables are oversized, with these thresholds (as
 * table_life.c does): for a snapshot from a report written with others. */
void snapshot_rejudge(struct snapshot *s, uint64_t min_retained, double min_ratio);

/* Pairs cur's tables with old's (see above): partner[i] is the index in old
 * of cur->t[i]'s partner, or SNAP_NONE. partner has cur->nt entries.
 * 0, or -1 when out of memory. */
int snapshot_match(const struct snapshot *old, const struct snapshot *cur, size_t *partner);
/* The heap site of s that matches `site`, or NULL. */
const struct snap_site *snapshot_site(const struct snapshot *s, const char *site);

/* A site's file and line: "src/a.c:12" gives "src/a.c" (its length in
 * *file_len) and 12; 0 when the site is not file:line (a function name,
 * "module+0x1a2b", "0x401234"). */
int snapshot_site_file_line(const char *site, size_t *file_len, uint64_t *line);

#endif /* TIDEMARK_ANALYZER_SNAPSHOT_H */
