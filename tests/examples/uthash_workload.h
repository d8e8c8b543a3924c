/* uthash_workload.h - uthash's usual operations, written once and compiled
 * twice: with plain <uthash.h> (workload_plain.c) and with the tidemark
 * adapter (workload_adapted.c). Each run appends a log of every observable
 * result (finds, counts, iteration and sort orders, bucket counts) to a
 * buffer; the test requires both logs to be equal.
 *
 * The includer defines WORKLOAD_FN (the function's name) and includes
 * either <uthash.h> or "tidemark/uthash.h" first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload_log.h"

struct wl_user {
    int id;
    char name[12];
    int score;
    UT_hash_handle hh;    /* by id */
    UT_hash_handle hh_nm; /* by name */
};

static int wl_by_score(void *a, void *b)
{
    const struct wl_user *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int wl_by_name(void *a, void *b)
{
    return strcmp(((struct wl_user *)a)->name, ((struct wl_user *)b)->name);
}

#define WL_EVEN(x) (((struct wl_user *)(x))->id % 2 == 0)

void WORKLOAD_FN(struct wl_log *log)
{
    enum { N = 30000 };
    struct wl_user *users = NULL, *by_name = NULL, *evens = NULL, *u, *tmp;
    struct wl_user *pool = calloc(N, sizeof *pool);
    if (!pool) abort();

    /* Add: integer keys, and the same items by string key in a 2nd table. */
    for (int i = 0; i < N; i++) {
        pool[i].id = i * 7919 % 100003;
        pool[i].score = (i * 31) % 1000;
        snprintf(pool[i].name, sizeof pool[i].name, "u%d", i);
        HASH_ADD_INT(users, id, &pool[i]);
        HASH_ADD(hh_nm, by_name, name[0], (unsigned)strlen(pool[i].name), &pool[i]);
    }
    wl_printf(log, "count %u %u buckets %u %u\n", HASH_COUNT(users),
              HASH_CNT(hh_nm, by_name), users->hh.tbl->num_buckets,
              by_name->hh_nm.tbl->num_buckets);

    /* Find: present and absent keys, both tables. */
    unsigned found = 0;
    for (int k = 0; k < 100003; k += 3) {
        HASH_FIND_INT(users, &k, u);
        if (u) found += (unsigned)u->score + 1;
    }
    struct wl_user *v, *w;
    HASH_FIND(hh_nm, by_name, "u12345", 6, v);
    HASH_FIND(hh_nm, by_name, "nobody", 6, w);
    wl_printf(log, "found %u name %d absent %d\n", found, v ? v->id : -1, w != NULL);

    /* Delete every third user from both tables. */
    for (int i = 0; i < N; i += 3) {
        HASH_DEL(users, &pool[i]);
        HASH_DELETE(hh_nm, by_name, &pool[i]);
    }
    wl_printf(log, "after delete %u %u buckets %u\n", HASH_COUNT(users),
              HASH_CNT(hh_nm, by_name), users->hh.tbl->num_buckets);

    /* Iterate: insertion order. */
    unsigned long h = 5381;
    HASH_ITER(hh, users, u, tmp) h = h * 33 + (unsigned)u->id;
    wl_printf(log, "iter %lu\n", h);

    /* Sort both tables, iterate again. */
    HASH_SORT(users, wl_by_score);
    h = 5381;
    for (u = users; u; u = u->hh.next) h = h * 33 + (unsigned)u->id;
    HASH_SRT(hh_nm, by_name, wl_by_name);
    wl_printf(log, "sorted %lu first %s\n", h, by_name->name);

    /* Select the even ids into a third table; HASH_SELECT needs a free
     * handle and reuses hh_nm, so empty the name table first. */
    HASH_CLEAR(hh_nm, by_name);
    HASH_SELECT(hh_nm, evens, hh, users, WL_EVEN);
    wl_printf(log, "select %u\n", HASH_CNT(hh_nm, evens));

    /* Replace: a new item with an existing key takes the old one's place. */
    struct wl_user repl = {.id = pool[1].id, .score = -1}, *old = NULL;
    HASH_REPLACE_INT(users, id, &repl, old);
    HASH_FIND_INT(users, &repl.id, u);
    wl_printf(log, "replace %d %d\n", old ? old->score : -2, u ? u->score : -2);
    HASH_DEL(users, &repl);

    /* Delete the rest one by one down to an empty (freed) table, then reuse. */
    HASH_CLEAR(hh_nm, evens);
    HASH_ITER(hh, users, u, tmp) HASH_DEL(users, u);
    wl_printf(log, "empty %d\n", users == NULL);
    for (int i = 0; i < 100; i++) HASH_ADD_INT(users, id, &pool[i]);
    wl_printf(log, "reuse %u buckets %u\n", HASH_COUNT(users), users->hh.tbl->num_buckets);
    HASH_CLEAR(hh, users);
    wl_printf(log, "cleared %d\n", users == NULL);
    free(pool);
}
