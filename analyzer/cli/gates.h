/* analyzer/cli/gates.h - what `tidemark check` judges: one result per table and
 * gate (and one for the total), each passed, failed or skipped with a line
 * that says why, and a summary line that agrees with them. Renderers for the
 * results are in check_output.c; `diff --fail-on-increase` shares the
 * tolerance.
 *
 * Gates (docs/ci.md):
 *  - without a baseline: "oversized" (the report's verdict, from
 *    --min-retained and --min-ratio) unless an absolute gate is given;
 *  - absolute gates, only when given: "max-retained" (retained > SIZE),
 *    "max-retained-ratio" (retained / held > R);
 *  - with a baseline: "increase" for a table the baseline has (retained
 *    grew by more than the tolerance), "new-table" for one it has not
 *    (fails when oversized), "total-increase" for the sum over all tables;
 *    a table a partial (--top) baseline does not list is skipped.
 */
#ifndef TIDEMARK_ANALYZER_GATES_H
#define TIDEMARK_ANALYZER_GATES_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/* An allowed increase: SIZE bytes, or PCT percent of the baseline. A
 * percentage never fails an increase below `floor` bytes (the
 * --min-retained threshold): a percentage of little or nothing is noise. */
struct tolerance {
    int is_percent;
    uint64_t bytes;
    double percent;
};
/* "10%", "2.5%", "1MiB", "4096": 0, or cli.h's CLI_SYNTAX (neither) or
 * CLI_TOO_LARGE. */
int tolerance_parse(const char *s, struct tolerance *t);
#define TOLERANCE_EXPECTED "SIZE or PCT%: 4096, 16MiB, 10%"
int tolerance_exceeded(const struct tolerance *t, uint64_t before, uint64_t after,
                          uint64_t floor);
/* "10%" or "1.0 MiB". */
void tolerance_text(const struct tolerance *t, char *buf, size_t len);

struct gate_config {
    int has_max, has_ratio;     /* the absolute gates given */
    uint64_t max_retained;
    double max_ratio;
    int has_baseline;
    struct tolerance max_increase;
    uint64_t floor;             /* --min-retained: see tm_tolerance */
    uint64_t min_retained;      /* the oversized thresholds, for the summary */
    double min_ratio;
};

enum gate {
    GATE_OVERSIZED,
    GATE_MAX_RETAINED,
    GATE_MAX_RATIO,
    GATE_INCREASE,
    GATE_NEW_TABLE,
    GATE_TOTAL_INCREASE,
};
enum gate_status { GATE_PASSED, GATE_FAILED, GATE_SKIPPED };

struct gate_result {
    enum gate gate;
    enum gate_status status;
    const struct snap_table *table; /* NULL for the total */
    const struct snap_table *base;  /* the table's baseline partner, or NULL */
    char message[480];              /* one line with the figures */
    char brief[240];                /* the failure in the summary's words */
};

struct check_outcome {
    struct gate_result *r;
    size_t n;
    size_t tables, tables_failed, failed, skipped;
    uint64_t total_retained, baseline_total;
    int has_baseline;
    char summary[640]; /* "check passed: ..." or "check failed: ..." */
};

/* Judges now (and base, or NULL). 0, or -1 when out of memory. */
int gates_run(const struct snapshot *now, const struct snapshot *base, const struct gate_config *g,
              struct check_outcome *out);
void gates_free(struct check_outcome *out);
const char *gate_name(enum gate g);
const char *gate_status_name(enum gate_status s);

#endif /* TIDEMARK_ANALYZER_GATES_H */
