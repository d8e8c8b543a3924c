/* tests/format/scenarios.h - synthetic traces shared by the analyzer's
 * tests, the tracegen command (tracegen_main.c) and the fuzz seeds, built
 * with the writer of tracegen.h (scenarios.c, scenarios_size.c). */
#ifndef TIDEMARK_TESTS_SCENARIOS_H
#define TIDEMARK_TESTS_SCENARIOS_H

#include "tracegen.h"

/* Each returns a new generator holding the whole trace. */
struct tg *tg_scenario_seed(uint32_t value_size, uint64_t hint, int fix);
/* The seed with each array's buckets as gomap records them: 2^B plus the
 * preallocated overflow buckets (2^18 + 2^14 = 278,528 at the end). */
struct tg *tg_scenario_seed_overflow(uint32_t value_size);
/* The seed (128-byte values) in a trace whose header has these TMK_FILE_*
 * flags: TMK_FILE_MODE_TABLES or TMK_FILE_SAMPLED say the heap is not
 * tracked (the same records: only the analyzer's reading differs). */
struct tg *tg_scenario_seed_flags(uint32_t file_flags);
/* Two emptied gomap tables, "big" and "small", each retaining its array. */
struct tg *tg_scenario_two_tables(void);
struct tg *tg_scenario_freed(uint64_t live);
struct tg *tg_scenario_threads(void);
/* 3.0, full mode, heap by info, thread 1's block zstd-compressed: thread 1
 * allocates four blocks of info (4096, stack 1); one becomes table 1's array
 * (TABLE_ARRAY by info, later a FREE by address), one is freed by thread 1,
 * one by thread 2 (its FREE_INFO met before the ALLOC_INFO: same TICK slot),
 * one stays. tg_scenario_info_v1 is the same story in 1.1 with addresses
 * and exact times (thread 2's free falls between the last two allocations;
 * the 3.0 reader applies it right after the first of them: the same).
 * Both: 4 allocations, 3 frees, 4096 bytes in use at the end, peak 8192
 * at 65600 ns. */
struct tg *tg_scenario_info(void);
struct tg *tg_scenario_info_v1(void);
/* 3.0: thread 2 frees a block of thread 1's info a whole TICK slot before
 * thread 1 allocates it (out of order: a strict reader says so). */
struct tg *tg_scenario_info_late(void);

/* A small 3.minor trace in blocks of about 100 bytes (zstd frames when
 * zstd): a gomap table grown by info to B=3 then emptied, heap by info on
 * two threads, memory samples, END. For damage tests. */
struct tg *tg_scenario_mixed(uint16_t minor, int zstd);
/* 3.1: `threads` threads one after the other, each one zstd block of about
 * `bytes` bytes of records (allocations and frees by info), then END. */
struct tg *tg_scenario_serial(uint32_t threads, size_t bytes);
/* A decompression bomb, version 3.minor (3.1: checksums good): `threads`
 * threads of one zstd block each, the same level-1 frame of `bytes` bytes
 * of `pattern` repeated (64 MiB of zeros: 2 KB stored). */
struct tg *tg_scenario_bomb(uint32_t threads, const void *pattern, size_t plen, size_t bytes,
                            uint16_t minor);

#endif /* TIDEMARK_TESTS_SCENARIOS_H */
