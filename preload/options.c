/* preload/options.c - every TIDEMARK_* setting, read once at start, and the
 * shim's one way to say something on stderr.
 *
 * A bad value gives one stderr line naming the variable, and the default is
 * used. docs/settings.md lists each setting with its default.
 *
 * Who may speak (trace_name.c decides, right after the settings are read):
 *  - the process the user started, in its first image: everything, and the
 *    settings lines, which wait in a static buffer until that is known;
 *  - a later image of it (after exec): what goes wrong with its own trace
 *    file, never the settings again;
 *  - a descendant (forked, vforked, posix_spawned, or any process started by
 *    a traced one): nothing at all. Its stderr is its parent's business
 *    (`subprocess.run(..., capture_output=True)` compares it).
 * Nothing here allocates: texts of errno values come from a table, not from
 * strerror (which may allocate for a locale).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "tidemark/trace_path.h"

struct tmk_options tmk_opt = {
    .output = "tidemark.%p.tmk",
    .mode = TMK_MODE_FULL,
    .unwinder = TMK_UNWIND_CFI,
    .depth = TMK_DEPTH_DEFAULT,
    .interval_ms = 10,
    .sample_bytes = 0,
    .quiet = 0,
    .stack_cache = 1,
    .probe_min = 64u << 10,
    .probe_bytes = 64u << 20,
    .block_map_bytes = 4u << 20,
};

/* Until tmk_speech_settle: settings lines wait in pending. */
static enum { SPEECH_UNSETTLED, SPEECH_ALL, SPEECH_OWN_FILE, SPEECH_NONE } speech;
static char pending[8192];
static size_t pending_len;

/* "tidemark: " + the parts + "\n" into line (cap bytes); returns the length. */
static size_t compose(char *line, size_t cap, const char *msg, const char *arg1,
                      const char *arg2)
{
    size_t n = 0;
    const char *parts[] = {"tidemark: ", msg, arg1, arg2, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i]) continue;
        size_t len = strlen(parts[i]);
        if (len > cap - 1 - n) len = cap - 1 - n;
        memcpy(line + n, parts[i], len);
        n += len;
    }
    if (n == cap - 1) line[n - 1] = '\n';
    return n;
}

static void put(const char *bytes, size_t n)
{
    int saved = errno;
    ssize_t w = write(2, bytes, n);
    (void)w;
    errno = saved;
}

void tmk_warn(const char *msg, const char *arg1, const char *arg2)
{
    if (tmk_opt.quiet || (speech != SPEECH_ALL && speech != SPEECH_OWN_FILE)) return;
    char line[1024];
    put(line, compose(line, sizeof line, msg, arg1, arg2));
}

/* A setting the user got wrong: said once, by the process the user started. */
static void warn_setting(const char *msg, const char *arg1, const char *arg2)
{
    if (tmk_opt.quiet) return;
    char line[1024];
    size_t n = compose(line, sizeof line, msg, arg1, arg2);
    if (speech == SPEECH_ALL) {
        put(line, n);
    } else if (speech == SPEECH_UNSETTLED && n <= sizeof pending - pending_len) {
        memcpy(pending + pending_len, line, n);
        pending_len += n;
    }
}

void tmk_speech_settle(int descendant, int later_image)
{
    speech = descendant ? SPEECH_NONE : later_image ? SPEECH_OWN_FILE : SPEECH_ALL;
    if (speech == SPEECH_ALL && pending_len) put(pending, pending_len);
    pending_len = 0;
}

/* Texts as glibc's strerror gives them in the C locale, for the errors
 * creating or writing a file can meet. */
