/* preload/writer.c - the trace file: naming, creating, writing blocks.
 *
 * The path is TIDEMARK_OUTPUT with %p (pid), %e (program name) and %%
 * expanded by tidemark/trace_path.h (the one expansion `tidemark run` uses
 * too). The file is created with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600: it
 * never overwrites and never follows a symlink. If the path exists as a
 * regular file (a pid reused across exec, a template without %p), the first
 * free "<path>.1" .. "<path>.99" is used instead, with one stderr line saying
 * so, unless the existing file is the trace this very process wrote before
 * it exec'ed (same pid in its header), or "<path>.<pid>" is (a forked child
 * with a fixed path wrote it, then exec'ed: "<path>.<pid>.N"). Those cases
 * are routine and quiet. A
 * symlink at the path, an unwritable directory, or a failed write (full
 * disk): one stderr line and tracing stops; the program runs on untouched.
 *
 * Blocks are written whole with one writev under the writer mutex, each
 * compressed first (TIDEMARK_COMPRESS=1, full mode's default) into one zstd frame at
 * level 1 when that makes it smaller. The compressor is a static zstd
 * context in memory taken once from arena.c: compressing never allocates,
 * so the final flush from a fatal signal's handler can compress too.
 *
 * The descriptor is the program's namespace too: it is moved to a number at
 * or above TMK_FD_FLOOR (out of the way of `exec 3>file` in shells and of
 * the lowest numbers a program's open() gets), and before each block and
 * before closing, one fstat checks it is still the trace file (device and
 * inode). A program that closed it or put its own file on that number (a
 * daemon closing every descriptor, a dup2) keeps it: tracing stops with one
 * stderr line, and the shim never writes to, or closes, that descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
/* ZSTD_initStaticCCtx and ZSTD_estimateCCtxSize are in zstd's "static
 * linking" section; Debian's libzstd.so.1 exports them. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "internal.h"
#include "tidemark/trace_path.h"

extern char *program_invocation_short_name;

static pthread_mutex_t writer_mutex = PTHREAD_MUTEX_INITIALIZER;
static int writer_fd = -1;
static dev_t writer_dev; /* identity of the trace file behind writer_fd */
static ino_t writer_ino;
static char writer_path[4200];
static int writer_child; /* this process is a forked child of a traced one */

static ZSTD_CCtx *zctx;   /* static context; NULL = blocks are written raw */
static uint8_t *zbuf;     /* a compressed block */
static size_t zbuf_size;

/* Once per process (a forked child keeps the parent's copy). */
static void compressor_init(void)
{
    if (!tmk_opt.compress || zctx) return;
    size_t ws = ZSTD_estimateCCtxSize(1);
    void *work = tmk_arena_alloc(ws);
    zbuf_size = ZSTD_compressBound(TMK_BUFFER_BYTES);
    zbuf = tmk_arena_alloc(zbuf_size);
    if (work && zbuf) zctx = ZSTD_initStaticCCtx(work, ws);
    if (!zctx) { /* no memory: raw blocks, as with TIDEMARK_COMPRESS=0 */
        tmk_arena_free(work);
        tmk_arena_free(zbuf);
        zbuf = NULL;
    }
}

/* The bytes to store for a payload: compressed when that is smaller. */
static const uint8_t *stored_payload(const uint8_t *payload, size_t *size, uint32_t *flags)
{
    *flags = 0;
    if (!zctx || *size < 64) return payload;
    size_t n = ZSTD_compressCCtx(zctx, zbuf, zbuf_size, payload, *size, 1);
    if (ZSTD_isError(n) || n >= *size) return payload;
    *size = n;
    *flags = TMK_BLOCK_ZSTD;
    return zbuf;
}

/* The writer lock also holds off thread cancellation: writev, open and
 * write are cancellation points, and a thread cancelled inside the shim
 * (the program's cancel request meant for a later point of its own) would
 * die holding this mutex. The holder's previous cancel state is kept here. */
static int writer_cancel_old;

void tmk_writer_lock(void)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_mutex_lock(&writer_mutex);
    writer_cancel_old = old;
}

int tmk_writer_trylock(void)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    int rc = pthread_mutex_trylock(&writer_mutex);
    if (rc == 0)
        writer_cancel_old = old;
    else
        pthread_setcancelstate(old, NULL);
    return rc;
}

