/* tests/preload/tmkcat.c - an independent, strict reader of .tmk traces for
 * the shim's tests (written from docs/trace-format.md, not from the writer).
 *
 *   tmkcat FILE     prints key=value lines: header fields, records per type,
 *                   how the trace ended, and the checks below; exit 0 when the
 *                   file is well formed (a cut-off tail is allowed and reported
 *                   as truncated=1), 1 when it is not, 2 on usage/IO errors.
 *
 * Checks: magics, versions, block sizes, per-thread seq order without gaps,
 * every varint and string inside its block, known record types, every used
 * stack id defined exactly once. Then the threads' records are merged on
 * their times (k-way, stable within a thread) and replayed against a live
 * address set; a reordering shows up as an ALLOC of an address still live
 * (alloc_while_live) or a FREE of an address allocated earlier in the trace
 * but no longer live (free_after_free). Frees of
 * addresses never allocated in the trace (allocations before the shim
 * started) are counted apart (free_unknown). Bucket arrays: array_bytes sums
 * TABLE_ARRAY bytes, array_held the bytes of arrays still live at the end.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tidemark/trace_format.h"

#define MAX_THREADS 4096

struct block {
    const uint8_t *payload;
    uint32_t size;
    uint64_t seq, time_base;
};

struct stream {
    struct block *blocks;
    size_t nblocks, cap;
    size_t cur;              /* block index */
    const uint8_t *p, *end;  /* position in the current block */
    uint64_t time;           /* time of the last timed record */
    uintptr_t last_ptr;
    int done;
};

static struct stream streams[MAX_THREADS + 1];
static unsigned long long rec_count[256];
static int errors;
static const char *first_error;

static void fail(const char *what)
{
    if (!errors++) first_error = what;
}

/* ---- live address set (open addressing, grows) ---------------------------- */

struct entry {
    uint64_t addr;  /* 0 = empty */
    uint64_t bytes; /* array bytes when a bucket array, else 0 */
    uint8_t live, array;
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

/* ---- reading -------------------------------------------------------------- */

static unsigned long long allocs, frees, free_unknown, alloc_while_live, free_after_free;
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

static int next_block(struct stream *s)
{
    if (s->cur >= s->nblocks) {
        s->done = 1;
        return 0;
    }
    struct block *b = &s->blocks[s->cur++];
    s->p = b->payload;
    s->end = b->payload + b->size;
    s->time = b->time_base;
    s->last_ptr = 0;
    return 1;
}

/* Peeks the time the stream's next record has (untimed: current time). */
static int peek_time(struct stream *s, uint64_t *t)
{
    while (!s->done && s->p >= s->end)
        if (!next_block(s)) return 0;
    if (s->done) return 0;
    uint8_t type = *s->p;
    if (type == TMK_REC_STACK || type == TMK_REC_MODULE || type == TMK_REC_MODULE_GONE ||
        type >= TMK_REC_EXTENDED) {
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

static int read_record(struct stream *s)
{
    uint8_t type = *s->p++;
    uint64_t dt = 0, v, a, b;
    int64_t d;
    rec_count[type]++;
    if (type >= TMK_REC_EXTENDED) {
        GET_U(s, v);
        if (v > (uint64_t)(s->end - s->p)) return fail("extended past end"), -1;
        s->p += v;
        return 0;
    }
    if (type != TMK_REC_STACK && type != TMK_REC_MODULE && type != TMK_REC_MODULE_GONE) {
        GET_U(s, dt);
        s->time += dt;
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
            e->live = 1;
            e->array = 0;
        } else {
            frees++;
            struct entry *e = set ? lookup(ptr) : NULL;
            if (!e || !e->addr)
                free_unknown++;
            else if (!e->live)
                free_after_free++;
            else
                e->live = 0;
        }
        return 0;
    }
    case TMK_REC_STACK:
        GET_U(s, v);
        GET_U(s, a);
        if (a > 1024) return fail("stack too deep"), -1;
        if (a > max_depth_seen) max_depth_seen = a;
        for (uint64_t i = 0; i < a; i++)
            if (tmk_get_s(&s->p, s->end, &d)) return fail("varint past block end"), -1;
        define_stack(v);
        return 0;
    case TMK_REC_MODULE:
        for (int i = 0; i < 4; i++) GET_U(s, v);
        modules++;
        if (skip_str(s) || skip_str(s)) return -1;
        return 0;
    case TMK_REC_MODULE_GONE:
        GET_U(s, v);
        modules_gone++;
        return 0;
    case TMK_REC_TABLE_NEW:
        for (int i = 0; i < 9; i++) GET_U(s, v);
        use_stack(v);
        tables_new++;
        return skip_str(s);
    case TMK_REC_TABLE_ARRAY: {
        uint64_t table, ptr, bytes;
        GET_U(s, table);
        GET_U(s, ptr);
        GET_U(s, bytes);
        GET_U(s, a); /* buckets */
        GET_U(s, b); /* reason */
        GET_U(s, v); /* live */
        GET_U(s, v); /* stack */
        use_stack(v);
        arrays++;
        array_bytes += bytes;
        struct entry *e = find_or_add(ptr);
        if (!e->live) fail("TABLE_ARRAY of an address not allocated");
        e->array = 1;
        e->bytes = bytes;
        (void)table;
        return 0;
    }
    case TMK_REC_TABLE_COUNT:
    case TMK_REC_TABLE_END:
        GET_U(s, v);
        GET_U(s, v);
        if (type == TMK_REC_TABLE_END) tables_end++;
        return 0;
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

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tmkcat FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "tmkcat: cannot open %s\n", argv[1]);
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
    if (memcmp(h.magic, TMK_TRACE_MAGIC, 8) || h.version_major != TMK_TRACE_VERSION_MAJOR ||
        h.header_size < TMK_FILE_HEADER_SIZE || h.header_size > size) {
        printf("error=bad file header\n");
        return 1;
    }
    printf("pid=%u\nppid=%u\nflags=%u\nmax_depth=%u\nsample_interval=%" PRIu64 "\n", h.pid,
           h.ppid, h.flags, h.max_depth, h.sample_interval);

    int truncated = 0;
    unsigned max_thread = 0;
    size_t nblocks = 0;
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
        struct stream *s = &streams[bh.thread];
        if (bh.seq != s->nblocks) fail("block seq out of order");
        if (s->nblocks == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->blocks = realloc(s->blocks, s->cap * sizeof *s->blocks);
        }
        s->blocks[s->nblocks++] =
            (struct block){file + off + TMK_BLOCK_HEADER_SIZE, bh.payload_size, bh.seq, bh.time_base};
        if (bh.thread > max_thread) max_thread = bh.thread;
        nblocks++;
        off += TMK_BLOCK_HEADER_SIZE + bh.payload_size;
    }

