/* analyzer/read/liveness.c - is the process that writes a trace still running?
 *
 * The header names the process (pid) and when its file was made
 * (start_realtime_ns, start_monotonic_ns). A pid alone is not enough: pids
 * are reused. The process with that pid is the trace's when it is alive (not
 * a zombie) and it started no later than the file (its start time, from
 * /proc/PID/stat in clock ticks since boot, against the file's start on the
 * same clock), in this boot (the file is younger than /proc/stat's btime). A
 * process that exec'ed keeps its pid and start time: the new image's file is
 * later than the start, which is allowed; the old image's file ends with END.
 * A pid from another pid namespace (a trace written in a container, read
 * outside it) names another process or none: such a trace reads as not
 * running.
 */
#include "liveness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A process started this long after its file's start is another process. */
#define START_SLACK_NS 250000000ull

static ssize_t read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n >= 0) buf[n] = 0;
    return n;
}

/* State and start time (clock ticks since boot) of pid. -1 when gone. */
static int proc_start(uint32_t pid, char *state, uint64_t *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    if (read_file(path, buf, sizeof buf) <= 0) return -1;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    if (!p) return -1;
    /* fields after the name: 3 state, ..., 22 starttime */
    for (int f = 3; f <= 22; f++) {
        while (*p && *p != ' ') p++;
        while (*p == ' ') p++;
        if (!*p) return -1;
        if (f == 3) *state = *p;
        if (f == 22) *ticks = strtoull(p, NULL, 10);
    }
    return 0;
}

/* /proc/stat's btime: the boot, in seconds since the epoch. 0 if unknown. */
static uint64_t boot_time_s(void)
{
    char buf[8192];
    if (read_file("/proc/stat", buf, sizeof buf) <= 0) return 0;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtoull(p + 7, NULL, 10) : 0;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_BOOTTIME - CLOCK_MONOTONIC now: the time the machine was suspended
 * (0 on most servers). Read between two monotonic readings, never below 0. */
static uint64_t suspended_ns(void)
{
    uint64_t m1 = clock_ns(CLOCK_MONOTONIC), b = clock_ns(CLOCK_BOOTTIME);
    uint64_t m2 = clock_ns(CLOCK_MONOTONIC);
    uint64_t mid = m1 + (m2 - m1) / 2;
    return b > mid ? b - mid : 0;
}

int tm_process_running(const struct tmk_file_header *h)
{
    char state = 0;
    uint64_t ticks = 0;
    if (h->pid == 0 || proc_start(h->pid, &state, &ticks) != 0) return 0;
    if (state == 'Z' || state == 'X' || state == 'x') return 0; /* exited */
    uint64_t btime = boot_time_s();
    if (btime && h->start_realtime_ns / 1000000000u + 2 < btime) return 0; /* an older boot */
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) return 0;
    uint64_t proc_boot_ns = ticks * (1000000000u / (uint64_t)hz);
    /* The file's start on the boot clock (CLOCK_BOOTTIME counts suspended
     * time too: the difference now is at least what it was then, so a
     * suspend in between only makes the file look later). */
    uint64_t file_boot_ns = h->start_monotonic_ns + suspended_ns();
    return file_boot_ns + START_SLACK_NS >= proc_boot_ns;
}

uint64_t tm_trace_now(const struct tmk_file_header *h)
{
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    return now > h->start_monotonic_ns ? now - h->start_monotonic_ns : 0;
}
