/* gomap/map.c - gomap's life and its point operations: new, get, put
 * (mapassign), delete (mapdelete with emptyOne/emptyRest), clear, free,
 * stats, and the bucket-array allocation that every path shares.
 *
 * Memory comes from malloc/calloc/free only, so an interposing profiler sees
 * every byte; each bucket array and each separately allocated overflow
 * bucket is announced with annotate.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "tidemark/annotate.h"

#define GM_MAX_ALLOC ((uint64_t)1 << 48) /* Go's maxAlloc on linux/amd64 */

void gm_note_peak(gomap *m)
{
    uint64_t held = m->array_bytes + m->old_array_bytes +
                    (m->extra_ovf + m->old_extra_ovf) * m->bsize;
    if (held > m->peak_bucket_bytes)
        m->peak_bucket_bytes = held;
}

/* Go's runtime (1.19) marks its heap MADV_HUGEPAGE, so a big map's buckets
 * live on 2 MiB pages there; glibc's malloc does not, and on a machine whose
 * THP setting is "madvise" (Debian's default) random probes into a 300 MB
 * array then miss the TLB on nearly every access. Ask for huge pages on the
 * whole pages inside a big array, as Go's heap has them: the bytes allocated
 * and freed (what gomap models) do not change; only the page size backing
 * them. Best effort: errors are ignored. */
#define GM_HUGE_MIN ((uint64_t)4 << 20)

static void advise_huge(void *p, uint64_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (bytes < GM_HUGE_MIN)
        return;
    const uintptr_t page = 4096;
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(page - 1);
    if (end > start) {
        int saved = errno;
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
        errno = saved;
    }
#else
    (void)p;
    (void)bytes;
#endif
}

unsigned char *gm_make_bucket_array(gomap *m, uint8_t B, unsigned reason,
                                    uint64_t *prealloc, uint64_t *bytes)
{
    struct gomap_array a = gomap_array_for_b(B, m->bsize);
    unsigned char *arr = calloc(1, a.bytes);
    if (arr == NULL)
        return NULL;
    advise_huge(arr, a.bytes);
    tmk_table_array(m, arr, a.bytes, a.buckets + a.overflow, reason);
    *prealloc = a.overflow;
    *bytes = a.bytes;
    return arr;
}

void gm_install_array(gomap *m, unsigned char *arr, uint8_t B, uint64_t prealloc,
                      uint64_t bytes)
{
    m->buckets = arr;
    m->B = B;
    m->array_bytes = bytes;
    m->prealloc_overflow = prealloc;
    m->ovf_end = arr + bytes;
    m->next_ovf = prealloc ? arr + ((uint64_t)1 << B) * m->bsize : NULL;
    gm_note_peak(m);
}

/* mapassign's lazy first bucket: one bucket, B = 0, no preallocation. */
static int make_first_bucket(gomap *m)
{
    unsigned char *b = calloc(1, m->bsize);
    if (b == NULL)
        return -1;
    tmk_table_array(m, b, m->bsize, 1, m->first_reason);
    gm_install_array(m, b, 0, 0, m->bsize);
    return 0;
}

gomap *gm_new_with_reason(const struct gomap_options *opt, unsigned reason);

