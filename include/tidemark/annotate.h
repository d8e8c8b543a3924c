/* tidemark/annotate.h - how a hash table tells the tidemark shim what its
 * allocations are.
 *
 * A table calls four functions, and optionally a fifth:
 *
 *   tmk_table_new(T, &info)      table T exists (kind, key/value/bucket sizes,
 *                                size hint, label)
 *   tmk_table_count(T, &n, w)    T's live entry count is the w-byte unsigned
 *                                integer at &n (w = 4 or 8); the shim reads it
 *                                itself, so inserts and deletes cost nothing
 *   tmk_table_peak(T, &hw, w)    optional: T keeps the highest count it ever
 *                                had at &hw (w = 4 or 8). The shim reads it
 *                                with the count, so the report's peak is
 *                                exact even when it fell between two samples
 *                                (without it, the peak is the largest count
 *                                the shim happened to read)
 *   tmk_table_array(T, P, bytes, buckets, reason)
 *                                the allocation at P (already returned by
 *                                malloc) is a bucket array of T, or an extra
 *                                overflow bucket; its free is seen by the
 *                                shim's free(), no call is needed for it
 *   tmk_table_end(T)             T is gone; call it before the memory holding
 *                                the count is freed
 *
 * A table may also state its growth rule in struct tmk_table_info (the load
 * at which it grows and by what factor): the analyzer then knows exactly
 * what the table holds for any number of entries grown from empty, and
 * never calls it oversized for the entries it holds.
 *
 * T is any address that identifies the table while it lives (normally the
 * table's own struct). Every function is an inline wrapper that finds the shim
 * once per translation unit with dlsym(RTLD_DEFAULT, "tidemark_annotate_api")
 * and does nothing when the shim is not loaded, so a program built with these
 * calls runs unchanged without LD_PRELOAD. All are safe to call from any
 * thread. Define TIDEMARK_NO_ANNOTATE to compile every call away.
 *
 * The shim side implements struct tmk_annotate_api and exports one object of
 * it under the name TMK_ANNOTATE_SYMBOL.
 *
 * Versions. Both structs only ever grow at their end, and neither side reads
 * past what the other has:
 *  - a program built against an older annotate.h passes a shorter
 *    tmk_table_info to table_new, and the shim reads only the version-1
 *    members from it (TMK__TABLE_INFO_SIZE_V1); the newer members count as 0;
 *  - a program built against this one calls table_new_sized with its
 *    sizeof(struct tmk_table_info) when the shim has it, and the older
 *    table_new otherwise (an older shim reads only the members it knows);
 *  - a member of tmk_annotate_api is called only when the shim's `size`
 *    covers it (TMK__API_HAS).
 */
#ifndef TIDEMARK_ANNOTATE_H
#define TIDEMARK_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TMK_ANNOTATE_VERSION 2
#define TMK_ANNOTATE_SYMBOL "tidemark_annotate_api"

/* What model the analyzer uses for the table. */
enum tmk_table_kind {
    TMK_KIND_GENERIC = 0, /* unknown table: array bytes vs live * slot size */
    TMK_KIND_GOMAP = 1,   /* gomap: Go 1.19's sizing rules, exactly */
    TMK_KIND_UTHASH = 2,  /* uthash: chained, doubles on long chains */
};

/* Why an allocation became one of the table's arrays. */
enum tmk_array_reason {
    TMK_ARRAY_INITIAL = 0,       /* first bucket array */
    TMK_ARRAY_GROW = 1,          /* doubling growth */
    TMK_ARRAY_SAMESIZE_GROW = 2, /* gomap: same-size growth (too many overflows) */
    TMK_ARRAY_SHRINK = 3,        /* gomap_shrink or any in-place shrink */
    TMK_ARRAY_CLONE = 4,         /* array of a table built by copying another */
    TMK_ARRAY_OVERFLOW = 5,      /* one overflow bucket allocated on its own */
};

/* tmk_table_info.flags */
#define TMK_TABLE_KEY_INDIRECT 0x1u   /* keys stored as pointers to allocations */
#define TMK_TABLE_VALUE_INDIRECT 0x2u /* values stored as pointers to allocations */

struct tmk_table_info {
    uint32_t kind;             /* enum tmk_table_kind */
    uint32_t flags;            /* TMK_TABLE_* */
    uint32_t key_size;         /* bytes of one key as the user sees it */
    uint32_t value_size;       /* bytes of one value as the user sees it */
    uint32_t bucket_size;      /* bytes of one bucket (or one slot when chained) */
    uint32_t slots_per_bucket; /* 8 for gomap; 0 for chained tables */
    uint64_t hint;             /* size hint given at creation, 0 for none */
    const char *label;         /* NUL-terminated, copied by the shim; may be NULL */
    /* Version 2: the table's growth rule, all 0 when not stated. The table
     * grows when an insert would make its live entries more than
     * capacity x grow_load_num / grow_load_den, where capacity = buckets x
     * slots_per_bucket (buckets for a chained table), to grow_factor times
     * its buckets. Grown from empty, its first array has min_buckets
     * buckets (0: 1), and an array of B buckets is B x bucket_size bytes.
     * Example, open addressing that doubles at 75% load from 16 slots:
     * slots_per_bucket 1, grow_load_num 3, grow_load_den 4, grow_factor 2,
     * min_buckets 16. A rule with a 0 denominator or a factor below 2 is
     * not stated. */
    uint32_t grow_load_num;
    uint32_t grow_load_den;
    uint32_t grow_factor;
    uint32_t min_buckets;
};

