/* gomap/rebuild.c - what Go's map lacks: gomap_clone (a new map sized for
 * the live entries, the seed's "copy the map" cure) and gomap_shrink (the
 * same in place: a new array at the B a fresh map for the live count has).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tidemark/annotate.h"

gomap *gm_new_with_reason(const struct gomap_options *opt, unsigned reason);

struct clone_ctx {
    gomap *dst;
    int failed;
};

static void clone_entry(void *ctx, const unsigned char *key, const unsigned char *value)
{
    struct clone_ctx *c = ctx;
    if (c->failed)
        return;
    void *v = gomap_put(c->dst, key);
    if (v == NULL) {
        c->failed = 1;
        return;
    }
    memcpy(v, value, c->dst->value_size);
}

gomap *gomap_clone(const gomap *m)
{
    if (m == NULL)
        return NULL;
    struct gomap_options o = {
        .key_size = m->key_size,
        .value_size = m->value_size,
        .hint = m->count,
        .hash = m->hash == gm_default_hash ? NULL : m->hash,
        .equal = m->equal,
        .label = NULL,
    };
    struct clone_ctx c = {gm_new_with_reason(&o, TMK_ARRAY_CLONE), 0};
    if (c.dst == NULL)
        return NULL;
    gm_for_each(m, clone_entry, &c);
    if (c.failed) {
        gomap_free(c.dst);
        return NULL;
    }
    return c.dst;
}

/* The array fields that a rebuild replaces. */
struct array_state {
    unsigned char *buckets, *next_ovf, *ovf_end;
    uint8_t B;
    uint16_t noverflow;
    uint64_t array_bytes, prealloc, extra_ovf;
};

static struct array_state save_array(const gomap *m)
{
    return (struct array_state){m->buckets, m->next_ovf, m->ovf_end, m->B, m->noverflow,
                                m->array_bytes, m->prealloc_overflow, m->extra_ovf};
}

static void restore_array(gomap *m, const struct array_state *s)
{
    m->buckets = s->buckets;
    m->next_ovf = s->next_ovf;
    m->ovf_end = s->ovf_end;
    m->B = s->B;
    m->noverflow = s->noverflow;
    m->array_bytes = s->array_bytes;
    m->prealloc_overflow = s->prealloc;
    m->extra_ovf = s->extra_ovf;
}

/* Places the entry in slot i of src into the (fresh, growth-free) current
 * array, moving the slot bytes (indirect pointers included). */
static int place_entry(gomap *m, unsigned char *src, unsigned i)
{
    uint64_t h = gm_hash(m, gm_key(m, src, i));
    unsigned char *b = gm_bucket(m, m->buckets, h & gm_mask(m->B));
    for (;;) {
        for (unsigned j = 0; j < GM_SLOTS; j++) {
            if (b[j] != GM_EMPTY_REST)
                continue;
            b[j] = src[i];
            memcpy(gm_key_slot(m, b, j), gm_key_slot(m, src, i), m->key_slot);
            memcpy(gm_value_slot(m, b, j), gm_value_slot(m, src, i), m->value_slot);
            return 0;
        }
        unsigned char *o = gm_overflow(m, b);
        if (o == NULL && (o = gm_new_overflow(m, b)) == NULL)
            return -1;
        b = o;
    }
}

static int place_all(gomap *m, const struct array_state *from)
{
    for (uint64_t k = 0; k < ((uint64_t)1 << from->B); k++)
        for (unsigned char *b = gm_bucket(m, from->buckets, k); b; b = gm_overflow(m, b))
            for (unsigned i = 0; i < GM_SLOTS; i++)
                if (b[i] >= GM_MIN_TOPHASH && place_entry(m, b, i) != 0)
                    return -1;
    return 0;
}

static void drop_array(gomap *m)
{
    if (m->buckets) {
        gm_free_chained_overflow(m, m->buckets, m->B, m->array_bytes);
        free(m->buckets);
    }
}

int gomap_shrink(gomap *m)
{
    if (m == NULL)
        return 0;
    gm_finish_growth(m);
    struct array_state old = save_array(m);
    uint8_t B = gomap_b_for_hint(m->count);
    if (m->count == 0) {
        drop_array(m); /* a fresh map has no array until its first insert */
        m->buckets = m->next_ovf = m->ovf_end = NULL;
        m->B = 0;
        m->noverflow = 0;
        m->array_bytes = m->prealloc_overflow = m->extra_ovf = 0;
        return 0;
    }
    if (B == m->B && m->extra_ovf == 0)
        return 0; /* already what a fresh map would hold */
    uint64_t prealloc = 0, bytes = m->bsize;
    unsigned char *arr;
    if (B == 0) {
        arr = calloc(1, m->bsize);
        if (arr)
            tmk_table_array(m, arr, m->bsize, 1, TMK_ARRAY_SHRINK);
    } else {
        arr = gm_make_bucket_array(m, B, TMK_ARRAY_SHRINK, &prealloc, &bytes);
    }
    if (arr == NULL)
        return -1;
    m->extra_ovf = 0;
    m->noverflow = 0;
    gm_install_array(m, arr, B, prealloc, bytes);
    if (place_all(m, &old) != 0) {
        drop_array(m);
        restore_array(m, &old);
        return -1;
    }
    /* Free the old array (and its overflow buckets) as the old state. */
    struct array_state now = save_array(m);
    restore_array(m, &old);
    drop_array(m);
    restore_array(m, &now);
    return 0;
}
