/* preload/tables.c - the shim's side of annotate.h: table ids, bucket-array
 * tags, and the live counts the sampler reads.
 *
 * Each annotated table address maps to a record (uthash, arena memory) with
 * its file-wide id (1-based, never reused), where its live count lives, and
 * what TABLE_NEW said (kept so that a forked child can announce the tables
 * it inherited in its own file). All of it is behind one mutex; the events
 * are written into the calling thread's buffer while it is held, so the
 * records of one table appear in the order the events happened.
 *
 * A table may also register a high-water count (tmk_table_peak): whenever
 * the shim writes one of the table's records and finds that count above the
 * last one it wrote, a TABLE_PEAK follows in the same reservation, so it
 * carries the time of that record.
 *
 * The exported API object and its entry points are in hooks.c. What a table
 * says about itself (struct tmk_table_info) is copied up to the size the
 * caller's annotate.h gave it: table_new is what programs built against
 * version 1 call (TMK__TABLE_INFO_SIZE_V1 bytes), table_new_sized what newer
 * ones call with their sizeof. A stated growth rule follows the
 * TABLE_NEW as a TABLE_GROWTH record.
 *
 * Table events are never sampled. In mode=tables, and when byte sampling is
 * on, a bucket array is also entered in ptrset.c (so that its free is
 * recorded) and gets an ALLOC record of its own, unless one was written.
 */
#include <string.h>

#include "internal.h"
#include "ptrmap.h"
#include "real.h"
#include "tidemark/annotate.h"

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) tmk_arena_alloc(sz)
#define uthash_free(ptr, sz) tmk_arena_free(ptr)
#include <uthash.h>

#define LABEL_MAX 256

struct table {
    UT_hash_handle hh;
    const void *addr;
    uint32_t id;
    const void *count;  /* NULL until tmk_table_count */
    unsigned width;     /* 4 or 8 */
    uint64_t last_live; /* last value written in a count record */
    const void *peak;   /* NULL unless tmk_table_peak */
    unsigned peak_width;
    uint64_t last_peak; /* last value written in a TABLE_PEAK record */
    struct tmk_table_info info;
    uint32_t stack;
    uint32_t array_stack; /* stack of its last bucket array (not overflow) */
    char label[LABEL_MAX];
};

static pthread_mutex_t tables_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct table *tables;
static uint32_t next_table_id = 1;

void tmk_tables_lock(void) { pthread_mutex_lock(&tables_mutex); }
void tmk_tables_unlock(void) { pthread_mutex_unlock(&tables_mutex); }

/* Reads a table's 4- or 8-byte counter (0 when none is registered). */
static uint64_t read_counter(const void *at, unsigned width)
{
    if (!at) return 0;
    if (width == 4) return __atomic_load_n((const uint32_t *)at, __ATOMIC_RELAXED);
    return __atomic_load_n((const uint64_t *)at, __ATOMIC_RELAXED);
}

static uint64_t read_live(const struct table *tb) { return read_counter(tb->count, tb->width); }

static int peak_moved(const struct table *tb)
{
    return tb->peak && read_counter(tb->peak, tb->peak_width) > tb->last_peak;
}

/* Appends TABLE_PEAK at p when the table's high-water count rose since the
 * last one written (room: TMK_RECORD_MAX). Returns the new end. */
static uint8_t *put_peak_if_moved(struct table *tb, uint8_t *p)
{
    uint64_t peak = read_counter(tb->peak, tb->peak_width); /* 0 when none */
    if (peak <= tb->last_peak) return p;
    uint8_t body[2 * TMK_VARINT_MAX];
    uint8_t *e = tmk_put_u(tmk_put_u(body, tb->id), peak);
    *p++ = TMK_REC_TABLE_PEAK;
    p = tmk_put_u(p, (uint64_t)(e - body));
    memcpy(p, body, (size_t)(e - body));
    tb->last_peak = peak;
    return p + (e - body);
}

static int states_growth_rule(const struct tmk_table_info *i)
{
    return i->grow_load_num || i->grow_load_den || i->grow_factor || i->min_buckets;
}

/* Appends TABLE_GROWTH (room: TMK_RECORD_MAX). Returns the new end. */
static uint8_t *put_growth_rule(const struct table *tb, uint8_t *p)
{
    uint8_t body[5 * TMK_VARINT_MAX];
    uint8_t *e = tmk_put_u(body, tb->id);
    e = tmk_put_u(e, tb->info.grow_load_num);
    e = tmk_put_u(e, tb->info.grow_load_den);
    e = tmk_put_u(e, tb->info.grow_factor);
    e = tmk_put_u(e, tb->info.min_buckets);
    *p++ = TMK_REC_TABLE_GROWTH;
    p = tmk_put_u(p, (uint64_t)(e - body));
    memcpy(p, body, (size_t)(e - body));
    return p + (e - body);
}

