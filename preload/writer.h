/* preload/writer.h - the trace file: writer.c's interface (opening it,
 * its lock, writing a block, closing it) and compress.c's, which makes
 * each block's stored bytes.
 */
#ifndef TIDEMARK_PRELOAD_WRITER_H
#define TIDEMARK_PRELOAD_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

int tmk_writer_open(void) TMK_HIDDEN; /* 0 ok, -1 (warned, tracing off) */
void tmk_writer_lock(void) TMK_HIDDEN;
int tmk_writer_trylock(void) TMK_HIDDEN;
void tmk_writer_unlock(void) TMK_HIDDEN;
int tmk_writer_held_here(void) TMK_HIDDEN; /* this thread holds the lock (a handler asks) */
/* Writes one block (writer lock held). Returns 0, or -1 when tracing stopped. */
int tmk_writer_block(uint32_t thread, uint64_t seq, uint64_t time_base, const uint8_t *payload,
                     size_t size) TMK_HIDDEN;
void tmk_writer_close(void) TMK_HIDDEN; /* writer lock held */
void tmk_writer_after_fork_child(void) TMK_HIDDEN;

/* compress.c: a block's bytes to store (writer lock held): its records,
 * or one zstd frame of them in the compressor's buffer when smaller (flags
 * TMK_BLOCK_ZSTD); *size becomes the stored size. */
void tmk_compress_init(void) TMK_HIDDEN; /* once, before the first block */
const uint8_t *tmk_compress_block(uint32_t thread, const uint8_t *payload, size_t *size,
                                  uint32_t *flags) TMK_HIDDEN;
/* Does thread's next block use the literal setup (for tests)? */
int tmk_compress_literal_choice(uint32_t thread) TMK_HIDDEN;

/* The trace file's descriptor sits at this number or above when the
 * descriptor limit leaves room (writer.c). */
#define TMK_FD_HIGH 1024

#endif /* TIDEMARK_PRELOAD_WRITER_H */
