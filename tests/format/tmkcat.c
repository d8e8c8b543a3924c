/* tests/format/tmkcat.c - an independent, strict reader of .tmk traces for
 * the shim's tests (written from docs/trace-format.md, not from the writer).
 *
 *   tmkcat [-a] [-e] [-s] [-z LO:HI] FILE
 *                   prints key=value lines: header fields, records per type,
 *                   the records' bytes in the largest block (max_block_bytes)
 *                   and how many threads have a block of more than 64 KiB,
 *                   how the trace ended, and the checks below; exit 0 when the
 *                   file is well formed (a cut-off tail is allowed and reported
 *                   as truncated=1), 1 when it is not, 2 on usage/IO errors.
 *                   -a: also one "array ..." line per TABLE_ARRAY, in the
 *                   merged order; -e: one "alloc PTR SIZE" / "free PTR" line
 *                   per heap record, in the merged order (hex pointers);
 *                   -s: "module ID START END PATH" per MODULE, "stack ID
 *                   PC..." per STACK (hex), "salloc THREAD SIZE STACK" per
 *                   ALLOC or ALLOC_INFO, in the merged order;
 *                   -z: sized_allocs / sized_frees count the allocations with
 *                   a size in [LO, HI] and the frees that end them.
 *
 * Checks: magics, versions (majors 1 and 3), block sizes and flags (3.0: a
 * zstd block is one frame stating its content size, at most 64 MiB), 3.1's
 * checksums (the header's, every block's trailer, zstd's in every frame;
 * checked_blocks counts the blocks that had one), per-
 * thread seq order without gaps, every varint and string inside its block,
 * known record types (3.0's only in 3.0, heap by info only in full
 * unsampled mode), every used stack id defined exactly once. Then the
 * threads' records are merged on their times (k-way, stable within a
 * thread) and replayed against a live address set and per-info (size,
 * stack) live counts; a
 * reordering shows up as an ALLOC of an address still live
 * (alloc_while_live), a FREE of an address allocated earlier in the trace
 * but no longer live (free_after_free), or a free by info that no block of
 * its info was live for and that no allocation of its info follows within
 * TMK_TICK_NS (free_before_alloc; 3.0 allows the free first at equal
 * coarse times). allocs/frees count records by address and by info alike
 * (allocs_by_info: ALLOC_INFO only); a TABLE_ARRAY by info moves a live
 * block of its info to its address. Frees of
 * addresses never allocated in the trace (allocations before the shim
 * started) are counted apart (free_unknown). Bucket arrays: array_bytes sums
 * TABLE_ARRAY bytes, array_held the bytes of arrays still live at the end.
 * Per table (table.ID.*, first MAX_TABLES ids): label, arrays by reason,
 * held bytes at the end, the peak of held bytes in the merged order and how
 * much of that peak was not separately allocated overflow buckets.
 * Stacks: frames_outside_modules counts frames of STACK records that no
 * MODULE read before them (merged order) covers.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "tidemark/trace_check.h"
#include "tidemark/trace_format.h"

#define MAX_THREADS (1u << 24) /* thread numbers never reused: a busy server makes many */
#define TMK_ARRAY_OVERFLOW_REASON 5 /* annotate.h: TMK_ARRAY_OVERFLOW */

struct block {
    const uint8_t *payload;
    uint32_t size, flags;
    uint64_t seq, time_base;
};

/* One info (size, stack) of 3.0 and the blocks it has live. */
struct info {
    uint64_t size, stack;
    uint64_t live;            /* allocated, not freed, not moved to an address */
    uint64_t debt;            /* frees read while none was live */
    uint64_t debt_t, debt_t_last; /* times of the oldest and newest debt */
    uint64_t moved;           /* TABLE_ARRAYs read before the allocation they take */
    uint8_t used, sized;
};

struct stream {
    struct block *blocks;
    size_t nblocks, cap;
    size_t cur;              /* block index */
    size_t max_block;        /* bytes of records in its largest block */
    const uint8_t *p, *end;  /* position in the current block */
    uint64_t time;           /* time of the last timed record */
    uintptr_t last_ptr;
    int done;
    uint8_t *inflated;       /* the current block's records when it is a zstd frame */
    size_t inflated_cap;
};

static struct stream *streams; /* [0, streams_cap) */
static size_t streams_cap;
static unsigned long long rec_count[256];
static int errors;
static const char *first_error;

static void fail(const char *what)
{
    if (!errors++) first_error = what;
}

