/* tests/analyzer/test_series.c - the timeline downsampler (analyzer/model/series.c).
 *
 * The shape that broke the first version: a burst of array events (held
 * falling as overflow buckets are freed) crowded into a few milliseconds, then
 * a long quiet tail of count samples (live falling at constant held). Counted
 * windows swallowed the whole tail into one point; time cells must not.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model/analyze_int.h"
#include "check.h"


#define MS 1000000ull

static void burst_then_tail(void)
{
    struct series s = {0};
    uint64_t t = 0;
    for (uint64_t i = 0; i < 100000; i++) /* 100k events in 10 ms, held peaks at 5 ms */
        series_add(&s, t += 100, i < 50000 ? i * 1000 : (100000 - i) * 1000, 1000000);
    for (uint64_t i = 0; i < 200; i++) /* 200 samples over 2 s: live drains */
        series_add(&s, t += 10 * MS, 5000000, 1000000 - i * 5000);
    size_t n;
    struct tm_point *p = series_finish(&s, t + 1, 5000000, 3, &n);
    CHECK(p && n > 2 && n <= TM_TIMELINE_MAX, "%zu points", n);
    if (!p) return;
    size_t tail = 0, held_peak = 0, ordered = 1;
    for (size_t i = 0; i < n; i++) {
        tail += p[i].t > 10 * MS;
        held_peak |= p[i].held == 50000000;
        if (i) ordered &= p[i].t >= p[i - 1].t;
    }
    CHECK(tail >= 50, "the 2 s tail keeps %zu points (the burst must not crowd it out)", tail);
    CHECK(held_peak, "the held peak survives");
    CHECK(ordered, "points in time order");
    CHECK(p[n - 1].live == 3 && p[n - 1].t == t + 1, "ends with the final state");
    free(p);
}

static void live_peak_survives(void)
{
    struct series s = {0};
    for (uint64_t i = 0; i < 1000000; i++) /* live rises to 700000 then falls; held flat */
        series_add(&s, i * 1000, 4096, i < 700000 ? i : 1400000 - i);
    size_t n;
    struct tm_point *p = series_finish(&s, 1000000000ull, 4096, 0, &n);
    int peak = 0;
    for (size_t i = 0; p && i < n; i++) peak |= p[i].live == 700000;
    CHECK(peak && n <= TM_TIMELINE_MAX, "live peak kept (%zu points)", n);
    free(p);
}

static void few_points_all_kept(void)
{
    struct series s = {0};
    for (uint64_t i = 0; i < 10; i++) series_add(&s, 100 + i, i, i);
    size_t n;
    struct tm_point *p = series_finish(&s, 200, 9, 9, &n);
    CHECK(p && n == 11, "10 points and the final state, nothing merged (%zu)", n);
    free(p);
}

int main(void)
{
    burst_then_tail();
    live_peak_survives();
    few_points_all_kept();
    return check_status();
}
