/* preload/writer.c - the trace file: opening it, writing blocks.
 *
 * Which file, and its exclusive creation (never overwrites, never follows a
 * symlink), are trace_name.c's. When it cannot be created, or a write fails
 * later (full disk, RLIMIT_FSIZE: never with the SIGXFSZ that limit sends,
 * write_all), one stderr line with the reason (errno's text), and
 * tracing stops; the program runs on untouched. Only the process the user
 * started, and its later images, say so (options.c: descendants are silent).
 *
 * Blocks are written whole with one writev under the writer mutex, each
 * compressed first (compress.c: TIDEMARK_COMPRESS=1, full mode's default),
 * then sealed with its 3.1 trailer (XXH3-64 of header and stored bytes,
 * tidemark/trace_check.h). The compressor's context is static and the hash
 * runs on the stack: writing a block never allocates, so the final flush
 * from a fatal signal's handler can compress too.
 *
 * The descriptor is in the program's namespace too. It sits where programs
 * do not look: at 1024 or above (past select()'s FD_SETSIZE, past the
 * numbers shells and open() hand out) when the descriptor limit leaves room,
 * else among the last 16 below the limit. Before each block and before
 * closing, one fstat checks it is still the trace file (device and inode).
 * A program that closed it or put its own file on that number (a daemon
 * closing every descriptor, `exec 1030>file`, a dup2) keeps that number:
 * the shim never writes to, or closes, a descriptor that is not the trace
 * file; it opens the trace again by its absolute path (the same device and
 * inode, appending) on a free high number and goes on, silently. Only if
 * the file itself is gone or replaced does tracing stop. One window stays: a
 * program thread's dup2 onto the number between that fstat and the writev
 * (the same race as with any library's descriptor).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "internal.h"
#include "tidemark/trace_check.h"
#include "tidemark/trace_path.h"

static pthread_mutex_t writer_mutex = PTHREAD_MUTEX_INITIALIZER;
static int writer_fd = -1;
static dev_t writer_dev; /* identity of the trace file behind writer_fd */
static ino_t writer_ino;
static char writer_path[4200];
static char writer_abspath[4200]; /* "" = too long to keep: no reopening */

/* The writer lock also holds off thread cancellation: writev, open and
 * write are cancellation points, and a thread cancelled inside the shim
 * (the program's cancel request meant for a later point of its own) would
 * die holding this mutex. The holder's previous cancel state is kept here. */
static int writer_cancel_old;
/* The holder's tmk_tls (an address no two live threads share), for
 * tmk_writer_held_here; NULL when free. */
static const void *writer_holder;

void tmk_writer_lock(void)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_mutex_lock(&writer_mutex);
    writer_cancel_old = old;
    __atomic_store_n(&writer_holder, (const void *)&tmk_tls, __ATOMIC_RELAXED);
}

int tmk_writer_held_here(void)
{
    return __atomic_load_n(&writer_holder, __ATOMIC_RELAXED) == (const void *)&tmk_tls;
}

int tmk_writer_trylock(void)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    int rc = pthread_mutex_trylock(&writer_mutex);
    if (rc == 0) {
        writer_cancel_old = old;
        __atomic_store_n(&writer_holder, (const void *)&tmk_tls, __ATOMIC_RELAXED);
    } else
        pthread_setcancelstate(old, NULL);
    return rc;
}

void tmk_writer_unlock(void)
{
    int old = writer_cancel_old;
    __atomic_store_n(&writer_holder, NULL, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&writer_mutex);
    pthread_setcancelstate(old, NULL);
}

static int writev_all(int fd, struct iovec *iov, int cnt)
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

/* RLIMIT_FSIZE: a write that starts at or past the limit fails with EFBIG
 * and the kernel sends SIGXFSZ to the writing thread, whose default action
 * kills the process (one that crosses it is cut short, without a signal:
 * the next one starts at the limit). That signal is the shim's, never the
 * program's: SIGXFSZ is blocked on this thread around the write, and a
 * SIGXFSZ the write raised (it failed with EFBIG) is taken back with
 * sigtimedwait before the mask is restored. The write then fails as any
 * other ("write failed: File too large; tracing stopped"); the trace ends
 * with the part of the block that fit, which readers take as a cut-off
 * block. This is exact where comparing the file's size with getrlimit
 * before each write is not (the program or a prlimit may lower the limit
 * between the two), and costs two sigprocmask calls per block. A SIGXFSZ
 * the program itself had pending (blocked) before the write is left
 * alone: the write's own is then not taken either (the kernel may have
 * merged the two). */
