/* analyzer/read/reader.c - the .tmk reader: header validation, block index, and
 * the per-thread merge of record streams by time (see reader.h).
 *
 * Invariants:
 *  - every loop advances through the input or ends: a decode never consumes
 *    zero bytes without stopping its block, so no input can hang it;
 *  - nothing is read past a block's payload: every length from the file is
 *    checked against the bytes that remain before it is used;
 *  - memory: the index (one small entry per block) + per thread whose
 *    block the merge has reached, that block's records, at most
 *    TMK_RECORD_LIMIT whole or a window of a larger block (reader_block.c);
 *    a block is loaded when the merge reaches its time_base and the buffers
 *    go with the thread's last block;
 *  - records are handed on as the file has them (3.x's heap by info too:
 *    model/heap.c counts it).
 *
 * One file, over the usual size, on purpose: the merge loop inlines the
 * decoder's ALLOC/FREE fast path (most of `tidemark report`'s time), which a
 * split into two translation units would lose.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "liveness.h"
#include "reader_block.h"
#include "tidemark/trace_check.h"

#define MAX_WARNINGS 20
#define MAX_HEADER_SIZE (1u << 20)
/* The type of a parked cursor's key (never a record's: 0x00 is no type). */
#define REC_PENDING 0x00

struct cursor {
    size_t first, n, next; /* blocks index[first .. first+n), next to load */
    uint32_t thread;
    struct blk blk;        /* the block being decoded: p .. end lie in its window */
    const uint8_t *p, *end;
    uint64_t seq;          /* of the block being decoded */
    uint64_t off;          /* of its header in the file, for warnings */
    uint64_t t, ptr;       /* running time and pointer of the block */
    uint64_t *frames;
    size_t frames_cap;
    int v3;                /* major >= 3: TICK, ALLOC_INFO, FREE_INFO, TABLE_ARRAY's info */
    int has;               /* rec holds the next record, or the key of a parked cursor */
    int parked;            /* its next block is not loaded: rec.t is that block's time_base */
    struct tm_record rec;
};

struct tm_reader {
    int fd;                /* -1 for memory input */
    const uint8_t *mem;
    uint64_t size;
    struct tmk_file_header hdr;
    struct block_ix *ix;
    size_t nix;
    struct cursor *cur;
    size_t ncur;
    size_t *heap;
    size_t nheap;
    int truncated, saw_end;
    uint32_t end_thread;   /* the thread whose END (or stop) saw_end is */
    int live;              /* the process is still writing the file (liveness.c) */
    uint64_t indexed_end;  /* where indexing stopped: the next block's offset */
    int index_stuck;       /* a bad block header: nothing after it is read */
    char **warn;
    size_t nwarn;
    uint64_t suppressed;
    struct blk_shared blk; /* what the cursors' blocks share */
    int ran;               /* tm_reader_run or _run_until read to the end */
};

/* ---- small helpers ------------------------------------------------------ */

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static void push_line(struct tm_reader *r, const char *line)
{
    char **w = realloc(r->warn, (r->nwarn + 1) * sizeof *w);
    if (!w) return;
    r->warn = w;
    if ((w[r->nwarn] = strdup(line))) r->nwarn++;
}

/* Records a problem with the input: the trace counts as truncated. */
static void warn(struct tm_reader *r, const char *fmt, ...)
{
    r->truncated = 1;
    if (r->nwarn >= MAX_WARNINGS) {
        r->suppressed++;
        return;
    }
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    push_line(r, line);
}