    /* k-way merge on time; ties go to the lower thread number */
    unsigned nthreads = 0;
    for (unsigned i = 1; i <= max_thread; i++) {
        if (streams[i].nblocks) {
            nthreads++;
            next_block(&streams[i]);
        } else {
            streams[i].done = 1;
        }
    }
    uint64_t prev_time = 0;
    unsigned long long time_backwards = 0;
    for (;;) {
        unsigned best = 0;
        uint64_t best_t = 0;
        for (unsigned i = 1; i <= max_thread; i++) {
            uint64_t t;
            if (streams[i].done || !peek_time(&streams[i], &t)) continue;
            if (!best || t < best_t) {
                best = i;
                best_t = t;
            }
        }
        if (!best) break;
        if (best_t < prev_time) time_backwards++;
        prev_time = best_t;
        /* read a run of records of this thread while it stays the earliest */
        if (read_record(&streams[best]) != 0) {
            streams[best].done = 1;
        }
    }

    unsigned long long undefined = 0;
    for (uint64_t id = 1; id <= max_stack_ref; id++)
        if (id >= stack_cap || !stack_defined[id]) undefined++;
    unsigned long long live_allocs = 0, array_held = 0, arrays_live = 0;
    for (size_t i = 0; set && i <= set_mask; i++) {
        if (!set[i].addr || !set[i].live) continue;
        live_allocs++;
        if (set[i].array) {
            arrays_live++;
            array_held += set[i].bytes;
        }
    }
    static const char *why[] = {"exit", "exec", "signal"};
    printf("blocks=%zu\nthreads=%u\nthread_records=%llu\n", nblocks, nthreads, thread_records);
    printf("allocs=%llu\nfrees=%llu\nfree_unknown=%llu\nlive_allocs=%llu\n", allocs, frees,
           free_unknown, live_allocs);
    printf("alloc_while_live=%llu\nfree_after_free=%llu\ntime_backwards=%llu\n", alloc_while_live,
           free_after_free, time_backwards);
    printf("stacks=%" PRIu64 "\nstack_redefined=%" PRIu64 "\nstacks_undefined=%llu\nmax_depth_seen=%llu\n",
           stacks_defined, stack_redefined, undefined, max_depth_seen);
    printf("modules=%llu\nmodules_gone=%llu\n", modules, modules_gone);
    printf("tables=%llu\ntables_ended=%llu\narrays=%llu\narray_bytes=%llu\narrays_live=%llu\narray_held=%llu\n",
           tables_new, tables_end, arrays, array_bytes, arrays_live, array_held);
    printf("table_counts=%llu\nmemory_samples=%llu\nlast_rss=%" PRIu64 "\nlast_heap=%" PRIu64 "\n",
           rec_count[TMK_REC_TABLE_COUNT], memory_samples, last_rss, last_heap);
    printf("lost=%llu\ntruncated=%d\n", lost, truncated);
    if (has_end)
        printf("end=%s\nend_status=%" PRIu64 "\n", end_why < 3 ? why[end_why] : "unknown",
               end_status);
    else
        printf("end=none\n");
    if (errors) printf("error=%s (%d errors)\n", first_error, errors);
    return errors ? 1 : 0;
}