/* A count or end of a table not alive: an error, unless the trace stopped
 * at TIDEMARK_MAX_BYTES (the stop drops the block that would pass the
 * bound, maybe a TABLE_NEW whose counts another thread's blocks kept). */
static unsigned long long orphan_counts;
static int bound_stopped;

/* ---- live address set (open addressing, grows) ---------------------------- */

struct entry {
    uint64_t addr;  /* 0 = empty */
    uint64_t bytes; /* array bytes when a bucket array, else 0 */
    uint32_t table;  /* owning table id when a bucket array */
    uint8_t live, array, overflow, sized;
};
static struct entry *set;
static size_t set_mask, set_used;

static struct entry *lookup(uint64_t a)
{
    size_t i = (size_t)((a * 0x9E3779B97F4A7C15ull) >> 17) & set_mask;
    while (set[i].addr && set[i].addr != a) i = (i + 1) & set_mask;
    return &set[i];
}

static struct entry *find_or_add(uint64_t a)
{
    if ((set_used + 1) * 2 > set_mask + 1) {
        struct entry *old = set;
        size_t old_n = set ? set_mask + 1 : 0;
        size_t n = old_n ? old_n * 2 : 1 << 16;
        set = calloc(n, sizeof *set);
        if (!set) {
            fprintf(stderr, "tmkcat: out of memory\n");
            exit(2);
        }
        set_mask = n - 1;
        for (size_t i = 0; i < old_n; i++)
            if (old[i].addr) *lookup(old[i].addr) = old[i];
        free(old);
    }
    struct entry *e = lookup(a);
    if (!e->addr) {
        e->addr = a;
        set_used++;
    }
    return e;
}

/* ---- stack ids ------------------------------------------------------------ */

static uint8_t *stack_defined;
static size_t stack_cap;
static uint64_t max_stack_ref, stacks_defined, stack_redefined;

static void define_stack(uint64_t id)
{
    if (id == 0 || id > (1u << 30)) {
        fail("bad stack id");
        return;
    }
    if (id >= stack_cap) {
        size_t n = stack_cap ? stack_cap : 1024;
        while (n <= id) n *= 2;
        stack_defined = realloc(stack_defined, n);
        memset(stack_defined + stack_cap, 0, n - stack_cap);
        stack_cap = n;
    }
    if (stack_defined[id]) stack_redefined++;
    stack_defined[id] = 1;
    stacks_defined++;
}

static void use_stack(uint64_t id)
{
    if (id > max_stack_ref) max_stack_ref = id;
}

/* ---- tables ------------------------------------------------------------- */

#define MAX_TABLES 64
#define REASONS 6

struct table {
    int seen;
    char label[64];
    unsigned long long arrays[REASONS + 1]; /* by reason; [REASONS] = unknown */
    unsigned long long held, held_arrays, peak_held, peak_held_arrays, last_buckets, last_live;
    int ended;
};
static struct table tables[MAX_TABLES + 1];

static struct table *table_of(uint64_t id)
{
    return id >= 1 && id <= MAX_TABLES ? &tables[id] : NULL;
}

/* An array of table t was freed or superseded. */
static void array_gone(struct entry *e)
{
    struct table *tb = table_of(e->table);
    if (tb) {
        tb->held -= e->bytes;
        if (!e->overflow) tb->held_arrays -= e->bytes;
    }
    e->array = 0;
}

/* ---- modules --------------------------------------------------------------- */

#define MAX_MODULES 4096

struct module {
    uint64_t id, start, end;
    int live;
};
static struct module mods[MAX_MODULES];
static size_t nmods;
static unsigned long long frames_outside_modules;

static int in_some_module(uint64_t pc)
{
    for (size_t i = 0; i < nmods; i++)
        if (mods[i].live && pc >= mods[i].start && pc < mods[i].end) return 1;
    return 0;
}

static int opt_arrays, opt_events, opt_stacks;
static int v3;              /* major 3: 3.0's records and block flags */
static int checked;         /* 3.1: checksums */
static int heap_by_info_ok; /* full mode, not sampled */
static uint64_t size_lo = 1, size_hi = 0; /* -z LO:HI */
static unsigned long long sized_allocs, sized_frees;

/* ---- reading -------------------------------------------------------------- */

static unsigned long long allocs, frees, free_unknown, alloc_while_live, free_after_free;
static unsigned long long allocs_by_info, free_before_alloc, ticks;
static unsigned long long lost, arrays, array_bytes, tables_new, tables_end, memory_samples;
static unsigned long long max_depth_seen, modules, modules_gone, thread_records;
static uint64_t last_rss, last_heap, end_why = 99, end_status;
static int has_end;

