/* tidemark/uthash.h - annotates every uthash table of a program for tidemark.
 *
 * Include it instead of, or before, <uthash.h> (it includes <uthash.h>
 * itself; a later #include <uthash.h> is a no-op). From then on every table
 * that the HASH_* macros of this translation unit create tells the tidemark
 * shim (through tidemark/annotate.h):
 *
 *   - its creation: kind TMK_KIND_UTHASH, bucket_size = sizeof(UT_hash_bucket),
 *     no slots (chained), key_size = keylen of the item that created it
 *     (uthash allows a different length per item; 0 if unknown);
 *   - where its live count is: tbl->num_items, an unsigned;
 *   - its first bucket array (TMK_ARRAY_INITIAL, 32 buckets);
 *   - every expansion (TMK_ARRAY_GROW, the new array and its bucket count);
 *   - its end, just before the UT_hash_table is freed (last item deleted,
 *     HASH_CLEAR, or an out-of-memory rollback).
 * Without the shim every call is a no-op, and uthash behaves exactly as
 * without this header: the same allocations, frees and zeroing, in the same
 * order.
 *
 * How: uthash expands its hook macros (uthash_bzero, uthash_free,
 * uthash_expand_fyi) where its HASH_* macros are used, so the hooks see the
 * static type of their pointer argument. _Generic tells the table struct
 * (UT_hash_table *) and bucket arrays (UT_hash_bucket *) from anything else:
 *   uthash_bzero(UT_hash_table *)   HASH_MAKE_TABLE zeroes a new table: it is
 *                                   remembered as pending (per thread);
 *   uthash_bzero(UT_hash_bucket *)  zeroing the pending table's first array:
 *                                   the table is complete, announce it;
 *   uthash_expand_fyi(tbl)          HASH_EXPAND_BUCKETS installed a new array;
 *   uthash_free(UT_hash_table *)    the table is about to go.
 *
 * Your own hooks: define uthash_malloc / uthash_free / uthash_bzero /
 * uthash_expand_fyi BEFORE including this header (before or after <uthash.h>);
 * they are captured here and still called, in the same order. A hook
 * redefined after this header replaces the annotation (for uthash_free and
 * uthash_expand_fyi that loses the table's end or growths).
 *
 * Optional: tmk_uthash_label("sessions") names the tables this thread creates
 * from this translation unit from then on (NULL: no name).
 *
 * C only (C11 _Generic). Define TIDEMARK_NO_ANNOTATE to compile it all away.
 */
#ifndef TIDEMARK_UTHASH_H
#define TIDEMARK_UTHASH_H

#include <uthash.h>

#ifndef TIDEMARK_NO_ANNOTATE

#include <stddef.h>

#include "tidemark/annotate.h"

/* --- the hooks in force before this header, kept as functions ------------
 * Each expands the macro as uthash (or the program) defined it, so chaining
 * to them changes nothing. */

static inline void tmk__uth_next_bzero(void *a, size_t n)
{
    uthash_bzero(a, n);
}

static inline void tmk__uth_next_free(void *ptr, size_t sz)
{
    (void)sz; /* uthash's default free ignores it */
    uthash_free(ptr, sz);
}

static inline void tmk__uth_next_expand_fyi(UT_hash_table *tbl)
{
    (void)tbl; /* uthash's default hook is empty */
    uthash_expand_fyi(tbl);
}

/* --- per-thread state of this translation unit ----------------------------
 * Tables whose struct has been zeroed but whose first bucket array has not:
 * between the two, uthash_malloc runs, and a program's own allocator could
 * create a uthash table itself, hence a small stack rather than one slot.
 * Invariant: an entry is removed when its first array is announced or when
 * the table is freed before that (out of memory). */
#define TMK__UTH_PENDING_MAX 4
static _Thread_local UT_hash_table *tmk__uth_pending[TMK__UTH_PENDING_MAX];
static _Thread_local unsigned tmk__uth_npending;
static _Thread_local const char *tmk__uth_label;

/* Names the uthash tables this thread creates from this translation unit
 * from now on; the shim copies the string. NULL: unnamed. */
static inline void tmk_uthash_label(const char *label)
{
    tmk__uth_label = label;
}