gomap *gm_new_with_reason(const struct gomap_options *opt, unsigned reason)
{
    if (opt == NULL || opt->key_size == 0 || opt->key_size > UINT32_MAX ||
        opt->value_size > UINT32_MAX) {
        errno = EINVAL;
        return NULL;
    }
    gomap *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->layout = gomap_layout_for(opt->key_size, opt->value_size);
    m->key_size = opt->key_size;
    m->value_size = opt->value_size;
    m->key_slot = m->layout.key_slot;
    m->value_slot = m->layout.value_slot;
    m->bsize = m->layout.bucket_size;
    m->voff = GM_DATA_OFFSET + GM_SLOTS * m->key_slot;
    m->key_indirect = m->layout.key_indirect;
    m->value_indirect = m->layout.value_indirect;
    m->hash = opt->hash ? opt->hash : gm_default_hash;
    m->equal = opt->equal;
    m->key8_default = opt->key_size == 8 && opt->hash == NULL && opt->equal == NULL;
    m->seed = gm_fastrand();
    m->hint = opt->hint;
    m->first_reason = (uint8_t)reason;

    struct tmk_table_info info = {
        .kind = TMK_KIND_GOMAP,
        .flags = (m->key_indirect ? TMK_TABLE_KEY_INDIRECT : 0u) |
                 (m->value_indirect ? TMK_TABLE_VALUE_INDIRECT : 0u),
        .key_size = (uint32_t)opt->key_size,
        .value_size = (uint32_t)opt->value_size,
        .bucket_size = m->bsize,
        .slots_per_bucket = GM_SLOTS,
        .hint = opt->hint,
        .label = opt->label,
    };
    tmk_table_new(m, &info);
    tmk_table_count(m, &m->count, 8);
    tmk_table_peak(m, &m->peak_count, 8);

    /* makemap: a hint whose memory cannot exist counts as no hint. */
    uint64_t hint = opt->hint;
    if (hint > GM_MAX_ALLOC / m->bsize)
        hint = 0;
    uint8_t B = gomap_b_for_hint(hint);
    if (B != 0) {
        uint64_t prealloc, bytes;
        unsigned char *arr = gm_make_bucket_array(m, B, reason, &prealloc, &bytes);
        if (arr == NULL) {
            tmk_table_end(m);
            free(m);
            errno = ENOMEM;
            return NULL;
        }
        gm_install_array(m, arr, B, prealloc, bytes);
    }
    return m;
}

gomap *gomap_new(const struct gomap_options *opt)
{
    return gm_new_with_reason(opt, TMK_ARRAY_INITIAL);
}

gomap *gomap_make(size_t key_size, size_t value_size, uint64_t hint)
{
    struct gomap_options o = {.key_size = key_size, .value_size = value_size, .hint = hint};
    return gomap_new(&o);
}

void gm_free_indirect_in(gomap *m, unsigned char *arr, uint8_t B)
{
    if (!m->key_indirect && !m->value_indirect)
        return;
    for (uint64_t i = 0; i < ((uint64_t)1 << B); i++) {
        for (unsigned char *b = gm_bucket(m, arr, i); b; b = gm_overflow(m, b)) {
            for (unsigned s = 0; s < GM_SLOTS; s++) {
                if (b[s] < GM_MIN_TOPHASH)
                    continue;
                if (m->key_indirect) {
                    free(gm_key(m, b, s));
                    m->indirect_bytes -= m->key_size;
                }
                if (m->value_indirect) {
                    free(gm_value(m, b, s));
                    m->indirect_bytes -= m->value_size;
                }
            }
        }
    }
}

void gm_free_chained_overflow(const gomap *m, unsigned char *arr, uint8_t B, uint64_t bytes)
{
    unsigned char *end = arr + bytes;
    for (uint64_t i = 0; i < ((uint64_t)1 << B); i++) {
        unsigned char *o = gm_overflow(m, gm_bucket(m, arr, i));
        while (o) {
            unsigned char *next = gm_overflow(m, o);
            if (o < arr || o >= end)
                free(o);
            o = next;
        }
    }
}

void gomap_free(gomap *m)
{
    if (m == NULL)
        return;
    tmk_table_end(m);
    if (m->oldbuckets) {
        /* Unevacuated old buckets still own their entries' allocations. */
        uint8_t oldB = m->same_size_grow ? m->B : (uint8_t)(m->B - 1);
        gm_free_indirect_in(m, m->oldbuckets, oldB);
        gm_release_old(m);
    }
    if (m->buckets) {
        gm_free_indirect_in(m, m->buckets, m->B);
        gm_free_chained_overflow(m, m->buckets, m->B, m->array_bytes);
        free(m->buckets);
    }
    free(m);
}

size_t gomap_len(const gomap *m) { return m ? (size_t)m->count : 0; }

/* The bucket holding key's chain: the old one while it is not evacuated. */
static unsigned char *lookup_bucket(const gomap *m, uint64_t hash)
{
    uint64_t mask = gm_mask(m->B);
    unsigned char *b = gm_bucket(m, m->buckets, hash & mask);
    if (m->oldbuckets) {
        if (!m->same_size_grow)
            mask >>= 1;
        unsigned char *oldb = gm_bucket(m, m->oldbuckets, hash & mask);
        if (!gm_evacuated(oldb))
            b = oldb;
    }
    return b;
}

