/* tests/fuzz/seedgen.c - writes the fuzz target's seed corpus: small valid
 * traces that together use every record type, both table kinds, two threads,
 * the tables mode, an extended record, and one cut short; 1.1 traces and
 * 3.x ones (heap by info, TICK, a TABLE_ARRAY by info, zstd blocks), in 3.1
 * (checksums) and in 3.0 (none: mutations there reach the decoders); and
 * hostile ones: a decompression bomb (8 threads of a 2 KB frame of 64 MiB
 * of zeros) and a 3.1 trace with a flipped byte (a damaged block).
 *
 *   seedgen DIR     writes DIR/<name>.tmk
 *
 * The traces are built with the tests' trace writer (tests/format/
 * tracegen.h), independently of the analyzer's reader, so the fuzzer starts
 * from what the shim writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scenarios.h"
#include "tidemark/annotate.h"
#include "tidemark/trace_format.h"

static const uint64_t frames_a[] = {0x401234, 0x401500, 0x7f0000001000};
static const uint64_t frames_b[] = {0x401300, 0x401500};

/* Thread 1's first records: THREAD, two modules, two stacks. */
static void common_prologue(struct tg *g)
{
    tg_thread(g, 1, 10, 4321, "main");
    tg_module_build_id(g, 1, 1, 0, 0x400000, 0x500000, "\x12\x34\x56\x78", 4,
                       "/usr/bin/seedprog");
    tg_module(g, 1, 2, 0x7f0000000000, 0x7f0000000000, 0x7f0000100000, "");
    tg_stack(g, 1, 1, 3, frames_a);
    tg_stack(g, 1, 2, 2, frames_b);
}

static struct tg *seed_end_only(void)
{
    struct tg *g = tg_new(0);
    tg_thread(g, 1, 1, 99, "t");
    tg_end(g, 1, 2, TMK_END_EXIT, 0);
    return g;
}

static struct tg *seed_heap(void)
{
    struct tg *g = tg_new(TMK_FILE_FRAME_POINTER);
    common_prologue(g);
    for (uint64_t i = 0; i < 6; i++) tg_alloc(g, 1, 100 + i, 0x10000 + 64 * i, 48 + i, 1 + i % 2);
    tg_memory(g, 1, 120, 1 << 20, 300);
    for (uint64_t i = 0; i < 4; i++) tg_free(g, 1, 200 + i, 0x10000 + 64 * i);
    tg_alloc(g, 1, 300, 0x20000, 4096, 0);
    tg_lost(g, 1, 310, 3);
    tg_module_gone(g, 1, 2);
    tg_end(g, 1, 400, TMK_END_SIGNAL, 9);
    return g;
}

/* A gomap of 8 -> 128 byte entries grows from 1 to 4 buckets, then empties. */
static void gomap_story(struct tg *g, uint64_t t0)
{
    uint64_t t = t0, ptr = 0x30000, bytes = 1104, buckets = 1;
    tg_table_new(g, 1, t++, 1, TMK_KIND_GOMAP, 0, 8, 128, 1104, 8, 0, 1, "seed <map>");
    tg_alloc(g, 1, t, ptr, bytes, 1);
    tg_table_array(g, 1, t++, 1, ptr, bytes, buckets, TMK_ARRAY_INITIAL, 0, 1);
    for (int k = 0; k < 2; k++) {
        tg_table_count(g, 1, t++, 1, 8 * buckets);
        uint64_t nptr = ptr + 0x10000;
        tg_alloc(g, 1, t, nptr, bytes * 2, 1);
        tg_table_array(g, 1, t++, 1, nptr, bytes * 2, buckets * 2, TMK_ARRAY_GROW,
                       8 * buckets + 1, 1);
        tg_free(g, 1, t++, ptr);
        ptr = nptr;
        bytes *= 2;
        buckets *= 2;
    }
    tg_table_count(g, 1, t++, 1, 26);
    tg_table_peak(g, 1, 1, 40); /* the high-water count, above every sample */
    tg_alloc(g, 1, t, 0x90000, 1104, 2);
    tg_table_array(g, 1, t++, 1, 0x90000, 1104, 1, TMK_ARRAY_OVERFLOW, 26, 2);
    tg_table_count(g, 1, t++, 1, 3);
    tg_table_count(g, 1, t++, 1, 0);
}

static struct tg *seed_gomap(int with_end)
{
    struct tg *g = tg_new(0);
    common_prologue(g);
    gomap_story(g, 100);
    if (with_end) {
        tg_table_end(g, 1, 500, 1, 0);
        tg_free(g, 1, 501, 0x50000);
        tg_end(g, 1, 600, TMK_END_EXIT, 0);
    }
    return g;
}

static struct tg *seed_two_threads(void)
{
    struct tg *g = tg_new(0);
    common_prologue(g);
    tg_alloc(g, 1, 100, 0x1000, 10, 1);
    tg_alloc(g, 1, 300, 0x2000, 20, 2);
    tg_flush(g, 1);
    tg_thread(g, 2, 150, 4322, "worker");
    tg_free(g, 2, 200, 0x1000); /* frees thread 1's allocation */
    tg_alloc(g, 2, 250, 0x3000, 30, 2);
    tg_flush(g, 2);
    tg_free(g, 1, 400, 0x3000);
    tg_end(g, 1, 500, TMK_END_EXIT, 3);
    return g;
}

