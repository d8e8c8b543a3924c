/* tests/format/scenarios_size.c - the scenarios of the reader's memory bound
 * (scenarios.h): decompression bombs and threads one after the other,
 * built with tracegen's public writer only. */
#include <stdlib.h>
#include <string.h>

#include "scenarios.h"
#include "tidemark/trace_format.h"

struct tg *tg_scenario_bomb(uint32_t threads, const void *pattern, size_t plen, size_t bytes,
                            uint16_t minor)
{
    if (threads == 0 || threads > TG_MAX_THREADS || plen == 0) abort();
    uint8_t *plain = malloc(bytes ? bytes : 1);
    if (!plain) abort();
    for (size_t i = 0; i < bytes; i += plen)
        memcpy(plain + i, pattern, bytes - i < plen ? bytes - i : plen);
    size_t zn;
    uint8_t *z =
        tg_zstd_frame(plain, bytes, 1, tmk_trace_checksummed(3, minor) ? TG_ZSTD_CHECKSUM : 0, &zn);
    free(plain);
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, minor);
    for (uint32_t th = 1; th <= threads; th++) tg_block(g, th, TMK_BLOCK_ZSTD, z, zn);
    free(z);
    return g;
}

/* 3.1: `threads` threads one after the other (thread k from k ms on), each
 * one zstd block of `bytes` bytes of records: a TICK, then ALLOC_INFO and
 * FREE_INFO of one info, in turn; then END. */
struct tg *tg_scenario_serial(uint32_t threads, size_t bytes)
{
    if (threads == 0 || threads > TG_MAX_THREADS) abort();
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, 1);
    tg_set_zstd(g, 1);
    tg_set_block_limit(g, bytes + 64);
    for (uint32_t th = 1; th <= threads; th++) {
        tg_tick(g, th, (uint64_t)th * 1000000);
        for (size_t n = 0; n + 6 <= bytes; n += 6) {
            tg_alloc_info(g, th, 64, 0);
            tg_free_info(g, th, 64, 0);
        }
        tg_flush(g, th);
    }
    tg_end(g, 1, (uint64_t)(threads + 1) * 1000000, TMK_END_EXIT, 0);
    return g;
}
