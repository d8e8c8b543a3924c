/* tests/tables/ghash_prog.c - a GLib GHashTable (g_direct_hash, the 64-bit
 * keys stored in the key pointers, values i + 1 as pointers, never equal to
 * the keys, so GLib does not keep it as a set) grown to N
 * entries, emptied to KEEP through g_hash_table_iter_remove (the one way of
 * removing that never shrinks the arrays), optionally cured by rebuilding
 * the table from its live entries. CLI: table_cli.h, plus the word
 * "remove": delete through g_hash_table_remove instead (the table shrinks
 * itself: a control that holds nothing), and the word "unref": the table
 * (each of `twice`, and at `gone`) ends with g_hash_table_unref, which
 * frees the arrays as they are, instead of g_hash_table_destroy, which
 * first empties the table (shrinking it to 8 slots) and then frees them;
 * the word "clear": after the deletes, g_hash_table_remove_all, the
 * table kept (an in-place cure: GLib shrinks it to 8 slots); and the word
 * "renew": with gone, a new table of 10 entries is made right after the
 * end (its first, small arrays come right after the old ones' frees); and
 * the word "exits": first, 80 threads each free a 100 KB block and end (a
 * watch of the analyzer's, opened at each such free, waited for the
 * thread's next record for good). table_cli.h's "pair": a second table
 * filled in turn with the first (by insertion) and kept full, its figures
 * added as pair_live= pair_held=.
 *
 * Prints: impl=ghash ... live= held= size= nnodes= noccupied= big_keys=
 *         big_values= keys_bytes= hashes_bytes= values_bytes= hashes_live=
 *         hashes_tomb=
 * GLib keeps the table's size private. This program reads it from the
 * GHashTable struct as glib 2.74 lays it out (ghash.c):
 *   0 gsize size; 8 gint mod; 12 guint mask; 16 guint nnodes;
 *   20 guint noccupied; 24 have_big_keys:1, have_big_values:1;
 *   32 keys; 40 guint *hashes; 48 values
 * and checks that reading against what GLib says publicly (nnodes equals
 * g_hash_table_size, size is a power of two with mask = size - 1, the
 * arrays' malloc_usable_size covers size entries); any mismatch exits 3.
 * keys/values arrays hold 4-byte entries until a key (value) above
 * G_MAXUINT32 arrives, then 8; values == keys (a set) counts once.
 * hashes_live counts hashes >= 2, hashes_tomb hashes == 1: the exact
 * live count and the tombstones a reader of the hashes array sees.
 */
#include <glib.h>
#include <malloc.h>

#include "table_cli.h"

struct ghash_mirror { /* glib 2.74's struct _GHashTable, first fields */
    gsize size;
    gint mod;
    guint mask;
    guint nnodes;
    guint noccupied;
    guint have_big_keys : 1;
    guint have_big_values : 1;
    gpointer keys;
    guint *hashes;
    gpointer values;
};

struct ctx {
    const struct table_args *a;
    int remove; /* delete through g_hash_table_remove */
    int unref;  /* end it with g_hash_table_unref */
    int clear;  /* g_hash_table_remove_all after the deletes */
    int renew;  /* a small table made right after the end */
    GHashTable *h;
    GHashTable *pair; /* "pair": filled in turn with h, kept full */
};

static GHashTable *new_table(void)
{
    return g_hash_table_new(g_direct_hash, g_direct_equal);
}

/* "ptrkeys": the keys (and values) are heap pointers (into one array of N
 * longs), as a string-keyed table's are: 8-byte slots whose both halves are
 * >= 2. */
static long *key_store;

static gpointer key_ptr(const struct table_args *a, long i)
{
    if (a->ptrkeys) {
        if (!key_store && !(key_store = calloc((size_t)a->n + 1, sizeof *key_store)))
            table_fail("ghash", "calloc of the keys");
        return &key_store[i]; /* distinct for distinct i */
    }
    return (gpointer)(uintptr_t)table_key(a, i);
}

/* Empties the table down to its first KEEP keys through the iterator. */
static void iter_remove_all_but(GHashTable *h, const struct table_args *a)
{
    GHashTable *keep = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (long i = 0; i < a->keep; i++)
        g_hash_table_add(keep, key_ptr(a, i));
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, h);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(keep, k))
            g_hash_table_iter_remove(&it);
    g_hash_table_destroy(keep);
}

/* The cure: a new table with the live entries, the old one destroyed. */
static GHashTable *rebuild(GHashTable *old)
{
    GHashTable *fresh = new_table();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, old);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_insert(fresh, k, v);
    g_hash_table_destroy(old);
    return fresh;
}

static void build(void *p)
{
    struct ctx *c = p;
    const struct table_args *a = c->a;
    c->h = new_table();
    c->pair = a->pair ? new_table() : NULL;
    for (long i = 0; i < a->n; i++) {
        gpointer v = a->ptrkeys ? key_ptr(a, i) : GSIZE_TO_POINTER((gsize)i + 1);
        g_hash_table_insert(c->h, key_ptr(a, i), v);
        if (c->pair)
            g_hash_table_insert(c->pair, key_ptr(a, i), v);
    }
    if (c->remove) {
        for (long i = a->keep; i < a->n; i++)
            g_hash_table_remove(c->h, key_ptr(a, i));
    } else if (a->keep < a->n) {
        iter_remove_all_but(c->h, a);
    }
    if (c->clear)
        g_hash_table_remove_all(c->h);
    if (a->fix)
        c->h = rebuild(c->h);
}

