/* test_uthash_events.c - the uthash adapter announces each table's life
 * exactly: creation, count, first array of 32 buckets, every doubling (the
 * right table, the array installed, its bytes), and the end before the
 * table struct is freed. A fake recorder stands in for the shim. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tidemark/uthash.h"

#include "check.h"
#include "fake_recorder.h"

struct item {
    int id;
    UT_hash_handle hh;
};

struct named {
    char name[16];
    UT_hash_handle hh;
};

static struct item *new_item(int id)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it) abort();
    it->id = id;
    return it;
}

/* Counts the events of a type, for a table (NULL: any). */
static size_t count_events(enum fake_event_type type, const void *table)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_nevents; i++)
        if (fake_events[i].type == type && (!table || fake_events[i].table == table))
            n++;
    return n;
}

/* The first item creates the table: NEW, COUNT, ARRAY(initial), in order. */
static void test_creation(void)
{
    fake_reset();
    struct item *head = NULL, *a = new_item(7);
    HASH_ADD_INT(head, id, a);
    UT_hash_table *tbl = head->hh.tbl;

    CHECK(fake_nevents == 3);
    CHECK(fake_events[0].type == EV_NEW && fake_events[0].table == tbl);
    CHECK(fake_events[0].info.kind == TMK_KIND_UTHASH);
    CHECK(fake_events[0].info.bucket_size == sizeof(UT_hash_bucket));
    CHECK(fake_events[0].info.bucket_size == 16); /* pointer + 2 unsigned on LP64 */
    CHECK(fake_events[0].info.slots_per_bucket == 0);
    CHECK(fake_events[0].info.key_size == sizeof(int));
    CHECK(fake_events[0].info.value_size == 0);
    CHECK(fake_events[0].info.flags == 0);
    CHECK(fake_events[0].info.hint == 0);
    CHECK(fake_events[0].info.label == NULL);

    CHECK(fake_events[1].type == EV_COUNT && fake_events[1].table == tbl);
    CHECK(fake_events[1].count == &tbl->num_items);
    CHECK(fake_events[1].width == sizeof(unsigned));

    CHECK(fake_events[2].type == EV_ARRAY && fake_events[2].table == tbl);
    CHECK(fake_events[2].array == tbl->buckets);
    CHECK(fake_events[2].buckets == 32);
    CHECK(fake_events[2].bytes == 32 * 16);
    CHECK(fake_events[2].reason == TMK_ARRAY_INITIAL);

    CHECK(fake_count_of(tbl) == 1);

    HASH_DEL(head, a);
    free(a);
    CHECK(head == NULL);
    CHECK(fake_nevents == 4);
    CHECK(fake_events[3].type == EV_END && fake_events[3].table == tbl);
    /* uthash frees the table while num_items still says 1 (the decrement is
     * on the other branch of HASH_DELETE); the memory is still valid. */
    CHECK(fake_events[3].count_at_end == 1);
}

/* Growth: every doubling is one GROW event for this table, with the array
 * installed at that moment; buckets go 64, 128, ... up to num_buckets. */
static void test_growth(void)
{
    enum { N = 100000 };
    fake_reset();
    struct item *head = NULL;
    const void *prev_array = NULL;
    size_t prev_arrays = 0;
    unsigned grow_checks = 0;
    for (int i = 0; i < N; i++) {
        struct item *it = new_item(i); /* HASH_ADD evaluates `add` often */
        HASH_ADD_INT(head, id, it);
        size_t arrays = count_events(EV_ARRAY, NULL);
        if (arrays != prev_arrays) {
            /* One new array per add at most, and it is the one in use. */
            CHECK(arrays == prev_arrays + 1);
            const struct fake_event *e = &fake_events[fake_nevents - 1];
            CHECK(e->type == EV_ARRAY);
            CHECK(e->table == head->hh.tbl);
            CHECK(e->array == head->hh.tbl->buckets);
            CHECK(e->array != prev_array);
            CHECK(e->buckets == head->hh.tbl->num_buckets);
            CHECK(e->bytes == e->buckets * sizeof(UT_hash_bucket));
            prev_array = e->array;
            prev_arrays = arrays;
            grow_checks++;
        }
    }
    UT_hash_table *tbl = head->hh.tbl;
    CHECK(count_events(EV_NEW, NULL) == 1);
    CHECK(count_events(EV_COUNT, NULL) == 1);
    CHECK(fake_count_of(tbl) == N);

    /* The sequence: 32 initial, then each GROW doubles the previous. */
    size_t expect = 32, ngrow = 0;
    for (size_t i = 0; i < fake_nevents; i++) {
        const struct fake_event *e = &fake_events[i];
        if (e->type != EV_ARRAY) continue;
        CHECK(e->table == tbl);
        CHECK(e->buckets == expect);
        CHECK(e->reason == (expect == 32 ? TMK_ARRAY_INITIAL : TMK_ARRAY_GROW));
        if (e->reason == TMK_ARRAY_GROW) ngrow++;
        expect *= 2;
    }
    /* log2(num_buckets / 32) doublings happened; uthash doubles at least
     * until the average chain is under 10 items. */
    CHECK(tbl->num_buckets >= N / 10);
    CHECK(((size_t)32 << ngrow) == tbl->num_buckets);
    CHECK(grow_checks == ngrow + 1);

    /* Deleting never shrinks: no event until the last item goes. */
    size_t before = fake_nevents;
    struct item *it, *tmp;
    unsigned left = N;
    HASH_ITER(hh, head, it, tmp) {
        HASH_DEL(head, it);
        free(it);
        left--;
        if (left == N / 2) {
            CHECK(fake_nevents == before);
            CHECK(fake_count_of(tbl) == N / 2);
        }
    }
    CHECK(head == NULL);
    CHECK(fake_nevents == before + 1);
    CHECK(fake_events[before].type == EV_END && fake_events[before].table == tbl);
}