void tmk_writer_unlock(void)
{
    int old = writer_cancel_old;
    pthread_mutex_unlock(&writer_mutex);
    pthread_setcancelstate(old, NULL);
}

static int create_excl(const char *path)
{
    int fd;
    do fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* Is the file at path a trace of this pid (the image before an exec)? */
static int own_trace(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    ssize_t n = read(fd, raw, sizeof raw);
    close(fd);
    if (n != (ssize_t)sizeof raw) return 0;
    struct tmk_file_header h;
    tmk_file_header_decode(&h, raw);
    return !memcmp(h.magic, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN) && h.pid == (uint32_t)getpid();
}

/* Creates the first free "<b>.1" .. "<b>.TMK_TRACE_PATH_SUFFIXES", saying
 * so on stderr unless quiet. Sets writer_path. Returns the fd or -1. */
static int create_suffixed(const char *b, const char *taken, int quiet)
{
    for (unsigned i = 1; i <= TMK_TRACE_PATH_SUFFIXES; i++) {
        size_t n = tmk_path_append(writer_path, 0, sizeof writer_path, b);
        n = tmk_path_append(writer_path, n, sizeof writer_path, ".");
        tmk_path_append_u(writer_path, n, sizeof writer_path, i);
        int fd = create_excl(writer_path);
        if (fd >= 0 && !quiet) {
            char tail[4300];
            size_t m = tmk_path_append(tail, 0, sizeof tail, " exists, left as it is; writing ");
            tmk_path_append(tail, m, sizeof tail, writer_path);
            tmk_warn("trace file ", taken, tail);
        }
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    strcpy(writer_path, taken);
    errno = EEXIST;
    return -1;
}

/* Creates the file at base; when base is an existing regular file:
 *  - this pid's own trace (the image before an exec): base.N, quietly;
 *  - else base.<pid> is this pid's own (a forked child with a fixed path
 *    wrote it, then exec'ed): base.<pid>.N, quietly;
 *  - else: base.N, with one stderr line.
 * Sets writer_path. Returns the fd or -1 with errno set. */
static int create_trace_file(const char *base)
{
    strcpy(writer_path, base);
    int fd = create_excl(writer_path);
    if (fd >= 0 || errno != EEXIST) return fd;
    struct stat st;
    if (lstat(base, &st) == 0 && !S_ISREG(st.st_mode)) {
        errno = S_ISLNK(st.st_mode) ? ELOOP : EEXIST;
        return -1;
    }
    if (own_trace(base)) return create_suffixed(base, base, 1);
    char mine[4200];
    size_t n = tmk_path_append(mine, 0, sizeof mine, base);
    n = tmk_path_append(mine, n, sizeof mine, ".");
    tmk_path_append_u(mine, n, sizeof mine, (uint64_t)getpid());
    if (own_trace(mine)) return create_suffixed(mine, base, 1);
    return create_suffixed(base, base, 0);
}

static int write_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t w = writev(fd, iov, cnt);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

static int writer_open(void);

/* Is writer_fd still the trace file? */
static int fd_is_ours(void)
{
    struct stat st;
    return writer_fd >= 0 && fstat(writer_fd, &st) == 0 && st.st_dev == writer_dev &&
           st.st_ino == writer_ino;
}

/* Closes writer_fd if it is still ours; forgets it either way. */
static void drop_fd(void)
{
    if (fd_is_ours()) close(writer_fd);
    writer_fd = -1;
}

/* The file is unusable: say so once, stop tracing (writer lock held). */
static void writer_failed(const char *what)
{
    int err = errno;
    tmk_warn(what, writer_path, err == ENOSPC ? ": no space left on device; tracing stopped"
                                              : ": write failed; tracing stopped");
    drop_fd();
    tmk_state = TMK_STATE_STOPPED;
    errno = err;
}

/* The program closed the descriptor or reused its number: it is the
 * program's now (writer lock held). */
static void writer_lost_fd(void)
{
    tmk_warn("trace file ", writer_path,
             ": its descriptor was closed or reused by the program; tracing stopped");
    writer_fd = -1;
    tmk_state = TMK_STATE_STOPPED;
}

/* Moves fd to TMK_FD_FLOOR or above and notes its identity. */
static int settle_fd(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, TMK_FD_FLOOR);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    struct stat st;
    if (fstat(fd, &st) == 0) {
        writer_dev = st.st_dev;
        writer_ino = st.st_ino;
    }
    return fd;
}

int tmk_writer_open(void)
{
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    int rc = writer_open();
    pthread_setcancelstate(cancel, NULL);
    return rc;
}

static int writer_open(void)
{
    int saved = errno;
    char base[4200];
    int has_pid = tmk_trace_path_expand(base, sizeof base, tmk_opt.output, (uint64_t)getpid(),
                                        program_invocation_short_name);
    /* A forked child with a fixed path writes "<path>.<pid>". */
    if (!has_pid && writer_child) {
        size_t n = tmk_path_append(base, strlen(base), sizeof base, ".");
        tmk_path_append_u(base, n, sizeof base, (uint64_t)getpid());
    }
    compressor_init();
    int fd = create_trace_file(base);
    if (fd < 0) {
        const char *why = errno == ELOOP    ? ": is a symlink; not tracing"
                          : errno == EEXIST ? ": exists; not tracing"
                                            : ": cannot be created; not tracing";
        tmk_warn("trace file ", writer_path, why);
        errno = saved;
        return -1;
    }
    struct tmk_file_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TMK_TRACE_MAGIC, TMK_TRACE_MAGIC_LEN);
    h.version_major = TMK_TRACE_VERSION_MAJOR;
    h.version_minor = TMK_TRACE_VERSION_MINOR;
    h.header_size = TMK_FILE_HEADER_SIZE;
    h.flags = (tmk_opt.mode == TMK_MODE_TABLES ? TMK_FILE_MODE_TABLES : 0) |
              (tmk_opt.sample_bytes && tmk_opt.mode == TMK_MODE_FULL ? TMK_FILE_SAMPLED : 0) |
              (tmk_opt.unwinder == TMK_UNWIND_FP ? TMK_FILE_FRAME_POINTER : 0);
    h.pid = (uint32_t)getpid();
    h.ppid = (uint32_t)getppid();
    h.max_depth = tmk_opt.depth;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    h.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
    h.start_monotonic_ns = tmk_start_ns;
    h.sample_interval = tmk_opt.mode == TMK_MODE_FULL ? tmk_opt.sample_bytes : 0;
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    tmk_file_header_encode(raw, &h);
    struct iovec iov = {raw, sizeof raw};
    writer_fd = fd = settle_fd(fd);
    if (write_all(fd, &iov, 1) != 0) {
        writer_failed("trace file ");
        errno = saved;
        return -1;
    }
    tmk_bound_start();
    errno = saved;
    return 0;
}

