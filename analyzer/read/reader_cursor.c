/* analyzer/read/reader_cursor.c - one thread's records, in its order: its
 * blocks loaded (reader_block.c) when the merge reaches them and parked
 * between them, a streamed block's window moved on, each record decoded
 * (every type; the merge loop decodes the common heap records itself with
 * reader_decode.h), corrupt or cut records warned about. Also the record
 * types' names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "reader_block.h"
#include "reader_decode.h"
#include "reader_int.h"

/* The cursor's block is done. With another block to come, the cursor parks
 * (has, parked), keyed by that block's time_base, which no record of it
 * precedes: the block is loaded when the merge reaches that time, so a
 * thread that starts late holds no memory before. Without, its buffers go
 * (has = 0). */
void reader_park(struct tm_reader *r, struct cursor *c)
{
    c->p = c->end = NULL;
    if (c->next >= c->n) {
        blk_free(&c->blk);
        c->has = 0;
        return;
    }
    blk_end(&c->blk);
    c->has = c->parked = 1;
    c->rec.type = REC_PENDING;
    c->rec.thread = c->thread;
    c->rec.t = r->ix[c->first + c->next].time_base;
}

/* Loads the cursor's next block (there is one). 0 = loaded (or skipped as
 * damaged, with a warning: no records), -1 = OOM. */
int reader_load_block(struct tm_reader *r, struct cursor *c)
{
    const struct block_ix *b = &r->ix[c->first + c->next++];
    char why[160];
    int rc = blk_load(&r->blk, &c->blk, b, why, sizeof why);
    if (rc < 0) return -1;
    c->seq = b->seq;
    c->off = b->off;
    if (rc > 0)
        reader_warn(r, "thread %u block %llu at offset %llu: %s; its records skipped", b->thread,
             (unsigned long long)b->seq, (unsigned long long)b->off, why);
    c->p = c->blk.data;
    c->end = c->p ? c->p + c->blk.len : c->p;
    c->t = b->time_base;
    c->ptr = 0;
    return 0;
}

/* Moves a streamed block's window on, keeping the bytes from c->p: 0 when
 * bytes were added, 1 when none can be, 2 when the rest of the block is
 * damaged (warned), -1 OOM. c->p is then the window's start. */
static int refill(struct tm_reader *r, struct cursor *c)
{
    char why[160];
    int m = blk_more(&r->blk, &c->blk, (size_t)(c->p - c->blk.data), why, sizeof why);
    c->p = c->blk.data;
    c->end = c->p + c->blk.len;
    if (m == 2)
        reader_warn(r, "thread %u block %llu at offset %llu: %s; rest of the block skipped", c->thread,
             (unsigned long long)c->seq, (unsigned long long)c->off, why);
    return m;
}

static int get_str(const uint8_t **pp, const uint8_t *e, const char **s, size_t *len)
{
    uint64_t n;
    if (tmk_get_u(pp, e, &n) || n > (uint64_t)(e - *pp)) return -1;
    *s = (const char *)*pp;
    *len = (size_t)n;
    *pp += n;
    return 0;
}

static int get_stack(struct cursor *c, const uint8_t **pp, const uint8_t *e, struct tm_record *rec)
{
    const uint8_t *p = *pp;
    uint64_t id, depth;
    GET_U(id);
    GET_U(depth);
    if (depth > (uint64_t)(e - p)) return -1; /* each frame takes a byte at least */
    if (depth > c->frames_cap) {
        uint64_t *f = realloc(c->frames, depth * sizeof *f);
        if (!f) return -1;
        c->frames = f;
        c->frames_cap = depth;
    }
    uint64_t prev = 0;
    for (uint64_t i = 0; i < depth; i++) {
        int64_t d;
        GET_S(d);
        prev += (uint64_t)d;
        c->frames[i] = prev;
    }
    rec->u.stack.id = id;
    rec->u.stack.depth = (uint32_t)depth;
    rec->u.stack.frames = c->frames;
    *pp = p;
    return 0;
}

/* TABLE_PEAK's body (table u, peak u) into rec->u.table_count. */
static int decode_table_peak(struct tm_record *rec)
{
    const uint8_t *p = rec->u.extended.data, *e = p + rec->u.extended.len;
    uint64_t table, peak;
    if (tmk_get_u(&p, e, &table) || tmk_get_u(&p, e, &peak)) return -1;
    rec->u.table_count.table = table;
    rec->u.table_count.live = peak;
    return 0;
}

