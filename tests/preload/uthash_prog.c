/* tests/preload/uthash_prog.c - two uthash tables (through the tidemark
 * adapter, include/tidemark/uthash.h) grown side by side under the shim.
 * Prints every bucket array the tables get, as uthash itself reports it:
 *   array LABEL BUCKETS REASON      (reason 0 = first array, 1 = growth)
 * then "end LABEL" when a table is emptied (its struct freed). The driver
 * requires the trace's TABLE_ARRAY records to say the same, table by table.
 * "uthash_prog threads": tables made and emptied on 4 threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tidemark/uthash.h"

struct item {
    int key;
    char payload[24];
    UT_hash_handle hh;
};

struct watched {
    const char *label;
    struct item *head;
    unsigned buckets; /* last reported */
};

static void report(struct watched *w)
{
    unsigned n = w->head ? w->head->hh.tbl->num_buckets : 0;
    if (n != w->buckets) {
        printf("array %s %u %d\n", w->label, n, w->buckets ? 1 : 0);
        w->buckets = n;
    }
}

static void add(struct watched *w, int key)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it) exit(1);
    it->key = key;
    tmk_uthash_label(w->label); /* names the table if this add creates it */
    HASH_ADD_INT(w->head, key, it);
    report(w);
}

static void clear(struct watched *w)
{
    struct item *it, *tmp;
    HASH_ITER(hh, w->head, it, tmp) {
        HASH_DEL(w->head, it);
        free(it);
    }
    printf("end %s\n", w->label);
}

/* "threads": 4 threads each make and empty 1,500 small tables, so that
 * tables begin and end on several threads while the sampler reads counts. */
#define CHURN_THREADS 4
#define CHURN_TABLES 1500

static void *table_churn(void *arg)
{
    (void)arg;
    for (int t = 0; t < CHURN_TABLES; t++) {
        struct watched w = {"churn", NULL, 0};
        for (int i = 0; i < 40 + t % 200; i++) {
            struct item *it = calloc(1, sizeof *it);
            if (!it) exit(1);
            it->key = i;
            HASH_ADD_INT(w.head, key, it);
        }
        struct item *it, *tmp;
        HASH_ITER(hh, w.head, it, tmp) {
            HASH_DEL(w.head, it);
            free(it);
        }
    }
    return NULL;
}

static int run_threads(void)
{
    pthread_t th[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++) pthread_create(&th[i], NULL, table_churn, NULL);
    for (int i = 0; i < CHURN_THREADS; i++) pthread_join(th[i], NULL);
    printf("tables %d\n", CHURN_THREADS * CHURN_TABLES);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "threads")) return run_threads();
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    struct watched a = {"alpha", NULL, 0}, b = {"beta", NULL, 0};
    for (int i = 0; i < n; i++) {
        add(&a, i * 7 + 1);
        if (i % 8 == 0) add(&b, i);
    }
    clear(&b);
    printf("live alpha %u\n", HASH_COUNT(a.head));
    return 0;
}
