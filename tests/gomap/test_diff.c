/* tests/gomap/test_diff.c - gomap against a trivially correct reference.
 *
 * Keys are drawn from a small universe (key i <-> index i, encoded in the
 * key's first 4 bytes), so the reference is a direct-indexed array of
 * present flags and value tags. Millions of random put / get / delete /
 * clear / shrink / clone / iterate operations must agree with it, for
 * inline and indirect keys and values, the default hash and deliberately
 * bad ones (all keys in few buckets, many keys with one full hash). Each
 * iteration must see every entry present throughout exactly once, also when
 * entries are deleted and inserted while it runs and the map grows meanwhile.
 * Usage: test_gomap_diff [seed]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tidemark/gomap.h"

static uint64_t rng;
static uint64_t next_rand(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t below(uint32_t n) { return (uint32_t)(next_rand() % n); }

struct config {
    const char *name;
    size_t ksize, vsize;
    uint32_t universe;
    uint32_t ops;
    gomap_hash_fn hash;
};

static uint32_t key_index(const void *key)
{
    uint32_t i;
    memcpy(&i, key, 4);
    return i;
}

/* Few distinct full hashes: ties in the iteration order, long chains. */
static uint64_t hash_few(const void *key, size_t n, uint64_t seed)
{
    (void)n; (void)seed;
    return (key_index(key) % 7) * 0x9e3779b97f4a7c15ull;
}

/* Distinct hashes, but only 4 bucket indexes ever used. */
static uint64_t hash_clustered(const void *key, size_t n, uint64_t seed)
{
    (void)n;
    uint64_t i = key_index(key);
    return ((i * 0x9e3779b97f4a7c15ull ^ seed) & ~(uint64_t)3) | (i & 3);
}

static void make_key(unsigned char *k, size_t ks, uint32_t i)
{
    memcpy(k, &i, 4);
    for (size_t j = 4; j < ks; j++)
        k[j] = (unsigned char)(i * 31u + j);
}

static void make_value(unsigned char *v, size_t vs, uint64_t tag)
{
    for (size_t j = 0; j < vs; j++)
        v[j] = (unsigned char)((tag >> ((j % 8) * 8)) ^ j);
}

struct ref {
    uint8_t *present;
    uint64_t *tag;
    uint64_t count;
};

struct run {
    const struct config *c;
    gomap *m;
    struct ref r;
    unsigned char key[512];
    uint64_t ops_done;
};

static int value_ok(const struct run *t, const unsigned char *v, uint32_t i)
{
    unsigned char want[512];
    make_value(want, t->c->vsize, t->r.tag[i]);
    return memcmp(v, want, t->c->vsize) == 0;
}

static void op_put(struct run *t, uint32_t i)
{
    make_key(t->key, t->c->ksize, i);
    unsigned char *v = gomap_put(t->m, t->key);
    CHECK(v != NULL);
    if (v == NULL)
        return;
    if (t->r.present[i])
        CHECK(value_ok(t, v, i));
    else
        for (size_t j = 0; j < t->c->vsize; j++)
            if (v[j] != 0) {
                CHECK(!"new value slot not zeroed");
                break;
            }
    if (!t->r.present[i])
        t->r.count++;
    t->r.present[i] = 1;
    t->r.tag[i] = next_rand();
    make_value(v, t->c->vsize, t->r.tag[i]);
}

static void op_get(struct run *t, uint32_t i)
{
    make_key(t->key, t->c->ksize, i);
    unsigned char *v = gomap_get(t->m, t->key);
    CHECK((v != NULL) == (t->r.present[i] != 0));
    if (v && t->r.present[i])
        CHECK(value_ok(t, v, i));
}

static void op_delete(struct run *t, uint32_t i)
{
    make_key(t->key, t->c->ksize, i);
    CHECK_EQ_U64(gomap_delete(t->m, t->key), t->r.present[i]);
    if (t->r.present[i])
        t->r.count--;
    t->r.present[i] = 0;
}