static const struct {
    int err;
    const char *text;
} errno_texts[] = {
    {EPERM, "Operation not permitted"},
    {ENOENT, "No such file or directory"},
    {EINTR, "Interrupted system call"},
    {EIO, "Input/output error"},
    {ENXIO, "No such device or address"},
    {EBADF, "Bad file descriptor"},
    {ENOMEM, "Cannot allocate memory"},
    {EACCES, "Permission denied"},
    {EFAULT, "Bad address"},
    {EBUSY, "Device or resource busy"},
    {EEXIST, "File exists"},
    {EXDEV, "Invalid cross-device link"},
    {ENODEV, "No such device"},
    {ENOTDIR, "Not a directory"},
    {EISDIR, "Is a directory"},
    {EINVAL, "Invalid argument"},
    {ENFILE, "Too many open files in system"},
    {EMFILE, "Too many open files"},
    {ETXTBSY, "Text file busy"},
    {EFBIG, "File too large"},
    {ENOSPC, "No space left on device"},
    {ESPIPE, "Illegal seek"},
    {EROFS, "Read-only file system"},
    {EMLINK, "Too many links"},
    {EPIPE, "Broken pipe"},
    {ENAMETOOLONG, "File name too long"},
    {ELOOP, "Too many levels of symbolic links"},
    {EOVERFLOW, "Value too large for defined data type"},
    {EOPNOTSUPP, "Operation not supported"},
    {ESTALE, "Stale file handle"},
    {EDQUOT, "Disk quota exceeded"},
    {EAGAIN, "Resource temporarily unavailable"},
};

size_t tmk_errno_append(char *out, size_t n, size_t cap, int err)
{
    for (size_t i = 0; i < sizeof errno_texts / sizeof errno_texts[0]; i++)
        if (errno_texts[i].err == err) return tmk_path_append(out, n, cap, errno_texts[i].text);
    n = tmk_path_append(out, n, cap, "error ");
    return tmk_path_append_u(out, n, cap, (uint64_t)(unsigned)err);
}

static void bad_value(const char *name, const char *value, const char *dflt)
{
    char msg[256];
    size_t n = strlen(name);
    if (n > 100) n = 100;
    memcpy(msg, name, n);
    memcpy(msg + n, "=", 2);
    warn_setting(msg, value, dflt);
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

    /* Full mode unwinds every allocation: the CFI unwinder (each FDE
     * compiled once, as stacks meet it). Tables mode's few stacks (bucket
     * arrays, probed blocks) cost the same either way (git status: 3.5 ms
     * with both): libunwind serves them, as it always has. */
    tmk_opt.unwinder = tmk_opt.mode == TMK_MODE_TABLES ? TMK_UNWIND_LIBUNWIND : TMK_UNWIND_CFI;
    if ((s = getenv("TIDEMARK_UNWIND")) != NULL) {
        if (!strcmp(s, "cfi"))
            tmk_opt.unwinder = TMK_UNWIND_CFI;
        else if (!strcmp(s, "libunwind"))
            tmk_opt.unwinder = TMK_UNWIND_LIBUNWIND;
        else if (!strcmp(s, "fp"))
            tmk_opt.unwinder = TMK_UNWIND_FP;
        else
            bad_value("TIDEMARK_UNWIND", s,
                      " is not cfi|libunwind|fp; using cfi (libunwind in tables mode)");
    }
#if !defined(__x86_64__)
    if (tmk_opt.unwinder == TMK_UNWIND_CFI) tmk_opt.unwinder = TMK_UNWIND_LIBUNWIND;
#endif

    v = 0;
    read_number("TIDEMARK_UNWIND_VERIFY", 0, 2, " is not 0|1|2; using 0", &v);
    tmk_opt.unwind_verify = (int)v;

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

    v = tmk_opt.probe_min;
    read_number("TIDEMARK_PROBE_MIN", 0, (uint64_t)1 << 40,
                " is not a byte count in 0..2^40; using 65536 (0 = no probes)", &v);
    tmk_opt.probe_min = v;

    v = tmk_opt.probe_bytes;
    read_number("TIDEMARK_PROBE_BYTES", 0, (uint64_t)1 << 40,
                " is not a byte count in 0..2^40; using 67108864", &v);
    tmk_opt.probe_bytes = v;

    v = tmk_opt.block_map_bytes >> 20;
    read_number("TIDEMARK_BLOCK_MAP_MIB", 0, 1u << 20,
                " is not in 0..1048576 (MiB); using 4", &v);
    tmk_opt.block_map_bytes = v << 20;

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