/* Reads len bytes at off into dst; returns bytes read (short at EOF). */
static size_t read_at(const struct tm_reader *r, uint64_t off, void *dst, size_t len)
{
    if (off >= r->size) return 0;
    if (len > r->size - off) len = (size_t)(r->size - off);
    return blk_read(&r->blk, off, dst, len);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* ---- header and index ---------------------------------------------------- */

static int check_header(struct tm_reader *r, char *err, size_t errlen)
{
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    size_t got = read_at(r, 0, raw, sizeof raw);
    if (r->size == 0) {
        set_err(err, errlen, "empty file, not a tidemark trace");
        return -1;
    }
    size_t cmp = got < TMK_TRACE_MAGIC_LEN ? got : TMK_TRACE_MAGIC_LEN;
    if (memcmp(raw, TMK_TRACE_MAGIC, cmp) != 0) {
        set_err(err, errlen, "not a tidemark trace (bad magic)");
        return -1;
    }
    if (got < TMK_FILE_HEADER_SIZE) {
        set_err(err, errlen, "trace header cut off (%zu of %d bytes)", got, TMK_FILE_HEADER_SIZE);
        return -1;
    }
    tmk_file_header_decode(&r->hdr, raw);
    /* Majors OLDEST..MAJOR but DROPPED: 3.0 only added records, fields of
     * TABLE_ARRAY and block flags. */
    if (r->hdr.version_major > TMK_TRACE_VERSION_MAJOR) {
        set_err(err, errlen, "trace version %u.%u is newer than this tidemark (%d.%d)",
                r->hdr.version_major, r->hdr.version_minor, TMK_TRACE_VERSION_MAJOR,
                TMK_TRACE_VERSION_MINOR);
        return -1;
    }
    if (r->hdr.version_major == TMK_TRACE_VERSION_MAJOR_DROPPED) {
        set_err(err, errlen,
                "trace version %u.%u is a development format that this tidemark (%d.%d) does "
                "not read; record the program again",
                r->hdr.version_major, r->hdr.version_minor, TMK_TRACE_VERSION_MAJOR,
                TMK_TRACE_VERSION_MINOR);
        return -1;
    }
    if (r->hdr.version_major < TMK_TRACE_VERSION_MAJOR_OLDEST) {
        set_err(err, errlen, "trace version %u.%u is not supported by this tidemark (%d.%d)",
                r->hdr.version_major, r->hdr.version_minor, TMK_TRACE_VERSION_MAJOR,
                TMK_TRACE_VERSION_MINOR);
        return -1;
    }
    if (tmk_trace_checksummed(r->hdr.version_major, r->hdr.version_minor)) {
        if (r->hdr.check != tmk_header_check(raw)) {
            set_err(err, errlen, "trace header damaged (checksum mismatch)");
            return -1;
        }
    } else if (r->hdr.check != 0) { /* 1.x and 3.0 writers put 0: a 3.1 header with a flipped version */
        set_err(err, errlen, "trace header damaged (bytes 56-63 are not 0 in a %u.%u trace)",
                r->hdr.version_major, r->hdr.version_minor);
        return -1;
    }
    if (r->hdr.header_size < TMK_FILE_HEADER_SIZE || r->hdr.header_size > MAX_HEADER_SIZE) {
        set_err(err, errlen, "bad trace header size %u", r->hdr.header_size);
        return -1;
    }
    return 0;
}

static int cmp_block(const void *a, const void *b)
{
    const struct block_ix *x = a, *y = b;
    if (x->thread != y->thread) return x->thread < y->thread ? -1 : 1;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The file ends inside a block: the normal state of a live trace (the
 * block is being written), damage otherwise. */
static void cut_at_end(struct tm_reader *r, const char *fmt, ...)
{
    if (r->live) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    warn(r, "%s", line);
}

/* Indexes the blocks from where the last call stopped (the header's end at
 * first) to the first one that is cut off or malformed. */
static int index_blocks(struct tm_reader *r, char *err, size_t errlen)
{
    uint64_t off = r->indexed_end ? r->indexed_end : r->hdr.header_size;
    size_t cap = r->nix;
    while (off < r->size && !r->index_stuck) {
        uint8_t raw[TMK_BLOCK_HEADER_SIZE];
        if (read_at(r, off, raw, sizeof raw) < sizeof raw) {
            cut_at_end(r, "trace cut off inside a block header at offset %llu",
                       (unsigned long long)off);
            break;
        }
        struct tmk_block_header b;
        tmk_block_header_decode(&b, raw);
        if (b.magic != TMK_BLOCK_MAGIC || b.payload_size > TMK_BLOCK_MAX_PAYLOAD) {
            warn(r, "bad block header at offset %llu; ignoring the rest of the file",
                 (unsigned long long)off);
            r->index_stuck = 1;
            break;
        }
        uint64_t next = off + TMK_BLOCK_HEADER_SIZE + b.payload_size;
        if (next > r->size) {
            cut_at_end(r, "trace cut off inside the block at offset %llu (%llu of %u payload "
                          "bytes)", (unsigned long long)off,
                       (unsigned long long)(r->size - off - TMK_BLOCK_HEADER_SIZE),
                       b.payload_size);
            break;
        }
        if (r->nix == cap) {
            cap = cap ? cap * 2 : 64;
            struct block_ix *ix = realloc(r->ix, cap * sizeof *ix);
            if (!ix) {
                set_err(err, errlen, "out of memory indexing the trace");
                return -1;
            }
            r->ix = ix;
        }
        r->ix[r->nix++] =
            (struct block_ix){off, b.seq, b.time_base, b.thread, b.payload_size, b.flags};
        off = next;
    }
    r->indexed_end = off;
    if (r->nix) qsort(r->ix, r->nix, sizeof *r->ix, cmp_block);
    return 0;
}

/* One cursor per thread over its blocks in the (sorted) index. Called again
 * after new blocks were indexed (tm_reader_follow): a thread's cursor keeps
 * its place (blocks only come after it), new threads get one; only blocks
 * not seen before are checked for missing ones. */
static int make_cursors(struct tm_reader *r, char *err, size_t errlen)
{
    size_t threads = 0;
    for (size_t i = 0; i < r->nix; i++)
        if (i == 0 || r->ix[i].thread != r->ix[i - 1].thread) threads++;
    struct cursor *cur = calloc(threads ? threads : 1, sizeof *cur);
    size_t *heap = calloc(threads ? threads : 1, sizeof *heap);
    if (!cur || !heap) {
        free(cur);
        free(heap);
        set_err(err, errlen, "out of memory indexing the trace");
        return -1;
    }
    size_t k = 0, old = 0;
    for (size_t i = 0; i < r->nix; i++) {
        if (i == 0 || r->ix[i].thread != r->ix[i - 1].thread) {
            struct cursor *c = &cur[k++];
            while (old < r->ncur && r->cur[old].thread < r->ix[i].thread) old++;
            if (old < r->ncur && r->cur[old].thread == r->ix[i].thread) {
                *c = r->cur[old++]; /* its blocks so far: [first, first + n) */
            } else {
                c->thread = r->ix[i].thread;
                c->v3 = r->hdr.version_major >= 3;
            }
            c->first = i;
        }
        struct cursor *c = &cur[k - 1];
        if (i - c->first < c->n) continue; /* seen before */
        if (c->n > 0 && r->ix[i].seq != r->ix[i - 1].seq + 1)
            warn(r, "thread %u: block %llu follows block %llu; records are missing",
                 c->thread, (unsigned long long)r->ix[i].seq,
                 (unsigned long long)r->ix[i - 1].seq);
        else if (c->n == 0 && r->ix[i].seq != 0)
            warn(r, "thread %u: first block is number %llu; records are missing", c->thread,
                 (unsigned long long)r->ix[i].seq);
        c->n++;
    }
    free(r->cur);
    free(r->heap);
    r->cur = cur;
    r->heap = heap;
    r->ncur = k;
    return 0;
}

static struct tm_reader *open_common(struct tm_reader *r, char *err, size_t errlen)
{
    r->blk.fd = r->fd;
    r->blk.mem = r->mem;
    int bad = check_header(r, err, errlen);
    if (!bad) {
        r->blk.v3 = r->hdr.version_major >= 3;
        r->blk.checked = tmk_trace_checksummed(r->hdr.version_major, r->hdr.version_minor);
        r->live = r->fd >= 0 && tm_process_running(&r->hdr);
        bad = index_blocks(r, err, errlen) || make_cursors(r, err, errlen);
    }
    if (bad) {
        tm_reader_close(r);
        return NULL;
    }
    return r;
}

static const char *file_kind(mode_t mode)
{
    return S_ISFIFO(mode)   ? "a FIFO"
           : S_ISDIR(mode)  ? "a directory"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

/* Refuses what is not a regular file; 0 or -1 (err set). */
static int regular(const struct stat *st, char *err, size_t errlen)
{
    if (S_ISREG(st->st_mode)) return 0;
    set_err(err, errlen, "not a regular file (%s)", file_kind(st->st_mode));
    return -1;
}

int tm_open_input(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (regular(&st, err, errlen)) return -1; /* a device is not even opened */
    /* O_NONBLOCK: a FIFO put there since the stat must not block the open */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int flags = fd < 0 ? -1 : fcntl(fd, F_GETFL);
    if (flags < 0 || fstat(fd, &st) != 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        set_err(err, errlen, "cannot open: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (regular(&st, err, errlen)) {
        close(fd);
        return -1;
    }
    return fd;
}

struct tm_reader *tm_reader_open(const char *path, char *err, size_t errlen)
{
    struct tm_reader *r = calloc(1, sizeof *r);
    if (!r) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    struct stat st;
    r->fd = tm_open_input(path, err, errlen);
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        if (r->fd >= 0) set_err(err, errlen, "cannot open: %s", strerror(errno));
        tm_reader_close(r);
        return NULL;
    }
    r->size = (uint64_t)st.st_size;
    return open_common(r, err, errlen);
}

struct tm_reader *tm_reader_open_mem(const void *data, size_t size, char *err, size_t errlen)
{
    struct tm_reader *r = calloc(1, sizeof *r);
    if (!r) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    r->fd = -1;
    r->mem = data;
    r->size = size;
    return open_common(r, err, errlen);
}

void tm_reader_close(struct tm_reader *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    for (size_t i = 0; i < r->ncur; i++) {
        blk_free(&r->cur[i].blk);
        free(r->cur[i].frames);
    }
    for (size_t i = 0; i < r->nwarn; i++) free(r->warn[i]);
    free(r->warn);
    blk_shared_free(&r->blk);
    free(r->cur);
    free(r->heap);
    free(r->ix);
    free(r);
}

const struct tmk_file_header *tm_reader_header(const struct tm_reader *r)
{
    return &r->hdr;
}

/* ---- record decoding ----------------------------------------------------- */

/* The cursor's block is done. With another block to come, the cursor parks
 * (has, parked), keyed by that block's time_base, which no record of it
 * precedes: the block is loaded when the merge reaches that time, so a
 * thread that starts late holds no memory before. Without, its buffers go
 * (has = 0). */
static void park(struct tm_reader *r, struct cursor *c)
{
    c->p = c->end = NULL;
    if (c->next >= c->n) {
        blk_free(&c->blk);
        c->has = 0;
        return;
    }
    blk_end(&c->blk);
    c->has = c->parked = 1;
    c->rec.type = REC_PENDING;
    c->rec.thread = c->thread;
    c->rec.t = r->ix[c->first + c->next].time_base;
}

/* Loads the cursor's next block (there is one). 0 = loaded (or skipped as
 * damaged, with a warning: no records), -1 = OOM. */
static int load_block(struct tm_reader *r, struct cursor *c)
{
    const struct block_ix *b = &r->ix[c->first + c->next++];
    char why[160];
    int rc = blk_load(&r->blk, &c->blk, b, why, sizeof why);
    if (rc < 0) return -1;
    c->seq = b->seq;
    c->off = b->off;
    if (rc > 0)
        warn(r, "thread %u block %llu at offset %llu: %s; its records skipped", b->thread,
             (unsigned long long)b->seq, (unsigned long long)b->off, why);
    c->p = c->blk.data;
    c->end = c->p ? c->p + c->blk.len : c->p;
    c->t = b->time_base;
    c->ptr = 0;
    return 0;
}

/* Moves a streamed block's window on, keeping the bytes from c->p: 0 when
 * bytes were added, 1 when none can be, 2 when the rest of the block is
 * damaged (warned), -1 OOM. c->p is then the window's start. */
static int refill(struct tm_reader *r, struct cursor *c)
{
    char why[160];
    int m = blk_more(&r->blk, &c->blk, (size_t)(c->p - c->blk.data), why, sizeof why);
    c->p = c->blk.data;
    c->end = c->p + c->blk.len;
    if (m == 2)
        warn(r, "thread %u block %llu at offset %llu: %s; rest of the block skipped", c->thread,
             (unsigned long long)c->seq, (unsigned long long)c->off, why);
    return m;
}

/* tmk_get_u with the bounds check once per varint instead of per byte when
 * at least TMK_VARINT_MAX bytes are left (nearly always), and the one-byte
 * case first. Same result and the same errors as tmk_get_u. */
static inline __attribute__((always_inline)) int get_u(const uint8_t **pp, const uint8_t *e,
                                                       uint64_t *out)
{
    const uint8_t *q = *pp;
    if (__builtin_expect(e - q >= TMK_VARINT_MAX, 1)) {
        uint64_t b = *q++;
        if (b < 0x80) {
            *out = b;
            *pp = q;
            return 0;
        }
        uint64_t v = b & 0x7f;
        for (unsigned shift = 7; shift < 7 * TMK_VARINT_MAX; shift += 7) {
            b = *q++;
            v |= (b & 0x7f) << shift;
            if (!(b & 0x80)) {
                *out = v;
                *pp = q;
                return 0;
            }
        }
        return -1;
    }
    return tmk_get_u(pp, e, out);
}

#define GET_U(dst) do { uint64_t v_; if (get_u(&p, e, &v_)) return -1; (dst) = v_; } while (0)
#define GET_S(dst) do { uint64_t v_; if (get_u(&p, e, &v_)) return -1; (dst) = tmk_unzigzag(v_); } while (0)

static int get_str(const uint8_t **pp, const uint8_t *e, const char **s, size_t *len)
{
    uint64_t n;
    if (tmk_get_u(pp, e, &n) || n > (uint64_t)(e - *pp)) return -1;
    *s = (const char *)*pp;
    *len = (size_t)n;
    *pp += n;
    return 0;
}

static int get_stack(struct cursor *c, const uint8_t **pp, const uint8_t *e, struct tm_record *rec)
{
    const uint8_t *p = *pp;
    uint64_t id, depth;
    GET_U(id);
    GET_U(depth);
    if (depth > (uint64_t)(e - p)) return -1; /* each frame takes a byte at least */
    if (depth > c->frames_cap) {
        uint64_t *f = realloc(c->frames, depth * sizeof *f);
        if (!f) return -1;
        c->frames = f;
        c->frames_cap = depth;
    }
    uint64_t prev = 0;
    for (uint64_t i = 0; i < depth; i++) {
        int64_t d;
        GET_S(d);
        prev += (uint64_t)d;
        c->frames[i] = prev;
    }
    rec->u.stack.id = id;
    rec->u.stack.depth = (uint32_t)depth;
    rec->u.stack.frames = c->frames;
    *pp = p;
    return 0;
}

/* TABLE_PEAK's body (table u, peak u) into rec->u.table_count. */
static int decode_table_peak(struct tm_record *rec)
{
    const uint8_t *p = rec->u.extended.data, *e = p + rec->u.extended.len;
    uint64_t table, peak;
    if (tmk_get_u(&p, e, &table) || tmk_get_u(&p, e, &peak)) return -1;
    rec->u.table_count.table = table;
    rec->u.table_count.live = peak;
    return 0;
}

/* ALLOC or FREE at c->p (p is past the type byte): decode()'s fast path,
 * also called directly by the merge loop. 0, or -1 when cut off. */
static inline __attribute__((always_inline)) int
decode_alloc_free(struct cursor *c, struct tm_record *rec, const uint8_t *p, const uint8_t *e,
                  uint8_t type)
{
    uint64_t dt;
    int64_t d;
    GET_U(dt);
    GET_S(d);
    uint64_t ptr = c->ptr + (uint64_t)d;
    if (type == TMK_REC_ALLOC) {
        rec->u.alloc.ptr = ptr;
        GET_U(rec->u.alloc.size);
        GET_U(rec->u.alloc.stack);
    } else {
        rec->u.free.ptr = ptr;
    }
    rec->type = type;
    rec->thread = c->thread;
    c->t = add_sat(c->t, dt);
    c->ptr = ptr;
    rec->t = c->t;
    c->p = p;
    return 0;
}

/* The record types 3.0 added below TMK_REC_EXTENDED: unknown (corrupt) in 1.x. */
static int v3_type(uint8_t type)
{
    return type == TMK_REC_TICK || tmk_is_by_info(type);
}

/* Records without dt: definitions, 3.0's heap by info, extended ones. */
static int untimed(uint8_t type)
{
    return type == TMK_REC_STACK || type == TMK_REC_MODULE || type == TMK_REC_MODULE_GONE ||
           tmk_is_by_info(type) || type >= TMK_REC_EXTENDED;
}

/* An info as a record names it: size < TMK_INFO_SIZE_LIMIT, a 32-bit stack. */
static int info_ok(uint64_t size, uint64_t stack)
{
    return size < TMK_INFO_SIZE_LIMIT && stack <= UINT32_MAX;
}

/* TABLE_ARRAY's 3.0 fields: by_info 0 and no info, or 1 and a valid info. */
static int decode_array_info(const uint8_t **pp, const uint8_t *e, struct tm_record *rec)
{
    const uint8_t *p = *pp;
    GET_U(rec->u.table_array.by_info);
    GET_U(rec->u.table_array.info_size);
    GET_U(rec->u.table_array.info_stack);
    uint64_t by = rec->u.table_array.by_info, size = rec->u.table_array.info_size,
             stack = rec->u.table_array.info_stack;
    if (by > 1 || (!by && (size || stack)) || !info_ok(size, stack)) return -1;
    *pp = p;
    return 0;
}

/* ALLOC_INFO or FREE_INFO with type byte `byte` (p past it; 3.0): the merge
 * loop's fast path for 3.0 full traces. 0, or -1 when cut off or bad. */
static inline __attribute__((always_inline)) int
decode_by_info(struct cursor *c, struct tm_record *rec, const uint8_t *p, const uint8_t *e,
               uint8_t byte)
{
    uint64_t stack, high;
    GET_U(stack);
    GET_U(high);
    if (high >= TMK_INFO_SIZE_LIMIT >> TMK_INFO_TYPE_BITS || stack > UINT32_MAX) return -1;
    rec->type = tmk_record_type_of(byte);
    rec->thread = c->thread;
    rec->t = c->t;
    rec->u.by_info.size = tmk_info_size_of(byte, high);
    rec->u.by_info.stack = stack;
    c->p = p;
    return 0;
}

/* The records the merge loop decodes itself (1.x's ALLOC and FREE, 3.0's
 * ALLOC_INFO and FREE_INFO); 0 when the cursor must decode. */
static inline __attribute__((always_inline)) int decode_fast(struct cursor *c)
{
    if (c->p >= c->end) return 0;
    uint8_t type = *c->p;
    if (type == TMK_REC_ALLOC || type == TMK_REC_FREE)
        return decode_alloc_free(c, &c->rec, c->p + 1, c->end, type) == 0;
    if (type >= TMK_REC_ALLOC_INFO && type < TMK_REC_EXTENDED && c->v3)
        return decode_by_info(c, &c->rec, c->p + 1, c->end, type) == 0;
    return 0;
}

/* Decodes the record at c->p into rec. Returns 0, or -1 when it is cut off
 * or not a known record. */
static int decode(struct cursor *c, struct tm_record *rec)
{
    const uint8_t *p = c->p, *e = c->end;
    uint8_t byte = *p++, type = c->v3 ? tmk_record_type_of(byte) : byte;
    uint64_t dt = 0;
    int64_t d;
    if (type == TMK_REC_FREE || type == TMK_REC_ALLOC) /* nearly all records of 1.x */
        return decode_alloc_free(c, rec, p, e, type);
    if (!c->v3 && v3_type(type)) return -1;
    /* ALLOC and FREE (above) set every field they have; the rest start from zero. */
    memset(&rec->u, 0, sizeof rec->u);
    rec->type = type;
    rec->thread = c->thread;
    int timed = !untimed(type);
    if (timed) GET_U(dt);
    switch (type) {
    case TMK_REC_ALLOC:
        GET_S(d);
        rec->u.alloc.ptr = c->ptr + (uint64_t)d;
        GET_U(rec->u.alloc.size);
        GET_U(rec->u.alloc.stack);
        break;
    case TMK_REC_FREE:
        GET_S(d);
        rec->u.free.ptr = c->ptr + (uint64_t)d;
        break;
    case TMK_REC_TICK:
        break;
    case TMK_REC_STACK:
        if (get_stack(c, &p, e, rec)) return -1;
        break;
    case TMK_REC_MODULE: {
        const char *bid;
        GET_U(rec->u.module.id);
        GET_U(rec->u.module.bias);
        GET_U(rec->u.module.start);
        GET_U(rec->u.module.end);
        if (get_str(&p, e, &bid, &rec->u.module.build_id_len)) return -1;
        rec->u.module.build_id = (const uint8_t *)bid;
        if (get_str(&p, e, &rec->u.module.path, &rec->u.module.path_len)) return -1;
        break;
    }
    case TMK_REC_MODULE_GONE:
        GET_U(rec->u.module_gone.id);
        break;
    case TMK_REC_ALLOC_INFO:
    case TMK_REC_FREE_INFO:
        return decode_by_info(c, rec, p, e, byte);
    case TMK_REC_TABLE_NEW:
        GET_U(rec->u.table_new.table);
        GET_U(rec->u.table_new.kind);
        GET_U(rec->u.table_new.flags);
        GET_U(rec->u.table_new.key_size);
        GET_U(rec->u.table_new.value_size);
        GET_U(rec->u.table_new.bucket_size);
        GET_U(rec->u.table_new.slots);
        GET_U(rec->u.table_new.hint);
        GET_U(rec->u.table_new.stack);
        if (get_str(&p, e, &rec->u.table_new.label, &rec->u.table_new.label_len)) return -1;
        break;
    case TMK_REC_TABLE_ARRAY:
        GET_U(rec->u.table_array.table);
        GET_U(rec->u.table_array.ptr);
        GET_U(rec->u.table_array.bytes);
        GET_U(rec->u.table_array.buckets);
        GET_U(rec->u.table_array.reason);
        GET_U(rec->u.table_array.live);
        GET_U(rec->u.table_array.stack);
        if (c->v3 && decode_array_info(&p, e, rec)) return -1;
        break;
    case TMK_REC_TABLE_COUNT:
    case TMK_REC_TABLE_END:
        GET_U(rec->u.table_count.table);
        GET_U(rec->u.table_count.live);
        break;
    case TMK_REC_MEMORY:
        GET_U(rec->u.memory.rss);
        GET_U(rec->u.memory.heap);
        break;
    case TMK_REC_THREAD:
        GET_U(rec->u.thread.tid);
        if (get_str(&p, e, &rec->u.thread.name, &rec->u.thread.name_len)) return -1;
        break;
    case TMK_REC_LOST:
        GET_U(rec->u.lost.count);
        break;
    case TMK_REC_END:
        GET_U(rec->u.end.why);
        GET_U(rec->u.end.status);
        break;
    default:
        if (type < TMK_REC_EXTENDED) return -1;
        GET_U(rec->u.extended.len);
        if (rec->u.extended.len > (uint64_t)(e - p)) return -1;
        rec->u.extended.data = p;
        p += rec->u.extended.len;
        if (type == TMK_REC_TABLE_PEAK && decode_table_peak(rec)) return -1;
        break;
    }
    if (timed) c->t = add_sat(c->t, dt);
    if (type == TMK_REC_ALLOC) c->ptr = rec->u.alloc.ptr;
    if (type == TMK_REC_FREE) c->ptr = rec->u.free.ptr;
    rec->t = c->t;
    c->p = p;
    return 0;
}

/* END, or BOUND(STOP): the writer wrote its last record. */
static int ends_trace(const struct tm_record *rec)
{
    if (rec->type == TMK_REC_END) return 1;
    if (rec->type != TMK_REC_BOUND) return 0;
    const uint8_t *p = rec->u.extended.data, *e = p + rec->u.extended.len;
    uint64_t what;
    return tmk_get_u(&p, e, &what) == 0 && what == TMK_BOUND_STOP;
}

/* Puts the cursor's next record in c->rec, or parks it at its block's end
 * (c->has = 0 at its last block's end). 0, or -1 when out of memory. */
static int advance(struct tm_reader *r, struct cursor *c)
{
    c->has = 0;
    for (;;) {
        if (c->p >= c->end) {
            if (c->blk.more) {
                int m = refill(r, c);
                if (m < 0) return -1;
                if (m == 0) continue;
            }
            park(r, c);
            return 0;
        }
        if (decode(c, &c->rec) == 0) {
            c->has = 1;
            if (ends_trace(&c->rec)) {
                r->saw_end = 1;
                r->end_thread = c->thread;
            }
            return 0;
        }
        if (c->blk.more) { /* perhaps only cut by the window's end */
            int m = refill(r, c);
            if (m < 0) return -1;
            if (m == 2) c->p = c->end;
            if (m == 0 || m == 2 || c->p >= c->end) continue;
        }
        warn(r, "thread %u block %llu: corrupt or cut record at payload byte %llu (type 0x%02x); "
                "rest of the block skipped", c->thread, (unsigned long long)c->seq,
             (unsigned long long)(c->blk.base + (uint64_t)(c->p - c->blk.data)), *c->p);
        c->p = c->end;
        blk_end(&c->blk);
    }
}

/* ---- merge ---------------------------------------------------------------- */

/* FREE, FREE_INFO: at equal times they come after the rest. */
static inline int frees(uint8_t type)
{
    return type == TMK_REC_FREE || type == TMK_REC_FREE_INFO;
}

static int before(const struct tm_reader *r, size_t a, size_t b)
{
    const struct tm_record *x = &r->cur[a].rec, *y = &r->cur[b].rec;
    if (x->t != y->t) return x->t < y->t;
    int fx = frees(x->type), fy = frees(y->type);
    if (fx != fy) return fy;
    return r->cur[a].thread < r->cur[b].thread;
}

static void sift_down(struct tm_reader *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->nheap && before(r, r->heap[l], r->heap[m])) m = l;
        if (l + 1 < r->nheap && before(r, r->heap[l + 1], r->heap[m])) m = l + 1;
        if (m == i) return;
        size_t t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

/* Merges the cursors' records into fn in time order, up to `until`: the
 * first record of each thread that is later stays in its cursor for the
 * next call. A cursor at the end of its blocks goes on when new blocks came
 * (tm_reader_follow). 0 (*stopped when fn stopped it), -1 out of memory. */
static int merge(struct tm_reader *r, uint64_t until, tm_record_fn fn, void *ctx, int *stopped)
{
    r->nheap = 0;
    for (size_t i = 0; i < r->ncur; i++) { /* a cursor without a record: at its next block */
        if (!r->cur[i].has) park(r, &r->cur[i]);
        if (r->cur[i].has) r->heap[r->nheap++] = i;
    }
    for (size_t i = r->nheap; i-- > 0;) sift_down(r, i);
    while (r->nheap && r->cur[r->heap[0]].rec.t <= until) {
        size_t top = r->heap[0], next = SIZE_MAX;
        struct cursor *c = &r->cur[top];
        if (c->parked) { /* its block's time came: load it, read its first record */
            c->parked = 0;
            if (load_block(r, c) || advance(r, c)) return -1;
            if (!c->has) r->heap[0] = r->heap[--r->nheap];
            sift_down(r, 0);
            continue;
        }
        /* The top cursor goes on while its next record still comes before
         * the runner-up's (the smaller of the top's children): one compare
         * per record, a sift only when another cursor takes over. */
        if (r->nheap > 1) next = r->heap[1];
        if (r->nheap > 2 && before(r, r->heap[2], next)) next = r->heap[2];
        do {
            if (__builtin_expect(r->saw_end, 0) && c->thread == r->end_thread && !ends_trace(&c->rec))
                r->saw_end = 0; /* its thread went on: an exec that failed (trace-format.md) */
            if (fn(ctx, &c->rec)) goto stop;
            /* The common case inline: a heap record inside the block (on
             * any failure advance() decodes it again and reports it). */
            if (!decode_fast(c) && advance(r, c)) return -1;
        } while (c->has && !c->parked && c->rec.t <= until &&
                 (next == SIZE_MAX || before(r, top, next)));
        if (!c->has) r->heap[0] = r->heap[--r->nheap];
        sift_down(r, 0);
    }
    return 0;
stop:
    *stopped = 1;
    return 0;
}

int tm_reader_run(struct tm_reader *r, tm_record_fn fn, void *ctx, char *err, size_t errlen)
{
    int stopped = 0;
    if (merge(r, UINT64_MAX, fn, ctx, &stopped)) {
        set_err(err, errlen, "out of memory reading the trace");
        return -1;
    }
    if (!stopped) tm_reader_end(r);
    return 0;
}

void tm_reader_end(struct tm_reader *r)
{
    if (r->ran) return;
    r->ran = 1;
    /* A live trace's last records are on their way: not a problem. */
    if (!r->saw_end && !r->live)
        warn(r, "no END record: the traced process was cut short or is still running");
    if (r->suppressed) {
        char line[96];
        snprintf(line, sizeof line, "... and %llu more problems",
                 (unsigned long long)r->suppressed);
        push_line(r, line);
        r->suppressed = 0;
    }
}

void tm_reader_warn(struct tm_reader *r, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    warn(r, "%s", line);
}

int tm_reader_run_until(struct tm_reader *r, uint64_t until, tm_record_fn fn, void *ctx,
                        char *err, size_t errlen)
{
    int stopped = 0;
    if (merge(r, until, fn, ctx, &stopped)) {
        set_err(err, errlen, "out of memory reading the trace");
        return -1;
    }
    return 0;
}

int tm_reader_follow(struct tm_reader *r, char *err, size_t errlen)
{
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0 || (uint64_t)st.st_size <= r->size) return 0;
    r->size = (uint64_t)st.st_size;
    size_t had = r->nix;
    if (index_blocks(r, err, errlen)) return -1;
    return r->nix == had ? 0 : make_cursors(r, err, errlen);
}

int tm_reader_live(const struct tm_reader *r) { return r->live; }
int tm_reader_ended(const struct tm_reader *r) { return r->saw_end; }
int tm_reader_truncated(const struct tm_reader *r) { return r->truncated; }
uint64_t tm_reader_blocks(const struct tm_reader *r) { return r->nix; }
uint64_t tm_reader_threads(const struct tm_reader *r) { return r->ncur; }


size_t tm_reader_warnings(const struct tm_reader *r, const char *const **out)
{
    *out = (const char *const *)r->warn;
    return r->nwarn;
}

const char *tm_record_type_name(uint8_t type)
{
    switch (type) {
    case TMK_REC_ALLOC: return "ALLOC";
    case TMK_REC_FREE: return "FREE";
    case TMK_REC_TICK: return "TICK";
    case TMK_REC_STACK: return "STACK";
    case TMK_REC_MODULE: return "MODULE";
    case TMK_REC_MODULE_GONE: return "MODULE_GONE";
    case TMK_REC_ALLOC_INFO: return "ALLOC_INFO";
    case TMK_REC_FREE_INFO: return "FREE_INFO";
    case TMK_REC_TABLE_NEW: return "TABLE_NEW";
    case TMK_REC_TABLE_ARRAY: return "TABLE_ARRAY";
    case TMK_REC_TABLE_COUNT: return "TABLE_COUNT";
    case TMK_REC_TABLE_END: return "TABLE_END";
    case TMK_REC_TABLE_PEAK: return "TABLE_PEAK";
    case TMK_REC_BOUND: return "BOUND";
    case TMK_REC_PROBE: return "PROBE";
    case TMK_REC_MEMORY: return "MEMORY";
    case TMK_REC_THREAD: return "THREAD";
    case TMK_REC_LOST: return "LOST";
    case TMK_REC_END: return "END";
    default: return type >= TMK_REC_EXTENDED ? "EXTENDED" : "?";
    }
}
