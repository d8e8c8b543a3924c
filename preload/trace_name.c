/* preload/trace_name.c - which trace file this process writes, and who it
 * is in a traced tree of processes: the one the user started, a later image
 * of a process (after exec: same pid), or a descendant (forked, vforked,
 * posix_spawned, any process that inherited LD_PRELOAD from a traced one).
 *
 * Who it is decides what it may say on stderr (options.c) and its file's
 * name. Nothing in the environment marks it (the program and its children
 * would see that); the evidence is on disk and in /proc:
 *  - a later image finds its earlier image's trace: the path expanded for its
 *    own pid (or "<path>.<pid>"), or one of its ".N" files, whose header
 *    names this pid;
 *  - a descendant finds its parent's trace the same way (expanded for
 *    getppid(), %e with the parent's argv[0]), or, failing that (a child
 *    that changed directory, a parent whose file could not be created), the
 *    shim in the parent's /proc/PPID/maps.
 *
 * The names: the path is TIDEMARK_OUTPUT with %p, %e and %% expanded by
 * tidemark/trace_path.h (the one expansion `tidemark run` uses too); a
 * relative one is first made absolute against the directory the process
 * started in (template_absolute).
 *  - The process the user started writes the path. If a regular file is
 *    there already, it writes the first free "<path>.1" .. "<path>.99", with
 *    one stderr line saying so.
 *  - A later image writes the first free ".N" after its earlier image's file.
 *  - A descendant writes the path expanded for its pid; when the template has
 *    no %p, "<path>.<pid>". If that exists (a reused pid), the first free
 *    ".N" after it. Quietly.
 * Every file is created with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600: never
 * overwritten, never through a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "tidemark/trace_path.h"

extern char *program_invocation_short_name;

#define NAME_CAP 4200

/* The path buffers, static rather than on the stack: the shim's start runs
 * on the program's stack, which RLIMIT_STACK may hold to 16 KiB (these
 * were 13 KiB in one frame). Only two callers ever use them, never at
 * once: the one thread that starts the shim (tmk_lineage_detect, then
 * tmk_trace_create; the others pass through meanwhile, and a child forked
 * then does not trace), and a forked child's only thread
 * (tmk_trace_create). Each function has its own, as they nest. */
static struct {
    char own[NAME_CAP];             /* tmk_lineage_detect, tmk_trace_create: this process's */
    char parent[NAME_CAP];          /* parent_traced: the parent's */
    char child_name[NAME_CAP];      /* wrote_trace: base.<pid> */
    char suffixed[NAME_CAP];        /* trace_of: base.N */
    char said[NAME_CAP + 64];       /* create_suffixed: its stderr line */
    char cmdline[512];              /* parent_traced: the parent's argv[0] */
    char maps[4096 + 16];           /* shim_mapped_in: a piece of /proc/PID/maps */
    char cwd[sizeof tmk_opt.output]; /* template_absolute */
    char abs[sizeof tmk_opt.output];
} scratch;

static int descendant;  /* started by a traced process */
static int later_image; /* an earlier image of this pid wrote a trace */
static int earlier_at_child_name; /* ... at "<path>.<pid>" (it was a descendant) */

