/* tests/preload/uthash_prog.c - two uthash tables (through the tidemark
 * adapter, include/tidemark/uthash.h) grown side by side under the shim.
 * Prints every bucket array the tables get, as uthash itself reports it:
 *   array LABEL BUCKETS REASON      (reason 0 = first array, 1 = growth)
 * then "end LABEL" when a table is emptied (its struct freed). The driver
 * requires the trace's TABLE_ARRAY records to say the same, table by table.
 */
#include <stdio.h>
#include <stdlib.h>

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

int main(int argc, char **argv)
{
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
