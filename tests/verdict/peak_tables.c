/* tests/verdict/peak_tables.c - a gomap (int64 -> [128]byte, the seed's
 * map) and a uthash table (through include/tidemark/uthash.h), each filled
 * with N entries, held at that peak for MS ms (so that the shim samples the
 * counts there), then emptied; both live until the process exits.
 *
 *   peak_tables N MS
 *
 * At the peak neither retains anything: `tidemark report --at T` for a time
 * T in the pause says so (tests/verdict/verdict_test.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tidemark/gomap.h"
#include "tidemark/uthash.h"

struct item {
    uint64_t key;
    char payload[24];
    UT_hash_handle hh;
};

static void die(const char *what)
{
    fprintf(stderr, "peak_tables: %s\n", what);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 3) die("usage: peak_tables N MS");
    uint64_t n = strtoull(argv[1], NULL, 10), ms = strtoull(argv[2], NULL, 10);
    struct gomap_options opt = {.key_size = 8, .value_size = 128, .label = "peak_gomap"};
    gomap *m = gomap_new(&opt);
    if (!m) die("out of memory");
    struct item *head = NULL;
    tmk_uthash_label("peak_uthash");
    for (uint64_t k = 0; k < n; k++) {
        if (!gomap_put(m, &k)) die("out of memory");
        struct item *it = calloc(1, sizeof *it);
        if (!it) die("out of memory");
        it->key = k;
        HASH_ADD(hh, head, key, sizeof it->key, it);
    }
    nanosleep(&(struct timespec){(time_t)(ms / 1000), (long)(ms % 1000) * 1000000}, NULL);
    for (uint64_t k = 0; k < n; k++) gomap_delete(m, &k);
    /* uthash frees its table with the last item: keep one, as a live table */
    struct item *it, *tmp;
    HASH_ITER(hh, head, it, tmp) {
        if (HASH_COUNT(head) == 1) break;
        HASH_DEL(head, it);
        free(it);
    }
    printf("gomap %zu uthash %u\n", gomap_len(m), HASH_COUNT(head));
    return 0; /* both live to the end */
}