/* TABLE_NEW, and TABLE_GROWTH when the table stated its rule. */
static void put_table_new(struct tmk_thread *t, const struct table *tb)
{
    size_t label_len = strlen(tb->label);
    uint8_t *p = tmk_reserve(t, 16 * TMK_VARINT_MAX + label_len + TMK_RECORD_MAX);
    p = tmk_put_timed(t, p, TMK_REC_TABLE_NEW, tmk_now());
    p = tmk_put_u(p, tb->id);
    p = tmk_put_u(p, tb->info.kind);
    p = tmk_put_u(p, tb->info.flags);
    p = tmk_put_u(p, tb->info.key_size);
    p = tmk_put_u(p, tb->info.value_size);
    p = tmk_put_u(p, tb->info.bucket_size);
    p = tmk_put_u(p, tb->info.slots_per_bucket);
    p = tmk_put_u(p, tb->info.hint);
    p = tmk_put_u(p, tb->stack);
    p = tmk_put_u(p, label_len);
    memcpy(p, tb->label, label_len);
    p += label_len;
    if (states_growth_rule(&tb->info)) p = put_growth_rule(tb, p);
    tmk_publish(t, p);
}

/* TABLE_COUNT or TABLE_END: dt, table, live; then TABLE_PEAK if it moved. */
static void put_table_live(struct tmk_thread *t, uint8_t type, struct table *tb, uint64_t live)
{
    uint8_t *p = tmk_reserve(t, 2 * TMK_RECORD_MAX);
    p = tmk_put_timed(t, p, type, tmk_now());
    p = tmk_put_u(p, tb->id);
    p = tmk_put_u(p, live);
    p = put_peak_if_moved(tb, p);
    tmk_publish(t, p);
    tb->last_live = live;
}

/* Ends the table (mutex held). */
static void table_drop(struct tmk_thread *t, struct table *tb)
{
    put_table_live(t, TMK_REC_TABLE_END, tb, read_live(tb));
    HASH_DEL(tables, tb);
    tmk_arena_free(tb);
}

/* Creates the table's record and writes TABLE_NEW (mutex held). An address
 * still registered means its table was freed without tmk_table_end: that
 * one ends here. Reads info_size bytes of *info at most (the caller's
 * struct may be older and shorter); the members past them are 0. */
static struct table *table_create(struct tmk_thread *t, const void *addr,
                                  const struct tmk_table_info *info, size_t info_size,
                                  uint32_t stack)
{
    struct table *tb;
    HASH_FIND_PTR(tables, &addr, tb);
    if (tb) table_drop(t, tb);
    tb = tmk_arena_alloc(sizeof *tb);
    if (!tb) return NULL;
    tb->addr = addr;
    tb->id = next_table_id++;
    tb->stack = stack;
    if (info) {
        if (info_size > sizeof tb->info) info_size = sizeof tb->info;
        memcpy(&tb->info, info, info_size); /* the arena's memory is zeroed */
        if (info_size >= TMK__TABLE_INFO_SIZE_V1 && info->label) {
            size_t n = strnlen(info->label, LABEL_MAX - 1);
            memcpy(tb->label, info->label, n);
        }
    }
    tb->info.label = NULL;
    HASH_ADD_PTR(tables, addr, tb);
    put_table_new(t, tb);
    return tb;
}

/* ---- the annotation API's calls (hooks.c enters the shim) --------------- */

void tmk_tables_new(struct tmk_thread *t, const void *addr, const struct tmk_table_info *info,
                    size_t info_size)
{
    uint32_t stack = tmk_stack_id(t);
    pthread_mutex_lock(&tables_mutex);
    table_create(t, addr, info, info_size, stack);
    pthread_mutex_unlock(&tables_mutex);
}

/* Where one of the table's counters lives (peak = 0: its live count, 1: its
 * high-water count). Writes the counter's first record. */
void tmk_tables_counter(struct tmk_thread *t, const void *addr, const void *at, unsigned width,
                        int peak)
{
    pthread_mutex_lock(&tables_mutex);
    struct table *tb;
    HASH_FIND_PTR(tables, &addr, tb);
    if (!tb) tb = table_create(t, addr, NULL, 0, 0);
    if (tb && (width == 4 || width == 8) && at) {
        if (peak) {
            tb->peak = at;
            tb->peak_width = width;
            uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
            tmk_publish(t, put_peak_if_moved(tb, p));
        } else {
            tb->count = at;
            tb->width = width;
            put_table_live(t, TMK_REC_TABLE_COUNT, tb, read_live(tb));
        }
    }
    pthread_mutex_unlock(&tables_mutex);
}

