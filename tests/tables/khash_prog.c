/* tests/tables/khash_prog.c - a khash map int64 -> int64 (khash.h as shipped
 * in libhts-dev, instance name m64) grown to N entries, emptied to KEEP with
 * kh_del (flags marked deleted, arrays keep their size), optionally cured
 * with kh_resize(m64, h, kh_size(h)). CLI: table_cli.h ("pair": a second
 * map filled in turn with the first and kept full, its figures added as
 * pair_live= pair_held=).
 *
 * Prints: impl=khash ... live= held= n_buckets= flags_bytes= keys_bytes=
 *         vals_bytes= flags_live= flags_deleted= flags_empty=
 * held = the three arrays; flags_* count the 2-bit flags (00 live,
 * 01 deleted, 10 empty), the exact live count a reader of the flags sees.
 */
#include <stdlib.h>
#include <time.h>

/* "slow": khash's array (re)allocations go through here (its krealloc
 * hook), each large one 5 ms late: the arrays of one resize then come many
 * ms apart, as when the resizing thread is preempted. */
static int slow_resize;

static void *table_realloc(void *p, size_t n)
{
    if (slow_resize && n >= 65536) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return realloc(p, n);
}

#define krealloc(P, Z) table_realloc(P, Z)
#include <htslib/khash.h>

#include "table_cli.h"

KHASH_MAP_INIT_INT64(m64, int64_t)

struct ctx {
    const struct table_args *a;
    khash_t(m64) *h;
    khash_t(m64) *pair; /* "pair": filled in turn with h, kept full */
};

static void put(khash_t(m64) *h, uint64_t key, long i)
{
    int ret;
    khint_t k = kh_put(m64, h, (khint64_t)key, &ret);
    if (ret < 0)
        table_fail("khash", "kh_put");
    kh_val(h, k) = i;
}

/* The three arrays' bytes of a map of nb buckets. */
static size_t held_of(size_t nb)
{
    if (nb == 0) /* never grown: no arrays at all */
        return 0;
    return (nb < 16 ? 1 : nb >> 4) * sizeof(khint32_t) + nb * sizeof(khint64_t) +
           nb * sizeof(int64_t);
}

static void build(void *p)
{
    struct ctx *c = p;
    const struct table_args *a = c->a;
    c->h = kh_init(m64);
    c->pair = a->pair ? kh_init(m64) : NULL;
    if (!c->h || (a->pair && !c->pair))
        table_fail("khash", "kh_init");
    for (long i = 0; i < a->n; i++) {
        put(c->h, table_key(a, i), i);
        if (c->pair)
            put(c->pair, table_key(a, i), i);
    }
    for (long i = a->keep; i < a->n; i++) {
        khint_t k = kh_get(m64, c->h, (khint64_t)table_key(a, i));
        if (k != kh_end(c->h))
            kh_del(m64, c->h, k);
    }
    if (a->fix && kh_resize(m64, c->h, kh_size(c->h)) < 0)
        table_fail("khash", "kh_resize");
}

static void destroy(void *p)
{
    struct ctx *c = p;
    kh_destroy(m64, c->h);
    c->h = NULL;
    if (c->pair)
        kh_destroy(m64, c->pair);
    c->pair = NULL;
}

/* Counts of 00 (live), 01 (deleted) and 10 (empty) flag pairs. */
static void count_flags(const khash_t(m64) *h, size_t out[3])
{
    out[0] = out[1] = out[2] = 0;
    for (khint_t i = 0; i < kh_n_buckets(h); i++) {
        unsigned f = (h->flags[i >> 4] >> ((i & 0xfU) << 1)) & 3U;
        if (f == 0) out[0]++;
        else if (f == 1) out[1]++;
        else if (f == 2) out[2]++;
        else table_fail("khash", "flag pair 11");
    }
}

int main(int argc, char **argv)
{
    struct table_args a;
    if (table_parse(argc, argv, &a))
        return 2;
    slow_resize = a.slow;
    struct ctx c = {&a, NULL, NULL};
    table_rounds(&a, build, destroy, &c, sizeof c);
    size_t nb = kh_n_buckets(c.h);
    size_t flags = (nb < 16 ? 1 : nb >> 4) * sizeof(khint32_t);
    size_t keys = nb * sizeof(khint64_t), vals = nb * sizeof(int64_t);
    if (nb == 0) /* never grown: no arrays at all */
        flags = 0;
    size_t f[3] = {0, 0, 0};
    count_flags(c.h, f);
    table_print_head(&a, "khash");
    printf(" live=%u held=%zu n_buckets=%zu flags_bytes=%zu keys_bytes=%zu vals_bytes=%zu"
           " flags_live=%zu flags_deleted=%zu flags_empty=%zu",
           (unsigned)kh_size(c.h), held_of(nb), nb, flags, keys, vals, f[0], f[1], f[2]);
    if (c.pair)
        printf(" pair_live=%u pair_held=%zu", (unsigned)kh_size(c.pair),
               held_of(kh_n_buckets(c.pair)));
    printf("\n");
    table_end(&a, destroy, &c);
    return 0;
}
