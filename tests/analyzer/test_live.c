/* tests/analyzer/test_live.c - traces of running processes (tracegen files
 * whose header names a live process): liveness (pid reuse, zombies, dead
 * pids), a live trace's end read quietly, the state as of 1.5 s ago and its
 * notice, merging in pieces (tm_reader_run_until) against one run, a file
 * that grows (tm_reader_follow, follow.c), and the BOUND records.
 *
 * A live process with a known start, for traces with records seconds old:
 * pid 1 (started long before this test), the header's start set just after
 * pid 1's; liveness itself is tried on children of the test.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "model/follow.h"
#include "read/liveness.h"
#include "model/model.h"
#include "read/reader.h"
#include "tidemark/annotate.h"
#include "scenarios.h"

static char dir[] = "/tmp/tmk-live-XXXXXX";

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start of pid on CLOCK_MONOTONIC; -1 when unknown. */
static int proc_start_mono(pid_t pid, uint64_t *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* then " STATE ..." : field 3 */
    for (int field = 3; p && field <= 22; field++) p = strchr(p + 1, ' ');
    if (!p) return -1;
    uint64_t ticks = strtoull(p + 1, NULL, 10);
    uint64_t boot = ticks * (1000000000u / (uint64_t)sysconf(_SC_CLK_TCK));
    uint64_t mono = clock_ns(CLOCK_MONOTONIC), b = clock_ns(CLOCK_BOOTTIME);
    uint64_t shift = b > mono ? b - mono : 0; /* time suspended */
    *out = boot > shift ? boot - shift : 0;
    return 0;
}

/* The header names pid, its file made at monotonic `mono`. */
static void set_header(uint8_t *b, uint32_t pid, uint64_t mono)
{
    tmk_put_le32(b + 20, pid);
    uint64_t real = clock_ns(CLOCK_REALTIME) - (clock_ns(CLOCK_MONOTONIC) - mono);
    tmk_put_le64(b + 32, real);
    tmk_put_le64(b + 40, mono);
}

/* g's bytes in a buffer of their own (g destroyed), the header saying
 * process `pid` started at CLOCK_MONOTONIC `mono`. */
static uint8_t *trace_as(struct tg *g, uint32_t pid, uint64_t mono, size_t *n)
{
    const uint8_t *gb = tg_bytes(g, n);
    uint8_t *b = malloc(*n);
    memcpy(b, gb, *n);
    tg_destroy(g);
    set_header(b, pid, mono);
    return b;
}

static void header_of(const uint8_t *b, struct tmk_file_header *h)
{
    tmk_file_header_decode(h, b);
}

/* ---- liveness ----------------------------------------------------------------- */

static void test_liveness(void)
{
    struct tg *g = tg_new(0);
    size_t n;
    uint8_t *b = malloc(TMK_FILE_HEADER_SIZE);
    memcpy(b, tg_bytes(g, &n), TMK_FILE_HEADER_SIZE);
    tg_destroy(g);
    struct tmk_file_header h;
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    usleep(50000);
    uint64_t start;
    CHECK(proc_start_mono(child, &start) == 0, "the child's start");
    set_header(b, (uint32_t)child, start + 20000000u);
    header_of(b, &h);
    CHECK(tm_process_running(&h), "a live child, file made after it started");
    set_header(b, (uint32_t)child, clock_ns(CLOCK_MONOTONIC) - 10000000000ull);
    header_of(b, &h);
    CHECK(!tm_process_running(&h), "a file made 10 s before its pid's process: another process");
    kill(child, SIGKILL);
    usleep(100000);
    set_header(b, (uint32_t)child, start + 20000000u);
    header_of(b, &h);
    CHECK(!tm_process_running(&h), "a zombie is not running");
    waitpid(child, NULL, 0);
    CHECK(!tm_process_running(&h), "a reaped pid is not running");
    set_header(b, 0, start);
    header_of(b, &h);
    CHECK(!tm_process_running(&h), "pid 0");
    free(b);
}

