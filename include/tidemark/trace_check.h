/* tidemark/trace_check.h - the checksums of a 3.1 trace (trace_format.h):
 * the file header's `check` and the trailer of every block, both XXH3-64
 * (seed 0) from Debian's libxxhash-dev. XXH_INLINE_ALL compiles the hash
 * into the caller: nothing to link, no allocation (the streaming state lives
 * on the stack), so the shim may use it on any path, a signal handler's
 * final flush included.
 */
#ifndef TIDEMARK_TRACE_CHECK_H
#define TIDEMARK_TRACE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "tidemark/trace_format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The check of an encoded file header: XXH3-64 of its first
 * TMK_FILE_HEADER_CHECKED bytes. */
static inline uint64_t tmk_header_check(const uint8_t raw[TMK_FILE_HEADER_SIZE])
{
    return XXH3_64bits(raw, TMK_FILE_HEADER_CHECKED);
}

/* Puts the check into an encoded header whose version has one (3.1 and
 * later); leaves a 1.x or 3.0 header's 0. Call after tmk_file_header_encode. */
static inline void tmk_header_seal(uint8_t raw[TMK_FILE_HEADER_SIZE])
{
    struct tmk_file_header h;
    tmk_file_header_decode(&h, raw);
    if (tmk_trace_checksummed(h.version_major, h.version_minor))
        tmk_put_le64(raw + TMK_FILE_HEADER_CHECKED, tmk_header_check(raw));
}

/* A block's trailer: XXH3-64 of its encoded header (payload_size counting
 * the trailer, flags with TMK_BLOCK_CHECKSUM) then its `n` stored bytes.
 * Where both lie together in memory, XXH3_64bits over the 32 + n bytes
 * gives the same value. */
static inline uint64_t tmk_block_check(const uint8_t header[TMK_BLOCK_HEADER_SIZE],
                                       const void *stored, size_t n)
{
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, header, TMK_BLOCK_HEADER_SIZE);
    XXH3_64bits_update(&st, stored, n);
    return XXH3_64bits_digest(&st);
}

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_TRACE_CHECK_H */
