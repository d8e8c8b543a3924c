/* analyzer/cli/cmd_top.c - `tidemark top TRACE`: a running program's tables and
 * heap, refreshed every --interval (default 2 s), until the program ends.
 *
 * Reading: incremental (follow.c). The reader and the analysis stay open
 * between refreshes; a refresh indexes only the blocks written since the
 * last one and applies their records. Re-reading the trace from the start
 * at every refresh would cost what `tidemark report` costs on the whole
 * trace, and that grows with the run (measured on a W1 full trace of 4M
 * allocations, 17 MB: 0.6-0.8 s for `report --no-symbols`, 0.59 s for the
 * first refresh, 4 us for a refresh with nothing new; bench/RESULTS.md,
 * "Long runs"), while a server runs for weeks.
 *
 * Terminal: on a terminal (and TERM not "dumb") each refresh clears the
 * screen (two ANSI sequences, nothing else: it works over ssh) and shows as
 * many tables as fit; otherwise each refresh prints one snapshot, the
 * snapshots separated by a blank line, no escape codes. No colour.
 *
 * Tables nobody annotated: recognised as `report` recognises them (the same
 * model, tm_analyze: recognize.c matches each large block's symbolized stack
 * and probes against the rules once the blocks are known, which the
 * incremental reading cannot do). A whole analysis of the trace is made at
 * the first refresh, at the last (the program ended), and in between when
 * at least ten times its own duration has passed since the last one (so it
 * costs at most a tenth of a core); the recognised rows are as of it, the
 * annotated ones as of the refresh.
 *
 * Ends when the program ended (END read, or its pid gone: the last refresh
 * shows the final state), after --iterations N refreshes, or on Ctrl-C.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_common.h"
#include "output.h"
#include "model/follow.h"
#include "model/model.h"
#include "report/report.h"

static const char top_usage[] =
    "usage: tidemark top TRACE [options]\n"
    "A running program's tables by retained bytes, and its heap, refreshed until\n"
    "the program ends. Annotated tables: read incrementally (only what was written\n"
    "since the last refresh). Tables nobody annotated (kind 'recognised'): found\n"
    "as `tidemark report` finds them, by a whole analysis of the trace made at\n"
    "the first and the last refresh and in between once ten times its own\n"
    "duration has passed; their rows are as of it (the header says when).\n"
    "\n"
    "  --interval TIME   time between refreshes (default 2s; 100ms at least;\n"
    "                    1.5s, 500ms, or a number of seconds)\n"
    "  --iterations N    stop after N refreshes (default: until the program ends)\n"
    "  --top N           show at most N tables (default: as many as the terminal\n"
    "                    shows; all when not a terminal)\n"
    "\n"
    "Each refresh shows the state of about 1.5 s ago (records of every thread are\n"
    "on disk within a second). On a terminal the screen is redrawn; otherwise\n"
    "snapshots follow one another, separated by a blank line, without escape codes.\n"
    "\n"
    "columns: live (entries now), peak (most entries seen; '>=' when sampled),\n"
    "held (bucket-array bytes), needed (bytes for the live entries if rebuilt),\n"
    "retained (held - needed).\n"
    "\n"
    "exit status: 0 the program ended or N refreshes were shown, 2 bad flag,\n"
    "unreadable trace, or an output that cannot be written.\n";

#define MIN_INTERVAL_NS 100000000ull
#define HEADER_LINES 5 /* lines before the first table row */

/* One table's row: an annotated one (follow.h) or a recognised one. */
struct top_row {
    uint64_t id;
    const char *kind, *label;
    const char *peak_prefix; /* "" exact, ">=" the largest count sampled, "~" estimated */
    uint64_t live_now, live_peak, held, needed, retained;
    int ended;
};

/* The tables nobody annotated, from the last whole analysis. */
struct recognised {
    struct tm_model m;
    int loaded;
    struct top_row *rows;
    size_t n;
    uint64_t next_ns;  /* monotonic time from which the next analysis may run */
    int failed;        /* said once; not tried again */
};

/* The rows shown: the annotated tables and the recognised ones. */
struct top_rows {
    struct top_row *t;
    size_t n, cap;
};

struct top_opts {
    const char *trace;
    uint64_t interval_ns;
    uint64_t iterations; /* 0 = until the program ends */
    uint64_t top;        /* 0 = what fits */
    int redraw;          /* a terminal: clear the screen at each refresh */
};

