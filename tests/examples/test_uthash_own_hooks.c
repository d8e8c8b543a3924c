/* test_uthash_own_hooks.c - a program with its own uthash hooks keeps them:
 * the adapter chains to the program's uthash_malloc / uthash_free /
 * uthash_bzero / uthash_expand_fyi, defined before the adapter is included,
 * and still annotates. With HASH_NONFATAL_OOM, a table whose first bucket
 * array cannot be allocated is never announced and never ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_recorder.h"

/* The program's own hooks: a counting allocator that can fail on demand. */
static size_t own_mallocs, own_frees, own_bytes_live, own_bzeros, own_expands;
static long fail_countdown = -1; /* fail the n-th next allocation (0 = next) */

static void *own_malloc(size_t sz)
{
    if (fail_countdown == 0) {
        fail_countdown = -1;
        return NULL;
    }
    if (fail_countdown > 0) fail_countdown--;
    own_mallocs++;
    own_bytes_live += sz;
    return malloc(sz);
}

static void own_free(void *p, size_t sz)
{
    own_frees++;
    own_bytes_live -= sz;
    free(p);
}

static size_t oom_reports;

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) own_malloc(sz)
#define uthash_free(ptr, sz) own_free((ptr), (sz))
#define uthash_bzero(a, n) (own_bzeros++, memset((a), 0, (n)))
#define uthash_expand_fyi(tbl) (own_expands++)
#define uthash_nonfatal_oom(obj) (oom_reports++)

#include "tidemark/uthash.h"
#include <uthash.h> /* a second include is harmless */

struct item {
    int id;
    UT_hash_handle hh;
};

static size_t count_type(enum fake_event_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_nevents; i++) n += fake_events[i].type == type;
    return n;
}

static void test_chained(void)
{
    fake_reset();
    enum { N = 20000 };
    struct item *items = calloc(N, sizeof *items), *head = NULL;
    if (!items) abort();
    for (int i = 0; i < N; i++) {
        items[i].id = i;
        HASH_ADD_INT(head, id, &items[i]);
    }
    UT_hash_table *tbl = head->hh.tbl;
    size_t grows = count_type(EV_ARRAY) - 1;
    /* The program's hooks ran: table + first array, then one array per
     * expansion, each zeroed; the old arrays freed. */
    CHECK(own_mallocs == 2 + grows);
    CHECK(own_bzeros == 2 + grows);
    CHECK(own_expands == grows);
    CHECK(own_frees == grows);
    CHECK(own_bytes_live == sizeof(UT_hash_table) + tbl->num_buckets * sizeof(UT_hash_bucket));
    CHECK(((size_t)32 << grows) == tbl->num_buckets);
    CHECK(count_type(EV_NEW) == 1 && fake_events[0].table == tbl);
    CHECK(fake_count_of(tbl) == N);

    HASH_CLEAR(hh, head);
    CHECK(own_bytes_live == 0);
    CHECK(own_frees == own_mallocs);
    CHECK(count_type(EV_END) == 1 && fake_events[fake_nevents - 1].table == tbl);
    free(items);
}

/* Out of memory at the first bucket array: uthash frees the table struct
 * (through the program's free), reports the item, and the adapter says
 * nothing about a table that never existed. */
static void test_oom_first_array(void)
{
    fake_reset();
    own_mallocs = own_frees = own_bytes_live = 0;
    struct item *head = NULL, a = {.id = 1};
    fail_countdown = 1; /* the table struct succeeds, its buckets fail */
    HASH_ADD_INT(head, id, &a);
    CHECK(head == NULL);
    CHECK(oom_reports == 1);
    CHECK(own_mallocs == 1 && own_frees == 1 && own_bytes_live == 0);
    CHECK(fake_nevents == 0);

    /* Then a table works normally again (the pending state is clean). */
    HASH_ADD_INT(head, id, &a);
    CHECK(head != NULL && fake_nevents == 3 && fake_events[0].table == head->hh.tbl);
    HASH_DEL(head, &a);
    CHECK(fake_nevents == 4 && fake_events[3].type == EV_END);
    CHECK(own_bytes_live == 0);
}

/* Out of memory during an expansion: uthash keeps the old array, no GROW. */
static void test_oom_expand(void)
{
    fake_reset();
    own_mallocs = own_frees = own_bytes_live = 0;
    own_expands = 0;
    enum { N = 2000 };
    struct item *items = calloc(N, sizeof *items), *head = NULL;
    if (!items) abort();
    int i = 0;
    for (; i < N && own_expands == 0; i++) {
        items[i].id = i;
        if (i == 1) fail_countdown = 0; /* the first expansion will fail */
        HASH_ADD_INT(head, id, &items[i]);
        if (fail_countdown == -1 && i >= 1) break; /* it was consumed */
    }
    UT_hash_table *tbl = head->hh.tbl;
    CHECK(own_expands == 0);
    CHECK(tbl->num_buckets == 32);
    CHECK(count_type(EV_ARRAY) == 1);
    HASH_CLEAR(hh, head);
    CHECK(own_bytes_live == 0);
    CHECK(count_type(EV_END) == 1);
    free(items);
}

int main(void)
{
    test_chained();
    test_oom_first_array();
    test_oom_expand();
    if (check_status()) return 1;
    printf("uthash adapter with the program's own hooks: ok\n");
    return 0;
}