/* The record types 3.0 added below TMK_REC_EXTENDED: unknown (corrupt) in 1.x. */
static int v3_type(uint8_t type)
{
    return type == TMK_REC_TICK || tmk_is_by_info(type);
}

/* Records without dt: definitions, 3.0's heap by info, extended ones. */
static int untimed(uint8_t type)
{
    return type == TMK_REC_STACK || type == TMK_REC_MODULE || type == TMK_REC_MODULE_GONE ||
           tmk_is_by_info(type) || type >= TMK_REC_EXTENDED;
}

/* An info as a record names it: size < TMK_INFO_SIZE_LIMIT, a 32-bit stack. */
static int info_ok(uint64_t size, uint64_t stack)
{
    return size < TMK_INFO_SIZE_LIMIT && stack <= UINT32_MAX;
}

/* TABLE_ARRAY's 3.0 fields: by_info 0 and no info, or 1 and a valid info. */
static int decode_array_info(const uint8_t **pp, const uint8_t *e, struct tm_record *rec)
{
    const uint8_t *p = *pp;
    GET_U(rec->u.table_array.by_info);
    GET_U(rec->u.table_array.info_size);
    GET_U(rec->u.table_array.info_stack);
    uint64_t by = rec->u.table_array.by_info, size = rec->u.table_array.info_size,
             stack = rec->u.table_array.info_stack;
    if (by > 1 || (!by && (size || stack)) || !info_ok(size, stack)) return -1;
    *pp = p;
    return 0;
}

/* Decodes the record at c->p into rec. Returns 0, or -1 when it is cut off
 * or not a known record. */
static int decode(struct cursor *c, struct tm_record *rec)
{
    const uint8_t *p = c->p, *e = c->end;
    uint8_t byte = *p++, type = c->v3 ? tmk_record_type_of(byte) : byte;
    uint64_t dt = 0;
    int64_t d;
    if (type == TMK_REC_FREE || type == TMK_REC_ALLOC) /* nearly all records of 1.x */
        return decode_alloc_free(c, rec, p, e, type);
    if (!c->v3 && v3_type(type)) return -1;
    /* ALLOC and FREE (above) set every field they have; the rest start from zero. */
    memset(&rec->u, 0, sizeof rec->u);
    rec->type = type;
    rec->thread = c->thread;
    int timed = !untimed(type);
    if (timed) GET_U(dt);
    switch (type) {
    case TMK_REC_ALLOC:
        GET_S(d);
        rec->u.alloc.ptr = c->ptr + (uint64_t)d;
        GET_U(rec->u.alloc.size);
        GET_U(rec->u.alloc.stack);
        break;
    case TMK_REC_FREE:
        GET_S(d);
        rec->u.free.ptr = c->ptr + (uint64_t)d;
        break;
    case TMK_REC_TICK:
        break;
    case TMK_REC_STACK:
        if (get_stack(c, &p, e, rec)) return -1;
        break;
    case TMK_REC_MODULE: {
        const char *bid;
        GET_U(rec->u.module.id);
        GET_U(rec->u.module.bias);
        GET_U(rec->u.module.start);
        GET_U(rec->u.module.end);
        if (get_str(&p, e, &bid, &rec->u.module.build_id_len)) return -1;
        rec->u.module.build_id = (const uint8_t *)bid;
        if (get_str(&p, e, &rec->u.module.path, &rec->u.module.path_len)) return -1;
        break;
    }
    case TMK_REC_MODULE_GONE:
        GET_U(rec->u.module_gone.id);
        break;
    case TMK_REC_ALLOC_INFO:
    case TMK_REC_FREE_INFO:
        return decode_by_info(c, rec, p, e, byte);
    case TMK_REC_TABLE_NEW:
        GET_U(rec->u.table_new.table);
        GET_U(rec->u.table_new.kind);
        GET_U(rec->u.table_new.flags);
        GET_U(rec->u.table_new.key_size);
        GET_U(rec->u.table_new.value_size);
        GET_U(rec->u.table_new.bucket_size);
        GET_U(rec->u.table_new.slots);
        GET_U(rec->u.table_new.hint);
        GET_U(rec->u.table_new.stack);
        if (get_str(&p, e, &rec->u.table_new.label, &rec->u.table_new.label_len)) return -1;
        break;
    case TMK_REC_TABLE_ARRAY:
        GET_U(rec->u.table_array.table);
        GET_U(rec->u.table_array.ptr);
        GET_U(rec->u.table_array.bytes);
        GET_U(rec->u.table_array.buckets);
        GET_U(rec->u.table_array.reason);
        GET_U(rec->u.table_array.live);
        GET_U(rec->u.table_array.stack);
        if (c->v3 && decode_array_info(&p, e, rec)) return -1;
        break;
    case TMK_REC_TABLE_COUNT:
    case TMK_REC_TABLE_END:
        GET_U(rec->u.table_count.table);
        GET_U(rec->u.table_count.live);
        break;
    case TMK_REC_MEMORY:
        GET_U(rec->u.memory.rss);
        GET_U(rec->u.memory.heap);
        break;
    case TMK_REC_THREAD:
        GET_U(rec->u.thread.tid);
        if (get_str(&p, e, &rec->u.thread.name, &rec->u.thread.name_len)) return -1;
        break;
    case TMK_REC_LOST:
        GET_U(rec->u.lost.count);
        break;
    case TMK_REC_END:
        GET_U(rec->u.end.why);
        GET_U(rec->u.end.status);
        break;
    default:
        if (type < TMK_REC_EXTENDED) return -1;
        GET_U(rec->u.extended.len);
        if (rec->u.extended.len > (uint64_t)(e - p)) return -1;
        rec->u.extended.data = p;
        p += rec->u.extended.len;
        if (type == TMK_REC_TABLE_PEAK && decode_table_peak(rec)) return -1;
        break;
    }
    if (timed) c->t = add_sat(c->t, dt);
    if (type == TMK_REC_ALLOC) c->ptr = rec->u.alloc.ptr;
    if (type == TMK_REC_FREE) c->ptr = rec->u.free.ptr;
    rec->t = c->t;
    c->p = p;
    return 0;
}