static void op_clear(struct run *t)
{
    struct gomap_stats before, after;
    gomap_stats(t->m, &before);
    gomap_clear(t->m);
    gomap_stats(t->m, &after);
    memset(t->r.present, 0, t->c->universe);
    t->r.count = 0;
    CHECK_EQ_U64(after.B, before.B); /* clear keeps the array */
    CHECK_EQ_U64(after.array_bytes, before.array_bytes);
    CHECK_EQ_U64(after.indirect_bytes, 0);
}

/* Iterates while writing: deletes and inserts random keys between steps.
 * Entries present throughout must be seen exactly once; deleted ones only
 * if seen before their deletion; nothing twice. */
static void op_iterate(struct run *t, int write_during)
{
    uint32_t u = t->c->universe;
    uint8_t *seen = calloc(u, 1), *touched = calloc(u, 1), *at_start = malloc(u);
    memcpy(at_start, t->r.present, u);
    gomap_iter it;
    const void *k;
    void *v;
    int emptied = 0;
    gomap_iter_init(&it, t->m);
    while (gomap_iter_next(&it, &k, &v)) {
        uint32_t i = key_index(k);
        CHECK(i < u);
        if (i >= u)
            break;
        if (!emptied) /* once empty the seed changes; Go promises nothing more */
            CHECK(seen[i] == 0);
        seen[i] = 1;
        CHECK(t->r.present[i]);
        if (t->r.present[i])
            CHECK(value_ok(t, v, i));
        if (!write_during)
            continue;
        uint32_t n = below(4);
        for (uint32_t w = 0; w < n; w++) {
            uint32_t j = below(u);
            touched[j] = 1;
            if (below(2))
                op_put(t, j);
            else
                op_delete(t, j);
            if (t->r.count == 0)
                emptied = 1;
        }
    }
    for (uint32_t i = 0; i < u; i++)
        if (at_start[i] && !touched[i] && !seen[i]) {
            fprintf(stderr, "%s: key %u present throughout, not seen\n", t->c->name, i);
            CHECK(!"iteration missed a key");
            break;
        }
    free(seen);
    free(touched);
    free(at_start);
}

static void check_stats(struct run *t)
{
    struct gomap_stats st;
    gomap_stats(t->m, &st);
    CHECK_EQ_U64(st.count, t->r.count);
    CHECK_EQ_U64(gomap_len(t->m), t->r.count);
    uint64_t per = (t->c->ksize > 128 ? t->c->ksize : 0) + (t->c->vsize > 128 ? t->c->vsize : 0);
    CHECK_EQ_U64(st.indirect_bytes, per * t->r.count);
    CHECK_EQ_U64(st.bucket_bytes, st.array_bytes + st.old_array_bytes + st.overflow_bytes);
    if (st.array_bytes && st.B > 0)
        CHECK_EQ_U64(st.array_bytes, gomap_array_for_b(st.B, st.bucket_size).bytes);
    CHECK(st.peak_bucket_bytes >= st.bucket_bytes);
}

static void op_clone(struct run *t)
{
    gomap *c = gomap_clone(t->m);
    CHECK(c != NULL);
    if (!c)
        return;
    struct gomap_stats st;
    gomap_stats(c, &st);
    CHECK_EQ_U64(gomap_len(c), t->r.count);
    CHECK_EQ_U64(st.array_bytes, gomap_bytes_for_count(t->r.count, st.bucket_size));
    for (uint32_t i = 0; i < t->c->universe; i++) {
        make_key(t->key, t->c->ksize, i);
        unsigned char *v = gomap_get(c, t->key);
        CHECK((v != NULL) == (t->r.present[i] != 0));
        if (v && t->r.present[i])
            CHECK(value_ok(t, v, i));
    }
    gomap_free(c);
}

static void op_shrink(struct run *t)
{
    CHECK_EQ_U64(gomap_shrink(t->m), 0);
    struct gomap_stats st;
    gomap_stats(t->m, &st);
    CHECK(!st.growing);
    CHECK_EQ_U64(st.B, gomap_b_for_hint(t->r.count));
    CHECK_EQ_U64(st.array_bytes, gomap_bytes_for_count(t->r.count, st.bucket_size));
}