static struct tg *seed_uthash_tables_mode(void)
{
    /* TABLE_PEAK with a byte more than its fields: what a newer minor may add */
    static const uint8_t peak_longer[] = {TMK_REC_TABLE_PEAK, 3, 1, 2, 3};
    struct tg *g = tg_new(TMK_FILE_MODE_TABLES);
    common_prologue(g);
    tg_table_new(g, 1, 10, 7, TMK_KIND_UTHASH, 0, 16, 64, 16, 0, 0, 2, "users");
    tg_table_array(g, 1, 11, 7, 0x5000, 32 * 16, 32, TMK_ARRAY_INITIAL, 0, 2);
    tg_table_count(g, 1, 20, 7, 400);
    tg_table_array(g, 1, 21, 7, 0x6000, 64 * 16, 64, TMK_ARRAY_GROW, 401, 2);
    tg_table_count(g, 1, 30, 7, 2);
    tg_table_new(g, 1, 40, 8, 99, 0, 4, 4, 8, 1, 1000, 0, "");
    tg_table_array(g, 1, 41, 8, 0x7000, 8000, 1000, TMK_ARRAY_INITIAL, 0, 0);
    tg_raw(g, 1, peak_longer, sizeof peak_longer);
    tg_end(g, 1, 50, TMK_END_EXEC, 0);
    return g;
}

/* 3.minor full mode: thread 1 (zstd) allocates by info, one block becomes a
 * gomap's array (TABLE_ARRAY by info, FREE by address); thread 2 frees one
 * of thread 1's blocks at the same TICK, before its ALLOC_INFO is read. */
static struct tg *seed_info(int zstd, uint16_t minor)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, minor);
    tg_thread(g, 2, 5, 4322, "worker");
    tg_tick(g, 2, 2 * TMK_TICK_NS);
    tg_free_info(g, 2, 48, 2);
    tg_flush(g, 2);
    tg_set_zstd(g, zstd);
    common_prologue(g);
    tg_tick(g, 1, TMK_TICK_NS);
    tg_table_new(g, 1, TMK_TICK_NS + 10, 1, TMK_KIND_GOMAP, 0, 8, 128, 1104, 8, 0, 1,
                 "info map");
    tg_alloc_info(g, 1, 1104, 1);
    tg_table_array_info(g, 1, TMK_TICK_NS + 20, 1, 0x30000, 1104, 1, TMK_ARRAY_INITIAL, 0, 1,
                        1104, 1);
    tg_alloc_info(g, 1, 48, 2);
    tg_free_info(g, 1, 48, 2);
    tg_tick(g, 1, 2 * TMK_TICK_NS);
    tg_memory(g, 1, 2 * TMK_TICK_NS + 30, 1 << 20, 0);
    tg_alloc_info(g, 1, 48, 2); /* the one thread 2 freed */
    tg_alloc_info(g, 1, 48, 2);
    tg_table_count(g, 1, 2 * TMK_TICK_NS + 40, 1, 0);
    tg_free(g, 1, 2 * TMK_TICK_NS + 50, 0x30000);
    tg_end(g, 1, 3 * TMK_TICK_NS, TMK_END_EXIT, 0);
    return g;
}

/* Writes DIR/NAME.tmk: g's trace, its first `len` bytes when cut (else
 * all), with the byte `flip` bytes before the end XORed with 0x10 when
 * flip; destroys g. */
static int write_seed(const char *dir, const char *name, struct tg *g, size_t cut, size_t flip)
{
    size_t n;
    const uint8_t *b = tg_bytes(g, &n);
    uint8_t *copy = malloc(n);
    if (!copy) abort();
    memcpy(copy, b, n);
    if (flip) copy[n - flip] ^= 0x10;
    tg_destroy(g);
    n -= cut;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.tmk", dir, name);
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(copy, 1, n, f) != n;
    if (f && fclose(f)) bad = 1;
    free(copy);
    if (bad) fprintf(stderr, "seedgen: cannot write %s: %s\n", path, strerror(errno));
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: seedgen DIR\n", stderr);
        return 2;
    }
    const char *dir = argv[1];
    mkdir(dir, 0755);
    int bad = 0;
    bad |= write_seed(dir, "end_only", seed_end_only(), 0, 0);
    bad |= write_seed(dir, "heap", seed_heap(), 0, 0);
    bad |= write_seed(dir, "gomap", seed_gomap(1), 0, 0);
    bad |= write_seed(dir, "gomap_no_end", seed_gomap(0), 0, 0);
    bad |= write_seed(dir, "gomap_cut", seed_gomap(0), 7, 0);
    bad |= write_seed(dir, "two_threads", seed_two_threads(), 0, 0);
    bad |= write_seed(dir, "uthash_tables_mode", seed_uthash_tables_mode(), 0, 0);
    bad |= write_seed(dir, "info_zstd", seed_info(1, 1), 0, 0);
    bad |= write_seed(dir, "info_plain", seed_info(0, 1), 0, 0);
    /* a byte of the last block's records flipped: the block is damaged */
    bad |= write_seed(dir, "info_plain_flipped", seed_info(0, 1), 0, TMK_BLOCK_CHECK_SIZE + 5);
    bad |= write_seed(dir, "info_zstd_30", seed_info(1, 0), 0, 0);
    bad |= write_seed(dir, "info_plain_30", seed_info(0, 0), 0, 0);
    /* 8 threads of one level-1 frame of 64 MiB of zeros (2 KB), checksums good */
    bad |= write_seed(dir, "bomb", tg_scenario_bomb(8, "", 1, TMK_BLOCK_MAX_PAYLOAD, 1), 0, 0);
    return bad ? 1 : 0;
}
