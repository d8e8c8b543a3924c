/* analyzer/read/reader_warn.c - the reader's errors and warnings: the one
 * line an open or a run fails with, the problems found in the trace (a
 * capped list: the trace then counts as truncated), those a caller adds
 * (tm_reader_warn), and the lines about the trace's end (tm_reader_end).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "reader_int.h"

void reader_set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static void push_line(struct tm_reader *r, const char *line)
{
    char **w = realloc(r->warn, (r->nwarn + 1) * sizeof *w);
    if (!w) return;
    r->warn = w;
    if ((w[r->nwarn] = strdup(line))) r->nwarn++;
}

static void warn_v(struct tm_reader *r, const char *fmt, va_list ap)
{
    r->truncated = 1;
    if (r->nwarn >= MAX_WARNINGS) {
        r->suppressed++;
        return;
    }
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    push_line(r, line);
}

/* Records a problem with the input: the trace counts as truncated. */
void reader_warn(struct tm_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    warn_v(r, fmt, ap);
    va_end(ap);
}

/* The file ends inside a block: the normal state of a live trace (the
 * block is being written), damage otherwise. */
void reader_cut_at_end(struct tm_reader *r, const char *fmt, ...)
{
    if (r->live) return;
    va_list ap;
    va_start(ap, fmt);
    warn_v(r, fmt, ap);
    va_end(ap);
}

void tm_reader_end(struct tm_reader *r)
{
    if (r->ran) return;
    r->ran = 1;
    /* A live trace's last records are on their way: not a problem. */
    if (!r->saw_end && !r->live)
        reader_warn(r, "no END record: the traced process was cut short or is still running");
    if (r->suppressed) {
        char line[96];
        snprintf(line, sizeof line, "... and %llu more problems",
                 (unsigned long long)r->suppressed);
        push_line(r, line);
        r->suppressed = 0;
    }
}

void tm_reader_warn(struct tm_reader *r, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    reader_warn(r, "%s", line);
}

size_t tm_reader_warnings(const struct tm_reader *r, const char *const **out)
{
    *out = (const char *const *)r->warn;
    return r->nwarn;
}