#define GET_U(s, v)                                                                           \
    do {                                                                                      \
        if (tmk_get_u(&(s)->p, (s)->end, &(v))) {                                             \
            fail("varint past block end");                                                   \
            return -1;                                                                        \
        }                                                                                     \
    } while (0)

static int skip_str(struct stream *s)
{
    uint64_t len;
    GET_U(s, len);
    if (len > (uint64_t)(s->end - s->p)) {
        fail("string past block end");
        return -1;
    }
    s->p += len;
    return 0;
}

/* The records of a zstd block, decompressed into s->inflated; their end in
 * *end. NULL (failed) when the frame is not what 3.0 allows. */
static const uint8_t *inflate(struct stream *s, const struct block *b, const uint8_t **end)
{
    unsigned long long n = ZSTD_getFrameContentSize(b->payload, b->size);
    size_t whole = ZSTD_findFrameCompressedSize(b->payload, b->size);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN ||
        n > TMK_BLOCK_MAX_PAYLOAD || ZSTD_isError(whole) || whole != b->size) {
        fail("zstd block: not one frame stating a content size of at most 64 MiB");
        return NULL;
    }
    /* Frame_Header_Descriptor (after the 4-byte magic): bit 2, Content_Checksum_flag */
    if (checked && !(b->size > 4 && (b->payload[4] & 0x04))) {
        fail("zstd block of a 3.1 trace without zstd's checksum");
        return NULL;
    }
    if (n > s->inflated_cap || !s->inflated) {
        free(s->inflated);
        s->inflated_cap = n ? (size_t)n : 1;
        if (!(s->inflated = malloc(s->inflated_cap))) {
            fprintf(stderr, "tmkcat: out of memory\n");
            exit(2);
        }
    }
    size_t got = ZSTD_decompress(s->inflated, (size_t)n, b->payload, b->size);
    if (ZSTD_isError(got) || got != n) {
        fail("zstd block does not decompress to its content size");
        return NULL;
    }
    *end = s->inflated + n;
    return s->inflated;
}

static int next_block(struct stream *s)
{
    if (s->cur >= s->nblocks) {
        s->done = 1;
        free(s->inflated);
        s->inflated = NULL;
        return 0;
    }
    struct block *b = &s->blocks[s->cur++];
    s->p = b->payload;
    s->end = b->payload + b->size;
    if (b->flags & TMK_BLOCK_ZSTD) {
        s->p = inflate(s, b, &s->end);
        if (!s->p) s->end = NULL; /* no records */
    }
    if (s->p && (size_t)(s->end - s->p) > s->max_block) s->max_block = (size_t)(s->end - s->p);
    s->time = b->time_base;
    s->last_ptr = 0;
    return 1;
}

/* Types without dt. */
static int untimed(uint8_t type)
{
    return type == TMK_REC_STACK || type == TMK_REC_MODULE || type == TMK_REC_MODULE_GONE ||
           (v3 && tmk_is_by_info(tmk_record_type_of(type))) ||
           type >= TMK_REC_EXTENDED;
}

/* Peeks the time the stream's next record has (untimed: current time). */
static int peek_time(struct stream *s, uint64_t *t)
{
    while (!s->done && s->p >= s->end)
        if (!next_block(s)) return 0;
    if (s->done) return 0;
    uint8_t type = *s->p;
    if (untimed(type)) {
        *t = s->time;
        return 1;
    }
    const uint8_t *q = s->p + 1;
    uint64_t dt;
    if (tmk_get_u(&q, s->end, &dt)) {
        fail("varint past block end");
        s->done = 1;
        return 0;
    }
    *t = s->time + dt;
    return 1;
}

/* ---- 3.0: the heap by info ------------------------------------------------ */

/* The infos met, by (size, stack): open addressing, grown at half load. */
static struct info *infos;
static size_t infos_mask, infos_used;

static size_t info_home(uint64_t size, uint64_t stack, size_t mask)
{
    return (size_t)(((size * 0x9E3779B97F4A7C15ull) ^ (stack * 0xC2B2AE3D27D4EB4Full)) >> 32) &
           mask;
}

static struct info *info_slot(struct info *tab, size_t mask, uint64_t size, uint64_t stack)
{
    size_t i = info_home(size, stack, mask);
    while (tab[i].used && (tab[i].size != size || tab[i].stack != stack)) i = (i + 1) & mask;
    return &tab[i];
}

static void *calloc_or_die(size_t n, size_t each)
{
    void *p = calloc(n, each);
    if (!p) {
        fprintf(stderr, "tmkcat: out of memory\n");
        exit(2);
    }
    return p;
}