/* Removes tbl from the pending stack; 1 if it was there. */
static inline int tmk__uth_unpend(const UT_hash_table *tbl)
{
    for (unsigned i = tmk__uth_npending; i-- > 0;) {
        if (tmk__uth_pending[i] == tbl) {
            for (unsigned j = i + 1; j < tmk__uth_npending; j++)
                tmk__uth_pending[j - 1] = tmk__uth_pending[j];
            tmk__uth_npending--;
            return 1;
        }
    }
    return 0;
}

/* The table struct is complete and its first array zeroed: announce both. */
static inline void tmk__uth_announce(UT_hash_table *tbl)
{
    struct tmk_table_info info = {0};
    info.kind = TMK_KIND_UTHASH;
    info.key_size = tbl->tail ? tbl->tail->keylen : 0; /* the creating item */
    info.bucket_size = (uint32_t)sizeof(UT_hash_bucket);
    info.slots_per_bucket = 0;
    info.label = tmk__uth_label;
    tmk_table_new(tbl, &info);
    tmk_table_count(tbl, &tbl->num_items, (unsigned)sizeof(tbl->num_items));
    tmk_table_array(tbl, tbl->buckets, (size_t)tbl->num_buckets * sizeof(UT_hash_bucket),
                    tbl->num_buckets, TMK_ARRAY_INITIAL);
}

/* --- the hooks ------------------------------------------------------------ */

/* HASH_MAKE_TABLE zeroes the new UT_hash_table: remember it until its first
 * bucket array is zeroed. (The stack is full only with more than
 * TMK__UTH_PENDING_MAX creations nested inside uthash_malloc; such a table
 * stays unannotated.) */
static inline void tmk__uth_bzero_table(UT_hash_table *tbl, size_t n)
{
    tmk__uth_next_bzero(tbl, n);
    if (tmk__uth_npending < TMK__UTH_PENDING_MAX)
        tmk__uth_pending[tmk__uth_npending++] = tbl;
}

/* A bucket array is zeroed: the first array of a pending table (its
 * tbl->buckets is already set), or a new array during an expansion (that
 * one is announced by uthash_expand_fyi once installed). */
static inline void tmk__uth_bzero_buckets(UT_hash_bucket *buckets, size_t n)
{
    tmk__uth_next_bzero(buckets, n);
    for (unsigned i = tmk__uth_npending; i-- > 0;) {
        UT_hash_table *tbl = tmk__uth_pending[i];
        if (tbl->buckets == buckets) {
            tmk__uth_unpend(tbl);
            tmk__uth_announce(tbl);
            return;
        }
    }
}

/* The table struct is about to be freed; a pending one was never announced. */
static inline void tmk__uth_free_table(UT_hash_table *tbl, size_t sz)
{
    if (!tmk__uth_unpend(tbl))
        tmk_table_end(tbl);
    tmk__uth_next_free(tbl, sz);
}

/* HASH_EXPAND_BUCKETS has installed the doubled array. */
static inline void tmk__uth_expanded(UT_hash_table *tbl)
{
    tmk_table_array(tbl, tbl->buckets, (size_t)tbl->num_buckets * sizeof(UT_hash_bucket),
                    tbl->num_buckets, TMK_ARRAY_GROW);
    tmk__uth_next_expand_fyi(tbl);
}

#undef uthash_bzero
#define uthash_bzero(a, n)                                  \
    _Generic((a),                                           \
        UT_hash_table *: tmk__uth_bzero_table,              \
        UT_hash_bucket *: tmk__uth_bzero_buckets,           \
        default: tmk__uth_next_bzero)((a), (n))

#undef uthash_free
#define uthash_free(ptr, sz)                                \
    _Generic((ptr),                                         \
        UT_hash_table *: tmk__uth_free_table,               \
        default: tmk__uth_next_free)((ptr), (sz))

#undef uthash_expand_fyi
#define uthash_expand_fyi(tbl) tmk__uth_expanded(tbl)

#else /* TIDEMARK_NO_ANNOTATE */

static inline void tmk_uthash_label(const char *label) { (void)label; }

#endif /* TIDEMARK_NO_ANNOTATE */

#endif /* TIDEMARK_UTHASH_H */