/* ---- merging in pieces --------------------------------------------------------- */

struct rec_log {
    size_t n, cap;
    struct { uint8_t type; uint32_t thread; uint64_t t, a, b; } *r;
};

static int log_record(void *ctx, const struct tm_record *rec)
{
    struct rec_log *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->r = realloc(l->r, l->cap * sizeof *l->r);
    }
    uint64_t a = rec->type == TMK_REC_ALLOC ? rec->u.alloc.ptr
                 : rec->type == TMK_REC_FREE ? rec->u.free.ptr : rec->u.table_count.table;
    l->r[l->n].type = rec->type;
    l->r[l->n].thread = rec->thread;
    l->r[l->n].t = rec->t;
    l->r[l->n].a = a;
    l->r[l->n].b = rec->type == TMK_REC_ALLOC ? rec->u.alloc.size : 0;
    l->n++;
    return 0;
}

static int same_logs(const struct rec_log *x, const struct rec_log *y)
{
    if (x->n != y->n) return 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->r[i].type != y->r[i].type || x->r[i].thread != y->r[i].thread ||
            x->r[i].t != y->r[i].t || x->r[i].a != y->r[i].a || x->r[i].b != y->r[i].b)
            return 0;
    return 1;
}

static void test_run_until(struct tg *g, const char *what)
{
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    char err[256];
    struct tm_reader *r = tm_reader_open_mem(b, n, err, sizeof err);
    CHECK(r, "%s: %s", what, err);
    if (!r) return;
    struct rec_log once = {0}, pieces = {0};
    CHECK(tm_reader_run(r, log_record, &once, err, sizeof err) == 0, "%s", err);
    tm_reader_close(r);
    r = tm_reader_open_mem(b, n, err, sizeof err);
    uint64_t last = once.n ? once.r[once.n - 1].t : 0;
    for (uint64_t k = 0; k <= 8; k++) {
        size_t had = pieces.n;
        CHECK(tm_reader_run_until(r, k == 8 ? UINT64_MAX : last * k / 8, log_record, &pieces,
                                  err, sizeof err) == 0, "%s", err);
        for (size_t i = had; i < pieces.n; i++)
            CHECK(k == 8 || pieces.r[i].t <= last * k / 8, "%s: a record after the cut", what);
    }
    CHECK(same_logs(&once, &pieces), "%s: %zu records at once, %zu in pieces", what, once.n,
          pieces.n);
    tm_reader_close(r);
    free(once.r);
    free(pieces.r);
}

/* ---- a live file ---------------------------------------------------------------- */

static const char *write_file(const char *name, const uint8_t *b, size_t n)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f && fwrite(b, 1, n, f) == n, "write %s", path);
    if (f) fclose(f);
    return path;
}

static void append_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "a");
    CHECK(f && fwrite(b, 1, n, f) == n, "append %s", path);
    if (f) fclose(f);
}

static int has_warning(const struct tm_model *m, const char *s)
{
    for (size_t i = 0; i < m->info.n_warnings; i++)
        if (strstr(m->info.warnings[i], s)) return 1;
    return 0;
}

/* A server: thread 1 makes table 1 (its array 1 MiB, 100,000 live) then
 * drops it to 10 live; thread 2 samples memory. Times relative to `now`
 * (trace time): early records 5 s and 4 s ago, late ones 0.5 s ago. */
static struct tg *server_trace(uint64_t now)
{
    struct tg *g = tg_new(0);
    tg_table_new(g, 1, now - 5000000000ull, 1, TMK_KIND_GENERIC, 0, 8, 8, 16, 1, 0, 0, "live");
    tg_alloc(g, 1, now - 5000000000ull + 10, 0x10000, 1 << 20, 0);
    tg_table_array(g, 1, now - 5000000000ull + 20, 1, 0x10000, 1 << 20, 65536, 0, 100000, 0);
    tg_flush(g, 1);
    tg_memory(g, 2, now - 4000000000ull, 8 << 20, 0);
    tg_flush(g, 2);
    tg_table_count(g, 1, now - 500000000u, 1, 10);
    tg_memory(g, 2, now - 400000000u, 9 << 20, 0);
    return g;
}