static void destroy(void *p)
{
    struct ctx *c = p;
    if (c->unref)
        g_hash_table_unref(c->h);
    else
        g_hash_table_destroy(c->h);
    c->h = NULL;
    if (c->pair)
        g_hash_table_destroy(c->pair);
    c->pair = NULL;
}

/* The mirror, checked against GLib's public figures and the allocator. */
static const struct ghash_mirror *checked_mirror(GHashTable *h)
{
    const struct ghash_mirror *m = (const struct ghash_mirror *)h;
    if (m->nnodes != g_hash_table_size(h))
        table_fail("ghash", "nnodes != g_hash_table_size");
    if (m->size < 8 || (m->size & (m->size - 1)) || m->mask != m->size - 1)
        table_fail("ghash", "size is not a power of two >= 8 with mask size-1");
    if (m->noccupied < m->nnodes || m->noccupied > m->size)
        table_fail("ghash", "noccupied out of range");
    size_t kw = m->have_big_keys ? 8 : 4, vw = m->have_big_values ? 8 : 4;
    if (malloc_usable_size(m->hashes) < m->size * 4 || malloc_usable_size(m->keys) < m->size * kw
        || (m->values != m->keys && malloc_usable_size(m->values) < m->size * vw))
        table_fail("ghash", "an array is smaller than size entries");
    return m;
}

/* The bytes of its arrays: keys, hashes and, unless a set, values. */
static size_t held_of(const struct ghash_mirror *m)
{
    size_t keys = m->size * (m->have_big_keys ? 8 : 4);
    size_t values = m->values == m->keys ? 0 : m->size * (m->have_big_values ? 8 : 4);
    return keys + m->size * 4 + values;
}

static void *free_large_and_end(void *arg)
{
    (void)arg;
    volatile char *p = malloc(100 * 1000); /* used: the compiler keeps the pair */
    if (p)
        p[0] = 1;
    free((void *)p);
    return NULL;
}

/* "exits": 80 threads, one after another, each frees a large block and ends. */
static void threads_free_and_end(void)
{
    for (int i = 0; i < 80; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, free_large_and_end, NULL) || pthread_join(t, NULL))
            table_fail("ghash", "pthread_create");
    }
}

int main(int argc, char **argv)
{
    int remove = 0, unref = 0, clear = 0, renew = 0, exits = 0, kept = 0;
    for (int i = 0; i < argc; i++) { /* our own words out, the rest to table_parse */
        if (i >= 3 && !strcmp(argv[i], "remove"))
            remove = 1;
        else if (i >= 3 && !strcmp(argv[i], "unref"))
            unref = 1;
        else if (i >= 3 && !strcmp(argv[i], "clear"))
            clear = 1;
        else if (i >= 3 && !strcmp(argv[i], "renew"))
            renew = 1;
        else if (i >= 3 && !strcmp(argv[i], "exits"))
            exits = 1;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    struct table_args a;
    if (table_parse(argc, argv, &a))
        return 2;
    if (exits)
        threads_free_and_end();
    struct ctx c = {&a, remove, unref, clear, renew, NULL, NULL};
    table_rounds(&a, build, destroy, &c, sizeof c);
    const struct ghash_mirror *m = checked_mirror(c.h);
    size_t keys = m->size * (m->have_big_keys ? 8 : 4);
    size_t values = m->values == m->keys ? 0 : m->size * (m->have_big_values ? 8 : 4);
    size_t hashes = m->size * 4, hlive = 0, htomb = 0;
    for (size_t i = 0; i < m->size; i++) {
        hlive += m->hashes[i] >= 2;
        htomb += m->hashes[i] == 1;
    }
    table_print_head(&a, remove ? "ghash_remove" : "ghash");
    printf(" live=%u held=%zu size=%zu nnodes=%u noccupied=%u big_keys=%u big_values=%u"
           " keys_bytes=%zu hashes_bytes=%zu values_bytes=%zu hashes_live=%zu hashes_tomb=%zu",
           g_hash_table_size(c.h), held_of(m), (size_t)m->size, m->nnodes,
           m->noccupied, (unsigned)m->have_big_keys, (unsigned)m->have_big_values, keys, hashes,
           values, hlive, htomb);
    if (c.pair)
        printf(" pair_live=%u pair_held=%zu", g_hash_table_size(c.pair),
               held_of(checked_mirror(c.pair)));
    printf("\n");
    if (a.gone && c.renew) {
        destroy(&c);
        c.h = new_table();
        for (long i = 0; i < 10; i++)
            g_hash_table_insert(c.h, key_ptr(&a, i), GSIZE_TO_POINTER((gsize)i + 1));
    }
    table_end(&a, destroy, &c);
    return 0;
}