/* The info (size, stack), made when new. */
static struct info *info_of(uint64_t size, uint64_t stack)
{
    if (2 * (infos_used + 1) > (infos ? infos_mask + 1 : 0)) {
        size_t cap = infos ? 2 * (infos_mask + 1) : 1024;
        struct info *tab = calloc_or_die(cap, sizeof *tab);
        for (size_t i = 0; infos && i <= infos_mask; i++)
            if (infos[i].used) *info_slot(tab, cap - 1, infos[i].size, infos[i].stack) = infos[i];
        free(infos);
        infos = tab;
        infos_mask = cap - 1;
    }
    struct info *in = info_slot(infos, infos_mask, size, stack);
    if (!in->used) {
        in->used = 1;
        in->size = size;
        in->stack = stack;
        in->sized = size >= size_lo && size <= size_hi;
        infos_used++;
    }
    return in;
}

/* A TABLE_ARRAY by info: one block of the info is known by e's address
 * from now on. */
static void move_to_address(uint64_t size, uint64_t stack, struct entry *e)
{
    struct info *in = info_of(size, stack);
    if (e->live) alloc_while_live++;
    if (in->live) in->live--;
    else in->moved++; /* its ALLOC_INFO comes later (equal times) */
    e->live = 1;
    e->sized = in->sized;
}

static void alloc_by_info(const struct stream *s, struct info *in)
{
    allocs++;
    allocs_by_info++;
    sized_allocs += in->sized;
    if (in->moved) { /* a TABLE_ARRAY took it already */
        in->moved--;
    } else if (in->debt) { /* its free came first: within a tick, or out of order */
        if (s->time - in->debt_t >= TMK_TICK_NS) free_before_alloc++;
        in->debt--;
        in->debt_t = in->debt_t_last;
        sized_frees += in->sized;
    } else {
        in->live++;
    }
}

static void free_by_info(const struct stream *s, struct info *in)
{
    frees++;
    if (in->live) {
        in->live--;
        sized_frees += in->sized;
        return;
    }
    if (!in->debt) in->debt_t = s->time;
    in->debt_t_last = s->time;
    in->debt++;
}

static int read_by_info(struct stream *s, uint8_t byte)
{
    uint8_t type = tmk_record_type_of(byte);
    if (!heap_by_info_ok) return fail("heap record by info outside full unsampled mode"), -1;
    uint64_t thread = (uint64_t)(s - streams), stack, high;
    GET_U(s, stack);
    GET_U(s, high);
    if (stack > UINT32_MAX || high >= TMK_INFO_SIZE_LIMIT >> TMK_INFO_TYPE_BITS)
        return fail("heap record by info of a size or stack beyond 32 bits"), -1;
    uint64_t size = tmk_info_size_of(byte, high);
    use_stack(stack);
    struct info *in = info_of(size, stack);
    if (type == TMK_REC_ALLOC_INFO) {
        if (opt_events)
            printf("alloc info=%" PRIu64 "@%" PRIu64 " %" PRIu64 "\n", size, stack, size);
        if (opt_stacks) printf("salloc %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", thread, size, stack);
        alloc_by_info(s, in);
    } else {
        if (opt_events) printf("free info=%" PRIu64 "@%" PRIu64 "\n", size, stack);
        free_by_info(s, in);
    }
    return 0;
}

/* After the merge: what the infos left; their live blocks into *live. */
static void infos_at_end(unsigned long long *live)
{
    for (size_t i = 0; infos && i <= infos_mask; i++) {
        const struct info *in = &infos[i];
        *live += in->live;
        free_before_alloc += in->debt; /* frees whose block never came */
        if (in->moved) fail("TABLE_ARRAY by info whose allocation never came");
    }
    free(infos);
}

