/* tests/analyzer/test_blocks.c - the reader's blocks (analyzer/read/reader_block.c)
 * on 3.1 and 3.0 traces, from memory and from a file: blocks of more than
 * 1 MiB of records streamed (raw and zstd, stored bytes under and over
 * 1 MiB) read exactly like small ones, a record across window ends, a
 * record over TMK_RECORD_LIMIT and a zstd window over 1 MiB refused; 3.1's
 * checksums: a damaged header refused, a damaged block skipped whole (none
 * of its records read) with a warning naming its offset, a block or frame
 * without its checksum damaged; 3.0 traces read as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze_check.h"
#include "check.h"
#include "read/reader.h"
#include "tidemark/trace_check.h"
#include "scenarios.h"

/* What a reader run saw. */
struct seen {
    uint64_t records, allocs, alloc_bytes, frees, module_path, ends;
};

static int see(void *ctx, const struct tm_record *r)
{
    struct seen *s = ctx;
    s->records++;
    if (r->type == TMK_REC_ALLOC) {
        s->allocs++;
        s->alloc_bytes += r->u.alloc.size;
    }
    if (r->type == TMK_REC_FREE) s->frees++;
    if (r->type == TMK_REC_MODULE) s->module_path += r->u.module.path_len;
    if (r->type == TMK_REC_END) s->ends++;
    return 0;
}

/* Reads bytes through the reader, from memory or (file) from a temporary
 * file; its warnings counted in *warnings and put in `first`, the first
 * one first, one a line; or the error. */
static int read_trace(const uint8_t *b, size_t n, int file, struct seen *s, size_t *warnings,
                      char *first, size_t firstlen)
{
    memset(s, 0, sizeof *s);
    char path[] = "/tmp/tidemark-test-blocks-XXXXXX", err[256] = "";
    struct tm_reader *r;
    if (file) {
        int fd = mkstemp(path);
        if (fd < 0 || write(fd, b, n) != (ssize_t)n) abort();
        close(fd);
        r = tm_reader_open(path, err, sizeof err);
        unlink(path);
    } else {
        r = tm_reader_open_mem(b, n, err, sizeof err);
    }
    if (!r) {
        snprintf(first, firstlen, "%s", err);
        return -1;
    }
    int rc = tm_reader_run(r, see, s, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    const char *const *w;
    *warnings = tm_reader_warnings(r, &w);
    snprintf(first, firstlen, "%s", *warnings ? "" : "(none)");
    for (size_t i = 0, at = 0; i < *warnings && at < firstlen; i++)
        at += (size_t)snprintf(first + at, firstlen - at, "%s\n", w[i]);
    tm_reader_close(r);
    return rc;
}

#define N_ALLOCS 200000
#define LONG_PATH (300u << 10) /* a MODULE record across several 64 KiB windows */

/* Thread 1's records by address with random sizes and pointers (about 4 MiB
 * that compress to about 2 MiB), a MODULE with a long path in their middle,
 * then END; one block when block_limit is large, 64 KiB ones otherwise. */
static struct tg *big_trace(uint16_t minor, int zstd, size_t block_limit, uint64_t *bytes)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, minor);
    tg_set_zstd(g, zstd);
    tg_set_block_limit(g, block_limit);
    char *path = malloc(LONG_PATH + 1);
    memset(path, 'p', LONG_PATH);
    path[LONG_PATH] = 0;
    check_random_restart();
    *bytes = 0;
    for (uint64_t i = 0; i < N_ALLOCS; i++) {
        uint64_t size = check_random() & 0xffffff;
        tg_alloc(g, 1, 100 + i, 0x10000000 + (check_random() & 0xffffffff0ull), size, 0);
        *bytes += size;
        if (i == N_ALLOCS / 2) tg_module(g, 1, 1, 0, 0x400000, 0x500000, path);
    }
    tg_end(g, 1, 100 + N_ALLOCS, TMK_END_EXIT, 0);
    free(path);
    return g;
}