/* Puts the cursor's next record in c->rec, or parks it at its block's end
 * (c->has = 0 at its last block's end). 0, or -1 when out of memory. */
int reader_advance(struct tm_reader *r, struct cursor *c)
{
    c->has = 0;
    for (;;) {
        if (c->p >= c->end) {
            if (c->blk.more) {
                int m = refill(r, c);
                if (m < 0) return -1;
                if (m == 0) continue;
            }
            reader_park(r, c);
            return 0;
        }
        if (decode(c, &c->rec) == 0) {
            c->has = 1;
            if (ends_trace(&c->rec)) {
                r->saw_end = 1;
                r->end_thread = c->thread;
            }
            return 0;
        }
        if (c->blk.more) { /* perhaps only cut by the window's end */
            int m = refill(r, c);
            if (m < 0) return -1;
            if (m == 2) c->p = c->end;
            if (m == 0 || m == 2 || c->p >= c->end) continue;
        }
        reader_warn(r, "thread %u block %llu: corrupt or cut record at payload byte %llu (type 0x%02x); "
                "rest of the block skipped", c->thread, (unsigned long long)c->seq,
             (unsigned long long)(c->blk.base + (uint64_t)(c->p - c->blk.data)), *c->p);
        c->p = c->end;
        blk_end(&c->blk);
    }
}

const char *tm_record_type_name(uint8_t type)
{
    switch (type) {
    case TMK_REC_ALLOC: return "ALLOC";
    case TMK_REC_FREE: return "FREE";
    case TMK_REC_TICK: return "TICK";
    case TMK_REC_STACK: return "STACK";
    case TMK_REC_MODULE: return "MODULE";
    case TMK_REC_MODULE_GONE: return "MODULE_GONE";
    case TMK_REC_ALLOC_INFO: return "ALLOC_INFO";
    case TMK_REC_FREE_INFO: return "FREE_INFO";
    case TMK_REC_TABLE_NEW: return "TABLE_NEW";
    case TMK_REC_TABLE_ARRAY: return "TABLE_ARRAY";
    case TMK_REC_TABLE_COUNT: return "TABLE_COUNT";
    case TMK_REC_TABLE_END: return "TABLE_END";
    case TMK_REC_TABLE_PEAK: return "TABLE_PEAK";
    case TMK_REC_BOUND: return "BOUND";
    case TMK_REC_PROBE_OFF: return "PROBE_OFF";
    case TMK_REC_PROBE: return "PROBE";
    case TMK_REC_MEMORY: return "MEMORY";
    case TMK_REC_THREAD: return "THREAD";
    case TMK_REC_LOST: return "LOST";
    case TMK_REC_END: return "END";
    default: return type >= TMK_REC_EXTENDED ? "EXTENDED" : "?";
    }
}