static int parse(int argc, char **argv, struct top_opts *o)
{
    const char *v;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if ((v = cli_opt(argc, argv, &i, "--interval", &missing))) {
            int bad = cli_parse_time(v, &o->interval_ns);
            if (bad || o->interval_ns < MIN_INTERVAL_NS)
                return cli_bad_value("--interval", v, bad ? bad : CLI_SYNTAX,
                                     "a time of 100ms or more");
        } else if ((v = cli_opt(argc, argv, &i, "--iterations", &missing))) {
            if (cli_flag_uint("--iterations", v, 1, &o->iterations)) return -1;
        } else if ((v = cli_opt(argc, argv, &i, "--top", &missing))) {
            if (cli_flag_uint("--top", v, 1, &o->top)) return -1;
        } else if (missing) {
            cli_error("%s: needs a value", argv[i]);
            return -1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("top: unknown option '%s' (see tidemark top --help)", argv[i]);
            return -1;
        } else if (!o->trace) {
            o->trace = argv[i];
        } else {
            cli_error("top: one TRACE only ('%s' is extra)", argv[i]);
            return -1;
        }
    }
    if (!o->trace) {
        cli_error("top: missing TRACE (see tidemark top --help)");
        return -1;
    }
    return 0;
}

/* Rows of the terminal, 0 when unknown. */
static unsigned terminal_rows(void)
{
    struct winsize ws;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_row : 0;
}

/* A label as at most `width` printable bytes. */
static void put_label(FILE *out, const char *s, int width)
{
    int n = 0;
    for (; s[n] && n < width; n++) fputc((unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n], out);
    for (; n < width; n++) fputc(' ', out);
}

static const char *state_word(const struct tm_follow_state *st)
{
    if (st->running) return "running";
    return st->ended ? "ended" : "not running";
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void recognised_free(struct recognised *r)
{
    if (r->loaded) tm_model_free(&r->m);
    free(r->rows);
    r->loaded = 0;
    r->rows = NULL;
    r->n = 0;
}

/* The model's recognised tables as rows (pointing into r->m). */
static int recognised_rows(struct recognised *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->m.n_tables; i++) n += r->m.tables[i].kind == TM_KIND_RECOGNISED;
    if (n && !(r->rows = malloc(n * sizeof *r->rows))) return -1;
    for (size_t i = 0; i < r->m.n_tables; i++) {
        const struct tm_table *t = &r->m.tables[i];
        if (t->kind != TM_KIND_RECOGNISED) continue;
        /* the peak as report says it */
        enum tm_peak_kind kind = tm_table_peak_kind(t);
        const char *peak = kind == TM_PEAK_EXACT ? "" : kind == TM_PEAK_ESTIMATED ? "~" : ">=";
        r->rows[r->n++] = (struct top_row){
            t->id,        "recognised",  t->label ? t->label : "", peak, t->live_now,
            t->live_peak, t->held,       t->needed,                t->retained,
            t->ended_t != TM_NO_TIME};
    }
    return 0;
}

/* A whole analysis when due (see the top of this file): `last` is the
 * refresh after which the program ended. A failure is said once; top goes
 * on with the annotated tables. */
static void recognise(struct recognised *r, const char *trace, int last)
{
    uint64_t start = monotonic_ns();
    if (r->failed || (!last && start < r->next_ns)) return;
    recognised_free(r);
    struct tm_options o;
    tm_options_default(&o);
    cmd_default_source_root(&o);
    char err[512];
    if (tm_analyze(trace, &o, &r->m, err, sizeof err) != TM_EXIT_OK) {
        fprintf(stderr, "tidemark: warning: %s: %s; tables nobody annotated are not shown\n",
                trace, err);
        r->failed = 1;
        return;
    }
    r->loaded = 1;
    if (recognised_rows(r)) {
        fprintf(stderr, "tidemark: warning: out of memory; tables nobody annotated are not "
                "shown\n");
        recognised_free(r);
        r->failed = 1;
        return;
    }
    uint64_t took = monotonic_ns() - start;
    r->next_ns = start + 10 * took;
}

