/* tests/verdict/chained_table.c - an annotated chained hash table: an array
 * of 8-byte chain heads, one allocation per entry, doubling the heads when
 * an insert would put more entries than heads (load 1), from 16 heads.
 * Deleting frees the entry; the heads stay.
 *
 *   chained_table [--no-rule] [--pause-ms MS] FILL LEFT
 *
 * inserts keys 1..FILL, pauses MS ms at the peak, deletes until LEFT remain
 * and prints
 *   buckets N bytes B live L
 * for the head array it holds at the end (kept until it exits). Annotated
 * with annotate.h as kind generic with slots_per_bucket 0 (chained), and
 * its growth rule (1/1 load, x2, from 16) unless --no-rule.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tidemark/annotate.h"

#define FIRST_BUCKETS 16u

struct entry {
    struct entry *next;
    uint64_t key, value;
};

struct table {
    struct entry **heads;
    uint64_t buckets, count, peak;
};

static void die(const char *what)
{
    fprintf(stderr, "chained_table: %s\n", what);
    exit(2);
}

static uint64_t bucket_of(const struct table *t, uint64_t key)
{
    return (key * 0x9e3779b97f4a7c15ull) >> 13 & (t->buckets - 1);
}

static void grow(struct table *t)
{
    struct entry **old = t->heads;
    uint64_t n = t->buckets;
    t->buckets *= 2;
    if (!(t->heads = calloc(t->buckets, sizeof *t->heads))) die("out of memory");
    for (uint64_t i = 0; i < n; i++)
        for (struct entry *e = old[i], *next; e; e = next) {
            next = e->next;
            uint64_t b = bucket_of(t, e->key);
            e->next = t->heads[b];
            t->heads[b] = e;
        }
    tmk_table_array(t, t->heads, t->buckets * sizeof *t->heads, t->buckets, TMK_ARRAY_GROW);
    free(old);
}

static void insert(struct table *t, uint64_t key, uint64_t value)
{
    if (t->count + 1 > t->buckets) grow(t);
    struct entry *e = malloc(sizeof *e);
    if (!e) die("out of memory");
    uint64_t b = bucket_of(t, key);
    *e = (struct entry){t->heads[b], key, value};
    t->heads[b] = e;
    if (++t->count > t->peak) t->peak = t->count;
}

static void erase(struct table *t, uint64_t key)
{
    for (struct entry **p = &t->heads[bucket_of(t, key)]; *p; p = &(*p)->next)
        if ((*p)->key == key) {
            struct entry *e = *p;
            *p = e->next;
            free(e);
            t->count--;
            return;
        }
}

static uint64_t number(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end) die("usage: chained_table [--no-rule] [--pause-ms MS] FILL LEFT");
    return v;
}

int main(int argc, char **argv)
{
    int rule = 1;
    uint64_t pause_ms = 0, args[2], nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-rule") == 0) rule = 0;
        else if (strcmp(argv[i], "--pause-ms") == 0 && i + 1 < argc) pause_ms = number(argv[++i]);
        else if (nargs < 2) args[nargs++] = number(argv[i]);
        else die("usage: chained_table [--no-rule] [--pause-ms MS] FILL LEFT");
    }
    if (nargs != 2 || args[1] > args[0])
        die("usage: chained_table [--no-rule] [--pause-ms MS] FILL LEFT");
    /* static: the shim reads the counts until the process ends */
    static struct table t;
    t = (struct table){calloc(FIRST_BUCKETS, sizeof(struct entry *)), FIRST_BUCKETS, 0, 0};
    if (!t.heads) die("out of memory");
    struct tmk_table_info info = {.kind = TMK_KIND_GENERIC, .key_size = 8, .value_size = 8,
                                  .bucket_size = sizeof(struct entry *), .label = "chained"};
    if (rule) {
        info.grow_load_num = 1;
        info.grow_load_den = 1;
        info.grow_factor = 2;
        info.min_buckets = FIRST_BUCKETS;
    }
    tmk_table_new(&t, &info);
    tmk_table_count(&t, &t.count, sizeof t.count);
    tmk_table_peak(&t, &t.peak, sizeof t.peak);
    tmk_table_array(&t, t.heads, t.buckets * sizeof *t.heads, t.buckets, TMK_ARRAY_INITIAL);
    for (uint64_t k = 1; k <= args[0]; k++) insert(&t, k, k * 3);
    if (pause_ms) nanosleep(&(struct timespec){(time_t)(pause_ms / 1000),
                                               (long)(pause_ms % 1000) * 1000000}, NULL);
    for (uint64_t k = 1; t.count > args[1]; k++) erase(&t, k);
    printf("buckets %llu bytes %llu live %llu\n", (unsigned long long)t.buckets,
           (unsigned long long)(t.buckets * sizeof *t.heads), (unsigned long long)t.count);
    return 0; /* the table lives to the end */
}
