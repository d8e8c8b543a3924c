/* preload/stackstore.c - the interned stacks, stored compactly: each stack
 * once in an append-only log (its 64-bit hash, its depth, its frames as
 * deltas: 2 bytes a frame within a module, 6 or 10 between modules), found
 * through an open-addressing index of 8-byte slots (32 bits of the hash,
 * the id) and an array from id to log offset. W3's 14,000 stacks of about
 * 23 frames took 3.9 MiB as arena entries (header, hash, id, depth, 8 bytes
 * a frame, rounded up to a size class) and take 1.5 MiB here. Ids are 1, 2,
 * 3... in the order stacks are added.
 * A stack with a frame in an object that was unloaded is forgotten (its
 * hash in the log becomes 0, its slot leaves the index): another object may
 * come to those addresses, and its stacks get ids of their own.
 * The caller (intern.c) holds the lock; nothing here locks.
 */
#include <string.h>

#include "internal.h"

#define CHUNK_SHIFT 18
#define CHUNK_BYTES ((size_t)1 << CHUNK_SHIFT) /* the log's memory, a chunk at a time */
#define CHUNKS_MAX ((size_t)1 << (32 - CHUNK_SHIFT)) /* offsets stay 32-bit */
#define SLOTS_MIN 4096                          /* index slots at first */
#define IDS_MIN 4096                            /* offsets at first */

struct slot {
    uint32_t check; /* the hash's high 32 bits */
    uint32_t id;    /* 0: empty */
};

static struct slot *slots;
static size_t nslots;
static uint32_t *offsets; /* offsets[id]: chunk << CHUNK_SHIFT | position */
static size_t offsets_cap;
static uint32_t nstacks;
static uint8_t **chunks;
static size_t nchunks, chunks_cap, chunk_used; /* chunk_used: bytes of the last chunk */

static const uint8_t *entry_of(uint32_t id)
{
    uint32_t off = offsets[id];
    return chunks[off >> CHUNK_SHIFT] + (off & (CHUNK_BYTES - 1));
}

static uint64_t hash_of(const uint8_t *e)
{
    uint64_t h;
    memcpy(&h, e, sizeof h);
    return h;
}

/* A frame's delta from the one before (from 0 for the first): 2 bytes when
 * it fits an int16 above the two escapes, else an escape and the delta in 4
 * bytes, or the frame itself in 8. Read without a varint's loop: the global
 * table compares the frames of every thread-cache miss (W3: 430,000). */
#define ESC32 INT16_MIN       /* an int32 delta follows */
#define ESC64 (INT16_MIN + 1) /* the frame's 8 bytes follow */
#define FRAME_MAX 10          /* bytes of one frame at most */

static uint8_t *put_frame(uint8_t *p, uintptr_t frame, uintptr_t prev)
{
    intptr_t d = (intptr_t)(frame - prev);
    int16_t esc = d > ESC64 && d <= INT16_MAX ? (int16_t)d : d >= INT32_MIN && d <= INT32_MAX ? ESC32 : ESC64;
    memcpy(p, &esc, 2);
    p += 2;
    if (esc == ESC32) {
        int32_t w = (int32_t)d;
        memcpy(p, &w, 4);
        return p + 4;
    }
    if (esc == ESC64) {
        memcpy(p, &frame, 8);
        return p + 8;
    }
    return p;
}

static inline const uint8_t *get_frame(const uint8_t *p, uintptr_t *frame)
{
    int16_t d;
    memcpy(&d, p, 2);
    if (TMK_LIKELY(d > ESC64)) {
        *frame += (uintptr_t)(intptr_t)d;
        return p + 2;
    }
    if (d == ESC32) {
        int32_t w;
        memcpy(&w, p + 2, 4);
        *frame += (uintptr_t)(intptr_t)w;
        return p + 6;
    }
    memcpy(frame, p + 2, 8);
    return p + 10;
}

/* Are frames f[0, n) of hash h the entry's? (hash, depth byte, frames) */
static int entry_is(const uint8_t *e, const uintptr_t *f, int n, uint64_t h)
{
    if (hash_of(e) != h || e[8] != (uint8_t)n) return 0;
    const uint8_t *p = e + 9;
    uintptr_t frame = 0;
    for (int i = 0; i < n; i++) {
        p = get_frame(p, &frame);
        if (frame != f[i]) return 0;
    }
    return 1;
}

/* The slot holding frames f[0, n) of hash h, or the empty one where they
 * would go (nslots > 0). */
static struct slot *slot_of(const uintptr_t *f, int n, uint64_t h)
{
    size_t mask = nslots - 1;
    uint32_t check = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct slot *s = &slots[i];
        if (!s->id || (s->check == check && entry_is(entry_of(s->id), f, n, h))) return s;
    }
}

/* The empty slot for a new entry of hash h (no frames compared). */
static struct slot *free_slot(uint64_t h)
{
    size_t mask = nslots - 1;
    size_t i = (size_t)h & mask;
    while (slots[i].id) i = (i + 1) & mask;
    return &slots[i];
}

/* Puts every stack not forgotten (hash 0) into the empty index. */
static void index_fill(void)
{
    for (uint32_t id = 1; id <= nstacks; id++) {
        uint64_t h = hash_of(entry_of(id));
        if (!h) continue;
        struct slot *to = free_slot(h);
        to->check = (uint32_t)(h >> 32);
        to->id = id;
    }
}

/* Room in the index for one more stack at 3/4 load at most (forgotten
 * stacks counted): 0 or -1. */
