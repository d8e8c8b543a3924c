/* preload/sampler.c - the background thread that samples what changes
 * without an event: every TIDEMARK_SAMPLE_INTERVAL ms it writes a MEMORY
 * record (RSS from /proc/self/stat, heap = the threads' counters of usable
 * bytes, or the allocator's figure in tables mode), a TABLE_COUNT for each
 * table whose live count moved, rescans the modules when the loader's
 * counters moved. Every TMK_HANDOFF_EVERY_NS it
 * also writes out the buffers that have waited TMK_HANDOFF_AGE_NS (its own,
 * and through the handoff those of the program's threads, buffer.c), so that
 * a killed process leaves all but its last second behind. It compresses and
 * writes the blocks the program's threads queue when their buffers fill
 * (buffer.c, "The queued block"), woken for each. Past
 * TIDEMARK_MAX_BYTES's soft bound (bound.c) it samples once a second. When
 * the program has no thread left (main called pthread_exit, the others
 * ended), the sampler returns so that the process exits as it would have.
 *
 * Around the program's unshare and setns calls that the kernel refuses to
 * a multi-threaded process (a user namespace; a mount or time namespace's
 * setns: tmk_sampler_pause_for_unshare, tmk_sampler_pause_for_setns, from
 * hooks.c's wrappers), the thread is stopped and started again, so that a
 * program with one thread of its own still is a single-threaded process
 * for that call. Any other (a network, UTS, IPC, pid, cgroup namespace)
 * leaves it running: a restart costs about 130 us.
 *
 * The thread blocks every signal (process-directed signals must reach the
 * program's threads, not this one) and never allocates through malloc.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* What /proc/self/stat says: RSS, and whether the program has no thread of
 * its own left (its main thread is a zombie after pthread_exit, and the
 * sampler is the only other one). The file is opened for each reading, not
 * kept open: a descriptor the shim keeps is one the program may close or
 * reuse (`exec 3>file` replaced it, and a forked child then closed the
 * program's file). */
struct proc_stat {
    uint64_t rss;
    int program_gone;
};

static struct proc_stat read_proc_stat(void)
{
    struct proc_stat st = {0, 0};
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return st;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return st;
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    if (!p) return st;
    /* fields after the name: 3 state, ..., 20 num_threads, ..., 24 rss */
    uint64_t field[25] = {0};
    char state = 0;
    for (int f = 3; f <= 24 && *p; f++) {
        while (*p && *p != ' ') p++;
        while (*p == ' ') p++;
        if (f == 3) state = *p;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
        field[f] = v;
    }
    st.rss = field[24] * (uint64_t)sysconf(_SC_PAGESIZE);
    st.program_gone = state == 'Z' && field[20] <= 2;
    return st;
}

static uint64_t read_rss(void)
{
    return read_proc_stat().rss;
}

/* The heap in use: tables mode keeps no per-call counter, so the allocator
 * says (glibc's mallinfo2: bytes in allocated chunks and in mmap'd ones).
 * mallinfo2 walks every free chunk with the arena's lock held (W4, 400,000
 * free chunks: a third of the process's CPU when read every 10 ms), so it
 * is read at most once a second, and never more often than keeps it below
 * 0.1% of the time: the next reading waits 1,000 times as long as this one
 * took. Between readings the last figure stands; the trace's last sample,
 * written by the thread that ends it, takes it too (TMK_HEAP_LAST). */
#define HEAP_READ_EVERY_NS 1000000000u
#define HEAP_READ_DUTY 1000u

static int64_t heap_from_allocator(enum tmk_heap_read read)
{
    static int64_t last = -1; /* the sampler's, and the finishing thread's at the end */
    static uint64_t next_ns;
    uint64_t start = tmk_clock_ns();
    if (read == TMK_HEAP_LAST || start < __atomic_load_n(&next_ns, __ATOMIC_RELAXED))
        return __atomic_load_n(&last, __ATOMIC_RELAXED);
    struct mallinfo2 mi = mallinfo2();
    int64_t heap = (int64_t)(mi.uordblks + mi.hblkhd);
    uint64_t took = tmk_clock_ns() - start, wait = took * HEAP_READ_DUTY;
    __atomic_store_n(&last, heap, __ATOMIC_RELAXED);
    __atomic_store_n(&next_ns, start + (wait > HEAP_READ_EVERY_NS ? wait : HEAP_READ_EVERY_NS),
                     __ATOMIC_RELAXED);
    return heap;
}

/* -1: not known (tables mode, never read). */
static int64_t heap_in_use(enum tmk_heap_read read)
{
    return tmk_opt.mode == TMK_MODE_TABLES ? heap_from_allocator(read) : tmk_threads_heap();
}

void tmk_memory_sample(struct tmk_thread *t, enum tmk_heap_read read)
{
    int64_t heap = heap_in_use(read);
    if (heap < 0 && tmk_opt.mode == TMK_MODE_TABLES) return;
    uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
    p = tmk_put_timed(t, p, TMK_REC_MEMORY, tmk_now());
    p = tmk_put_u(p, read_rss());
    p = tmk_put_u(p, heap > 0 ? (uint64_t)heap : 0);
    tmk_publish(t, p);
}