void *gomap_get(gomap *m, const void *key)
{
    if (m == NULL || m->count == 0)
        return NULL;
    uint64_t hash = gm_hash(m, key);
    uint8_t top = gm_tophash_of(hash);
    for (unsigned char *b = lookup_bucket(m, hash); b; b = gm_overflow(m, b)) {
        for (unsigned i = 0; i < GM_SLOTS; i++) {
            if (b[i] != top) {
                if (b[i] == GM_EMPTY_REST)
                    return NULL;
                continue;
            }
            if (gm_key_equal(m, key, gm_key(m, b, i)))
                return gm_value(m, b, i);
        }
    }
    return NULL;
}

/* Stores a new key in slot i of b (allocating indirect key/value). */
static void *fill_slot(gomap *m, unsigned char *b, unsigned i, uint8_t top, const void *key)
{
    unsigned char *kslot = gm_key_slot(m, b, i);
    unsigned char *vslot = gm_value_slot(m, b, i);
    void *kmem = NULL, *vmem = NULL;
    if (m->key_indirect && (kmem = malloc(m->key_size)) == NULL)
        return NULL;
    if (m->value_indirect && (vmem = calloc(1, m->value_size)) == NULL) {
        free(kmem);
        return NULL;
    }
    if (kmem) {
        memcpy(kslot, &kmem, sizeof kmem);
        kslot = kmem;
        m->indirect_bytes += m->key_size;
    }
    memcpy(kslot, key, m->key_size);
    if (vmem) {
        memcpy(vslot, &vmem, sizeof vmem);
        m->indirect_bytes += m->value_size;
        vslot = vmem;
    }
    /* Inline value slots are zero: fresh arrays are calloc'd, deletes clear. */
    b[i] = top;
    m->count++;
    /* The high-water mark: one compare on an insert that adds a key, so the
     * report's peak is exact without the shim reading at every insert. */
    if (m->count > m->peak_count)
        m->peak_count = m->count;
    return vslot;
}

void *gomap_put(gomap *m, const void *key)
{
    if (m == NULL)
        return NULL;
    uint64_t hash = gm_hash(m, key);
    if (m->buckets == NULL && make_first_bucket(m) != 0)
        return NULL;
    uint8_t top = gm_tophash_of(hash);
again:;
    uint64_t bucket = hash & gm_mask(m->B);
    if (m->oldbuckets)
        gm_grow_work(m, bucket);
    unsigned char *b = gm_bucket(m, m->buckets, bucket);
    unsigned char *insb = NULL;
    unsigned insi = 0;
    for (;;) {
        for (unsigned i = 0; i < GM_SLOTS; i++) {
            if (b[i] != top) {
                if (gm_is_empty(b[i]) && insb == NULL) {
                    insb = b;
                    insi = i;
                }
                if (b[i] == GM_EMPTY_REST)
                    goto not_found;
                continue;
            }
            if (gm_key_equal(m, key, gm_key(m, b, i)))
                return gm_value(m, b, i);
        }
        unsigned char *ovf = gm_overflow(m, b);
        if (ovf == NULL)
            break;
        b = ovf;
    }
not_found:
    /* A new key: grow first if over the load factor or overflow-heavy. */
    if (m->oldbuckets == NULL &&
        (gomap_over_load_factor(m->count + 1, m->B) || m->noverflow >= (1u << (m->B > 15 ? 15 : m->B)))) {
        unsigned char *before = m->buckets;
        gm_hash_grow(m);
        if (m->buckets == before)
            return NULL; /* the new array could not be allocated */
        goto again;
    }
    if (insb == NULL) {
        /* b is the last bucket of the chain here (emptyRest never seen). */
        insb = gm_new_overflow(m, b);
        if (insb == NULL)
            return NULL;
        insi = 0;
    }
    return fill_slot(m, insb, insi, top, key);
}

/* After slot i of b became empty: turn the trailing run of emptyOne slots
 * of the chain starting at first into emptyRest, walking backwards. */
