/* tests/tables/uthash_plain.c - a uthash table through plain <uthash.h> (no
 * tidemark adapter), 8-byte keys, grown to N items, emptied to KEEP with
 * HASH_DEL (the bucket array keeps its size until the last item goes),
 * optionally cured by moving every item into a new table. CLI: table_cli.h.
 *
 * Prints: impl=uthash ... live= held= num_buckets= bucket_size= table_bytes=
 *         count_sum= heads=
 * held = num_buckets * sizeof(UT_hash_bucket); count_sum is the sum of the
 * buckets' count fields and heads the non-NULL hh_head fields, both read
 * from the bucket array as a reader of its contents would.
 */
#include <uthash.h>

#include "table_cli.h"

struct item {
    int64_t key;
    int64_t val;
    UT_hash_handle hh;
};

struct ctx {
    const struct table_args *a;
    struct item *head;
};

static struct item *new_item(int64_t key, int64_t val)
{
    struct item *it = malloc(sizeof *it);
    if (!it)
        table_fail("uthash", "malloc");
    it->key = key;
    it->val = val;
    return it;
}

/* The cure: every item moves into a new table; the old bucket array and
 * table go with the last HASH_DEL. */
static struct item *rebuild(struct item *old)
{
    struct item *fresh = NULL, *it, *tmp;
    HASH_ITER(hh, old, it, tmp) {
        HASH_DEL(old, it);
        HASH_ADD(hh, fresh, key, sizeof it->key, it);
    }
    return fresh;
}

static void build(void *p)
{
    struct ctx *c = p;
    const struct table_args *a = c->a;
    for (long i = 0; i < a->n; i++) {
        struct item *it = new_item((int64_t)table_key(a, i), i);
        HASH_ADD(hh, c->head, key, sizeof it->key, it);
    }
    for (long i = a->keep; i < a->n; i++) {
        int64_t key = (int64_t)table_key(a, i);
        struct item *it;
        HASH_FIND(hh, c->head, &key, sizeof key, it);
        if (it) {
            HASH_DEL(c->head, it);
            free(it);
        }
    }
    if (a->fix)
        c->head = rebuild(c->head);
}

static void destroy(void *p)
{
    struct ctx *c = p;
    struct item *it, *tmp;
    HASH_ITER(hh, c->head, it, tmp) {
        HASH_DEL(c->head, it);
        free(it);
    }
}

int main(int argc, char **argv)
{
    struct table_args a;
    if (table_parse(argc, argv, &a))
        return 2;
    struct ctx c = {&a, NULL};
    table_rounds(&a, build, destroy, &c, sizeof c);
    size_t nb = 0, count_sum = 0, heads = 0;
    if (c.head) {
        UT_hash_table *tbl = c.head->hh.tbl;
        nb = tbl->num_buckets;
        for (size_t b = 0; b < nb; b++) {
            count_sum += tbl->buckets[b].count;
            heads += tbl->buckets[b].hh_head != NULL;
        }
    }
    table_print_head(&a, "uthash");
    printf(" live=%u held=%zu num_buckets=%zu bucket_size=%zu table_bytes=%zu count_sum=%zu"
           " heads=%zu\n",
           HASH_COUNT(c.head), nb * sizeof(UT_hash_bucket), nb, sizeof(UT_hash_bucket),
           c.head ? sizeof(UT_hash_table) : (size_t)0, count_sum, heads);
    if (a.gone) {
        /* plain uthash is known only by its layout, which only the sampler's
         * pass reads (its read at free sees its last item go): the table
         * lives through one (a second apart), also on a loaded machine */
        struct timespec ts = {1, 100 * 1000 * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    table_end(&a, destroy, &c);
    return 0;
}
