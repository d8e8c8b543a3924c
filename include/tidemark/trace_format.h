/* tidemark/trace_format.h - the .tmk trace file: the one format between the
 * shim (writer, preload/) and the analyzer (reader, analyzer/).
 * docs/trace-format.md is the prose version of this header; keep them equal.
 *
 * Layout (all integers little-endian):
 *
 *   file header   TMK_FILE_HEADER_SIZE bytes, struct tmk_file_header
 *   block*        block header (TMK_BLOCK_HEADER_SIZE bytes) + payload
 *
 * Each block holds the records of one thread, in the order that thread made
 * them. Blocks of one thread appear in the file in their `seq` order; blocks of
 * different threads interleave in the order they were flushed. A block's
 * payload may be one zstd frame (TMK_BLOCK_ZSTD); decompressed, it is the
 * same sequence of records. A reader gets the global order by merging the
 * threads' record streams on their times: the writer takes an allocation's
 * time after the allocator returned it and a free's time before the memory
 * goes back, so a free is never earlier than the allocation it ends, on
 * whatever threads they ran (for ALLOC_INFO/FREE_INFO, whose times are
 * coarse, equal times can still come in either order: see below).
 *
 * A payload is a sequence of records. A record is one type byte then its
 * fields, each an unsigned LEB128 varint ("u") or a zigzag signed varint ("s"),
 * or a byte string ("str" = u length, then that many bytes, no NUL).
 * Timed records start with `dt`: nanoseconds since the previous timed record
 * of the same block (the first one counts from the block's time_base).
 * Definitions (STACK, MODULE, MODULE_GONE), the heap records of full mode
 * (ALLOC_INFO, FREE_INFO) and extended records have no dt:
 * they happen at the time of the block's latest timed record. Times are
 * CLOCK_MONOTONIC ns minus the file header's start_monotonic_ns.
 *
 * Compatibility: a reader rejects a major version outside
 * TMK_TRACE_VERSION_MAJOR_OLDEST..TMK_TRACE_VERSION_MAJOR (a 1.x trace is
 * read with 1.x's records) and major TMK_TRACE_VERSION_MAJOR_DROPPED.
 * Minor versions add record types >= TMK_REC_EXTENDED, which carry their
 * length (u) right after the type byte so that older readers skip them, or
 * block flags, which older readers take for damage (the block is skipped
 * with a warning, never misread): 3.1 added TMK_BLOCK_CHECKSUM.
 *
 * Checksums (3.1; trace_check.h computes them): the file header's last 8
 * bytes (`check`) are XXH3-64 of its first TMK_FILE_HEADER_CHECKED bytes,
 * and every block ends with TMK_BLOCK_CHECK_SIZE bytes (inside
 * payload_size): XXH3-64 of all the block's bytes before them, its header
 * included. A zstd frame also carries zstd's own checksum of its content.
 * 1.x and 3.0 have none (their `check` is 0): damage there can only be
 * found where it breaks the encoding.
 *
 * A clean run ends with an END record. A file without one was cut short
 * (killed process, full disk): readers use what is complete and say so.
 */
#ifndef TIDEMARK_TRACE_FORMAT_H
#define TIDEMARK_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TMK_TRACE_MAGIC "TIDEMARK" /* 8 bytes, no NUL, at offset 0 */
#define TMK_TRACE_MAGIC_LEN 8
#define TMK_TRACE_VERSION_MAJOR 3
#define TMK_TRACE_VERSION_MINOR 1
/* 3.1: checksums: the file header's `check`, a trailer in every block
 * (TMK_BLOCK_CHECKSUM), zstd frames with zstd's content checksum; and BOUND
 * (TIDEMARK_MAX_BYTES). A 3.0 trace is read as before, without them.
 * 3.0: full mode records the heap by "info", the (size, stack) pair of an
 * allocation, written in each record, instead of by address; with coarse
 * times (TICK), and blocks may be zstd-compressed; TABLE_ARRAY names its
 * allocation's info. 2.0 was the development format that interned infos per
 * thread (INFO, FREE_INFO_X records); no release wrote it and no reader reads
 * it. 1.1 added TABLE_PEAK. Readers also accept major 1 (same records, minus
 * TICK and the heap by info). */
#define TMK_TRACE_VERSION_MAJOR_OLDEST 1
#define TMK_TRACE_VERSION_MAJOR_DROPPED 2

/* ---- file header: 64 bytes at offset 0 ---------------------------------- */

#define TMK_FILE_HEADER_SIZE 64

