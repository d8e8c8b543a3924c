/* bench/workloads/peak_rss.h - the workload's own peak RSS, for bench/run.sh.
 *
 * VmHWM of /proc/self/status in KiB (0 when unreadable), read with open and
 * read into a stack buffer: no allocation, so the traced heap is unchanged.
 * Under a profiler's LD_PRELOAD library this is the program's process only
 * (shim included), not heaptrack's separate interpreter process, which
 * /usr/bin/time's max RSS may report instead.
 */
#ifndef BENCH_PEAK_RSS_H
#define BENCH_PEAK_RSS_H

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static inline unsigned long bench_peak_rss_kib(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strstr(buf, "VmHWM:");
    if (!p)
        return 0;
    unsigned long kib = 0;
    for (p += 6; *p == ' ' || *p == '\t'; p++)
        ;
    for (; *p >= '0' && *p <= '9'; p++)
        kib = kib * 10 + (unsigned long)(*p - '0');
    return kib;
}

#endif
