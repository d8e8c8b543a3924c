/* analyzer/snapshot.h - the figures check and diff compare, loaded either
 * from a trace (analyzed) or from a JSON report (schema tidemark.report/1).
 * Tables are matched across runs by key = "site|label|kind#n" (n counts
 * tables with the same site, label and kind in report order), since table
 * ids differ between runs; the site in the key is its last path component
 * (snapshot_site_key), so a report made in another directory, where sites
 * are relative to that directory or absolute, still matches. Heap sites are
 * matched the same way. */
#ifndef TIDEMARK_ANALYZER_SNAPSHOT_H
#define TIDEMARK_ANALYZER_SNAPSHOT_H

#include <stdint.h>

#include "model.h"

struct snap_table {
    char *key, *site, *label;
    uint64_t id, retained, held, needed, live, live_peak;
    int oversized;
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
    int truncated;
    /* A report written with --top N lists only some tables: n_tables counts
     * all of them, top is the N (0 = not given). A table missing from a
     * partial snapshot is unknown there, not absent. */
    uint64_t n_tables, top;
    int partial;
};

/* 0, or -1 after printing one error line. */
int snapshot_load(const char *path, const struct tm_options *o, struct snapshot *s);
int snapshot_from_model(const struct tm_model *m, struct snapshot *s);
void snapshot_free(struct snapshot *s);
const struct snap_table *snapshot_find(const struct snapshot *s, const char *key);
const struct snap_site *snapshot_site(const struct snapshot *s, const char *site);
/* The part of a site compared across runs: what follows its last '/'
 * ("/src/examples/seed.c:56" and "examples/seed.c:56" give "seed.c:56"). */
const char *snapshot_site_key(const char *site);

#endif /* TIDEMARK_ANALYZER_SNAPSHOT_H */