/* tmk_file_header.flags */
#define TMK_FILE_MODE_TABLES 0x1u  /* mode=tables: only table events, bucket-array
                                      stacks, counts and memory samples */
#define TMK_FILE_SAMPLED 0x2u      /* ordinary allocations are byte-sampled
                                      (Poisson, mean sample_interval bytes) */
#define TMK_FILE_FRAME_POINTER 0x4u /* stacks from the frame-pointer unwinder */

struct tmk_file_header {
    char magic[8];               /*  0: TMK_TRACE_MAGIC */
    uint16_t version_major;      /*  8 */
    uint16_t version_minor;      /* 10 */
    uint32_t header_size;        /* 12: bytes from offset 0 to the first block */
    uint32_t flags;              /* 16: TMK_FILE_* */
    uint32_t pid;                /* 20 */
    uint32_t ppid;               /* 24 */
    uint32_t max_depth;          /* 28: stack depth limit in effect */
    uint64_t start_realtime_ns;  /* 32: CLOCK_REALTIME at start, ns since epoch */
    uint64_t start_monotonic_ns; /* 40: CLOCK_MONOTONIC at start; event times count from it */
    uint64_t sample_interval;    /* 48: mean bytes between samples; 0 = every allocation */
    uint64_t check;              /* 56: 3.1: XXH3-64 of bytes 0..55; 1.x, 3.0: 0 */
};

#define TMK_FILE_HEADER_CHECKED 56 /* header bytes that `check` covers */
/* The minor version of major 3 from which headers and blocks carry checksums. */
#define TMK_TRACE_CHECKSUM_MINOR 1

/* Does a trace of this version carry checksums (3.1 and later minors of 3)? */
static inline int tmk_trace_checksummed(uint16_t major, uint16_t minor)
{
    return major == 3 && minor >= TMK_TRACE_CHECKSUM_MINOR;
}

/* ---- block header: 32 bytes --------------------------------------------- */

/* tmk_block_header.flags */
#define TMK_BLOCK_ZSTD 0x1u /* payload = one zstd frame that states its content
                               size (<= TMK_BLOCK_MAX_PAYLOAD): the records;
                               in 3.1 the frame has zstd's content checksum */
#define TMK_BLOCK_CHECKSUM 0x2u /* 3.1, on every block: the payload's last
                                   TMK_BLOCK_CHECK_SIZE bytes are XXH3-64 (le)
                                   of the block's bytes before them, header
                                   included; the records (or the zstd frame)
                                   are the payload before them */
#define TMK_BLOCK_CHECK_SIZE 8

#define TMK_BLOCK_MAGIC 0x424b4d54u /* "TMKB" read as a little-endian u32 */
#define TMK_BLOCK_HEADER_SIZE 32
#define TMK_BLOCK_MAX_PAYLOAD (64u << 20) /* readers reject larger blocks */
/* No record is longer than this, and a zstd frame of more records than this
 * needs a window (zstd's Window_Size) of at most this (zstd's windowLog 20:
 * levels 1 and 2 by default; from level 3 on, set ZSTD_c_windowLog): a
 * reader may stream such a frame through a window of its own, memory
 * bounded whatever the frame claims, and take a longer record, or a wider
 * window, for damage. The shim writes blocks of at most 512 KiB of records. */
#define TMK_RECORD_LIMIT (1u << 20)

struct tmk_block_header {
    uint32_t magic;        /*  0: TMK_BLOCK_MAGIC */
    uint32_t payload_size; /*  4: bytes after this header (stored, i.e. compressed) */
    uint32_t thread;       /*  8: the shim's thread number, 1-based */
    uint32_t flags;        /* 12: TMK_BLOCK_* */
    uint64_t seq;          /* 16: this block's number within its thread, from 0 */
    uint64_t time_base;    /* 24: ns; the first record's dt counts from here */
};

/* ---- records ------------------------------------------------------------ */

enum tmk_record_type {
    /* Heap, by address. ptr deltas are against the previous ptr of any
     * ALLOC/FREE in the same block (0 at block start). stack 0 = no stack
     * recorded. Used for every block in tables mode and sampled mode (1.x:
     * in every mode). In full mode (3.0) ALLOC is used only for blocks of
     * TMK_INFO_SIZE_LIMIT bytes or more, and FREE for those, for a block that
     * became a table's array (see TABLE_ARRAY) and for a block the trace
     * never saw allocated (allocated before tracing, or freed twice). */
    TMK_REC_ALLOC = 0x01,     /* dt u, ptr_delta s, size u, stack u */
    TMK_REC_FREE = 0x02,      /* dt u, ptr_delta s */