static int create_excl(const char *path)
{
    int fd;
    do fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* The pid in the trace header at path: 0 when it is not a trace, -1 when
 * nothing is there. Never blocks (a FIFO reads as empty). */
static long header_pid(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? -1 : 0;
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    ssize_t n = read(fd, raw, sizeof raw);
    close(fd);
    if (n != (ssize_t)sizeof raw || memcmp(raw, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN)) return 0;
    struct tmk_file_header h;
    tmk_file_header_decode(&h, raw);
    return (long)h.pid;
}

/* out = base + "." + k */
static void suffixed(char *out, size_t cap, const char *base, uint64_t k)
{
    size_t n = tmk_path_append(out, 0, cap, base);
    n = tmk_path_append(out, n, cap, ".");
    tmk_path_append_u(out, n, cap, k);
}

/* Did process pid write base, or one of the base.N it would have written
 * when base was taken? */
static int trace_of(const char *base, pid_t pid)
{
    long got = header_pid(base);
    if (got == pid) return 1;
    if (got < 0) return 0;
    char *p = scratch.suffixed;
    for (unsigned k = 1; k <= TMK_TRACE_PATH_SUFFIXES; k++) {
        suffixed(p, sizeof scratch.suffixed, base, k);
        got = header_pid(p);
        if (got == pid) return 1;
        if (got < 0) return 0;
    }
    return 0;
}

/* Did process pid write the trace a template without %p gives it as the
 * top process (base) or as a descendant (base.<pid>)? With %p, base is
 * already its own. */
static int wrote_trace(const char *base, int has_pid, pid_t pid)
{
    if (!has_pid) {
        suffixed(scratch.child_name, sizeof scratch.child_name, base, (uint64_t)pid);
        if (trace_of(scratch.child_name, pid)) return 2;
    }
    return trace_of(base, pid);
}

/* Reads up to cap-1 bytes of a /proc file into buf; returns the count. */
static size_t read_proc(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return n > 0 ? (size_t)n : 0;
}

static void proc_path(char *out, size_t cap, pid_t pid, const char *file)
{
    size_t n = tmk_path_append(out, 0, cap, "/proc/");
    n = tmk_path_append_u(out, n, cap, (uint64_t)pid);
    tmk_path_append(out, n, cap, file);
}

/* The short name %e gives in process pid (the basename of its argv[0]), or
 * NULL when /proc does not tell. */
static const char *short_name_of(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    proc_path(path, sizeof path, pid, "/cmdline");
    if (!read_proc(path, buf, cap)) return NULL;
    return tmk_path_short_name(buf);
}

/* Is the shim mapped in process pid (it is traced, or tried to be)? */
static int shim_mapped_in(pid_t pid)
{
    static const char needle[] = "/libtidemark.so";
    const size_t len = sizeof needle - 1;
    char path[64], *buf = scratch.maps;
    _Static_assert(sizeof scratch.maps >= 4096 + sizeof needle, "room for a cut needle");
    proc_path(path, sizeof path, pid, "/maps");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t keep = 0;
    int found = 0;
    for (;;) {
        ssize_t n = read(fd, buf + keep, sizeof scratch.maps - 1 - keep);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t end = keep + (size_t)n;
        buf[end] = 0;
        for (char *s = buf; !found && (s = memmem(s, end - (size_t)(s - buf), needle, len));
             s++)
            found = s + len < buf + end && (s[len] == '\n' || s[len] == ' ');
        if (found) break;
        keep = end < len ? end : len; /* a match cut by the read boundary */
        memmove(buf, buf + end - keep, keep);
    }
    close(fd);
    return found;
}

/* Was this process started by a traced one? */
static int parent_traced(const char *tmpl, pid_t ppid)
{
    if (ppid <= 0) return 0;
    const char *name = program_invocation_short_name;
    if (strstr(tmpl, "%e")) {
        const char *theirs = short_name_of(ppid, scratch.cmdline, sizeof scratch.cmdline);
        if (theirs) name = theirs;
    }
    char *base = scratch.parent;
    int has_pid = tmk_trace_path_expand(base, sizeof scratch.parent, tmpl, (uint64_t)ppid, name);
    return wrote_trace(base, has_pid, ppid) || shim_mapped_in(ppid);
}

/* A relative template is resolved against the working directory now, once:
 * a forked child inherits the absolute one and writes beside its parent's
 * trace whatever directory it went to, and every ".N" check is made there.
 * Only the shim's copy changes: the environment stays as the program set it
 * (a later image reads it again: `tidemark run` sets it absolute). When the
 * directory cannot be read or the result is too long, it stays relative. */
static void template_absolute(void)
{
    if (tmk_opt.output[0] == '/') return;
    char *cwd = scratch.cwd, *abs = scratch.abs;
    int saved = errno;
    if (getcwd(cwd, sizeof scratch.cwd) &&
        tmk_trace_template_absolute(abs, sizeof scratch.abs, cwd, tmk_opt.output))
        memcpy(tmk_opt.output, abs, sizeof scratch.abs);
    errno = saved;
}

void tmk_lineage_detect(void)
{
    template_absolute();
    pid_t pid = getpid();
    char *base = scratch.own;
    int has_pid = tmk_trace_path_expand(base, sizeof scratch.own, tmk_opt.output, (uint64_t)pid,
                                        program_invocation_short_name);
    int earlier = wrote_trace(base, has_pid, pid);
    later_image = earlier != 0;
    earlier_at_child_name = earlier == 2;
    descendant = parent_traced(tmk_opt.output, getppid());
    tmk_speech_settle(descendant, later_image);
}

void tmk_lineage_forked(void)
{
    descendant = 1;
    later_image = 0;
    earlier_at_child_name = 0;
    tmk_speech_settle(1, 0);
}

/* Creates the first free "<base>.1" .. "<base>.TMK_TRACE_PATH_SUFFIXES"
 * into path; says so on stderr when loud. Returns the fd or -1. */
static int create_suffixed(const char *base, char *path, size_t cap, int loud)
{
    for (unsigned i = 1; i <= TMK_TRACE_PATH_SUFFIXES; i++) {
        suffixed(path, cap, base, i);
        int fd = create_excl(path);
        if (fd >= 0 && loud) {
            char *tail = scratch.said;
            size_t m = tmk_path_append(tail, 0, sizeof scratch.said,
                                       " exists, left as it is; writing ");
            tmk_path_append(tail, m, sizeof scratch.said, path);
            tmk_warn("trace file ", base, tail);
        }
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    tmk_path_append(path, 0, cap, base);
    errno = EEXIST;
    return -1;
}

int tmk_trace_create(char *path, size_t cap)
{
    pid_t pid = getpid();
    char *base = scratch.own;
    int has_pid = tmk_trace_path_expand(base, sizeof scratch.own, tmk_opt.output, (uint64_t)pid,
                                        program_invocation_short_name);
    int child_name = later_image ? earlier_at_child_name : descendant && !has_pid;
    if (child_name) {
        size_t n = tmk_path_append(base, strlen(base), sizeof scratch.own, ".");
        tmk_path_append_u(base, n, sizeof scratch.own, (uint64_t)pid);
    }
    if (later_image) return create_suffixed(base, path, cap, 0);
    tmk_path_append(path, 0, cap, base);
    int fd = create_excl(path);
    if (fd >= 0 || errno != EEXIST) return fd;
    struct stat st;
    if (lstat(base, &st) == 0 && !S_ISREG(st.st_mode)) {
        errno = S_ISLNK(st.st_mode) ? ELOOP : EEXIST;
        return -1;
    }
    return create_suffixed(base, path, cap, !descendant);
}
