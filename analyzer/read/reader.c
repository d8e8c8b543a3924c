/* analyzer/read/reader.c - the .tmk reader's input side (see reader.h):
 * opening an input (regular files only), the file header and its checks,
 * the block index, one cursor per thread over it, following a growing
 * file, closing, and the facts known after reading. What the files of the
 * reader share: reader_int.h; a thread's records: reader_cursor.c; the
 * merge by time: reader_merge.c; errors and warnings: reader_warn.c.
 *
 * Invariants (of the whole reader):
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
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "liveness.h"
#include "reader_block.h"
#include "reader_int.h"
#include "tidemark/trace_check.h"

#define MAX_HEADER_SIZE (1u << 20)

/* Reads len bytes at off into dst; returns bytes read (short at EOF). */
static size_t read_at(const struct tm_reader *r, uint64_t off, void *dst, size_t len)
{
    if (off >= r->size) return 0;
    if (len > r->size - off) len = (size_t)(r->size - off);
    return blk_read(&r->blk, off, dst, len);
}

/* ---- header and index ---------------------------------------------------- */

static int check_header(struct tm_reader *r, char *err, size_t errlen)
{
    uint8_t raw[TMK_FILE_HEADER_SIZE];
    size_t got = read_at(r, 0, raw, sizeof raw);
    if (r->size == 0) {
        reader_set_err(err, errlen, "empty file, not a tidemark trace");
        return -1;
    }
    size_t cmp = got < TMK_TRACE_MAGIC_LEN ? got : TMK_TRACE_MAGIC_LEN;
    if (memcmp(raw, TMK_TRACE_MAGIC, cmp) != 0) {
        reader_set_err(err, errlen, "not a tidemark trace (bad magic)");
        return -1;
    }
    if (got < TMK_FILE_HEADER_SIZE) {
        reader_set_err(err, errlen, "trace header cut off (%zu of %d bytes)", got, TMK_FILE_HEADER_SIZE);
        return -1;
    }
    tmk_file_header_decode(&r->hdr, raw);
    /* Majors OLDEST..MAJOR but DROPPED: 3.0 only added records, fields of
     * TABLE_ARRAY and block flags. */
    if (r->hdr.version_major > TMK_TRACE_VERSION_MAJOR) {
        reader_set_err(err, errlen, "trace version %u.%u is newer than this tidemark (%d.%d)",
                r->hdr.version_major, r->hdr.version_minor, TMK_TRACE_VERSION_MAJOR,
                TMK_TRACE_VERSION_MINOR);
        return -1;
    }
    if (r->hdr.version_major == TMK_TRACE_VERSION_MAJOR_DROPPED) {
        reader_set_err(err, errlen,
                "trace version %u.%u is a development format that this tidemark (%d.%d) does "
                "not read; record the program again",
                r->hdr.version_major, r->hdr.version_minor, TMK_TRACE_VERSION_MAJOR,
                TMK_TRACE_VERSION_MINOR);
        return -1;
    }
    if (r->hdr.version_major < TMK_TRACE_VERSION_MAJOR_OLDEST) {
        reader_set_err(err, errlen, "trace version %u.%u is not supported by this tidemark (%d.%d)",
                r->hdr.version_major, r->hdr.version_minor, TMK_TRACE_VERSION_MAJOR,
                TMK_TRACE_VERSION_MINOR);
        return -1;
    }
    if (tmk_trace_checksummed(r->hdr.version_major, r->hdr.version_minor)) {
        if (r->hdr.check != tmk_header_check(raw)) {
            reader_set_err(err, errlen, "trace header damaged (checksum mismatch)");
            return -1;
        }
    } else if (r->hdr.check != 0) { /* 1.x and 3.0 writers put 0: a 3.1 header with a flipped version */
        reader_set_err(err, errlen, "trace header damaged (bytes 56-63 are not 0 in a %u.%u trace)",
                r->hdr.version_major, r->hdr.version_minor);
        return -1;
    }
    if (r->hdr.header_size < TMK_FILE_HEADER_SIZE || r->hdr.header_size > MAX_HEADER_SIZE) {
        reader_set_err(err, errlen, "bad trace header size %u", r->hdr.header_size);
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

/* Indexes the blocks from where the last call stopped (the header's end at
 * first) to the first one that is cut off or malformed. */
static int index_blocks(struct tm_reader *r, char *err, size_t errlen)
{
    uint64_t off = r->indexed_end ? r->indexed_end : r->hdr.header_size;
    size_t cap = r->nix;
    while (off < r->size && !r->index_stuck) {
        uint8_t raw[TMK_BLOCK_HEADER_SIZE];
        if (read_at(r, off, raw, sizeof raw) < sizeof raw) {
            reader_cut_at_end(r, "trace cut off inside a block header at offset %llu",
                       (unsigned long long)off);
            break;
        }
        struct tmk_block_header b;
        tmk_block_header_decode(&b, raw);
        if (b.magic != TMK_BLOCK_MAGIC || b.payload_size > TMK_BLOCK_MAX_PAYLOAD) {
            reader_warn(r, "bad block header at offset %llu; ignoring the rest of the file",
                 (unsigned long long)off);
            r->index_stuck = 1;
            break;
        }
        uint64_t next = off + TMK_BLOCK_HEADER_SIZE + b.payload_size;
        if (next > r->size) {
            reader_cut_at_end(r, "trace cut off inside the block at offset %llu (%llu of %u payload "
                          "bytes)", (unsigned long long)off,
                       (unsigned long long)(r->size - off - TMK_BLOCK_HEADER_SIZE),
                       b.payload_size);
            break;
        }
        if (r->nix == cap) {
            cap = cap ? cap * 2 : 64;
            struct block_ix *ix = realloc(r->ix, cap * sizeof *ix);
            if (!ix) {
                reader_set_err(err, errlen, "out of memory indexing the trace");
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
        reader_set_err(err, errlen, "out of memory indexing the trace");
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
            reader_warn(r, "thread %u: block %llu follows block %llu; records are missing",
                 c->thread, (unsigned long long)r->ix[i].seq,
                 (unsigned long long)r->ix[i - 1].seq);
        else if (c->n == 0 && r->ix[i].seq != 0)
            reader_warn(r, "thread %u: first block is number %llu; records are missing", c->thread,
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
    reader_set_err(err, errlen, "not a regular file (%s)", file_kind(st->st_mode));
    return -1;
}

int tm_open_input(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        reader_set_err(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (regular(&st, err, errlen)) return -1; /* a device is not even opened */
    /* O_NONBLOCK: a FIFO put there since the stat must not block the open */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int flags = fd < 0 ? -1 : fcntl(fd, F_GETFL);
    if (flags < 0 || fstat(fd, &st) != 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        reader_set_err(err, errlen, "cannot open: %s", strerror(errno));
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
        reader_set_err(err, errlen, "out of memory");
        return NULL;
    }
    struct stat st;
    r->fd = tm_open_input(path, err, errlen);
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        if (r->fd >= 0) reader_set_err(err, errlen, "cannot open: %s", strerror(errno));
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
        reader_set_err(err, errlen, "out of memory");
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