static void test_live_report(uint64_t init_mono)
{
    uint64_t mono = init_mono + 100000000u;
    uint64_t now = clock_ns(CLOCK_MONOTONIC) - mono;
    struct tg *g = server_trace(now);
    size_t n;
    uint8_t *b = trace_as(g, 1, mono, &n);
    /* cut inside the last block, as while it is being written */
    const char *path = write_file("live.tmk", b, n - 3);
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    struct tm_model m;
    char err[256];
    CHECK(tm_analyze(path, &o, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(m.info.running && !m.info.truncated && m.info.n_warnings == 0,
          "running %d, truncated %d, %zu warnings (first: %s)", m.info.running,
          m.info.truncated, m.info.n_warnings, m.info.n_warnings ? m.info.warnings[0] : "");
    char want[64];
    snprintf(want, sizeof want, "process 1 still running; as of ");
    CHECK(m.info.n_notices == 1 && !strncmp(m.info.notices[0], want, strlen(want)),
          "notice: %s", m.info.n_notices ? m.info.notices[0] : "(none)");
    /* as of 1.5 s ago: the count of 0.5 s ago is read, not applied */
    CHECK(m.info.at + 1400000000u <= now + 100000000u && m.info.at + 1600000000u >= now,
          "at %llu, now %llu", (unsigned long long)m.info.at, (unsigned long long)now);
    CHECK(m.n_tables == 1 && m.tables[0].live_now == 100000 && m.tables[0].held == 1 << 20,
          "table as of then: live %llu", m.n_tables ? (unsigned long long)m.tables[0].live_now : 0);
    tm_model_free(&m);
    /* the same bytes from a process that is gone: cut short, said so */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    set_header(b, (uint32_t)child, mono);
    path = write_file("dead.tmk", b, n - 3);
    CHECK(tm_analyze(path, &o, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(!m.info.running && m.info.truncated && has_warning(&m, "cut off inside the block") &&
              has_warning(&m, "no END record") && m.info.n_notices == 0,
          "dead: running %d, truncated %d", m.info.running, m.info.truncated);
    tm_model_free(&m);
    free(b);
}

/* follow.c on a file that grows: the first look sees the table at 100,000
 * live; after the rest of the file (count 10, END) it sees 10 and the end.
 * Every record is 2 s old or more: all settled. */
static void test_follow(uint64_t init_mono)
{
    uint64_t mono = init_mono + 100000000u;
    uint64_t now = clock_ns(CLOCK_MONOTONIC) - mono - 2000000000u;
    struct tg *g = server_trace(now);
    tg_end(g, 1, now - 300000000u, TMK_END_EXIT, 0);
    size_t n;
    uint8_t *b = trace_as(g, 1, mono, &n);
    /* the first two blocks (thread 1's, thread 2's), and 5 bytes of the next */
    size_t first = TMK_FILE_HEADER_SIZE;
    for (int k = 0; k < 2; k++)
        first += TMK_BLOCK_HEADER_SIZE + tmk_get_le32(b + first + 4);
    const char *path = write_file("grow.tmk", b, first + 5);
    struct tm_follow *f;
    char err[256];
    CHECK(tm_follow_open(path, &f, err, sizeof err) == 0, "%s", err);
    if (!f) return;
    const struct tm_follow_state *st;
    CHECK(tm_follow_poll(f, &st, err, sizeof err) == 0, "%s", err);
    CHECK(st->running && !st->ended && st->n_tables == 1 && st->tables[0].live_now == 100000 &&
              st->tables[0].held == 1 << 20 && !strcmp(st->tables[0].label, "live"),
          "first look: running %d, %zu tables", st->running, st->n_tables);
    CHECK(st->rss == 8 << 20 && st->heap_exact && st->heap_in_use == 1 << 20,
          "rss %llu, heap %llu", (unsigned long long)st->rss,
          (unsigned long long)st->heap_in_use);
    uint64_t records = st->records;
    CHECK(tm_follow_poll(f, &st, err, sizeof err) == 0 && st->records == records,
          "a look with nothing new reads nothing");
    append_file(path, b + first + 5, n - first - 5);
    CHECK(tm_follow_poll(f, &st, err, sizeof err) == 0, "%s", err);
    CHECK(!st->running && st->ended && st->n_tables == 1 && st->tables[0].live_now == 10 &&
              st->tables[0].retained > 0 && st->rss == 9 << 20,
          "after the end: running %d ended %d live %llu", st->running, st->ended,
          st->n_tables ? (unsigned long long)st->tables[0].live_now : 0);
    tm_follow_close(f);
    free(b);
}

/* ---- BOUND -------------------------------------------------------------------------- */

static void put_bound(struct tg *g, uint32_t th, uint64_t what, uint64_t bound)
{
    uint8_t rec[32], body[20];
    uint8_t *e = tmk_put_u(tmk_put_u(body, what), bound);
    uint8_t *p = rec;
    *p++ = TMK_REC_BOUND;
    p = tmk_put_u(p, (uint64_t)(e - body));
    memcpy(p, body, (size_t)(e - body));
    tg_raw(g, th, rec, (size_t)(p - rec) + (size_t)(e - body));
}

static void test_bound(void)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, 1);
    tg_memory(g, 2, 1000000, 1 << 20, 0);
    put_bound(g, 2, TMK_BOUND_SOFT, 1 << 20);
    tg_table_new(g, 1, 2000000, 1, TMK_KIND_GENERIC, 0, 8, 8, 16, 1, 0, 0, "t");
    tg_tick(g, 1, 3000000);
    put_bound(g, 1, TMK_BOUND_STOP, 1 << 20);
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    struct tm_model m;
    char err[256];
    CHECK(tm_analyze_mem(b, n, "bound", &o, &m, err, sizeof err) == TM_EXIT_OK, "%s", err);
    CHECK(!m.info.truncated && m.info.n_warnings == 0, "a stopped trace is whole (%s)",
          m.info.n_warnings ? m.info.warnings[0] : "");
    CHECK(m.info.bound_bytes == 1 << 20 && m.info.bound_soft_t == 1000000 &&
              m.info.bound_stop_t == 3000000,
          "bound %llu soft %llu stop %llu", (unsigned long long)m.info.bound_bytes,
          (unsigned long long)m.info.bound_soft_t, (unsigned long long)m.info.bound_stop_t);
    CHECK(m.info.n_notices == 2 &&
              !strncmp(m.info.notices[0], "the trace passed 7/8 of TIDEMARK_MAX_BYTES (1.0 MiB) at 1.0",
                       58) &&
              !strcmp(m.info.notices[1], "the trace reached TIDEMARK_MAX_BYTES (1.0 MiB) at "
                                         "3.0 ms: nothing was recorded after that"),
          "notices: %s | %s", m.info.n_notices > 0 ? m.info.notices[0] : "",
          m.info.n_notices > 1 ? m.info.notices[1] : "");
    tm_model_free(&m);
    tg_destroy(g);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_liveness();
    uint64_t init_mono = 0;
    if (proc_start_mono(1, &init_mono) ||
        init_mono + 6000000000ull > clock_ns(CLOCK_MONOTONIC)) {
        /* the traces' records go 5 s back from now, after pid 1's start */
        fprintf(stderr, "pid 1 is unknown or younger than 6 s: two live cases skipped\n");
    } else {
        test_live_report(init_mono);
        test_follow(init_mono);
    }
    struct tg *g = tg_scenario_threads();
    test_run_until(g, "threads");
    tg_destroy(g);
    g = tg_scenario_info();
    test_run_until(g, "info");
    tg_destroy(g);
    g = tg_scenario_seed(128, 0, 0);
    test_run_until(g, "seed");
    tg_destroy(g);
    test_bound();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
    return check_status();
}
