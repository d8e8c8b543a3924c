/* tests/format/tracegen.h - the tests' one trace WRITER: builds .tmk files
 * with the encoders of trace_format.h, so the analyzer, tmkcat and the
 * fuzzer can be given exact, synthetic event sequences without the shim
 * (their shared scenarios: scenarios.h). Times are absolute ns;
 * the writer turns them into per-block deltas. Each thread has one open
 * block; tg_flush() closes it (blocks land in the file in flush order).
 *
 * A new generator writes version 1.1 (TG_V1_*): the scenarios are 1.x
 * traces, read through the "major 1" path. tg_set_version(g, 3, 0) before
 * the first record makes a 3.0 trace: TABLE_ARRAY then carries by_info,
 * info_size and info_stack, and the tg_tick / tg_*_info records may be
 * used. tg_set_version(g, 3, 1) makes a 3.1 trace: the same, with the
 * header's check, each block sealed (TMK_BLOCK_CHECKSUM and its trailer)
 * and zstd frames with zstd's checksum. */
#ifndef TIDEMARK_TESTS_TRACEGEN_H
#define TIDEMARK_TESTS_TRACEGEN_H

#include <stddef.h>
#include <stdint.h>

struct tg;

#define TG_MAX_THREADS 256 /* thread numbers 1..TG_MAX_THREADS */

#define TG_V1_MAJOR 1
#define TG_V1_MINOR 1

struct tg *tg_new(uint32_t flags);
void tg_set_version(struct tg *g, uint16_t major, uint16_t minor);
/* From now on, blocks are flushed as zstd frames (TMK_BLOCK_ZSTD) when on. */
void tg_set_zstd(struct tg *g, int on);
/* A thread's block is flushed once it holds more than this (64 KiB). */
void tg_set_block_limit(struct tg *g, size_t bytes);
/* One zstd frame of src at this level, stating its content size, with a
 * window of at most 1 MiB (TMK_RECORD_LIMIT) and these TG_ZSTD_* flags;
 * malloc'ed, its size in *zn. */
#define TG_ZSTD_CHECKSUM 0x1u  /* zstd's content checksum (3.1 frames) */
#define TG_ZSTD_NO_SIZE 0x2u   /* no content size in the frame header */
#define TG_ZSTD_WINDOW_2M 0x4u /* a 2 MiB window (zstd's windowLog 21) */
uint8_t *tg_zstd_frame(const void *src, size_t n, int level, unsigned flags, size_t *zn);
void tg_flush(struct tg *g, uint32_t thread);
/* Flushes th's open block, then appends a block of th with these stored
 * bytes and block flags (for damaged blocks); in a 3.1 trace sealed with a
 * good checksum, as a writer that meant them would. */
void tg_block(struct tg *g, uint32_t th, uint32_t flags, const void *payload, size_t n);
void tg_alloc(struct tg *g, uint32_t th, uint64_t t, uint64_t ptr, uint64_t size, uint64_t stack);
void tg_free(struct tg *g, uint32_t th, uint64_t t, uint64_t ptr);
void tg_stack(struct tg *g, uint32_t th, uint64_t id, uint32_t depth, const uint64_t *frames);
void tg_module(struct tg *g, uint32_t th, uint64_t id, uint64_t bias, uint64_t start,
               uint64_t end, const char *path);
/* The same with a build-id of n raw bytes. */
void tg_module_build_id(struct tg *g, uint32_t th, uint64_t id, uint64_t bias, uint64_t start,
                        uint64_t end, const void *build_id, size_t n, const char *path);
void tg_module_gone(struct tg *g, uint32_t th, uint64_t id);
void tg_thread(struct tg *g, uint32_t th, uint64_t t, uint64_t tid, const char *name);
void tg_lost(struct tg *g, uint32_t th, uint64_t t, uint64_t count);
void tg_table_new(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint32_t kind,
                  uint32_t flags, uint32_t key, uint32_t value, uint32_t bucket, uint32_t slots,
                  uint64_t hint, uint64_t stack, const char *label);
void tg_table_array(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t ptr,
                    uint64_t bytes, uint64_t buckets, uint32_t reason, uint64_t live,
                    uint64_t stack);
/* The same by info (3.0): by_info 1 and the info (size, stack) that
 * allocated ptr (tg_table_array writes 0, 0, 0 in 3.0). */
void tg_table_array_info(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t ptr,
                         uint64_t bytes, uint64_t buckets, uint32_t reason, uint64_t live,
                         uint64_t stack, uint64_t info_size, uint64_t info_stack);
void tg_table_count(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t live);
void tg_table_end(struct tg *g, uint32_t th, uint64_t t, uint64_t table, uint64_t live);
/* TABLE_PEAK (extended, untimed: at th's previous record's time). */
void tg_table_peak(struct tg *g, uint32_t th, uint64_t table, uint64_t peak);
/* TABLE_GROWTH (extended, untimed): the growth rule table stated. */
void tg_table_growth(struct tg *g, uint32_t th, uint64_t table, uint32_t load_num,
                     uint32_t load_den, uint32_t factor, uint32_t min_buckets);
void tg_memory(struct tg *g, uint32_t th, uint64_t t, uint64_t rss, uint64_t heap);
void tg_end(struct tg *g, uint32_t th, uint64_t t, uint32_t why, uint32_t status);
/* 3.0: TICK (th's time moves to t), and the untimed heap records by info. */
void tg_tick(struct tg *g, uint32_t th, uint64_t t);
void tg_alloc_info(struct tg *g, uint32_t th, uint64_t size, uint64_t stack);
void tg_free_info(struct tg *g, uint32_t th, uint64_t size, uint64_t stack);
/* Raw bytes appended to thread th's open block (for corrupt records). */
void tg_raw(struct tg *g, uint32_t th, const void *bytes, size_t n);

/* Flushes every open block (threads in ascending order) and returns the
 * file's bytes (owned by g) and size. */
const uint8_t *tg_bytes(struct tg *g, size_t *size);
/* Writes the file; 0 or -1. */
int tg_write(struct tg *g, const char *path);
void tg_destroy(struct tg *g);

#endif /* TIDEMARK_TESTS_TRACEGEN_H */