    /* Time only: the block's time moves on by dt (3.0). The writer puts one
     * before an ALLOC_INFO/FREE_INFO when the coarse clock it reads for them
     * (CLOCK_MONOTONIC_COARSE: one value for all CPUs, moving by the
     * kernel's tick, 1 to 10 ms) has moved on since the block's time. */
    TMK_REC_TICK = 0x03,      /* dt u */

    /* Definitions, not timed. Ids are process-wide, 1-based, each defined once,
     * possibly in a later block than a record that uses it. Frames are return
     * addresses, innermost (malloc's caller) first; each frame is a delta
     * against the previous one (the first against 0). */
    TMK_REC_STACK = 0x04,     /* id u, depth u, frame_delta s * depth */
    /* A loaded ELF object: [start, end) covers its PT_LOAD segments; bias is
     * the load bias (runtime address = ELF vaddr + bias). path may be empty
     * for the main program when it cannot be named; build_id may be empty. */
    TMK_REC_MODULE = 0x05,    /* id u, bias u, start u, end u, build_id str, path str */
    TMK_REC_MODULE_GONE = 0x06, /* id u */

    /* Heap, by info (3.0, full mode, not sampled). An info is the pair
     * (size, stack) of an allocation: size as requested (< 2^32), stack the
     * STACK id (< 2^32). A block allocated with ALLOC_INFO has no address in
     * the trace: blocks of one info are interchangeable, and a FREE_INFO, on
     * whatever thread, ends one of them. The two most frequent records carry
     * the size's low TMK_INFO_TYPE_BITS bits in their type byte: types
     * 0x40..0x5f and 0x60..0x7f.
     * Reader contract: at equal times a FREE_INFO may be met before the
     * ALLOC_INFO it ends (another thread, less than TMK_TICK_NS apart); a
     * reader keeps it until a block of that info is allocated. */
    TMK_REC_ALLOC_INFO = 0x40,  /* type = 0x40 | (size & 31), then stack u, size >> 5 u */
    TMK_REC_FREE_INFO = 0x60,   /* type = 0x60 | (size & 31), then stack u, size >> 5 u */

    /* Tables (see annotate.h). table = shim-assigned id, 1-based, never reused
     * within a file. live = the live count read at that moment. */
    TMK_REC_TABLE_NEW = 0x10,   /* dt u, table u, kind u, flags u, key_size u,
                                   value_size u, bucket_size u, slots u, hint u,
                                   stack u, label str */
    /* 3.0 adds by_info, info_size, info_stack: by_info 1 when ptr was
     * allocated by an ALLOC_INFO of that info, then from here on the block is
     * known by ptr: its end is a FREE of ptr, not a FREE_INFO. by_info 0 (and
     * the info 0, 0) when it was recorded by address or not at all. */
    TMK_REC_TABLE_ARRAY = 0x11, /* dt u, table u, ptr u, bytes u, buckets u,
                                   reason u, live u, stack u,
                                   by_info u, info_size u, info_stack u (3.0) */
    TMK_REC_TABLE_COUNT = 0x12, /* dt u, table u, live u */
    TMK_REC_TABLE_END = 0x13,   /* dt u, table u, live u */

    /* Process. */
    TMK_REC_MEMORY = 0x20,    /* dt u, rss u, heap u (bytes the shim saw in use) */
    TMK_REC_THREAD = 0x21,    /* dt u, tid u, name str: this block's thread */
    TMK_REC_LOST = 0x22,      /* dt u, count u: events the shim had to drop */
    TMK_REC_END = 0x30,       /* dt u, why u (enum tmk_end_why), status u */

    TMK_REC_EXTENDED = 0x80,  /* >= this: type, len u, len bytes; skippable */