static int index_room(void)
{
    if (nslots && ((size_t)nstacks + 1) * 4 <= nslots * 3) return 0;
    size_t cap = nslots ? nslots * 2 : SLOTS_MIN;
    struct slot *s = tmk_pages_map(cap * sizeof *s);
    if (!s) return -1;
    struct slot *old = slots;
    size_t old_n = nslots;
    slots = s;
    nslots = cap;
    index_fill();
    tmk_pages_unmap(old, old_n * sizeof *old);
    return 0;
}

/* Room for one more id's offset: 0 or -1. */
static int offsets_room(void)
{
    if ((size_t)nstacks + 1 < offsets_cap) return 0;
    if (nstacks == UINT32_MAX - 1) return -1;
    size_t cap = offsets_cap ? offsets_cap * 2 : IDS_MIN;
    uint32_t *o = tmk_pages_map(cap * sizeof *o);
    if (!o) return -1;
    if (offsets) memcpy(o, offsets, offsets_cap * sizeof *o);
    tmk_pages_unmap(offsets, offsets_cap * sizeof *offsets);
    offsets = o;
    offsets_cap = cap;
    return 0;
}

/* Where an entry of len bytes goes in the log (a new chunk when the last
 * one has no room); NULL when out of memory. *off gets its offset. */
static uint8_t *log_room(size_t len, uint32_t *off)
{
    if (len > CHUNK_BYTES) return NULL;
    if (!nchunks || CHUNK_BYTES - chunk_used < len) {
        if (nchunks == CHUNKS_MAX) return NULL;
        if (nchunks == chunks_cap) {
            size_t cap = chunks_cap ? chunks_cap * 2 : 16;
            uint8_t **c = tmk_arena_alloc(cap * sizeof *c);
            if (!c) return NULL;
            if (chunks) memcpy(c, chunks, nchunks * sizeof *c);
            tmk_arena_free(chunks);
            chunks = c;
            chunks_cap = cap;
        }
        uint8_t *chunk = tmk_pages_map(CHUNK_BYTES);
        if (!chunk) return NULL;
        chunks[nchunks++] = chunk;
        chunk_used = 0;
    }
    *off = (uint32_t)((nchunks - 1) << CHUNK_SHIFT | chunk_used);
    return chunks[nchunks - 1] + chunk_used;
}

uint32_t tmk_store_find(const uintptr_t *f, int n, uint64_t h)
{
    return nslots ? slot_of(f, n, h)->id : 0;
}

uint32_t tmk_store_add(const uintptr_t *f, int n, uint64_t h)
{
    if (n < 0 || n > TMK_DEPTH_MAX || index_room() || offsets_room()) return 0;
    /* static, not on the program's stack (1.3 KiB): the stacks' lock is
     * held (intern.c) */
    static uint8_t buf[9 + FRAME_MAX * TMK_DEPTH_MAX];
    memcpy(buf, &h, sizeof h);
    buf[8] = (uint8_t)n;
    uint8_t *p = buf + 9;
    uintptr_t prev = 0;
    for (int i = 0; i < n; i++) {
        p = put_frame(p, f[i], prev);
        prev = f[i];
    }
    size_t len = (size_t)(p - buf);
    uint32_t off;
    uint8_t *to = log_room(len, &off);
    if (!to) return 0;
    memcpy(to, buf, len);
    chunk_used += len;
    uint32_t id = ++nstacks;
    offsets[id] = off;
    struct slot *s = free_slot(h);
    s->check = (uint32_t)(h >> 32);
    s->id = id;
    return id;
}

int tmk_store_frames(uint32_t id, uintptr_t *out, int cap)
{
    if (!id || id > nstacks) return -1;
    const uint8_t *e = entry_of(id);
    int n = e[8];
    const uint8_t *p = e + 9;
    uintptr_t frame = 0;
    for (int i = 0; i < n && i < cap; i++) {
        p = get_frame(p, &frame);
        out[i] = frame;
    }
    return n;
}

/* Has the entry a frame in one of r[0, n)? */
static int entry_in_ranges(const uint8_t *e, const struct tmk_range *r, int n)
{
    const uint8_t *p = e + 9;
    uintptr_t frame = 0;
    for (int i = 0; i < e[8]; i++) {
        p = get_frame(p, &frame);
        for (int k = 0; k < n; k++)
            if (frame >= r[k].start && frame < r[k].end) return 1;
    }
    return 0;
}

size_t tmk_store_forget(const struct tmk_range *r, int n)
{
    size_t gone = 0;
    for (uint32_t id = 1; id <= nstacks; id++) {
        uint8_t *e = (uint8_t *)entry_of(id);
        if (!hash_of(e) || !entry_in_ranges(e, r, n)) continue;
        memset(e, 0, sizeof(uint64_t)); /* its hash: never a stack's (tmk_hash_end) */
        gone++;
    }
    if (gone) {
        memset(slots, 0, nslots * sizeof *slots);
        index_fill();
    }
    return gone;
}

size_t tmk_store_bytes(void)
{
    return nslots * sizeof *slots + offsets_cap * sizeof *offsets + nchunks * CHUNK_BYTES +
           (chunks ? chunks_cap * sizeof *chunks : 0);
}

void tmk_store_reset(void)
{
    tmk_pages_unmap(slots, nslots * sizeof *slots);
    tmk_pages_unmap(offsets, offsets_cap * sizeof *offsets);
    for (size_t i = 0; i < nchunks; i++) tmk_pages_unmap(chunks[i], CHUNK_BYTES);
    tmk_arena_free(chunks);
    slots = NULL;
    offsets = NULL;
    chunks = NULL;
    nslots = offsets_cap = nchunks = chunks_cap = chunk_used = 0;
    nstacks = 0;
}