static void mark_empty_rest(gomap *m, unsigned char *first, unsigned char *b, unsigned i)
{
    if (i == GM_SLOTS - 1) {
        unsigned char *o = gm_overflow(m, b);
        if (o && o[0] != GM_EMPTY_REST)
            return;
    } else if (b[i + 1] != GM_EMPTY_REST) {
        return;
    }
    for (;;) {
        b[i] = GM_EMPTY_REST;
        if (i == 0) {
            if (b == first)
                return;
            unsigned char *c = b;
            for (b = first; gm_overflow(m, b) != c; b = gm_overflow(m, b)) {
            }
            i = GM_SLOTS - 1;
        } else {
            i--;
        }
        if (b[i] != GM_EMPTY_ONE)
            return;
    }
}

static void clear_slot(gomap *m, unsigned char *b, unsigned i)
{
    unsigned char *kslot = gm_key_slot(m, b, i);
    unsigned char *vslot = gm_value_slot(m, b, i);
    if (m->key_indirect) {
        void *k;
        memcpy(&k, kslot, sizeof k);
        free(k);
        memset(kslot, 0, sizeof k);
        m->indirect_bytes -= m->key_size;
    }
    if (m->value_indirect) {
        void *v;
        memcpy(&v, vslot, sizeof v);
        free(v);
        memset(vslot, 0, sizeof v);
        m->indirect_bytes -= m->value_size;
    } else {
        memset(vslot, 0, m->value_size);
    }
}

int gomap_delete(gomap *m, const void *key)
{
    if (m == NULL || m->count == 0)
        return 0;
    uint64_t hash = gm_hash(m, key);
    uint64_t bucket = hash & gm_mask(m->B);
    if (m->oldbuckets)
        gm_grow_work(m, bucket);
    unsigned char *first = gm_bucket(m, m->buckets, bucket);
    uint8_t top = gm_tophash_of(hash);
    for (unsigned char *b = first; b; b = gm_overflow(m, b)) {
        for (unsigned i = 0; i < GM_SLOTS; i++) {
            if (b[i] != top) {
                if (b[i] == GM_EMPTY_REST)
                    return 0;
                continue;
            }
            if (!gm_key_equal(m, key, gm_key(m, b, i)))
                continue;
            clear_slot(m, b, i);
            b[i] = GM_EMPTY_ONE;
            mark_empty_rest(m, first, b, i);
            if (--m->count == 0)
                m->seed = gm_fastrand(); /* as Go: a new seed once empty */
            return 1;
        }
    }
    return 0;
}

void gomap_clear(gomap *m)
{
    if (m == NULL || m->count == 0)
        return;
    if (m->oldbuckets) {
        uint8_t oldB = m->same_size_grow ? m->B : (uint8_t)(m->B - 1);
        gm_free_indirect_in(m, m->oldbuckets, oldB);
        gm_release_old(m);
    }
    gm_free_indirect_in(m, m->buckets, m->B);
    gm_free_chained_overflow(m, m->buckets, m->B, m->array_bytes);
    m->extra_ovf = 0;
    m->noverflow = 0;
    m->count = 0;
    m->seed = gm_fastrand();
    /* makeBucketArray with dirtyalloc: the same array, zeroed. */
    memset(m->buckets, 0, m->array_bytes);
    gm_install_array(m, m->buckets, m->B, m->prealloc_overflow, m->array_bytes);
}

void gomap_stats(const gomap *m, struct gomap_stats *out)
{
    memset(out, 0, sizeof *out);
    if (m == NULL)
        return;
    out->B = m->B;
    out->count = m->count;
    out->peak_count = m->peak_count;
    out->buckets = (uint64_t)1 << m->B;
    out->bucket_size = m->bsize;
    out->prealloc_overflow = m->prealloc_overflow;
    out->noverflow = m->noverflow;
    out->extra_overflow = m->extra_ovf + m->old_extra_ovf;
    out->growing = m->oldbuckets != NULL;
    out->array_bytes = m->array_bytes;
    out->old_array_bytes = m->old_array_bytes;
    out->overflow_bytes = out->extra_overflow * m->bsize;
    out->bucket_bytes = out->array_bytes + out->old_array_bytes + out->overflow_bytes;
    out->indirect_bytes = m->indirect_bytes;
    out->peak_bucket_bytes = m->peak_bucket_bytes;
    out->layout = m->layout;
}
