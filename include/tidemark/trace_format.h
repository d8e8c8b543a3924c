/* tidemark/trace_format.h - the .tmk trace file's constants, structs and
 * encoding helpers, shared by the shim (writer, preload/) and the analyzer
 * (reader, analyzer/). The format is specified once, in
 * docs/trace-format.md; each part below names its section there. */
#ifndef TIDEMARK_TRACE_FORMAT_H
#define TIDEMARK_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* docs/trace-format.md#versions, #compatibility */
#define TMK_TRACE_MAGIC "TIDEMARK" /* 8 bytes, no NUL, at offset 0 */
#define TMK_TRACE_MAGIC_LEN 8
#define TMK_TRACE_VERSION_MAJOR 3
#define TMK_TRACE_VERSION_MINOR 1
#define TMK_TRACE_VERSION_MAJOR_OLDEST 1  /* majors OLDEST..MAJOR are read, */
#define TMK_TRACE_VERSION_MAJOR_DROPPED 2 /* but this one */

/* ---- file header: docs/trace-format.md#file-header ----------------------- */

#define TMK_FILE_HEADER_SIZE 64

/* tmk_file_header.flags */
#define TMK_FILE_MODE_TABLES 0x1u   /* TIDEMARK_MODE=tables */
#define TMK_FILE_SAMPLED 0x2u       /* ordinary allocations byte-sampled */
#define TMK_FILE_FRAME_POINTER 0x4u /* stacks from the frame-pointer unwinder */

struct tmk_file_header {
    char magic[8];               /*  0: TMK_TRACE_MAGIC */
    uint16_t version_major;      /*  8 */
    uint16_t version_minor;      /* 10 */
    uint32_t header_size;        /* 12 */
    uint32_t flags;              /* 16: TMK_FILE_* */
    uint32_t pid;                /* 20 */
    uint32_t ppid;               /* 24 */
    uint32_t max_depth;          /* 28 */
    uint64_t start_realtime_ns;  /* 32 */
    uint64_t start_monotonic_ns; /* 40 */
    uint64_t sample_interval;    /* 48 */
    uint64_t check;              /* 56: docs/trace-format.md#checksums */
};

/* ---- checksums: docs/trace-format.md#checksums (trace_check.h) ---------- */

#define TMK_FILE_HEADER_CHECKED 56 /* header bytes that `check` covers */
/* The minor version of major 3 from which headers and blocks carry checksums. */
#define TMK_TRACE_CHECKSUM_MINOR 1

/* Does a trace of this version carry checksums (3.1 and later minors of 3)? */
static inline int tmk_trace_checksummed(uint16_t major, uint16_t minor)
{
    return major == 3 && minor >= TMK_TRACE_CHECKSUM_MINOR;
}

/* ---- blocks: docs/trace-format.md#blocks ---------------------------------- */

/* tmk_block_header.flags */
#define TMK_BLOCK_ZSTD 0x1u     /* the stored bytes are one zstd frame */
#define TMK_BLOCK_CHECKSUM 0x2u /* 3.1: the payload ends with the block's checksum */
#define TMK_BLOCK_CHECK_SIZE 8  /* bytes of that checksum */

#define TMK_BLOCK_MAGIC 0x424b4d54u /* "TMKB" read as a little-endian u32 */
#define TMK_BLOCK_HEADER_SIZE 32
#define TMK_BLOCK_MAX_PAYLOAD (64u << 20) /* readers reject larger blocks */
/* The longest record, and the widest zstd window of a frame of more
 * records than this: docs/trace-format.md#record-size */
#define TMK_RECORD_LIMIT (1u << 20)

struct tmk_block_header {
    uint32_t magic;        /*  0: TMK_BLOCK_MAGIC */
    uint32_t payload_size; /*  4 */
    uint32_t thread;       /*  8 */
    uint32_t flags;        /* 12: TMK_BLOCK_* */
    uint64_t seq;          /* 16 */
    uint64_t time_base;    /* 24 */
};

/* ---- records: docs/trace-format.md#record-types --------------------------- */