int tmk_writer_block(uint32_t thread, uint64_t seq, uint64_t time_base, const uint8_t *payload,
                     size_t size)
{
    if (writer_fd < 0) return -1;
    int saved = errno;
    if (!fd_is_ours()) {
        writer_lost_fd();
        errno = saved;
        return -1;
    }
    uint32_t flags;
    const uint8_t *stored = stored_payload(payload, &size, &flags);
    uint8_t stop[TMK_BOUND_STOP_MAX]; /* TIDEMARK_MAX_BYTES reached: bound.c */
    int last = tmk_opt.max_bytes && !tmk_bound_admit(TMK_BLOCK_HEADER_SIZE + size);
    if (last) {
        size = tmk_bound_stop_payload(stop, time_base);
        stored = stop;
        flags = 0;
    }
    struct tmk_block_header b = {TMK_BLOCK_MAGIC, (uint32_t)size, thread, flags, seq, time_base};
    uint8_t raw[TMK_BLOCK_HEADER_SIZE];
    tmk_block_header_encode(raw, &b);
    struct iovec iov[2] = {{raw, sizeof raw}, {(void *)stored, size}};
    int rc = write_all(writer_fd, iov, 2);
    if (rc != 0) {
        writer_failed("trace file ");
    } else if (last) {
        drop_fd();
        tmk_state = TMK_STATE_STOPPED;
        rc = -1;
    }
    errno = saved;
    return rc;
}

void tmk_writer_close(void)
{
    int saved = errno;
    drop_fd();
    errno = saved;
}

/* The child must not write into the parent's file: drop the inherited fd
 * (the parent keeps its own) and start unlocked. */
void tmk_writer_after_fork_child(void)
{
    pthread_mutex_init(&writer_mutex, NULL);
    pthread_setcancelstate(writer_cancel_old, NULL); /* before_fork took the lock */
    writer_child = 1;
    int saved = errno;
    drop_fd();
    errno = saved;
}