void tmk_tables_array(struct tmk_thread *t, const void *addr, const void *array, size_t bytes,
                      size_t buckets, unsigned reason)
{
    /* In tables mode an overflow bucket (allocated one by one, thousands of
     * them in a busy map) is not unwound: it gets the stack of its table's
     * last bucket array (or of the table's creation). Unwinding each one was
     * ~1,200 of the ~2,300 instructions the shim spent per overflow bucket,
     * and the mode is the one meant to cost nothing. */
    int reuse = reason == TMK_ARRAY_OVERFLOW && tmk_opt.mode == TMK_MODE_TABLES;
    uint32_t stack = reuse ? 0 : tmk_stack_id(t);
    pthread_mutex_lock(&tables_mutex);
    struct table *tb;
    HASH_FIND_PTR(tables, &addr, tb);
    if (!tb) tb = table_create(t, addr, NULL, 0, 0);
    if (tb) {
        if (reuse) stack = tb->array_stack ? tb->array_stack : tb->stack;
        else if (reason != TMK_ARRAY_OVERFLOW) tb->array_stack = stack;
        uintptr_t a = (uintptr_t)array;
        uint32_t info_stack = TMK_PTRMAP_BY_ADDRESS, info_size = 0;
        if (tmk_probe_used) tmk_probe_remove(a); /* the table counts itself */
        if (tmk_heap_by_info()) {
            /* its allocation was an ALLOC_INFO: from now on it is known by
             * address, and its free is a FREE of a */
            tmk_ptrmap_by_address(a, &info_stack, &info_size);
            /* heap records stopped at TIDEMARK_MAX_BYTES (bound.c): its
             * allocation was not written; write it by address */
            if (tmk_bound_reached && info_stack == TMK_PTRMAP_BY_ADDRESS)
                tmk_record_alloc(t, (void *)array, bytes, stack);
        } else if (!tmk_ptrset_contains(a)) {
            tmk_ptrset_add(a, tmk_real_usable((void *)array));
            tmk_record_alloc(t, (void *)array, bytes, stack);
        }
        uint64_t live = read_live(tb);
        uint8_t *p = tmk_reserve(t, 3 * TMK_RECORD_MAX); /* ARRAY (up to 102 bytes), PEAK */
        p = tmk_put_timed(t, p, TMK_REC_TABLE_ARRAY, tmk_now());
        p = tmk_put_u(p, tb->id);
        p = tmk_put_u(p, a);
        p = tmk_put_u(p, bytes);
        p = tmk_put_u(p, buckets);
        p = tmk_put_u(p, reason);
        p = tmk_put_u(p, live);
        p = tmk_put_u(p, stack);
        int by_info = info_stack != TMK_PTRMAP_BY_ADDRESS;
        p = tmk_put_u(p, (unsigned)by_info);
        p = tmk_put_u(p, by_info ? info_size : 0);
        p = tmk_put_u(p, by_info ? info_stack : 0);
        p = put_peak_if_moved(tb, p);
        tmk_publish(t, p);
        tb->last_live = live;
    }
    pthread_mutex_unlock(&tables_mutex);
}

void tmk_tables_end(struct tmk_thread *t, const void *addr)
{
    pthread_mutex_lock(&tables_mutex);
    struct table *tb;
    HASH_FIND_PTR(tables, &addr, tb);
    if (tb) table_drop(t, tb);
    pthread_mutex_unlock(&tables_mutex);
}

/* TABLE_COUNT for every table with a count (only those whose count moved
 * since the last record when only_changed). */
void tmk_tables_sample(struct tmk_thread *t, int only_changed)
{
    struct table *tb, *tmp;
    pthread_mutex_lock(&tables_mutex);
    HASH_ITER(hh, tables, tb, tmp) {
        if (!tb->count) continue;
        uint64_t live = read_live(tb);
        if (!only_changed || live != tb->last_live || peak_moved(tb))
            put_table_live(t, TMK_REC_TABLE_COUNT, tb, live);
    }
    pthread_mutex_unlock(&tables_mutex);
}

/* A forked child announces the tables it inherited in its own file, under
 * new ids (t == NULL: the child is not traced). Their arrays allocated
 * before the fork are not repeated. */
void tmk_tables_after_fork_child(struct tmk_thread *t)
{
    pthread_mutex_init(&tables_mutex, NULL);
    next_table_id = 1;
    struct table *tb, *tmp;
    if (!t) return;
    HASH_ITER(hh, tables, tb, tmp) {
        tb->id = next_table_id++;
        tb->stack = 0;
        tb->array_stack = 0;
        tb->last_peak = 0; /* the child's file has not had it */
        put_table_new(t, tb);
        if (tb->count) put_table_live(t, TMK_REC_TABLE_COUNT, tb, read_live(tb));
    }
}
