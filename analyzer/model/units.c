/* analyzer/model/units.c - human-readable sizes, exact byte counts and
 * durations (units.h). */
#include <stdio.h>

#include "units.h"

void tm_human_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
        return;
    }
    /* Round half up in tenths of the unit, in integers: 307,494,912 B is
     * 293.25 MiB and prints as 293.3 MiB. */
    int u = 1;
    unsigned __int128 scale = 1024;
    while (u < 6 && (unsigned __int128)bytes * 10 + scale / 2 >= scale * 10240) {
        scale *= 1024;
        u++;
    }
    unsigned long long tenths =
        (unsigned long long)(((unsigned __int128)bytes * 10 + scale / 2) / scale);
    snprintf(buf, len, "%llu.%llu %s", tenths / 10, tenths % 10, unit[u]);
}

const char *tm_commas(uint64_t v, char *buf, size_t len)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

void tm_human_time(uint64_t ns, char *buf, size_t len)
{
    if (ns == UINT64_MAX)
        snprintf(buf, len, "-");
    else if (ns < 1000)
        snprintf(buf, len, "%llu ns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.1f us", ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.1f ms", ns / 1e6);
    else
        snprintf(buf, len, "%.3f s", ns / 1e9);
}