    /* Extended records (minor versions >= 1), not timed: they belong to the
     * time of the block's previous timed record. */
    /* The table's high-water live count (tmk_table_peak) rose to `peak`
     * since the last one; written right after the table's COUNT, ARRAY or
     * END record that saw it. */
    TMK_REC_TABLE_PEAK = 0x81, /* len u, then: table u, peak u */
    /* The table's growth rule (annotate.h's tmk_table_info, version 2),
     * when it stated one: written right after its TABLE_NEW (the same
     * time). 0x90 and up: table facts (0x82-0x8f are left to the format's
     * own additions). */
    TMK_REC_TABLE_GROWTH = 0x90, /* len u, then: table u, load_num u, load_den u,
                                    factor u, min_buckets u */
    /* What a live block of ptr (written by address) held when the shim read
     * it: counters over its little-endian words (nz64: u64 words != 0;
     * u32ge2: u32 words >= 2; pairs00: 2-bit pairs == 00; sum16: the sum of
     * the u32 at offset 8 of each 16-byte unit) and a layout recognised from
     * its own header (TMK_PROBE_LAYOUT_*, 0 = none) with its capacity and
     * live entries. Readers skip fields they do not know at the end. */
    TMK_REC_PROBE = 0x88, /* len u, then: ptr u, size u, nz64 u, u32ge2 u, pairs00 u,
                             sum16 u, layout u, capacity u, live u */
    /* The trace reached TIDEMARK_MAX_BYTES = `bound` bytes (3.1). what =
     * TMK_BOUND_SOFT: from here on no heap records but bucket arrays' (full
     * mode) and at most one sample a second; TMK_BOUND_STOP: the last record
     * of the file, nothing was recorded after it (a block of its own, after
     * a TICK to its time). */
    TMK_REC_BOUND = 0x82, /* len u, then: what u, bound u */
};

enum tmk_bound_what {
    TMK_BOUND_SOFT = 1, /* the file passed bound - bound / 8 */
    TMK_BOUND_STOP = 2, /* the next block would have passed bound: tracing stopped */
};

/* TMK_REC_PROBE's layouts. */
enum tmk_probe_layout {
    TMK_PROBE_LAYOUT_NONE = 0,
    /* CPython 3.11's dict keys object: capacity = 2^dk_log2_size, live =
     * indices >= 0 (DKIX_EMPTY -1 and DKIX_DUMMY -2 are not). */
    TMK_PROBE_LAYOUT_PYDICT = 1,
    /* uthash's bucket array: 2^k units of {head, count u32, expand_mult
     * u32}, each head NULL exactly when its count is 0: capacity = buckets,
     * live = the sum of the counts. */
    TMK_PROBE_LAYOUT_UTHASH = 2,
    /* SwissTables, by their control bytes (full: 0x00..0x7f): capacity =
     * slots, live = full control bytes. hashbrown (Rust's HashMap): 2^k
     * slots, then 2^k + 16 control bytes (EMPTY 0xff, DELETED 0x80). Abseil's
     * raw_hash_set: 2^k - 1 control bytes first (kEmpty 0x80, kDeleted
     * 0xfe), a 0xff sentinel and 15 clones, then the slots. */
    TMK_PROBE_LAYOUT_HASHBROWN = 3,
    TMK_PROBE_LAYOUT_ABSEIL = 4,
    /* khash's flags array: 2 bits a bucket (00 live, 01 deleted, 10 empty,
     * never 11), a power-of-two size: capacity = buckets, live = 00 pairs. */
    TMK_PROBE_LAYOUT_KHASH_FLAGS = 5,
};

#define TMK_INFO_TYPE_BITS 5
#define TMK_INFO_TYPE_MASK ((1u << TMK_INFO_TYPE_BITS) - 1)
/* Infos hold sizes below this; a larger block is written by address. */
#define TMK_INFO_SIZE_LIMIT (1ull << 32)

/* The widest time slot a writer gives ALLOC_INFO/FREE_INFO (2^24 ns = 16.8
 * ms; the shim's is the coarse clock's tick, 4 ms on a HZ=250 kernel). A
 * reader does not depend on it; it bounds how far apart in real time two
 * heap events can be and still be read in either order. */
#define TMK_TICK_NS (1ull << 24)

enum tmk_end_why {
    TMK_END_EXIT = 0,   /* normal exit; status = exit status if known */
    TMK_END_EXEC = 1,   /* the process called exec; the new image writes its own file */
    TMK_END_SIGNAL = 2, /* killed by a signal (TERM, INT, HUP, or a fault); status = its number */
};

/* ---- encoding helpers, shared by writer and reader ---------------------- */

#define TMK_VARINT_MAX 10 /* bytes of the longest u64 varint */

static inline uint8_t *tmk_put_u(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t tmk_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t tmk_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint8_t *tmk_put_s(uint8_t *p, int64_t v)
{
    return tmk_put_u(p, tmk_zigzag(v));
}

/* Decodes a u varint at *p (not past end). Returns 0 and advances *p, or -1
 * when the varint is cut off by end or longer than TMK_VARINT_MAX bytes. */
static inline int tmk_get_u(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 7 * TMK_VARINT_MAX; shift += 7) {
        if (q >= end) return -1;
        uint8_t b = *q++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
    }
    return -1;
}

static inline int tmk_get_s(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    uint64_t v;
    if (tmk_get_u(p, end, &v)) return -1;
    *out = tmk_unzigzag(v);
    return 0;
}

