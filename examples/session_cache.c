/* session_cache.c - a login service's session cache through a traffic peak.
 *
 * The service keeps its sessions in a uthash table keyed by session id
 * (annotated for tidemark by including tidemark/uthash.h) and a gomap index
 * from user id to session id, labelled "session index". A simulated day, one
 * tick per second:
 *
 *   warm-up   10 min      10 users/s from a pool of 50,000 regulars
 *   peak       5 min   4,000 users/s, nearly all new (a flash sale)
 *   tail    ~24 hours      5 users/s from the regulars
 *
 * A user with a live session touches it; otherwise a session is created.
 * Sessions idle for 10 minutes expire (a least-recently-used list). After the
 * peak the live count falls from over a million to a few thousand, the
 * session structs go back to malloc, but both tables keep the bucket arrays
 * they grew for the peak: gomap (like Go's map) and uthash never shrink. This
 * is what `tidemark report` is demonstrated on.
 *
 *   --cure          half an hour after the peak, right-size both tables:
 *                   gomap_shrink on the index, and the sessions moved into a
 *                   new uthash table (the old one is freed when it empties)
 *   --peak-rate N   users per second during the peak (default 4000)
 *   --tail-hours H  length of the quiet tail (default 24)
 *
 * Output is deterministic (fixed random seed, fixed hash).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tidemark/uthash.h"

#include "example_common.h"

enum { TTL = 600, WARMUP_TICKS = 600, PEAK_TICKS = 300, REGULARS = 50000 };

struct session {
    uint64_t id;          /* key of the sessions table */
    uint64_t user_id;
    uint32_t created;     /* tick */
    uint32_t last_seen;   /* tick */
    uint32_t requests;
    char client[28];      /* e.g. "app/3.2 (android)" */
    struct session *lru_prev, *lru_next; /* oldest first */
    UT_hash_handle hh;
};

struct cache {
    struct session *sessions; /* uthash head */
    gomap *index;             /* user id -> session id */
    struct session *lru_head, *lru_tail;
    uint64_t next_id;
    uint64_t created, expired;
};

/* xorshift64*: deterministic traffic. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rng_below(uint64_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (rng_state * 0x2545f4914f6cdd1dull >> 11) % n;
}

static void lru_unlink(struct cache *c, struct session *s)
{
    if (s->lru_prev) s->lru_prev->lru_next = s->lru_next;
    else c->lru_head = s->lru_next;
    if (s->lru_next) s->lru_next->lru_prev = s->lru_prev;
    else c->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_append(struct cache *c, struct session *s)
{
    s->lru_prev = c->lru_tail;
    s->lru_next = NULL;
    if (c->lru_tail) c->lru_tail->lru_next = s;
    else c->lru_head = s;
    c->lru_tail = s;
}

static const char *const clients[] = {"web/118 (linux)", "app/3.2 (android)", "app/3.1 (ios)",
                                      "web/117 (windows)"};

static void create_session(struct cache *c, uint64_t user, uint32_t now)
{
    struct session *s = calloc(1, sizeof *s);
    uint64_t *slot = gomap_put(c->index, &user);
    if (!s || !slot) ex_die_oom("create_session");
    s->id = ++c->next_id;
    s->user_id = user;
    s->created = s->last_seen = now;
    s->requests = 1;
    snprintf(s->client, sizeof s->client, "%s", clients[user % 4]);
    HASH_ADD(hh, c->sessions, id, sizeof s->id, s);
    *slot = s->id;
    lru_append(c, s);
    c->created++;
}

/* One request from `user`: touch its live session or log it in. */
static void handle_user(struct cache *c, uint64_t user, uint32_t now)
{
    uint64_t *sid = gomap_get(c->index, &user);
    if (!sid) {
        create_session(c, user, now);
        return;
    }
    struct session *s;
    HASH_FIND(hh, c->sessions, sid, sizeof *sid, s);
    if (!s) abort(); /* the index and the table agree */
    s->last_seen = now;
    s->requests++;
    lru_unlink(c, s);
    lru_append(c, s);
}

static void expire_idle(struct cache *c, uint32_t now)
{
    while (c->lru_head && c->lru_head->last_seen + TTL <= now) {
        struct session *s = c->lru_head;
        lru_unlink(c, s);
        gomap_delete(c->index, &s->user_id);
        HASH_DEL(c->sessions, s);
        free(s);
        c->expired++;
    }
}

/* Right-size both tables (--cure). */
static void cure(struct cache *c)
{
    if (gomap_shrink(c->index) != 0) ex_die_oom("gomap_shrink");
    /* uthash has no shrink: move every session into a new table, which grows
     * only as far as the live count needs; the old table is freed by uthash
     * when its last item leaves. */
    struct session *fresh = NULL, *s, *tmp;
    HASH_ITER(hh, c->sessions, s, tmp) {
        HASH_DEL(c->sessions, s);
        HASH_ADD(hh, fresh, id, sizeof s->id, s);
    }
    c->sessions = fresh;
}