/* The annotated tables and the recognised ones, by retained, held, id. */
static int by_retained(const void *a, const void *b)
{
    const struct top_row *x = a, *y = b;
    if (x->retained != y->retained) return x->retained > y->retained ? -1 : 1;
    if (x->held != y->held) return x->held > y->held ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int merge_rows(struct top_rows *rows, const struct tm_follow_state *st,
                      const struct recognised *r)
{
    size_t n = st->n_tables + r->n;
    if (n > rows->cap) {
        struct top_row *t = realloc(rows->t, n * sizeof *t);
        if (!t) return -1;
        rows->t = t;
        rows->cap = n;
    }
    for (size_t i = 0; i < st->n_tables; i++) {
        const struct tm_follow_table *t = &st->tables[i];
        rows->t[i] = (struct top_row){t->id,        t->kind, t->label, t->live_peak_exact ? "" : ">=",
                                      t->live_now,  t->live_peak, t->held, t->needed,
                                      t->retained,  t->ended};
    }
    if (r->n) memcpy(rows->t + st->n_tables, r->rows, r->n * sizeof *rows->t);
    rows->n = n;
    if (n) qsort(rows->t, n, sizeof *rows->t, by_retained);
    return 0;
}

static void put_header(FILE *out, const struct top_opts *o, const struct tm_follow_state *st,
                       const struct top_rows *rows, const struct recognised *r)
{
    char a[32], b[32], c[32], d[32];
    tm_human_time(st->at, a, sizeof a);
    fprintf(out, "tidemark top: %s, pid %u (%s), %s mode, as of %s\n", o->trace, st->pid,
            state_word(st), st->mode, a);
    tm_human_bytes(st->heap_in_use, a, sizeof a);
    tm_human_bytes(st->heap_peak, b, sizeof b);
    tm_human_bytes(st->rss, c, sizeof c);
    tm_human_bytes(st->rss_peak, d, sizeof d);
    fprintf(out, "heap: in use %s, peak %s%s; rss %s, peak %s\n", a, b,
            st->heap_exact ? "" : " (the shim's count)", c, d);
    uint64_t retained = 0;
    for (size_t i = 0; i < rows->n; i++) retained += rows->t[i].retained;
    tm_human_bytes(retained, a, sizeof a);
    fprintf(out, "tables: %zu, retaining %s", rows->n, a);
    if (r->loaded) {
        /* a live trace is analyzed up to its settled time (--at) */
        uint64_t at = r->m.info.duration_ns < r->m.opts.at ? r->m.info.duration_ns : r->m.opts.at;
        tm_human_time(at, b, sizeof b);
        fprintf(out, " (%zu recognised, as of %s)", r->n, b);
    } else {
        fputs(" (tables nobody annotated: not shown)", out);
    }
    if (st->bound_stop_t != TM_NO_TIME) fputs("; the trace reached TIDEMARK_MAX_BYTES", out);
    else if (st->bound_soft_t != TM_NO_TIME) fputs("; the trace is near TIDEMARK_MAX_BYTES", out);
    fputs("\n\n", out);
}

static void put_table(FILE *out, const struct top_row *t)
{
    char held[32], needed[32], retained[32], peak[32];
    tm_human_bytes(t->held, held, sizeof held);
    tm_human_bytes(t->needed, needed, sizeof needed);
    tm_human_bytes(t->retained, retained, sizeof retained);
    snprintf(peak, sizeof peak, "%s%llu", t->peak_prefix, (unsigned long long)t->live_peak);
    fprintf(out, "%-5llu %-10s ", (unsigned long long)t->id, t->kind);
    put_label(out, t->label, 20);
    fprintf(out, " %10llu %11s %10s %10s %10s%s\n", (unsigned long long)t->live_now, peak, held,
            needed, retained, t->ended ? "  ended" : "");
}

static void render(FILE *out, const struct top_opts *o, const struct tm_follow_state *st,
                   const struct top_rows *rows, const struct recognised *r)
{
    if (o->redraw) fputs("\033[H\033[2J", out);
    put_header(out, o, st, rows, r);
    size_t show = rows->n;
    if (o->top && o->top < show) show = (size_t)o->top;
    unsigned lines = o->redraw ? terminal_rows() : 0;
    if (lines > HEADER_LINES + 2 && show > lines - HEADER_LINES - 2)
        show = lines - HEADER_LINES - 2;
    fprintf(out, "%-5s %-10s %-20s %10s %11s %10s %10s %10s\n", "id", "kind", "label", "live",
            "peak", "held", "needed", "retained");
    for (size_t i = 0; i < show; i++) put_table(out, &rows->t[i]);
    if (show < rows->n) fprintf(out, "... and %zu more tables\n", rows->n - show);
    if (!st->running) fprintf(out, "the program %s\n", st->ended ? "ended" : "is gone");
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int cmd_top(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            fputs(top_usage, stdout);
            return 0;
        }
    struct top_opts o = {NULL, 2000000000u, 0, 0, 0};
    if (parse(argc, argv, &o)) return 2;
    const char *term = getenv("TERM");
    o.redraw = isatty(STDOUT_FILENO) && !(term && strcmp(term, "dumb") == 0);
    char err[512];
    struct tm_follow *f;
    if (tm_follow_open(o.trace, &f, err, sizeof err)) {
        cli_error("%s: %s", o.trace, err);
        return 2;
    }
    int rc = 0;
    struct recognised r;
    struct top_rows rows = {NULL, 0, 0};
    memset(&r, 0, sizeof r);
    for (uint64_t n = 1;; n++) {
        const struct tm_follow_state *st;
        if (tm_follow_poll(f, &st, err, sizeof err)) {
            cli_error("%s: %s", o.trace, err);
            rc = 2;
            break;
        }
        recognise(&r, o.trace, !st->running);
        if (merge_rows(&rows, st, &r)) {
            cli_error("out of memory");
            rc = 2;
            break;
        }
        if (n > 1 && !o.redraw) fputc('\n', stdout);
        render(stdout, &o, st, &rows, &r);
        if (cli_stdout_check()) { /* said once; main returns 2 */
            rc = 2;
            break;
        }
        if (!st->running || (o.iterations && n >= o.iterations)) break;
        sleep_ns(o.interval_ns);
    }
    tm_follow_close(f);
    recognised_free(&r);
    free(rows.t);
    return rc;
}