static int write_all(int fd, struct iovec *iov, int cnt)
{
    sigset_t xfsz, old, pending;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &xfsz, &old);
    /* Unblocked before: none was pending here, so one pending after is ours. */
    int programs = sigismember(&old, SIGXFSZ) && sigpending(&pending) == 0 &&
                   sigismember(&pending, SIGXFSZ);
    int rc = writev_all(fd, iov, cnt), err = errno;
    if (rc != 0 && err == EFBIG && !programs) {
        struct timespec now = {0, 0};
        while (sigtimedwait(&xfsz, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return rc;
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

/* what + errno's text + then */
static void reason(char *out, size_t cap, const char *what, int err, const char *then)
{
    size_t n = tmk_path_append(out, 0, cap, what);
    n = tmk_errno_append(out, n, cap, err);
    tmk_path_append(out, n, cap, then);
}

/* The file is unusable: say so once, stop tracing (writer lock held). */
static void writer_failed(const char *what)
{
    int err = errno;
    char why[128];
    reason(why, sizeof why, ": write failed: ", err, "; tracing stopped");
    tmk_warn(what, writer_path, why);
    drop_fd();
    tmk_state = TMK_STATE_STOPPED;
    errno = err;
}

/* The lowest number the trace descriptor may take (see the top comment). */
static int fd_floor(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > 2 * TMK_FD_HIGH)
        return TMK_FD_HIGH;
    return rl.rlim_cur > 32 ? (int)rl.rlim_cur - 16 : 3;
}

/* Moves fd up to fd_floor() or above; without a free number there, it stays. */
static int move_high(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, fd_floor());
    if (high < 0) return fd;
    close(fd);
    return high;
}

/* Moves fd high and notes its identity. */
static int settle_fd(int fd)
{
    fd = move_high(fd);
    struct stat st;
    if (fstat(fd, &st) == 0) {
        writer_dev = st.st_dev;
        writer_ino = st.st_ino;
    }
    return fd;
}

/* Keeps the absolute form of writer_path, to open the file again from any
 * working directory. */
static void note_abspath(void)
{
    writer_abspath[0] = 0;
    size_t n = 0;
    if (writer_path[0] != '/') {
        if (!getcwd(writer_abspath, sizeof writer_abspath - 1)) return;
        n = strlen(writer_abspath);
        n = tmk_path_append(writer_abspath, n, sizeof writer_abspath, "/");
    }
    size_t len = strlen(writer_path);
    if (n + len + 1 > sizeof writer_abspath) {
        writer_abspath[0] = 0;
        return;
    }
    memcpy(writer_abspath + n, writer_path, len + 1);
}

/* The program closed the descriptor or put its own file on that number: the
 * number is the program's now. Opens the trace file again (the same device
 * and inode) on a high number; else tracing stops, silently (writer lock
 * held). Returns 0 when writer_fd is the trace file again. */
static int writer_reclaim(void)
{
    writer_fd = -1;
    int fd = writer_abspath[0]
                 ? open(writer_abspath, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
                 : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == writer_dev && st.st_ino == writer_ino) {
        writer_fd = move_high(fd);
        return 0;
    }
    if (fd >= 0) close(fd);
    tmk_state = TMK_STATE_STOPPED;
    return -1;
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
    tmk_compress_init();
    int fd = tmk_trace_create(writer_path, sizeof writer_path);
    if (fd < 0) {
        char why[160];
        if (errno == ELOOP)
            tmk_path_append(why, 0, sizeof why, ": is a symlink; not tracing");
        else if (errno == EEXIST)
            tmk_path_append(why, 0, sizeof why, ": exists and is not a regular file, or "
                                                "its 99 suffixes are taken; not tracing");
        else
            reason(why, sizeof why, ": cannot be created: ", errno, "; not tracing");
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
    tmk_header_seal(raw);
    struct iovec iov = {raw, sizeof raw};
    writer_fd = fd = settle_fd(fd);
    note_abspath();
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
    if (!fd_is_ours() && writer_reclaim() != 0) {
        errno = saved;
        return -1;
    }
    uint32_t flags;
    const uint8_t *stored = tmk_compress_block(thread, payload, &size, &flags);
    uint8_t stop[TMK_BOUND_STOP_MAX]; /* TIDEMARK_MAX_BYTES reached: bound.c */
    int last = tmk_opt.max_bytes &&
               !tmk_bound_admit(TMK_BLOCK_HEADER_SIZE + size + TMK_BLOCK_CHECK_SIZE);
    if (last) {
        size = tmk_bound_stop_payload(stop, time_base);
        stored = stop;
        flags = 0;
    }
    struct tmk_block_header b = {TMK_BLOCK_MAGIC, (uint32_t)(size + TMK_BLOCK_CHECK_SIZE), thread,
                                 flags | TMK_BLOCK_CHECKSUM, seq, time_base};
    uint8_t raw[TMK_BLOCK_HEADER_SIZE], trailer[TMK_BLOCK_CHECK_SIZE];
    tmk_block_header_encode(raw, &b);
    tmk_put_le64(trailer, tmk_block_check(raw, stored, size));
    struct iovec iov[3] = {{raw, sizeof raw}, {(void *)stored, size}, {trailer, sizeof trailer}};
    int rc = write_all(writer_fd, iov, 3);
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
    writer_holder = NULL;
    pthread_setcancelstate(writer_cancel_old, NULL); /* before_fork took the lock */
    tmk_lineage_forked();
    int saved = errno;
    drop_fd();
    errno = saved;
}