static uint64_t uthash_bucket_bytes(const struct session *head)
{
    return head ? (uint64_t)head->hh.tbl->num_buckets * sizeof(UT_hash_bucket) : 0;
}

static void report(const struct cache *c, uint32_t now, const char *what)
{
    uint64_t heap = ex_heap_in_use();
    struct gomap_stats st;
    gomap_stats(c->index, &st);
    printf("t=%6" PRIu32 "s %-16s live %8u  heap %11" PRIu64
           " bytes  index buckets %10" PRIu64 " bytes  sessions buckets %9" PRIu64 " bytes\n",
           now, what, HASH_COUNT(c->sessions), heap, st.bucket_bytes,
           uthash_bucket_bytes(c->sessions));
    fflush(stdout);
}

static void run_ticks(struct cache *c, uint32_t *now, uint32_t ticks, uint32_t rate,
                      uint64_t user_space)
{
    for (uint32_t t = 0; t < ticks; t++, (*now)++) {
        expire_idle(c, *now);
        for (uint32_t r = 0; r < rate; r++)
            handle_user(c, rng_below(user_space), *now);
    }
}

static int parse_flag(int argc, char **argv, int *i, const char *name, uint64_t *out)
{
    if (strcmp(argv[*i], name) != 0) return 0;
    char *end = NULL;
    if (*i + 1 < argc) *out = strtoull(argv[*i + 1], &end, 10);
    if (*i + 1 >= argc || !end || *end || argv[*i + 1][0] < '0' || argv[*i + 1][0] > '9') {
        fprintf(stderr, "%s: %s needs a non-negative integer\n", argv[0], name);
        exit(2);
    }
    (*i)++;
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t peak_rate = 4000, tail_hours = 24;
    int do_cure = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cure") == 0) do_cure = 1;
        else if (parse_flag(argc, argv, &i, "--peak-rate", &peak_rate)) continue;
        else if (parse_flag(argc, argv, &i, "--tail-hours", &tail_hours)) continue;
        else {
            fprintf(stderr, "%s: unknown argument '%s' (usage: session_cache [--cure] "
                    "[--peak-rate N] [--tail-hours H])\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (peak_rate > 1000000 || tail_hours > 24 * 365) {
        fprintf(stderr, "%s: --peak-rate at most 1000000, --tail-hours at most 8760\n", argv[0]);
        return 2;
    }

    printf("session_cache: sessions in a uthash table, a gomap index user -> session; "
           "peak %" PRIu64 " users/s for %d s, then a %" PRIu64 " h tail%s\n",
           peak_rate, PEAK_TICKS, tail_hours, do_cure ? ", cured after 30 min" : "");

    static struct cache c; /* static: reachable until exit */
    tmk_uthash_label("sessions");
    struct gomap_options opt = {.key_size = sizeof(uint64_t), .value_size = sizeof(uint64_t),
                                .hash = ex_fixed_hash, .label = "session index"};
    c.index = gomap_new(&opt);
    if (!c.index) ex_die_oom("gomap_new");
    uint32_t now = 0;

    run_ticks(&c, &now, WARMUP_TICKS, 10, REGULARS);
    report(&c, now, "warm-up");
    run_ticks(&c, &now, PEAK_TICKS, (uint32_t)peak_rate, UINT64_C(1) << 40);
    report(&c, now, "end of peak");
    run_ticks(&c, &now, TTL + 1, 5, REGULARS);
    report(&c, now, "peak expired");
    uint32_t tail = (uint32_t)tail_hours * 3600, before_cure = 1800 - (TTL + 1);
    if (before_cure > tail) before_cure = tail;
    run_ticks(&c, &now, before_cure, 5, REGULARS);
    if (do_cure) {
        cure(&c);
        report(&c, now, "cured");
    }
    run_ticks(&c, &now, tail - before_cure, 5, REGULARS);
    report(&c, now, "end of day");

    struct gomap_stats st;
    gomap_stats(c.index, &st);
    printf("sessions created %" PRIu64 ", expired %" PRIu64 ", live %u\n", c.created, c.expired,
           HASH_COUNT(c.sessions));
    printf("session index: %" PRIu64 " bytes of buckets for %" PRIu64
           " live entries; a fresh map for them needs %" PRIu64 " (Go's rules)\n",
           st.bucket_bytes, st.count, gomap_bytes_for_count(st.count, st.bucket_size));
    printf("sessions table: %u buckets (%" PRIu64 " bytes) for %u items\n",
           c.sessions ? c.sessions->hh.tbl->num_buckets : 0, uthash_bucket_bytes(c.sessions),
           HASH_COUNT(c.sessions));

    /* A service does not tear its cache down: both tables are still
     * allocated (and reachable) when the process exits, so tidemark's report
     * shows what they hold at the end of the day. */
    return 0;
}
