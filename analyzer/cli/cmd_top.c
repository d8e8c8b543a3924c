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
#include "output.h"
#include "model/follow.h"
#include "model/model.h"
#include "report/report.h"

static const char top_usage[] =
    "usage: tidemark top TRACE [options]\n"
    "A running program's annotated tables by retained bytes, and its heap, refreshed\n"
    "until the program ends. Reads only what was written since the last refresh.\n"
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

static void put_header(FILE *out, const struct top_opts *o, const struct tm_follow_state *st)
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
    for (size_t i = 0; i < st->n_tables; i++) retained += st->tables[i].retained;
    tm_human_bytes(retained, a, sizeof a);
    fprintf(out, "tables: %zu, retaining %s", st->n_tables, a);
    if (st->bound_stop_t != TM_NO_TIME) fputs("; the trace reached TIDEMARK_MAX_BYTES", out);
    else if (st->bound_soft_t != TM_NO_TIME) fputs("; the trace is near TIDEMARK_MAX_BYTES", out);
    fputs("\n\n", out);
}

static void put_table(FILE *out, const struct tm_follow_table *t)
{
    char held[32], needed[32], retained[32], peak[32];
    tm_human_bytes(t->held, held, sizeof held);
    tm_human_bytes(t->needed, needed, sizeof needed);
    tm_human_bytes(t->retained, retained, sizeof retained);
    snprintf(peak, sizeof peak, "%s%llu", t->live_peak_exact ? "" : ">=",
             (unsigned long long)t->live_peak);
    fprintf(out, "%-5llu %-8s ", (unsigned long long)t->id, t->kind);
    put_label(out, t->label, 20);
    fprintf(out, " %10llu %11s %10s %10s %10s%s\n", (unsigned long long)t->live_now, peak, held,
            needed, retained, t->ended ? "  ended" : "");
}

static void render(FILE *out, const struct top_opts *o, const struct tm_follow_state *st)
{
    if (o->redraw) fputs("\033[H\033[2J", out);
    put_header(out, o, st);
    size_t show = st->n_tables;
    if (o->top && o->top < show) show = (size_t)o->top;
    unsigned rows = o->redraw ? terminal_rows() : 0;
    if (rows > HEADER_LINES + 2 && show > rows - HEADER_LINES - 2) show = rows - HEADER_LINES - 2;
    fprintf(out, "%-5s %-8s %-20s %10s %11s %10s %10s %10s\n", "id", "kind", "label", "live",
            "peak", "held", "needed", "retained");
    for (size_t i = 0; i < show; i++) put_table(out, &st->tables[i]);
    if (show < st->n_tables) fprintf(out, "... and %zu more tables\n", st->n_tables - show);
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
    for (uint64_t n = 1;; n++) {
        const struct tm_follow_state *st;
        if (tm_follow_poll(f, &st, err, sizeof err)) {
            cli_error("%s: %s", o.trace, err);
            rc = 2;
            break;
        }
        if (n > 1 && !o.redraw) fputc('\n', stdout);
        render(stdout, &o, st);
        if (cli_stdout_check()) { /* said once; main returns 2 */
            rc = 2;
            break;
        }
        if (!st->running || (o.iterations && n >= o.iterations)) break;
        sleep_ns(o.interval_ns);
    }
    tm_follow_close(f);
    return rc;
}