/* TIDEMARK_MAX_BYTES's soft bound was passed (bound.c): a MEMORY sample
 * and BOUND(SOFT) say when, written at once; from then on a sample a second
 * at most. */
static uint64_t note_bound(struct tmk_thread *t, uint64_t interval)
{
    tmk_memory_sample(t, TMK_HEAP_WHEN_DUE);
    uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
    tmk_publish(t, tmk_bound_put_soft(p));
    tmk_thread_flush(t);
    return interval < 1000000000u ? 1000000000u : interval;
}

static void take_samples(struct tmk_thread *t)
{
    tmk_memory_sample(t, TMK_HEAP_WHEN_DUE);
    tmk_tables_sample(t, 1);
    tmk_probe_sample(t);
    tmk_modules_scan_if_changed(t);
}

/* Its own buffer like the others': a block once it is TMK_HANDOFF_AGE_NS
 * old, then the other threads' through the handoff. */
static void write_out(struct tmk_thread *t, uint64_t now)
{
    if (__atomic_load_n(&t->pos, __ATOMIC_RELAXED) && now - t->flushed_ns >= TMK_HANDOFF_AGE_NS)
        tmk_thread_flush(t);
    tmk_threads_handoff(t, TMK_HANDOFF_AGE_NS);
}

/* The running sampler's tid (0: none, or not yet known), a request that it
 * return (tmk_sampler_pause), and the pauses under way. */
static int sampler_live; /* tmk_sampler_start made one in this process */
static pid_t sampler_tid;
static int sampler_stop;
static int pauses;
static int paused_one; /* the first pause stopped a sampler: the last restarts it */
/* The count and the stop or start it decides, as one step: a pause that
 * came while the first was still stopping the sampler went on at once (its
 * setns saw the sampler), and a pause between the last resume's count and
 * its start left the process without a sampler. */
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;

static int sampler_go_on(void)
{
    return tmk_state == TMK_STATE_ACTIVE && !__atomic_load_n(&sampler_stop, __ATOMIC_ACQUIRE);
}

static void *sampler_main(void *arg)
{
    (void)arg;
    __atomic_store_n(&sampler_tid, gettid(), __ATOMIC_RELEASE);
    tmk_tls.guard = TMK_GUARD_THREAD; /* nothing this thread does is the program's */
    prctl(PR_SET_NAME, "tidemark", 0, 0, 0);
    struct tmk_thread *t = tmk_thread_attach();
    if (!t) return NULL;
    uint64_t interval = (uint64_t)tmk_opt.interval_ms * 1000000u;
    uint64_t now = tmk_clock_ns(), next_sample = now + interval;
    uint64_t next_write = now + TMK_HANDOFF_EVERY_NS;
    int bound_noted = 0;
    /* A first figure at once: the trace's last sample repeats the last one
     * read (tables mode), even in a program that ends before a tick. */
    tmk_memory_sample(t, TMK_HEAP_WHEN_DUE);
    tmk_blocks_writer_up(1);
    while (sampler_go_on()) {
        uint64_t next = next_sample < next_write ? next_sample : next_write;
        /* read before the pass: a block queued after it ends the wait */
        unsigned seen = tmk_blocks_queued_count();
        tmk_threads_write_queued();
        /* a stop asked after `seen` was read bumped the count: no wait */
        if (next > now && sampler_go_on()) tmk_blocks_wait(seen, next - now);
        now = tmk_clock_ns();
        if (now < next) continue; /* woken for a queued block */
        if (!sampler_go_on()) break;
        /* No thread of the program's is left: this one must not keep the
         * process alive (glibc exits when the last thread returns). */
        if (read_proc_stat().program_gone) break;
        now = tmk_clock_ns();
        if (!bound_noted && __atomic_load_n(&tmk_bound_reached, __ATOMIC_RELAXED)) {
            interval = note_bound(t, interval);
            bound_noted = 1;
        }
        if (now >= next_sample) {
            take_samples(t);
            next_sample = now + interval;
        }
        if (now >= next_write) {
            write_out(t, now);
            next_write = now + TMK_HANDOFF_EVERY_NS;
        }
        now = tmk_clock_ns();
    }
    tmk_blocks_writer_up(0); /* the owners write their own again; the final flush the rest */
    tmk_threads_write_queued();
    return NULL;
}

/* `restart`: after an unshare or setns. One of CLONE_NEWPID leaves a
 * process that can make no thread (EINVAL) until it forks (its child's
 * sampler starts then): that process goes on without one, silently, as
 * the program goes on making none. */
