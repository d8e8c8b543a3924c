/* tests/verdict/open_table.c - an annotated open-addressing hash table, the
 * kind the analyzer knows nothing about: linear probing over 16-byte slots
 * (key, value; key 0 = empty), doubling at 75% load from 16 slots, deletion
 * by backward shift (no tombstones: the count is the entries).
 *
 *   open_table [--no-rule] [--pause-ms MS] FILL LEFT
 *
 * inserts keys 1..FILL, pauses MS ms at the peak (so that the shim samples
 * the count there), deletes until LEFT remain, and prints
 *   slots S bytes B live L
 * for the array it holds at the end, which it keeps until it exits. It
 * annotates itself with annotate.h
 * (kind generic) and states its growth rule (3/4 load, x2, from 16 slots)
 * unless --no-rule. Built a second time against annotate.h version 1
 * (tests/verdict/annotate_v1.h, -DOPEN_TABLE_V1): it then states no rule,
 * and its tmk_table_info ends where a page that cannot be read begins, so a
 * shim that read past a version-1 struct would crash it.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef OPEN_TABLE_V1
#include "annotate_v1.h"
#else
#include "tidemark/annotate.h"
#endif

#define FIRST_SLOTS 16u

struct slot {
    uint64_t key, value;
};

struct table {
    struct slot *slots;
    uint64_t cap, count, peak;
};

static uint64_t home(const struct table *t, uint64_t key)
{
    return (key * 0x9e3779b97f4a7c15ull) >> 17 & (t->cap - 1);
}

static void die(const char *what)
{
    fprintf(stderr, "open_table: %s\n", what);
    exit(2);
}

static void place(struct table *t, uint64_t key, uint64_t value)
{
    uint64_t i = home(t, key);
    while (t->slots[i].key && t->slots[i].key != key) i = (i + 1) & (t->cap - 1);
    t->slots[i] = (struct slot){key, value};
}

/* The new array is tagged before the insert that needed it is counted. */
static void grow(struct table *t)
{
    struct slot *old = t->slots;
    uint64_t old_cap = t->cap;
    t->cap *= 2;
    if (!(t->slots = calloc(t->cap, sizeof *t->slots))) die("out of memory");
    for (uint64_t i = 0; i < old_cap; i++)
        if (old[i].key) place(t, old[i].key, old[i].value);
    tmk_table_array(t, t->slots, t->cap * sizeof *t->slots, t->cap, TMK_ARRAY_GROW);
    free(old);
}

static void insert(struct table *t, uint64_t key, uint64_t value)
{
    if ((t->count + 1) * 4 > t->cap * 3) grow(t);
    place(t, key, value);
    if (++t->count > t->peak) t->peak = t->count;
}

/* Knuth's algorithm R: pull later entries of the run back into the hole. */
static void erase(struct table *t, uint64_t key)
{
    uint64_t i = home(t, key), mask = t->cap - 1;
    while (t->slots[i].key != key) {
        if (!t->slots[i].key) return;
        i = (i + 1) & mask;
    }
    for (uint64_t j = i;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].key) break;
        uint64_t k = home(t, t->slots[j].key);
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].key = 0;
    t->count--;
}

/* The table's info, ending at the end of a page followed by one that
 * cannot be read. */
static struct tmk_table_info *guarded_info(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED || mprotect(p + page, (size_t)page, PROT_NONE)) die("mmap");
    return memset(p + page - sizeof(struct tmk_table_info), 0, sizeof(struct tmk_table_info));
}

static void announce(struct table *t, int rule)
{
    struct tmk_table_info *info = guarded_info();
    info->kind = TMK_KIND_GENERIC;
    info->key_size = 8;
    info->value_size = 8;
    info->bucket_size = sizeof(struct slot);
    info->slots_per_bucket = 1;
    info->label = "open";
#ifndef OPEN_TABLE_V1
    if (rule) {
        info->grow_load_num = 3;
        info->grow_load_den = 4;
        info->grow_factor = 2;
        info->min_buckets = FIRST_SLOTS;
    }
#else
    (void)rule;
#endif
    tmk_table_new(t, info);
    tmk_table_count(t, &t->count, sizeof t->count);
    tmk_table_peak(t, &t->peak, sizeof t->peak);
    tmk_table_array(t, t->slots, t->cap * sizeof *t->slots, t->cap, TMK_ARRAY_INITIAL);
}

static uint64_t number(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end) die("usage: open_table [--no-rule] [--pause-ms MS] FILL LEFT");
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
        else die("usage: open_table [--no-rule] [--pause-ms MS] FILL LEFT");
    }
    if (nargs != 2 || args[1] > args[0]) die("usage: open_table [--no-rule] [--pause-ms MS] FILL LEFT");
    /* static: the shim reads the counts until the process ends */
    static struct table t;
    t = (struct table){calloc(FIRST_SLOTS, sizeof(struct slot)), FIRST_SLOTS, 0, 0};
    if (!t.slots) die("out of memory");
    announce(&t, rule);
    for (uint64_t k = 1; k <= args[0]; k++) insert(&t, k, k * 3);
    if (pause_ms) nanosleep(&(struct timespec){(time_t)(pause_ms / 1000),
                                               (long)(pause_ms % 1000) * 1000000}, NULL);
    for (uint64_t k = 1; t.count > args[1]; k++) erase(&t, k);
    printf("slots %llu bytes %llu live %llu\n", (unsigned long long)t.cap,
           (unsigned long long)(t.cap * sizeof(struct slot)), (unsigned long long)t.count);
    return 0; /* the table lives to the end, like the seed's map */
}
