/* analyzer/cli/output.c - see output.h: standard output and -o files, each a
 * stream over a descriptor that keeps its first write error (a "sink"), and
 * files written under a temporary name, renamed when whole. */
#define _GNU_SOURCE /* fopencookie */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* A descriptor written by a stdio stream (fopencookie): the first write
 * error is kept, and nothing is written after it (a later buffer would
 * leave a hole in the output). */
struct cli_sink {
    int fd;
    int err; /* errno of the first failed write or close; 0 */
};

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
    struct cli_sink *s = cookie;
    size_t done = 0;
    while (!s->err && done < n) {
        ssize_t w = write(s->fd, buf + done, n - done);
        if (w > 0) done += (size_t)w;
        else if (w < 0 && errno == EINTR) continue;
        else s->err = w < 0 ? errno : EIO;
    }
    if (s->err) errno = s->err;
    return (ssize_t)done; /* short: the stream marks its error */
}

static int sink_close(void *cookie)
{
    struct cli_sink *s = cookie;
    if (close(s->fd) != 0 && !s->err) s->err = errno; /* NFS says ENOSPC here */
    return s->err ? -1 : 0;
}

/* A stream over s; NULL when out of memory. */
static FILE *sink_stream(struct cli_sink *s, int closes)
{
    cookie_io_functions_t io = {.write = sink_write, .close = closes ? sink_close : NULL};
    return fopencookie(s, "w", io);
}

/* ---- standard output ------------------------------------------------------ */

static struct cli_sink stdout_sink = {STDOUT_FILENO, 0};
static int stdout_wrapped;

void cli_output_init(void)
{
    FILE *f = sink_stream(&stdout_sink, 0);
    if (!f) return;
    /* as stdio buffers a terminal: by line (top, help) */
    if (isatty(STDOUT_FILENO)) setvbuf(f, NULL, _IOLBF, BUFSIZ);
    stdout = f; /* glibc's stdout is a variable, meant to be assignable */
    stdout_wrapped = 1;
}

int cli_stdout_check(void)
{
    static int said;
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    int err = stdout_wrapped ? stdout_sink.err : errno;
    if (!said) cli_error("cannot write to standard output: %s", err ? strerror(err) : "write error");
    said = 1;
    return -1;
}

/* ---- files ------------------------------------------------------------------ */

/* The mode a new file gets from fopen: 0666 less the umask. */
static mode_t default_mode(void)
{
    mode_t u = umask(0);
    umask(u);
    return 0666 & ~u;
}

/* target's directory part and ".NAME.XXXXXX" (NAME cut to 200 bytes, so
 * that the name stays within NAME_MAX). */
static char *temporary_name(const char *target)
{
    const char *slash = strrchr(target, '/');
    const char *name = slash ? slash + 1 : target;
    int dir_len = slash ? (int)(name - target) : 0;
    size_t len = strlen(target) + sizeof "/..XXXXXX";
    char *t = malloc(len);
    if (t) snprintf(t, len, "%.*s.%.200s.XXXXXX", dir_len, target, name);
    return t;
}

/* The replaced file's owner and group for the temporary, where we may give
 * them (root); otherwise the new file is ours, as any rewritten file. */
static void keep_owner(int fd, const struct stat *old)
{
    if (old->st_uid == geteuid() && old->st_gid == getegid()) return;
    int refused = fchown(fd, old->st_uid, old->st_gid); /* unless root */
    (void)refused;
}

/* Opens o->tmp beside o->target with the mode (and, when it can, the owner)
 * the file it replaces has: the descriptor, or -1 with errno set. */
static int open_temporary(struct cli_output *o, const struct stat *old)
{
    if (!(o->tmp = temporary_name(o->target))) return -1;
    int fd = mkostemp(o->tmp, O_CLOEXEC);
    if (fd < 0) {
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    if (old) keep_owner(fd, old);
    (void)fchmod(fd, old ? old->st_mode & 07777 : default_mode());
    return fd;
}

/* The descriptor to write PATH through: a temporary beside what it names,
 * or PATH itself when it is not a regular file (see output.h); -1 with
 * errno set. */
static int open_file(struct cli_output *o, const char *path)
{
    struct stat st, lst;
    int exists = stat(path, &st) == 0;
    int is_link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
    if ((exists && !S_ISREG(st.st_mode)) || (!exists && is_link))
        return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (exists && access(path, W_OK) != 0) return -1; /* as opening it would */
    o->target = is_link ? realpath(path, NULL) : strdup(path);
    if (!o->target) return -1;
    return open_temporary(o, exists ? &st : NULL);
}

int cli_output_open(struct cli_output *o, const char *path, const char *what)
{
    memset(o, 0, sizeof *o);
    o->what = what;
    if (!path) {
        o->f = stdout;
        return 0;
    }
    o->path = path;
    int fd = open_file(o, path);
    if (fd >= 0 && (o->sink = malloc(sizeof *o->sink))) {
        *o->sink = (struct cli_sink){fd, 0};
        if ((o->f = sink_stream(o->sink, 1))) return 0;
    }
    int err = fd < 0 ? errno : ENOMEM;
    if (fd >= 0) close(fd);
    if (o->tmp) unlink(o->tmp);
    cli_error("cannot write %s to %s: %s", what, path, strerror(err));
    free(o->sink);
    free(o->tmp);
    free(o->target);
    memset(o, 0, sizeof *o);
    return -1;
}

int cli_output_close(struct cli_output *o, int failed)
{
    int rc = 0;
    if (!o->path) { /* standard output */
        if (cli_stdout_check()) rc = -1;
        else if (failed) {
            cli_error("cannot write %s to standard output: out of memory", o->what);
            rc = -1;
        }
        memset(o, 0, sizeof *o);
        return rc;
    }
    int closed = fclose(o->f);
    int err = o->sink->err ? o->sink->err : closed ? EIO : 0;
    const char *why = err ? strerror(err) : failed ? "out of memory" : NULL;
    if (!why && o->tmp && rename(o->tmp, o->target) != 0) why = strerror(errno);
    if (why) {
        if (o->tmp) unlink(o->tmp);
        cli_error("cannot write %s to %s: %s", o->what, o->path, why);
        rc = -1;
    }
    free(o->sink);
    free(o->tmp);
    free(o->target);
    memset(o, 0, sizeof *o);
    return rc;
}