static void sampler_start(int restart)
{
    int saved = errno;
    __atomic_store_n(&sampler_tid, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&sampler_stop, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&sampler_live, 1, __ATOMIC_RELEASE);
    tmk_handoff_init();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t th;
    int rc = pthread_create(&th, &attr, sampler_main, NULL);
    if (rc != 0) {
        __atomic_store_n(&sampler_live, 0, __ATOMIC_RELEASE);
        if (!(restart && rc == EINVAL))
            tmk_warn("cannot start the sampler thread; no memory or count samples", NULL, NULL);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
}

void tmk_sampler_start(void)
{
    sampler_start(0);
}

/* ---- stopping it around unshare and setns --------------------------------- */

#define SAMPLER_STOP_WAIT_NS 2000000000ull

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* Asks the sampler to return and waits (bounded) until the kernel has
 * reaped its task: pthread_join would return as the thread clears its tid,
 * before the kernel takes it out of the thread group, and the thread is
 * detached anyway. Its buffer is written by its thread-exit flush
 * (buffer.c), its queued blocks by its own last pass. 1 when it is gone
 * (to be started again). */
static int stop_sampler(void)
{
    if (!__atomic_load_n(&sampler_live, __ATOMIC_ACQUIRE)) return 0;
    __atomic_store_n(&sampler_stop, 1, __ATOMIC_RELEASE);
    uint64_t give_up = tmk_clock_ns() + SAMPLER_STOP_WAIT_NS;
    pid_t tid;
    while (!(tid = __atomic_load_n(&sampler_tid, __ATOMIC_ACQUIRE)) && tmk_clock_ns() < give_up)
        pause_us(50); /* created, not yet running */
    tmk_blocks_wake();
    while (tid && tmk_clock_ns() < give_up) {
        if (syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH) {
            __atomic_store_n(&sampler_live, 0, __ATOMIC_RELEASE);
            return 1;
        }
        pause_us(50);
    }
    /* Not gone in 2 s (stopped by a debugger, say): it goes on as it was,
     * and no second one is started. */
    __atomic_store_n(&sampler_stop, 0, __ATOMIC_RELEASE);
    return 0;
}

static int sampler_pause(void)
{
    if (getpid() != tmk_pid) return 0; /* a vfork child: the sampler is the parent's */
    int saved = errno;
    pthread_mutex_lock(&pause_lock);
    if (pauses++ == 0) paused_one = stop_sampler();
    pthread_mutex_unlock(&pause_lock);
    errno = saved;
    return 1;
}

void tmk_sampler_resume(int paused)
{
    if (!paused) return;
    int saved = errno;
    pthread_mutex_lock(&pause_lock);
    if (--pauses == 0 && paused_one && tmk_state == TMK_STATE_ACTIVE) {
        enum tmk_guard guard = tmk_guard_swap(TMK_GUARD_CALL); /* pthread_create's allocations */
        sampler_start(1);
        tmk_tls.guard = guard;
    }
    if (pauses == 0) paused_one = 0;
    pthread_mutex_unlock(&pause_lock);
    errno = saved;
}

/* ---- which calls need it stopped ------------------------------------------ */

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO(0xb7, 0x3) /* linux/nsfs.h, 4.11 */
#endif

/* unshare: CLONE_NEWUSER (which implies CLONE_THREAD), CLONE_THREAD,
 * CLONE_SIGHAND and CLONE_VM are EINVAL with another thread in the
 * group (kernel/fork.c, check_unshare_flags). CLONE_NEWNS and CLONE_FS
 * are not: the caller's fs_struct is copied for it alone (unshare_fs),
 * the sampler keeps the old one. */
#define UNSHARE_ALONE (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)

/* setns: a user namespace needs an empty thread group and an fs_struct of
 * the caller's own (userns_install), a mount namespace alone the fs_struct
 * (mntns_install: threads share theirs), a time namespace a single-threaded
 * process (timens_install, EUSERS). Network, UTS, IPC, pid and cgroup
 * namespaces ask for neither. */
#define SETNS_ALONE (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWTIME)

/* The namespace type of an nsfs descriptor (CLONE_NEW*), or -1 when fd is
 * not one (a pidfd, say) or the kernel does not say (before 4.11). fstatfs
 * first: no ioctl reaches a descriptor of any other kind. */
static int nsfs_type(int fd)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0 || fs.f_type != NSFS_MAGIC) return -1;
    return ioctl(fd, NS_GET_NSTYPE);
}

int tmk_sampler_pause_for_unshare(int flags)
{
    return flags & UNSHARE_ALONE ? sampler_pause() : 0;
}

/* Type 0 is "whichever the descriptor's is": an nsfs file says which; for
 * a descriptor of another kind (a pidfd, which takes no type 0: EINVAL)
 * it is stopped, to be safe. A type given to an nsfs file that is not its
 * own is EINVAL either way. */
int tmk_sampler_pause_for_setns(int fd, int type)
{
    if (type == 0) {
        int saved = errno;
        type = nsfs_type(fd);
        errno = saved;
        if (type == -1) return sampler_pause();
    }
    return type & SETNS_ALONE ? sampler_pause() : 0;
}

void tmk_sampler_after_fork_child(void)
{
    pthread_mutex_init(&pause_lock, NULL); /* another thread may have held it at the fork */
    pauses = 0;
    paused_one = 0;
    sampler_live = 0;
}