/* HASH_CLEAR ends the table; items are the program's to free. */
static void test_clear(void)
{
    fake_reset();
    struct item *head = NULL, *items[50];
    for (int i = 0; i < 50; i++) {
        items[i] = new_item(i);
        HASH_ADD_INT(head, id, items[i]);
    }
    UT_hash_table *tbl = head->hh.tbl;
    size_t n = fake_nevents;
    HASH_CLEAR(hh, head);
    CHECK(head == NULL);
    CHECK(fake_nevents == n + 1);
    CHECK(fake_events[n].type == EV_END && fake_events[n].table == tbl);
    CHECK(fake_events[n].count_at_end == 50);
    for (int i = 0; i < 50; i++) free(items[i]);
}

/* Two tables at once, one item in both (two handles), a string-keyed table
 * with a label, and HASH_SELECT creating a table: events go to the right
 * table each time. */
struct both {
    int id;
    UT_hash_handle hh;  /* table A, key id */
    UT_hash_handle hh2; /* table B, key id too */
};

static void test_two_tables_and_label(void)
{
    fake_reset();
    struct both *a = NULL, *b = NULL;
    enum { N = 5000 };
    struct both *all = calloc(N, sizeof *all);
    if (!all) abort();
    for (int i = 0; i < N; i++) {
        all[i].id = i;
        HASH_ADD_INT(a, id, &all[i]);
        if (i % 2 == 0) HASH_ADD(hh2, b, id, sizeof(int), &all[i]);
    }
    UT_hash_table *ta = a->hh.tbl, *tb = b->hh2.tbl;
    CHECK(ta != tb);
    CHECK(count_events(EV_NEW, NULL) == 2);
    CHECK(fake_count_of(ta) == N);
    CHECK(fake_count_of(tb) == N / 2);
    CHECK(count_events(EV_ARRAY, ta) >= 2); /* grew */
    CHECK(count_events(EV_ARRAY, tb) >= 2);
    const struct fake_event *last_a = NULL, *last_b = NULL;
    for (size_t i = 0; i < fake_nevents; i++) {
        if (fake_events[i].type != EV_ARRAY) continue;
        if (fake_events[i].table == ta) last_a = &fake_events[i];
        if (fake_events[i].table == tb) last_b = &fake_events[i];
    }
    CHECK(last_a && last_a->array == ta->buckets && last_a->buckets == ta->num_buckets);
    CHECK(last_b && last_b->array == tb->buckets && last_b->buckets == tb->num_buckets);

    /* HASH_SELECT builds table C from A's items through handle hh2, which
     * B uses: empty B first. */
    HASH_CLEAR(hh2, b);
    CHECK(count_events(EV_END, tb) == 1);
    tmk_uthash_label("multiples of 3");
    struct both *c = NULL;
#define IS_MULT3(x) (((struct both *)(x))->id % 3 == 0)
    HASH_SELECT(hh2, c, hh, a, IS_MULT3);
    tmk_uthash_label(NULL);
    UT_hash_table *tc = c->hh2.tbl;
    const struct fake_event *newc = NULL;
    for (size_t i = 0; i < fake_nevents; i++)
        if (fake_events[i].type == EV_NEW && fake_events[i].table == tc) newc = &fake_events[i];
    CHECK(newc != NULL);
    CHECK(newc && newc->info.label && strcmp(newc->info.label, "multiples of 3") == 0);
    CHECK(newc && newc->info.key_size == sizeof(int));
    CHECK(fake_count_of(tc) == (N + 2) / 3);

    HASH_CLEAR(hh2, c);
    HASH_CLEAR(hh, a);
    CHECK(count_events(EV_END, tc) == 1);
    CHECK(count_events(EV_END, ta) == 1);
    free(all);

    /* String keys: key_size is the creating item's length. */
    fake_reset();
    struct named *names = NULL, *x = calloc(1, sizeof *x);
    if (!x) abort();
    strcpy(x->name, "alice");
    HASH_ADD_STR(names, name, x);
    CHECK(fake_nevents == 3 && fake_events[0].info.key_size == 5);
    CHECK(fake_events[0].info.label == NULL);
    HASH_DEL(names, x);
    free(x);
    CHECK(fake_nevents == 4 && fake_events[3].type == EV_END);
}

/* A table that empties and fills again is a new table each time. */
static void test_refill(void)
{
    fake_reset();
    struct item *head = NULL;
    for (int round = 0; round < 3; round++) {
        struct item *it = new_item(round);
        HASH_ADD_INT(head, id, it);
        HASH_DEL(head, it);
        free(it);
    }
    CHECK(fake_nevents == 12);
    for (size_t i = 0; i < fake_nevents; i++)
        CHECK(fake_events[i].type == (enum fake_event_type)(i % 4));
}

int main(void)
{
    test_creation();
    test_growth();
    test_clear();
    test_two_tables_and_label();
    test_refill();
    if (check_status()) return 1;
    printf("uthash adapter events: ok\n");
    return 0;
}
