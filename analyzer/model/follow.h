/* analyzer/model/follow.h - a trace followed while its process writes it (for
 * `tidemark top`): the reader and the analysis stay open between looks, and
 * each look reads only the blocks written since the last one (follow.c).
 *
 * While the process runs, a look applies the records up to the trace's
 * clock now minus TM_LIVE_SETTLE_NS (liveness.h): older records of every
 * thread are on disk by then, so none is applied before an older one of
 * another thread. Once the process ended (END read, or its pid gone), a
 * look applies everything.
 */
#ifndef TIDEMARK_ANALYZER_FOLLOW_H
#define TIDEMARK_ANALYZER_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

struct tm_follow;

/* One table as of the state's time. */
struct tm_follow_table {
    uint64_t id;
    const char *label;        /* "" when none */
    const char *kind;         /* "gomap", "uthash", "generic", "unknown" */
    uint64_t held, needed, retained;
    uint64_t live_now, live_peak;
    int live_peak_exact;      /* the table registered its high-water count */
    int ended;                /* TABLE_END read */
};

/* What a look found. Pointers stay valid until the next look or close. */
struct tm_follow_state {
    uint32_t pid;
    const char *mode;         /* "full" or "tables" */
    int running;              /* the process still writes the trace */
    int ended;                /* END read (or BOUND(STOP): the writer stopped) */
    uint64_t at;              /* the state is as of this time (ns since the start) */
    int heap_exact;           /* heap figures from every allocation (full mode); else
                                 the shim's counter from MEMORY records */
    uint64_t heap_in_use, heap_peak;
    uint64_t rss, rss_peak;   /* last and largest MEMORY rss */
    uint64_t bound_soft_t, bound_stop_t; /* TIDEMARK_MAX_BYTES; TM_NO_TIME: not reached */
    uint64_t records;         /* records read so far */
    struct tm_follow_table *tables; /* by retained bytes, then held, descending */
    size_t n_tables;
};

/* Opens the trace (errors as tm_analyze's: one line in err, no newline).
 * 0 or -1. */
int tm_follow_open(const char *path, struct tm_follow **out, char *err, size_t errlen);
/* Reads what was written since the last look and applies it. 0 with *state
 * set, or -1 (out of memory; err says so). */
int tm_follow_poll(struct tm_follow *f, const struct tm_follow_state **state, char *err,
                   size_t errlen);
void tm_follow_close(struct tm_follow *f);

#endif /* TIDEMARK_ANALYZER_FOLLOW_H */