static int read_record(struct stream *s)
{
    uint8_t byte = *s->p++, type = v3 ? tmk_record_type_of(byte) : byte;
    uint64_t dt = 0, v, a, b;
    int64_t d;
    rec_count[type]++;
    if (type >= TMK_REC_EXTENDED) {
        GET_U(s, v);
        if (v > (uint64_t)(s->end - s->p)) return fail("extended past end"), -1;
        const uint8_t *q = s->p;
        uint64_t what;
        if (type == TMK_REC_BOUND && tmk_get_u(&q, s->p + v, &what) == 0 && what == TMK_BOUND_STOP)
            bound_stopped = 1;
        s->p += v;
        return 0;
    }
    if (!untimed(type)) {
        GET_U(s, dt);
        s->time += dt;
    }
    if (v3 && tmk_is_by_info(type)) return read_by_info(s, byte);
    if (v3 && type == TMK_REC_TICK) {
        ticks++;
        return 0;
    }
    switch (type) {
    case TMK_REC_ALLOC:
    case TMK_REC_FREE: {
        if (tmk_get_s(&s->p, s->end, &d)) return fail("varint past block end"), -1;
        uintptr_t ptr = s->last_ptr + (uintptr_t)d;
        s->last_ptr = ptr;
        if (type == TMK_REC_ALLOC) {
            GET_U(s, v); /* size */
            GET_U(s, a); /* stack */
            use_stack(a);
            allocs++;
            struct entry *e = find_or_add(ptr);
            if (e->live) alloc_while_live++;
            if (e->array) array_gone(e);
            e->live = 1;
            e->sized = v >= size_lo && v <= size_hi;
            sized_allocs += e->sized;
            if (opt_events) printf("alloc %#" PRIxPTR " %" PRIu64 "\n", ptr, v);
            if (opt_stacks)
                printf("salloc %u %" PRIu64 " %" PRIu64 "\n", (unsigned)(s - streams), v, a);
        } else {
            frees++;
            if (opt_events) printf("free %#" PRIxPTR "\n", ptr);
            struct entry *e = set ? lookup(ptr) : NULL;
            if (!e || !e->addr) {
                free_unknown++;
            } else if (!e->live) {
                free_after_free++;
            } else {
                e->live = 0;
                sized_frees += e->sized;
                if (e->array) array_gone(e);
            }
        }
        return 0;
    }
    case TMK_REC_STACK:
        GET_U(s, v);
        GET_U(s, a);
        if (a > 1024) return fail("stack too deep"), -1;
        if (a > max_depth_seen) max_depth_seen = a;
        {
            uint64_t pc = 0;
            if (opt_stacks) printf("stack %" PRIu64, v);
            for (uint64_t i = 0; i < a; i++) {
                if (tmk_get_s(&s->p, s->end, &d)) return fail("varint past block end"), -1;
                pc += (uint64_t)d;
                if (!in_some_module(pc)) frames_outside_modules++;
                if (opt_stacks) printf(" %#" PRIx64, pc);
            }
            if (opt_stacks) printf("\n");
        }
        define_stack(v);
        return 0;
    case TMK_REC_MODULE: {
        uint64_t f[4];
        for (int i = 0; i < 4; i++) GET_U(s, f[i]);
        modules++;
        if (nmods < MAX_MODULES) mods[nmods++] = (struct module){f[0], f[2], f[3], 1};
        if (skip_str(s)) return -1; /* build id */
        const uint8_t *path = s->p;
        if (skip_str(s)) return -1;
        if (opt_stacks) {
            uint64_t len = 0;
            tmk_get_u(&path, s->p, &len);
            printf("module %" PRIu64 " %#" PRIx64 " %#" PRIx64 " %.*s\n", f[0], f[2], f[3], (int)len,
                   (const char *)path);
        }
        return 0;
    }
    case TMK_REC_MODULE_GONE:
        GET_U(s, v);
        modules_gone++;
        for (size_t i = 0; i < nmods; i++)
            if (mods[i].id == v) mods[i].live = 0;
        return 0;
    case TMK_REC_TABLE_NEW: {
        uint64_t id;
        GET_U(s, id);
        for (int i = 0; i < 8; i++) GET_U(s, v);
        use_stack(v);
        tables_new++;
        uint64_t len;
        GET_U(s, len);
        if (len > (uint64_t)(s->end - s->p)) return fail("string past block end"), -1;
        struct table *tb = table_of(id);
        if (tb) {
            if (tb->seen) fail("table id reused");
            tb->seen = 1;
            size_t n = len < sizeof tb->label - 1 ? (size_t)len : sizeof tb->label - 1;
            memcpy(tb->label, s->p, n);
        }
        s->p += len;
        return 0;
    }
    case TMK_REC_TABLE_ARRAY: {
        uint64_t table, ptr, bytes;
        GET_U(s, table);
        GET_U(s, ptr);
        GET_U(s, bytes);
        GET_U(s, a); /* buckets */
        GET_U(s, b); /* reason */
        uint64_t live;
        GET_U(s, live);
        GET_U(s, v); /* stack */
        use_stack(v);
        uint64_t by_info = 0, info_size = 0, info_stack = 0;
        if (v3) {
            GET_U(s, by_info);
            GET_U(s, info_size);
            GET_U(s, info_stack);
            if (by_info > 1 || (!by_info && (info_size || info_stack)))
                return fail("TABLE_ARRAY: bad by_info fields"), -1;
        }
        if (table_of(table)) table_of(table)->last_live = live;
        v = live;
        arrays++;
        array_bytes += bytes;
        struct entry *e = find_or_add(ptr);
        if (by_info) move_to_address(info_size, info_stack, e);
        else if (!e->live) fail("TABLE_ARRAY of an address not allocated");
        if (e->array) array_gone(e);
        struct table *tb = table_of(table);
        if (tb && !tb->seen) fail("TABLE_ARRAY of a table not created");
        e->array = 1;
        e->bytes = bytes;
        e->table = (uint32_t)table;
        e->overflow = b == TMK_ARRAY_OVERFLOW_REASON;
        if (tb) {
            tb->arrays[b < REASONS ? b : REASONS]++;
            tb->held += bytes;
            if (!e->overflow) {
                tb->held_arrays += bytes;
                tb->last_buckets = a;
            }
            if (tb->held > tb->peak_held) {
                tb->peak_held = tb->held;
                tb->peak_held_arrays = tb->held_arrays;
            }
        }
        if (opt_arrays)
            printf("array table=%" PRIu64 " bytes=%" PRIu64 " buckets=%" PRIu64 " reason=%" PRIu64
                   " live=%" PRIu64 "\n", table, bytes, a, b, v);
        return 0;
    }
    case TMK_REC_TABLE_COUNT:
    case TMK_REC_TABLE_END: {
        uint64_t id;
        GET_U(s, id);
        GET_U(s, v);
        struct table *tb = table_of(id);
        if (tb) {
            if (!tb->seen || tb->ended) orphan_counts++;
            tb->last_live = v;
            if (type == TMK_REC_TABLE_END) tb->ended = 1;
        }
        if (type == TMK_REC_TABLE_END) tables_end++;
        return 0;
    }
    case TMK_REC_MEMORY:
        GET_U(s, last_rss);
        GET_U(s, last_heap);
        memory_samples++;
        return 0;
    case TMK_REC_THREAD:
        GET_U(s, v);
        thread_records++;
        return skip_str(s);
    case TMK_REC_LOST:
        GET_U(s, v);
        lost += v;
        return 0;
    case TMK_REC_END:
        GET_U(s, end_why);
        GET_U(s, end_status);
        has_end = 1;
        return 0;
    default:
        fail("unknown record type");
        return -1;
    }
}