static void test_streamed_blocks(void)
{
    for (uint16_t minor = 0; minor <= 1; minor++)
        for (int zstd = 0; zstd <= 1; zstd++)
            for (int file = 0; file <= 1; file++) {
                uint64_t bytes;
                struct tg *g = big_trace(minor, zstd, 64u << 20, &bytes);
                size_t n, w;
                const uint8_t *b = tg_bytes(g, &n);
                /* one block, stored in more than 1 MiB: streamed from a file */
                CHECK(n > TMK_RECORD_LIMIT + TMK_FILE_HEADER_SIZE + TMK_BLOCK_HEADER_SIZE,
                      "3.%u %s: %zu bytes", minor, zstd ? "zstd" : "raw", n);
                struct seen s;
                char first[256];
                if (read_trace(b, n, file, &s, &w, first, sizeof first) == 0) {
                    CHECK(s.allocs == N_ALLOCS && s.alloc_bytes == bytes &&
                              s.module_path == LONG_PATH && s.ends == 1 && w == 0,
                          "3.%u %s %s: %llu allocs, %llu bytes, path %llu, %llu ends, %s", minor,
                          zstd ? "zstd" : "raw", file ? "file" : "memory",
                          (unsigned long long)s.allocs, (unsigned long long)s.alloc_bytes,
                          (unsigned long long)s.module_path, (unsigned long long)s.ends, first);
                }
                tg_destroy(g);
            }
}

/* A MODULE record longer than TMK_RECORD_LIMIT in a streamed block: taken
 * for damage (the records before it are read), never a larger window. */
static void test_record_over_limit(void)
{
    for (int zstd = 0; zstd <= 1; zstd++) {
        struct tg *g = tg_new(0);
        tg_set_version(g, 3, 1);
        tg_set_zstd(g, zstd);
        tg_set_block_limit(g, 64u << 20);
        tg_alloc(g, 1, 10, 0x1000, 16, 0);
        char *path = malloc(TMK_RECORD_LIMIT + 2);
        memset(path, 'q', TMK_RECORD_LIMIT + 1);
        path[TMK_RECORD_LIMIT + 1] = 0;
        tg_module(g, 1, 1, 0, 0x400000, 0x500000, path);
        free(path);
        tg_flush(g, 1);
        tg_alloc(g, 1, 20, 0x2000, 32, 0); /* the next block is read */
        tg_end(g, 1, 30, TMK_END_EXIT, 0);
        size_t n, w;
        const uint8_t *b = tg_bytes(g, &n);
        struct seen s;
        char first[256];
        if (read_trace(b, n, 1, &s, &w, first, sizeof first) == 0)
            CHECK(s.allocs == 2 && s.module_path == 0 && s.ends == 1 &&
                      strstr(first, "corrupt or cut record at payload byte"),
                  "%s: %llu allocs, %s", zstd ? "zstd" : "raw", (unsigned long long)s.allocs,
                  first);
        tg_destroy(g);
    }
}

/* A frame of 3 MiB of records whose zstd window is 2 MiB: refused. */
static void test_window_over_limit(void)
{
    size_t len = 3u << 20, zn;
    uint8_t *ticks = malloc(len);
    for (size_t i = 0; i < len; i += 2) {
        ticks[i] = TMK_REC_TICK;
        ticks[i + 1] = (uint8_t)(check_random() & 0x7f); /* not all alike: a window is needed */
    }
    uint8_t *z = tg_zstd_frame(ticks, len, 1, TG_ZSTD_CHECKSUM | TG_ZSTD_WINDOW_2M, &zn);
    free(ticks);
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, 1);
    tg_block(g, 1, TMK_BLOCK_ZSTD, z, zn);
    tg_end(g, 1, 1ull << 40, TMK_END_EXIT, 0);
    free(z);
    size_t n, w;
    const uint8_t *b = tg_bytes(g, &n);
    struct seen s;
    char first[256];
    if (read_trace(b, n, 0, &s, &w, first, sizeof first) == 0)
        CHECK(s.records == 1 && s.ends == 1 && strstr(first, "whose window is over 1 MiB"),
              "%llu records, %s", (unsigned long long)s.records, first);
    tg_destroy(g);
}