enum tmk_record_type {
    TMK_REC_ALLOC = 0x01,       /* #alloc-0x01 */
    TMK_REC_FREE = 0x02,        /* #free-0x02 */
    TMK_REC_TICK = 0x03,        /* #tick-0x03 */
    TMK_REC_STACK = 0x04,       /* #stack-0x04 */
    TMK_REC_MODULE = 0x05,      /* #module-0x05-and-module_gone-0x06 */
    TMK_REC_MODULE_GONE = 0x06,
    TMK_REC_TABLE_NEW = 0x10,   /* #table_new-0x10 */
    TMK_REC_TABLE_ARRAY = 0x11, /* #table_array-0x11 */
    TMK_REC_TABLE_COUNT = 0x12, /* #table_count-0x12-and-table_end-0x13 */
    TMK_REC_TABLE_END = 0x13,
    TMK_REC_MEMORY = 0x20,      /* #memory-0x20 */
    TMK_REC_THREAD = 0x21,      /* #thread-0x21 */
    TMK_REC_LOST = 0x22,        /* #lost-0x22 */
    TMK_REC_END = 0x30,         /* #end-0x30 */
    /* #alloc_info-and-free_info-0x40-0x7f: the type byte's low
     * TMK_INFO_TYPE_BITS bits are the size's lowest (tmk_put_by_info) */
    TMK_REC_ALLOC_INFO = 0x40,
    TMK_REC_FREE_INFO = 0x60,

    TMK_REC_EXTENDED = 0x80,    /* >= this: #extended-records */
    TMK_REC_TABLE_PEAK = 0x81,  /* #table_peak-0x81 */
    TMK_REC_BOUND = 0x82,       /* #bound-0x82 */
    TMK_REC_PROBE_OFF = 0x83,   /* #probe_off-0x83 */
    TMK_REC_PROBE = 0x88,       /* #probe-0x88 */
    TMK_REC_TABLE_GROWTH = 0x90, /* #table_growth-0x90 */
};

/* BOUND's `what`: docs/trace-format.md#bound-0x82 */
enum tmk_bound_what {
    TMK_BOUND_SOFT = 1, /* the file passed bound - bound / 8 */
    TMK_BOUND_STOP = 2, /* the next block would have passed bound: tracing stopped */
};

/* PROBE_OFF's `why`: docs/trace-format.md#probe_off-0x83 */
enum tmk_probe_off_why {
    TMK_PROBE_OFF_REFUSED = 1, /* process_vm_readv refused (a seccomp filter): `err` its errno */
};

/* PROBE's `layout`: docs/trace-format.md#probe-0x88 */
enum tmk_probe_layout {
    TMK_PROBE_LAYOUT_NONE = 0,
    TMK_PROBE_LAYOUT_PYDICT = 1,    /* CPython 3.11's dict keys object */
    TMK_PROBE_LAYOUT_UTHASH = 2,    /* uthash's bucket array */
    TMK_PROBE_LAYOUT_HASHBROWN = 3, /* Rust's HashMap (SwissTable) */
    TMK_PROBE_LAYOUT_ABSEIL = 4,    /* Abseil's raw_hash_set (SwissTable) */
    TMK_PROBE_LAYOUT_KHASH_FLAGS = 5, /* khash's flags array (2 bits a bucket) */
};

/* docs/trace-format.md#alloc_info-and-free_info-0x40-0x7f */
#define TMK_INFO_TYPE_BITS 5
#define TMK_INFO_TYPE_MASK ((1u << TMK_INFO_TYPE_BITS) - 1)
#define TMK_INFO_SIZE_LIMIT (1ull << 32) /* an info's size is below this */

/* The widest time slot a writer gives ALLOC_INFO/FREE_INFO (16.8 ms):
 * docs/trace-format.md#tick-0x03 */
#define TMK_TICK_NS (1ull << 24)

/* END's `why`: docs/trace-format.md#end-0x30 */
enum tmk_end_why {
    TMK_END_EXIT = 0,
    TMK_END_EXEC = 1,
    TMK_END_SIGNAL = 2,
};

/* ---- encoding helpers: docs/trace-format.md#record-encoding -------------- */

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