/* What the first programs passed: the members before the growth rule. */
#define TMK__TABLE_INFO_SIZE_V1 offsetof(struct tmk_table_info, grow_load_num)

/* The shim's side: one exported object of this type. New members are only
 * ever appended; `size` is sizeof the shim's struct, so a caller checks it
 * before using a member that an older shim may lack. */
struct tmk_annotate_api {
    uint32_t version; /* TMK_ANNOTATE_VERSION of the shim */
    uint32_t size;    /* sizeof(struct tmk_annotate_api) of the shim */
    void (*table_new)(const void *table, const struct tmk_table_info *info);
    void (*table_count)(const void *table, const void *count, unsigned width);
    void (*table_array)(const void *table, const void *array, size_t bytes,
                        size_t buckets, unsigned reason);
    void (*table_end)(const void *table);
    /* Appended after the first release: present when size covers it. */
    void (*table_peak)(const void *table, const void *peak, unsigned width);
    /* Version 2: table_new with the caller's sizeof(struct tmk_table_info);
     * the shim reads no more than info_size bytes of *info. */
    void (*table_new_sized)(const void *table, const struct tmk_table_info *info,
                            size_t info_size);
};

/* What the first shims exported: enough for the four basic calls. */
#define TMK__API_SIZE_V1 offsetof(struct tmk_annotate_api, table_peak)
/* Does the shim's object have this member (and set it)? */
#define TMK__API_HAS(api, member)                                                 \
    ((api)->size >= offsetof(struct tmk_annotate_api, member) + sizeof((api)->member) && \
     (api)->member != NULL)

#ifndef TIDEMARK_NO_ANNOTATE

#include <dlfcn.h>

/* The shim, looked up once per translation unit; NULL when absent. The cache
 * holds TMK__ABSENT after a failed lookup so dlsym runs only once. Racing
 * threads may both look up; they store the same value. */
#define TMK__ABSENT ((const struct tmk_annotate_api *)(uintptr_t)1)

static inline const struct tmk_annotate_api *tmk__api(void)
{
    static const struct tmk_annotate_api *cached;
    const struct tmk_annotate_api *api = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
    if (api == NULL) {
        api = (const struct tmk_annotate_api *)dlsym(RTLD_DEFAULT, TMK_ANNOTATE_SYMBOL);
        if (api == NULL || api->version < 1 || api->size < TMK__API_SIZE_V1)
            api = TMK__ABSENT;
        __atomic_store_n(&cached, api, __ATOMIC_RELEASE);
    }
    return api == TMK__ABSENT ? NULL : api;
}

static inline void tmk_table_new(const void *table, const struct tmk_table_info *info)
{
    const struct tmk_annotate_api *api = tmk__api();
    if (!api) return;
    if (TMK__API_HAS(api, table_new_sized))
        api->table_new_sized(table, info, sizeof *info);
    else /* an older shim: it reads the members it knows, no more */
        api->table_new(table, info);
}

static inline void tmk_table_count(const void *table, const void *count, unsigned width)
{
    const struct tmk_annotate_api *api = tmk__api();
    if (api) api->table_count(table, count, width);
}

static inline void tmk_table_array(const void *table, const void *array, size_t bytes,
                                   size_t buckets, unsigned reason)
{
    const struct tmk_annotate_api *api = tmk__api();
    if (api) api->table_array(table, array, bytes, buckets, reason);
}

static inline void tmk_table_end(const void *table)
{
    const struct tmk_annotate_api *api = tmk__api();
    if (api) api->table_end(table);
}

static inline void tmk_table_peak(const void *table, const void *peak, unsigned width)
{
    const struct tmk_annotate_api *api = tmk__api();
    if (api && TMK__API_HAS(api, table_peak)) api->table_peak(table, peak, width);
}

#else /* TIDEMARK_NO_ANNOTATE */

static inline void tmk_table_new(const void *t, const struct tmk_table_info *i) { (void)t; (void)i; }
static inline void tmk_table_count(const void *t, const void *c, unsigned w) { (void)t; (void)c; (void)w; }
static inline void tmk_table_array(const void *t, const void *a, size_t b, size_t n, unsigned r)
{ (void)t; (void)a; (void)b; (void)n; (void)r; }
static inline void tmk_table_end(const void *t) { (void)t; }
static inline void tmk_table_peak(const void *t, const void *p, unsigned w) { (void)t; (void)p; (void)w; }

#endif /* TIDEMARK_NO_ANNOTATE */

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANNOTATE_H */
