/* preload/options.c - every TIDEMARK_* setting, read once at start, and the
 * shim's one way to say something on stderr.
 *
 * A bad value gives one stderr line naming the variable, and the default is
 * used. docs/settings.md lists each setting with its default.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct tmk_options tmk_opt = {
    .output = "tidemark.%p.tmk",
    .mode = TMK_MODE_FULL,
    .unwinder = TMK_UNWIND_LIBUNWIND,
    .depth = TMK_DEPTH_DEFAULT,
    .interval_ms = 10,
    .sample_bytes = 0,
    .quiet = 0,
    .stack_cache = 1,
};

void tmk_warn(const char *msg, const char *arg1, const char *arg2)
{
    if (tmk_opt.quiet) return;
    char line[1024];
    size_t n = 0;
    const char *parts[] = {"tidemark: ", msg, arg1, arg2, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i]) continue;
        size_t len = strlen(parts[i]);
        if (len > sizeof line - 1 - n) len = sizeof line - 1 - n;
        memcpy(line + n, parts[i], len);
        n += len;
    }
    if (n == sizeof line - 1) line[n - 1] = '\n';
    int saved = errno;
    ssize_t w = write(2, line, n);
    (void)w;
    errno = saved;
}

static void bad_value(const char *name, const char *value, const char *dflt)
{
    char msg[256];
    size_t n = strlen(name);
    if (n > 100) n = 100;
    memcpy(msg, name, n);
    memcpy(msg + n, "=", 2);
    tmk_warn(msg, value, dflt);
}

/* Parses a decimal unsigned in [lo, hi]; 0 on success. */
static int parse_unsigned(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!*s) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static void read_number(const char *name, uint64_t lo, uint64_t hi, const char *dflt,
                        uint64_t *out)
{
    const char *s = getenv(name);
    uint64_t v;
    if (!s) return;
    if (parse_unsigned(s, lo, hi, &v) == 0)
        *out = v;
    else
        bad_value(name, s, dflt);
}

void tmk_options_read(void)
{
    const char *s;
    uint64_t v;

    if ((s = getenv("TIDEMARK_QUIET")) != NULL) tmk_opt.quiet = strcmp(s, "0") != 0 && *s;

    if ((s = getenv("TIDEMARK_OUTPUT")) != NULL) {
        if (*s && strlen(s) < sizeof tmk_opt.output)
            strcpy(tmk_opt.output, s);
        else
            bad_value("TIDEMARK_OUTPUT", s, " is empty or too long; using tidemark.%p.tmk");
    }

    if ((s = getenv("TIDEMARK_MODE")) != NULL) {
        if (!strcmp(s, "full"))
            tmk_opt.mode = TMK_MODE_FULL;
        else if (!strcmp(s, "tables"))
            tmk_opt.mode = TMK_MODE_TABLES;
        else
            bad_value("TIDEMARK_MODE", s, " is not full|tables; using full");
    }

    if ((s = getenv("TIDEMARK_UNWIND")) != NULL) {
        if (!strcmp(s, "libunwind"))
            tmk_opt.unwinder = TMK_UNWIND_LIBUNWIND;
        else if (!strcmp(s, "fp"))
            tmk_opt.unwinder = TMK_UNWIND_FP;
        else
            bad_value("TIDEMARK_UNWIND", s, " is not libunwind|fp; using libunwind");
    }

    v = (uint64_t)tmk_opt.stack_cache;
    read_number("TIDEMARK_STACK_CACHE", 0, 2, " is not 0|1|2; using 1", &v);
    tmk_opt.stack_cache = (int)v;

    v = tmk_opt.depth;
    read_number("TIDEMARK_DEPTH", 1, TMK_DEPTH_MAX, " is not in 1..128; using 32", &v);
    tmk_opt.depth = (unsigned)v;

    v = tmk_opt.interval_ms;
    read_number("TIDEMARK_SAMPLE_INTERVAL", 1, 60000, " is not in 1..60000 (ms); using 10", &v);
    tmk_opt.interval_ms = (unsigned)v;

    v = tmk_opt.sample_bytes;
    read_number("TIDEMARK_SAMPLE_BYTES", 0, (uint64_t)1 << 40,
                " is not a byte count in 0..2^40; using 0 (record every allocation)", &v);
    tmk_opt.sample_bytes = v;

    /* Full traces are compressed by default; a tables trace is small, and
     * its mode is meant to cost nothing (zstd was 3.6% of W2's
     * instructions there). */
    v = tmk_opt.mode == TMK_MODE_FULL;
    read_number("TIDEMARK_COMPRESS", 0, 1,
                " is not 0|1; using 1 in full mode, 0 in tables mode", &v);
    tmk_opt.compress = (int)v;

    /* 0, or at least 1 MiB: room for a few blocks before the bound. */
    static const char max_bad[] = " is not 0 or a byte count of at least 1048576; using 0 (no bound)";
    v = 0;
    read_number("TIDEMARK_MAX_BYTES", 0, (uint64_t)1 << 62, max_bad, &v);
    if (v && v < TMK_MAX_BYTES_MIN) {
        bad_value("TIDEMARK_MAX_BYTES", getenv("TIDEMARK_MAX_BYTES"), max_bad);
        v = 0;
    }
    tmk_opt.max_bytes = v;
}
