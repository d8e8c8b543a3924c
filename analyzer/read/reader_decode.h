/* analyzer/read/reader_decode.h - the record decoders the merge loop inlines
 * (reader_merge.c) and the cursor's full decoder builds on (reader_cursor.c):
 * varints with one bounds check, ALLOC and FREE, ALLOC_INFO and FREE_INFO,
 * whether a record ends the trace. Always inline: decoding these is most of
 * `tidemark report`'s time, and a call per record would cost it.
 */
#ifndef TIDEMARK_ANALYZER_READER_DECODE_H
#define TIDEMARK_ANALYZER_READER_DECODE_H

#include <stdint.h>

#include "reader_int.h"

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* tmk_get_u with the bounds check once per varint instead of per byte when
 * at least TMK_VARINT_MAX bytes are left (nearly always), and the one-byte
 * case first. Same result and the same errors as tmk_get_u. */
static inline __attribute__((always_inline)) int get_u(const uint8_t **pp, const uint8_t *e,
                                                       uint64_t *out)
{
    const uint8_t *q = *pp;
    if (__builtin_expect(e - q >= TMK_VARINT_MAX, 1)) {
        uint64_t b = *q++;
        if (b < 0x80) {
            *out = b;
            *pp = q;
            return 0;
        }
        uint64_t v = b & 0x7f;
        for (unsigned shift = 7; shift < 7 * TMK_VARINT_MAX; shift += 7) {
            b = *q++;
            v |= (b & 0x7f) << shift;
            if (!(b & 0x80)) {
                *out = v;
                *pp = q;
                return 0;
            }
        }
        return -1;
    }
    return tmk_get_u(pp, e, out);
}

#define GET_U(dst) do { uint64_t v_; if (get_u(&p, e, &v_)) return -1; (dst) = v_; } while (0)
#define GET_S(dst) do { uint64_t v_; if (get_u(&p, e, &v_)) return -1; (dst) = tmk_unzigzag(v_); } while (0)

/* ALLOC or FREE at c->p (p is past the type byte): decode()'s fast path,
 * also called directly by the merge loop. 0, or -1 when cut off. */
static inline __attribute__((always_inline)) int
decode_alloc_free(struct cursor *c, struct tm_record *rec, const uint8_t *p, const uint8_t *e,
                  uint8_t type)
{
    uint64_t dt;
    int64_t d;
    GET_U(dt);
    GET_S(d);
    uint64_t ptr = c->ptr + (uint64_t)d;
    if (type == TMK_REC_ALLOC) {
        rec->u.alloc.ptr = ptr;
        GET_U(rec->u.alloc.size);
        GET_U(rec->u.alloc.stack);
    } else {
        rec->u.free.ptr = ptr;
    }
    rec->type = type;
    rec->thread = c->thread;
    c->t = add_sat(c->t, dt);
    c->ptr = ptr;
    rec->t = c->t;
    c->p = p;
    return 0;
}

/* ALLOC_INFO or FREE_INFO with type byte `byte` (p past it; 3.0): the merge
 * loop's fast path for 3.0 full traces. 0, or -1 when cut off or bad. */
static inline __attribute__((always_inline)) int
decode_by_info(struct cursor *c, struct tm_record *rec, const uint8_t *p, const uint8_t *e,
               uint8_t byte)
{
    uint64_t stack, high;
    GET_U(stack);
    GET_U(high);
    if (high >= TMK_INFO_SIZE_LIMIT >> TMK_INFO_TYPE_BITS || stack > UINT32_MAX) return -1;
    rec->type = tmk_record_type_of(byte);
    rec->thread = c->thread;
    rec->t = c->t;
    rec->u.by_info.size = tmk_info_size_of(byte, high);
    rec->u.by_info.stack = stack;
    c->p = p;
    return 0;
}

/* The records the merge loop decodes itself (1.x's ALLOC and FREE, 3.0's
 * ALLOC_INFO and FREE_INFO); 0 when the cursor must decode. */
static inline __attribute__((always_inline)) int decode_fast(struct cursor *c)
{
    if (c->p >= c->end) return 0;
    uint8_t type = *c->p;
    if (type == TMK_REC_ALLOC || type == TMK_REC_FREE)
        return decode_alloc_free(c, &c->rec, c->p + 1, c->end, type) == 0;
    if (type >= TMK_REC_ALLOC_INFO && type < TMK_REC_EXTENDED && c->v3)
        return decode_by_info(c, &c->rec, c->p + 1, c->end, type) == 0;
    return 0;
}

/* END, or BOUND(STOP): the writer wrote its last record. */
static inline int ends_trace(const struct tm_record *rec)
{
    if (rec->type == TMK_REC_END) return 1;
    if (rec->type != TMK_REC_BOUND) return 0;
    const uint8_t *p = rec->u.extended.data, *e = p + rec->u.extended.len;
    uint64_t what;
    return tmk_get_u(&p, e, &what) == 0 && what == TMK_BOUND_STOP;
}

#endif /* TIDEMARK_ANALYZER_READER_DECODE_H */