/* ---- merge heap ----------------------------------------------------------- */

struct heap_item {
    uint64_t time;
    unsigned thread;
};

static int heap_less(struct heap_item a, struct heap_item b)
{
    return a.time < b.time || (a.time == b.time && a.thread < b.thread);
}

static void heap_down(struct heap_item *h, unsigned n, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(h[l], h[m])) m = l;
        if (r < n && heap_less(h[r], h[m])) m = r;
        if (m == i) return;
        struct heap_item tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

static void heap_push(struct heap_item *h, unsigned *n, struct heap_item it)
{
    unsigned i = (*n)++;
    h[i] = it;
    while (i && heap_less(h[i], h[(i - 1) / 2])) {
        struct heap_item tmp = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

int main(int argc, char **argv)
{
    int argi = 1;
    for (; argi < argc && argv[argi][0] == '-' && argv[argi][1]; argi++) {
        if (!strcmp(argv[argi], "-a"))
            opt_arrays = 1;
        else if (!strcmp(argv[argi], "-e"))
            opt_events = 1;
        else if (!strcmp(argv[argi], "-s"))
            opt_stacks = 1;
        else if (!strcmp(argv[argi], "-z") && argi + 1 < argc &&
                 sscanf(argv[argi + 1], "%" SCNu64 ":%" SCNu64, &size_lo, &size_hi) == 2)
            argi++;
        else
            break;
    }
    if (argc - argi != 1) {
        fprintf(stderr, "usage: tmkcat [-a] [-e] [-s] [-z LO:HI] FILE\n");
        return 2;
    }
    const char *path = argv[argi];
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "tmkcat: cannot open %s\n", path);
        return 2;
    }
    size_t size = (size_t)st.st_size;
    if (size < TMK_FILE_HEADER_SIZE) {
        printf("error=file shorter than its header\n");
        return 1;
    }
    const uint8_t *file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED) return 2;
    struct tmk_file_header h;
    tmk_file_header_decode(&h, file);
    if (memcmp(h.magic, TMK_TRACE_MAGIC, 8) || h.version_major < TMK_TRACE_VERSION_MAJOR_OLDEST ||
        h.version_major > TMK_TRACE_VERSION_MAJOR ||
        h.version_major == TMK_TRACE_VERSION_MAJOR_DROPPED || h.header_size < TMK_FILE_HEADER_SIZE ||
        h.header_size > size) {
        printf("error=bad file header\n");
        return 1;
    }
    v3 = h.version_major >= 3;
    checked = tmk_trace_checksummed(h.version_major, h.version_minor);
    if (checked ? h.check != tmk_header_check(file) : h.check != 0) {
        printf("error=file header checksum\n");
        return 1;
    }
    heap_by_info_ok = !(h.flags & (TMK_FILE_MODE_TABLES | TMK_FILE_SAMPLED));
    printf("pid=%u\nppid=%u\nflags=%u\nmax_depth=%u\nsample_interval=%" PRIu64 "\n", h.pid,
           h.ppid, h.flags, h.max_depth, h.sample_interval);

    int truncated = 0;
    unsigned max_thread = 0;
    size_t nblocks = 0, zstd_blocks = 0, checked_blocks = 0;
    for (size_t off = h.header_size; off < size;) {
        if (size - off < TMK_BLOCK_HEADER_SIZE) {
            truncated = 1;
            break;
        }
        struct tmk_block_header bh;
        tmk_block_header_decode(&bh, file + off);
        if (bh.magic != TMK_BLOCK_MAGIC || bh.payload_size > TMK_BLOCK_MAX_PAYLOAD ||
            bh.thread == 0 || bh.thread > MAX_THREADS) {
            fail("bad block header");
            break;
        }
        if (bh.payload_size > size - off - TMK_BLOCK_HEADER_SIZE) {
            truncated = 1;
            break;
        }
        uint32_t stored = bh.payload_size;
        if (bh.flags & ~(v3 ? TMK_BLOCK_ZSTD | (checked ? TMK_BLOCK_CHECKSUM : 0) : 0u))
            fail("unknown block flags");
        if (checked) { /* the trailer: XXH3-64 of the block's bytes before it */
            if (!(bh.flags & TMK_BLOCK_CHECKSUM) || stored < TMK_BLOCK_CHECK_SIZE) {
                fail("3.1 block without its checksum");
                stored = 0;
            } else {
                stored -= TMK_BLOCK_CHECK_SIZE;
                if (XXH3_64bits(file + off, TMK_BLOCK_HEADER_SIZE + stored) !=
                    tmk_get_le64(file + off + TMK_BLOCK_HEADER_SIZE + stored))
                    fail("block checksum mismatch");
                checked_blocks++;
            }
        }
        if (bh.thread >= streams_cap) {
            size_t n = streams_cap ? streams_cap : 64;
            while (n <= bh.thread) n *= 2;
            streams = realloc(streams, n * sizeof *streams);
            if (!streams) {
                fprintf(stderr, "tmkcat: out of memory\n");
                return 2;
            }
            memset(streams + streams_cap, 0, (n - streams_cap) * sizeof *streams);
            streams_cap = n;
        }
        struct stream *s = &streams[bh.thread];
        if (bh.seq != s->nblocks) fail("block seq out of order");
        if (s->nblocks == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->blocks = realloc(s->blocks, s->cap * sizeof *s->blocks);
        }
        s->blocks[s->nblocks++] = (struct block){file + off + TMK_BLOCK_HEADER_SIZE,
                                                 stored, bh.flags & TMK_BLOCK_ZSTD,
                                                 bh.seq, bh.time_base};
        if (bh.thread > max_thread) max_thread = bh.thread;
        nblocks++;
        zstd_blocks += (bh.flags & TMK_BLOCK_ZSTD) != 0;
        off += TMK_BLOCK_HEADER_SIZE + bh.payload_size;
    }

    /* k-way merge on time (a binary heap of the threads' next records);
     * ties go to the lower thread number */
    unsigned nthreads = 0, nheap = 0;
    struct heap_item *heap = malloc((max_thread + 1) * sizeof *heap);
    if (!heap) return 2;
    for (unsigned i = 1; i <= max_thread; i++) {
        if (streams[i].nblocks) {
            nthreads++;
            next_block(&streams[i]);
            uint64_t t;
            if (peek_time(&streams[i], &t)) heap_push(heap, &nheap, (struct heap_item){t, i});
        } else {
            streams[i].done = 1;
        }
    }
    uint64_t prev_time = 0;
    unsigned long long time_backwards = 0;
    while (nheap) {
        struct heap_item top = heap[0];
        if (top.time < prev_time) time_backwards++;
        prev_time = top.time;
        struct stream *st = &streams[top.thread];
        uint64_t t;
        if (read_record(st) != 0) st->done = 1;
        if (!st->done && peek_time(st, &t)) {
            heap[0] = (struct heap_item){t, top.thread};
            heap_down(heap, nheap, 0);
        } else {
            heap[0] = heap[--nheap];
            heap_down(heap, nheap, 0);
        }
    }

    unsigned long long undefined = 0;
    for (uint64_t id = 1; id <= max_stack_ref; id++)
        if (id >= stack_cap || !stack_defined[id]) undefined++;
    unsigned long long live_allocs = 0, array_held = 0, arrays_live = 0;
    infos_at_end(&live_allocs);
    for (size_t i = 0; set && i <= set_mask; i++) {
        if (!set[i].addr || !set[i].live) continue;
        live_allocs++;
        if (set[i].array) {
            arrays_live++;
            array_held += set[i].bytes;
        }
    }
    size_t max_block = 0;
    unsigned threads_over_64k = 0; /* threads with a block of more than 64 KiB of records */
    for (unsigned i = 1; i <= max_thread; i++) {
        if (streams[i].max_block > max_block) max_block = streams[i].max_block;
        threads_over_64k += streams[i].max_block > (64u << 10);
    }
    static const char *why[] = {"exit", "exec", "signal"};
    printf("blocks=%zu\nzstd_blocks=%zu\nchecked_blocks=%zu\nthreads=%u\nthread_records=%llu\n",
           nblocks, zstd_blocks, checked_blocks, nthreads, thread_records);
    printf("max_block_bytes=%zu\nthreads_over_64k=%u\n", max_block, threads_over_64k);
    printf("allocs=%llu\nfrees=%llu\nfree_unknown=%llu\nlive_allocs=%llu\n", allocs, frees,
           free_unknown, live_allocs);
    printf("alloc_while_live=%llu\nfree_after_free=%llu\ntime_backwards=%llu\n", alloc_while_live,
           free_after_free, time_backwards);
    printf("allocs_by_info=%llu\nfree_before_alloc=%llu\nticks=%llu\n", allocs_by_info,
           free_before_alloc, ticks);
    printf("stacks=%" PRIu64 "\nstack_redefined=%" PRIu64 "\nstacks_undefined=%llu\nmax_depth_seen=%llu\n",
           stacks_defined, stack_redefined, undefined, max_depth_seen);
    printf("modules=%llu\nmodules_gone=%llu\n", modules, modules_gone);
    printf("tables=%llu\ntables_ended=%llu\narrays=%llu\narray_bytes=%llu\narrays_live=%llu\narray_held=%llu\n",
           tables_new, tables_end, arrays, array_bytes, arrays_live, array_held);
    printf("table_counts=%llu\nmemory_samples=%llu\nlast_rss=%" PRIu64 "\nlast_heap=%" PRIu64 "\n",
           rec_count[TMK_REC_TABLE_COUNT], memory_samples, last_rss, last_heap);
    printf("frames_outside_modules=%llu\n", frames_outside_modules);
    if (size_lo <= size_hi) printf("sized_allocs=%llu\nsized_frees=%llu\n", sized_allocs, sized_frees);
    for (unsigned i = 1; i <= MAX_TABLES; i++) {
        struct table *tb = &tables[i];
        if (!tb->seen) continue;
        printf("table.%u.label=%s\ntable.%u.arrays=", i, tb->label, i);
        for (int r = 0; r <= REASONS; r++) printf("%s%llu", r ? "," : "", tb->arrays[r]);
        printf("\ntable.%u.buckets=%llu\ntable.%u.held=%llu\ntable.%u.peak_held=%llu\n"
               "table.%u.peak_held_arrays=%llu\ntable.%u.live=%llu\ntable.%u.ended=%d\n",
               i, tb->last_buckets, i, tb->held, i, tb->peak_held, i, tb->peak_held_arrays, i,
               tb->last_live, i, tb->ended);
    }
    printf("lost=%llu\ntruncated=%d\n", lost, truncated);
    if (has_end)
        printf("end=%s\nend_status=%" PRIu64 "\n", end_why < 3 ? why[end_why] : "unknown",
               end_status);
    else
        printf("end=none\n");
    if (orphan_counts && !bound_stopped)
        for (unsigned long long k = 0; k < orphan_counts; k++) fail("count or end of a table not alive");
    if (errors) printf("error=%s (%d errors)\n", first_error, errors);
    return errors ? 1 : 0;
}