/* The 3.1 header: a damaged byte is an error; 3.0 with a check is too. */
static void test_header_check(void)
{
    struct tg *g = tg_scenario_mixed(1, 0);
    size_t n;
    uint8_t *b = (uint8_t *)tg_bytes(g, &n);
    struct tm_model m;
    char err[256];
    CHECK(analyze_bytes(b, n, &m, err, sizeof err) == TM_EXIT_OK, "clean 3.1: %s", err);
    CHECK(m.info.n_warnings == 0, "clean 3.1 warns: %s", first_warning(&m));
    tm_model_free(&m);
    for (size_t i = 0; i < TMK_FILE_HEADER_SIZE; i++) {
        if (i < TMK_TRACE_MAGIC_LEN) continue; /* "not a tidemark trace" */
        b[i] ^= 0x10;
        int rc = analyze_bytes(b, n, &m, err, sizeof err);
        CHECK(rc == TM_EXIT_CANNOT && (strstr(err, "trace header damaged") ||
                                       strstr(err, "trace version")),
              "header byte %zu: rc %d, %s", i, rc, rc == TM_EXIT_OK ? "read" : err);
        if (rc == TM_EXIT_OK) tm_model_free(&m);
        b[i] ^= 0x10;
    }
    b[10] = 0; /* 3.0, with the check a 3.0 writer never puts */
    CHECK(analyze_bytes(b, n, &m, err, sizeof err) == TM_EXIT_CANNOT &&
              strstr(err, "trace header damaged (bytes 56-63 are not 0 in a 3.0 trace)"),
          "3.0 with a check: %s", err);
    tg_destroy(g);
}

/* A flipped byte in the second of thread 1's blocks: that block skipped
 * whole, with its offset; the others read. */
static void test_damaged_block(void)
{
    for (int zstd = 0; zstd <= 1; zstd++) {
        struct tg *g = tg_new(0);
        tg_set_version(g, 3, 1);
        tg_set_zstd(g, zstd);
        for (uint64_t k = 0; k < 3; k++) {
            for (uint64_t i = 0; i < 100; i++) tg_alloc(g, 1, 1000 * k + i, 0x1000 * (i + 1), k + 1, 0);
            tg_flush(g, 1);
        }
        tg_end(g, 1, 5000, TMK_END_EXIT, 0);
        size_t n, w;
        uint8_t *b = (uint8_t *)tg_bytes(g, &n);
        /* the second block's header: after the first block */
        struct tmk_block_header h;
        tmk_block_header_decode(&h, b + TMK_FILE_HEADER_SIZE);
        size_t second = TMK_FILE_HEADER_SIZE + TMK_BLOCK_HEADER_SIZE + h.payload_size;
        tmk_block_header_decode(&h, b + second);
        size_t end = second + TMK_BLOCK_HEADER_SIZE + h.payload_size;
        struct seen s;
        char first[1024], want[96];
        snprintf(want, sizeof want, " at offset %zu: ", second);
        /* thread, flags, seq, time_base, then the payload (a damaged magic
         * or size is a bad header: the rest of the file is not indexed) */
        for (size_t at = second + 8; at < end; at += 5) {
            b[at] ^= 0x04;
            if (read_trace(b, n, zstd, &s, &w, first, sizeof first) == 0)
                CHECK(s.allocs == 200 && s.alloc_bytes == 100 * (1 + 3) && s.ends == 1 &&
                          strstr(first, want) && strstr(first, "its records skipped"),
                      "%s, byte %zu of block 1: %llu allocs (%llu bytes), %s",
                      zstd ? "zstd" : "raw", at - second, (unsigned long long)s.allocs,
                      (unsigned long long)s.alloc_bytes, first);
            b[at] ^= 0x04;
        }
        tg_destroy(g);
    }
}

