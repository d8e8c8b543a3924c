/* workload_log.h - a growing text buffer for the uthash workload's results. */
#ifndef TESTS_EXAMPLES_WORKLOAD_LOG_H
#define TESTS_EXAMPLES_WORKLOAD_LOG_H

#include <stdarg.h>
#include <stdio.h>

struct wl_log {
    char text[4096];
    size_t len;
};

__attribute__((format(printf, 2, 3)))
static inline void wl_printf(struct wl_log *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(log->text + log->len, sizeof log->text - log->len, fmt, ap);
    va_end(ap);
    if (n > 0) log->len += (size_t)n;
    if (log->len >= sizeof log->text) log->len = sizeof log->text - 1;
}

void workload_plain(struct wl_log *log);
void workload_adapted(struct wl_log *log);

#endif