/* The record type of a type byte: ALLOC_INFO and FREE_INFO for their
 * ranges, the byte itself otherwise. */
static inline uint8_t tmk_record_type_of(uint8_t byte)
{
    return byte >= TMK_REC_ALLOC_INFO && byte < TMK_REC_EXTENDED
               ? (uint8_t)(byte & ~TMK_INFO_TYPE_MASK)
               : byte;
}

/* Is this (mapped) type one of 3.0's heap-by-info records? */
static inline int tmk_is_by_info(uint8_t type)
{
    return type == TMK_REC_ALLOC_INFO || type == TMK_REC_FREE_INFO;
}

/* Writes ALLOC_INFO or FREE_INFO (type = the range's base) of (size, stack). */
static inline uint8_t *tmk_put_by_info(uint8_t *p, uint8_t type, uint64_t size, uint64_t stack)
{
    *p++ = (uint8_t)(type | (size & TMK_INFO_TYPE_MASK));
    p = tmk_put_u(p, stack);
    return tmk_put_u(p, size >> TMK_INFO_TYPE_BITS);
}

/* The size of an ALLOC_INFO/FREE_INFO from its type byte and its last varint. */
static inline uint64_t tmk_info_size_of(uint8_t byte, uint64_t high)
{
    return high << TMK_INFO_TYPE_BITS | (byte & TMK_INFO_TYPE_MASK);
}

static inline void tmk_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void tmk_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t tmk_get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t tmk_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Serialize / parse the fixed headers byte by byte, independent of the host's
 * struct layout. The parse functions do not validate; the reader does. */
static inline void tmk_file_header_encode(uint8_t out[TMK_FILE_HEADER_SIZE],
                                          const struct tmk_file_header *h)
{
    memset(out, 0, TMK_FILE_HEADER_SIZE);
    memcpy(out, h->magic, 8);
    out[8] = (uint8_t)h->version_major;
    out[9] = (uint8_t)(h->version_major >> 8);
    out[10] = (uint8_t)h->version_minor;
    out[11] = (uint8_t)(h->version_minor >> 8);
    tmk_put_le32(out + 12, h->header_size);
    tmk_put_le32(out + 16, h->flags);
    tmk_put_le32(out + 20, h->pid);
    tmk_put_le32(out + 24, h->ppid);
    tmk_put_le32(out + 28, h->max_depth);
    tmk_put_le64(out + 32, h->start_realtime_ns);
    tmk_put_le64(out + 40, h->start_monotonic_ns);
    tmk_put_le64(out + 48, h->sample_interval);
    tmk_put_le64(out + 56, h->check);
}

static inline void tmk_file_header_decode(struct tmk_file_header *h,
                                          const uint8_t in[TMK_FILE_HEADER_SIZE])
{
    memcpy(h->magic, in, 8);
    h->version_major = (uint16_t)(in[8] | in[9] << 8);
    h->version_minor = (uint16_t)(in[10] | in[11] << 8);
    h->header_size = tmk_get_le32(in + 12);
    h->flags = tmk_get_le32(in + 16);
    h->pid = tmk_get_le32(in + 20);
    h->ppid = tmk_get_le32(in + 24);
    h->max_depth = tmk_get_le32(in + 28);
    h->start_realtime_ns = tmk_get_le64(in + 32);
    h->start_monotonic_ns = tmk_get_le64(in + 40);
    h->sample_interval = tmk_get_le64(in + 48);
    h->check = tmk_get_le64(in + 56);
}

static inline void tmk_block_header_encode(uint8_t out[TMK_BLOCK_HEADER_SIZE],
                                           const struct tmk_block_header *b)
{
    tmk_put_le32(out + 0, b->magic);
    tmk_put_le32(out + 4, b->payload_size);
    tmk_put_le32(out + 8, b->thread);
    tmk_put_le32(out + 12, b->flags);
    tmk_put_le64(out + 16, b->seq);
    tmk_put_le64(out + 24, b->time_base);
}

static inline void tmk_block_header_decode(struct tmk_block_header *b,
                                           const uint8_t in[TMK_BLOCK_HEADER_SIZE])
{
    b->magic = tmk_get_le32(in + 0);
    b->payload_size = tmk_get_le32(in + 4);
    b->thread = tmk_get_le32(in + 8);
    b->flags = tmk_get_le32(in + 12);
    b->seq = tmk_get_le64(in + 16);
    b->time_base = tmk_get_le64(in + 24);
}

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_TRACE_FORMAT_H */