/* A 3.1 block over 1 MiB from a file, damaged in its middle: checked in a
 * first pass, so none of its records is read. */
static void test_damaged_streamed_block(void)
{
    for (int zstd = 0; zstd <= 1; zstd++) {
        uint64_t bytes;
        struct tg *g = big_trace(1, zstd, 64u << 20, &bytes);
        size_t n, w;
        uint8_t *b = (uint8_t *)tg_bytes(g, &n);
        b[n / 2] ^= 0x01;
        struct seen s;
        char first[256];
        if (read_trace(b, n, 1, &s, &w, first, sizeof first) == 0)
            CHECK(s.records == 0 && strstr(first, "thread 1 block 0 at offset 64: checksum mismatch"),
                  "%s: %llu records, %s", zstd ? "zstd" : "raw", (unsigned long long)s.records,
                  first);
        tg_destroy(g);
    }
}

/* Blocks a 3.1 reader takes for damaged before any check of its bytes. */
static void test_unsealed_blocks(void)
{
    uint8_t rec[] = {TMK_REC_ALLOC_INFO | 10, 0, 0};
    size_t zn;
    uint8_t *z = tg_zstd_frame(rec, sizeof rec, 3, 0, &zn); /* no zstd checksum */
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, 1);
    tg_block(g, 1, TMK_BLOCK_ZSTD, z, zn);
    tg_end(g, 1, 10, TMK_END_EXIT, 0);
    free(z);
    size_t n, w;
    uint8_t *b = (uint8_t *)tg_bytes(g, &n);
    struct seen s;
    char first[256];
    if (read_trace(b, n, 0, &s, &w, first, sizeof first) == 0)
        CHECK(s.records == 1 && strstr(first, "payload is a zstd frame without its checksum"),
              "frame without checksum: %s", first);
    /* the first block's CHECKSUM flag cleared (trailer still there) */
    b[TMK_FILE_HEADER_SIZE + 12] &= (uint8_t)~TMK_BLOCK_CHECKSUM;
    if (read_trace(b, n, 0, &s, &w, first, sizeof first) == 0)
        CHECK(strstr(first, "no checksum, which every 3.1 block has"), "no flag: %s", first);
    /* a payload shorter than the trailer */
    tmk_put_le32(b + TMK_FILE_HEADER_SIZE + 4, 4);
    b[TMK_FILE_HEADER_SIZE + 12] |= TMK_BLOCK_CHECKSUM;
    if (read_trace(b, TMK_FILE_HEADER_SIZE + TMK_BLOCK_HEADER_SIZE + 4, 0, &s, &w, first,
                   sizeof first) == 0)
        CHECK(strstr(first, "payload shorter than its checksum"), "short: %s", first);
    tg_destroy(g);
}

/* 3.0 (no checksums): a streamed frame damaged near its end gives the
 * records before the damage, then a warning. */
static void test_damaged_frame_30(void)
{
    uint64_t bytes;
    struct tg *g = big_trace(0, 1, 64u << 20, &bytes);
    size_t n, w;
    uint8_t *b = (uint8_t *)tg_bytes(g, &n);
    b[n - 100] ^= 0xff;
    struct seen s;
    char first[256];
    if (read_trace(b, n, 0, &s, &w, first, sizeof first) == 0)
        CHECK(s.allocs > N_ALLOCS / 2 && s.allocs < N_ALLOCS && s.ends == 0 &&
                  strstr(first, "rest of the block skipped"),
              "%llu allocs, %s", (unsigned long long)s.allocs, first);
    tg_destroy(g);
}

int main(void)
{
    test_streamed_blocks();
    test_record_over_limit();
    test_window_over_limit();
    test_header_check();
    test_damaged_block();
    test_damaged_streamed_block();
    test_unsealed_blocks();
    test_damaged_frame_30();
    return check_status();
}