static void run_config(const struct config *c)
{
    struct run t = {.c = c};
    struct gomap_options o = {.key_size = c->ksize, .value_size = c->vsize, .hash = c->hash,
                              .hint = below(3) ? 0 : below(c->universe)};
    t.m = gomap_new(&o);
    t.r.present = calloc(c->universe, 1);
    t.r.tag = calloc(c->universe, sizeof *t.r.tag);
    CHECK(t.m != NULL);
    /* Phases of fill, churn and drain so the map grows, shrinks its count
     * and regrows; the key range drifts so deletes leave holes behind. */
    for (uint32_t n = 0; n < c->ops; n++) {
        uint32_t phase = (n / (c->ops / 8)) % 4; /* fill, churn, drain, churn */
        uint32_t i = below(c->universe);
        uint32_t r = below(1000);
        int put_bias = phase == 0 ? 700 : phase == 2 ? 150 : 400;
        if (r < (uint32_t)put_bias)
            op_put(&t, i);
        else if (r < 700)
            op_get(&t, i);
        else if (r < 998)
            op_delete(&t, i);
        else if (r < 999 && below(50) == 0)
            op_clear(&t);
        if (n % 4099 == 0)
            check_stats(&t);
        if (n % 50021 == 0)
            op_iterate(&t, 0);
        if (n % 70001 == 1)
            op_iterate(&t, 1);
        if (n % 90001 == 2)
            op_clone(&t);
        if (n % 110017 == 3)
            op_shrink(&t);
    }
    op_iterate(&t, 1);
    for (uint32_t i = 0; i < c->universe; i++)
        op_get(&t, i);
    check_stats(&t);
    gomap_free(t.m);
    free(t.r.present);
    free(t.r.tag);
}

/* Same-size growth: with keys that only ever fill a few buckets at a time
 * and move on, overflow buckets pile up at a constant count until noverflow
 * reaches 2^B; the map then regrows at the same B and drops them. */
static uint64_t hash_phased(const void *key, size_t n, uint64_t seed)
{
    (void)n; (void)seed;
    uint64_t i = key_index(key);
    return (i << 32) | (i / 64);
}

static void test_same_size_growth(void)
{
    gomap *m = gomap_new(&(struct gomap_options){.key_size = 4, .value_size = 8,
                                                 .hash = hash_phased});
    uint32_t key;
    int same_size = 0;
    for (uint32_t phase = 0; phase < 40; phase++) {
        for (key = phase * 64; key < phase * 64 + 64; key++) {
            struct gomap_stats before, after;
            gomap_stats(m, &before);
            uint64_t *v = gomap_put(m, &key);
            CHECK(v != NULL);
            if (v)
                *v = key;
            gomap_stats(m, &after);
            if (!before.growing && after.growing && after.B == before.B && before.buckets) {
                same_size++;
                CHECK_EQ_U64(after.array_bytes, before.array_bytes);
                CHECK(before.noverflow >= after.buckets);
            }
        }
        for (key = phase * 64; key < phase * 64 + 64; key++) {
            if (phase > 0) { /* keep the previous phase until now */
                uint32_t old = key - 64;
                CHECK(gomap_delete(m, &old));
            }
        }
    }
    CHECK(same_size > 0);
    CHECK_EQ_U64(gomap_len(m), 64);
    for (key = 39 * 64; key < 40 * 64; key++) {
        uint64_t *v = gomap_get(m, &key);
        CHECK(v && *v == key);
    }
    gomap_free(m);
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 20240601;
    rng = seed;
    printf("seed %llu\n", (unsigned long long)seed);
    static const struct config configs[] = {
        {"int64->int64", 8, 8, 60000, 700000, NULL},
        {"int64->[128]", 8, 128, 20000, 400000, NULL},
        {"int64->[129]", 8, 129, 20000, 300000, NULL},
        {"int32->int32", 4, 4, 30000, 400000, NULL},
        {"[16]->set", 16, 0, 30000, 400000, NULL},
        {"[200]->int64", 200, 8, 10000, 300000, NULL},
        {"[131]->[300]", 131, 300, 5000, 200000, NULL},
        {"int64->[3] few-hashes", 8, 3, 2000, 150000, hash_few},
        {"int64->int64 clustered", 8, 8, 3000, 200000, hash_clustered},
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        run_config(&configs[i]);
    test_same_size_growth();
    return check_status();
}
