/* preload/probe.c - content probes: what the large blocks hold.
 *
 * Tables nobody annotated keep their live count inside their own arrays
 * (GLib's hashes, khash's flags, uthash's bucket counts, CPython's indices,
 * libstdc++'s non-empty buckets). The shim does not know which block is
 * whose array: the analyzer recognises that offline from the block's stack
 * and size. The shim only reads, now and then, what every large block
 * holds, as a few counters that each implementation's rule picks from.
 *
 * The registry: every live block of TIDEMARK_PROBE_MIN bytes or more (full
 * mode writes such blocks by address, so that a probe can name them), in an
 * open-addressing set under a spinlock. Only large allocations and their
 * frees touch it. An annotated table's array leaves it (its table counts
 * itself).
 *
 * The pass: once a second, on the sampler thread, up to TIDEMARK_PROBE_BYTES
 * bytes of blocks, in turn; at exit a last pass over every block (up to
 * PROBE_EXIT_BYTES). And at free: a block is read once more when the program
 * frees it, on the freeing thread, before the real free (up to
 * 4 x TIDEMARK_PROBE_BYTES a second for all threads, given again by the
 * sampler each second): a table destroyed between two passes (or in a program
 * shorter than a second) says what it held last. The PROBE record then
 * comes right before the block's FREE, at the same time. Not the free of
 * the block its thread allocated from the same stack right before the
 * newest from there: a resize's old array (replaced(), below). A block is read with process_vm_readv on this very
 * process: a block freed (even unmapped) meanwhile gives EFAULT, never a
 * fault, and no program thread waits on anything but the spinlock's few
 * instructions around an insert, a removal or a copy of one entry. A PROBE
 * record is written only if the block is still the same allocation after
 * the read (its generation number is unchanged). Where process_vm_readv is
 * refused (a seccomp filter), probing stops for the process, and one
 * PROBE_OFF record says so (the analyzer then says that the tables nobody
 * annotated could not be read, rather than that none is oversized).
 *
 * The counters of one pass over the block (little-endian words):
 *   nz64    u64 words that are not 0 (libstdc++, Perl: non-empty buckets)
 *   u32ge2  u32 words >= 2 (GLib's hashes array: 0 unused, 1 tombstone)
 *   pairs00 2-bit pairs equal to 00 (khash's flags array: live buckets)
 *   sum16   sum of the u32 at offset 8 of every 16-byte unit (uthash's
 *           bucket counts)
 * and a layout recognised from the block's own contents (layout, capacity,
 * live; include/tidemark/trace_format.h, TMK_PROBE_LAYOUT_*): CPython 3.11's
 * dict keys object, whose size and header describe themselves; uthash's
 * bucket array, 2^k units of {head pointer, count u32, expand_mult u32} in
 * which every head is NULL exactly when its count is 0; the two SwissTable
 * layouts, whose control bytes say which slots are full (0x00..0x7f, the
 * hash's top 7 bits) and which are empty or deleted, and repeat their
 * first 15 or 16 bytes after the last: hashbrown (Rust's HashMap: 2^k slots
 * of T, then 2^k + 16 control bytes; EMPTY 0xff, DELETED 0x80) and Abseil's
 * raw_hash_set (2^k - 1 control bytes, a 0xff sentinel, 15 clones, then the
 * slots; kEmpty 0x80, kDeleted 0xfe); khash's flags array (2 bits a bucket:
 * 00 live, 01 deleted, 10 empty, never 11; a power-of-two size, at least
 * one empty bucket, at most 78% live, not one byte repeated).
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "probe_count.h"

#define PROBE_EVERY_NS 1000000000ull
#define PROBE_EXIT_BYTES (1ull << 30)
#define CHUNK (256u << 10)

struct probe_entry {
    uintptr_t p; /* 0 = empty slot */
    uint64_t size;
    uint64_t gen;
    uint32_t stack; /* of its allocation (0: not known) */
};

static int lock_word;
static struct probe_entry *slots;
static size_t nslots, used; /* nslots a power of two, or 0 */
static uint64_t next_gen = 1;
static size_t cursor;       /* the pass goes on from this slot */
static uint64_t last_pass_ns;
static int refused;         /* process_vm_readv is not allowed here: its errno */
static int refusal_written; /* the PROBE_OFF record that says so */
static uint8_t *chunk;

int tmk_probe_used;

static void lock(void) { tmk_spin_lock(&lock_word); }

static void unlock(void) { tmk_spin_unlock(&lock_word); }

static size_t slot_of(uintptr_t p)
{
    uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (nslots - 1);
}

/* Finds p's slot, or the empty slot where it would go (lock held, nslots > 0). */
static size_t find(uintptr_t p)
{
    size_t i = slot_of(p);
    while (slots[i].p && slots[i].p != p) i = (i + 1) & (nslots - 1);
    return i;
}

/* Doubles the table (lock held). Memory from arena.c; the old table is
 * returned to it. 0 or -1 (no memory: the block is not probed). */
static int grow(void)
{
    size_t n = nslots ? nslots * 2 : 256;
    struct probe_entry *s = tmk_arena_alloc(n * sizeof *s);
    if (!s) return -1;
    memset(s, 0, n * sizeof *s);
    struct probe_entry *old = slots;
    size_t oldn = nslots;
    slots = s;
    nslots = n;
    for (size_t i = 0; i < oldn; i++)
        if (old[i].p) slots[find(old[i].p)] = old[i];
    if (old) tmk_arena_free(old);
    return 0;
}

/* This thread's probed blocks by stack (a direct-mapped table): the newest
 * two of each stack, and whether one of that stack was read at free. */
static struct tmk_probe_site *site_of(struct tmk_thread *t, uint32_t stack)
{
    return &t->probe_sites[(stack * 0x9E3779B1u) >> (32 - TMK_PROBE_SITE_BITS)];
}

static void note_alloc(struct tmk_thread *t, uint32_t stack, uint64_t gen)
{
    struct tmk_probe_site *s = site_of(t, stack);
    if (s->stack != stack) *s = (struct tmk_probe_site){stack, 0, 0, 0};
    s->prev_gen = s->last_gen;
    s->last_gen = gen;
}

/* Is e the block its thread allocated from e's stack right before the
 * newest one from there, and were two blocks of that stack read at free
 * already? Then its free ends a resize (a rehash allocates the new array,
 * moves the entries, frees the old one), whose count the implementation's
 * rule gives, and whose layout the reads of its stack already showed: not
 * worth a read (W4's rehashes spent 6% of their instructions reading
 * arrays being replaced; 2.7% are left, the resizes from another call
 * path: its inserts grow the table, its deletes shrink it). Two, not one:
 * the counts of two resizes in a row tell whether the array's count grows
 * with the table (a std::unordered_map at a lower max_load_factor) or stays
 * put (a multimap's non-empty buckets count its keys, not its entries:
 * recognize_counts.c, count_source). A table's last array, freed by its
 * destructor, is the newest of its stack (or older than the one before):
 * read. Only the same stack says "resize" surely enough: the thread's
 * previous block from any stack, freed within 50 ms of the newest, was also
 * a dict a Python program dropped right after building a large list. */
static int replaced(struct tmk_thread *t, const struct probe_entry *e)
{
    const struct tmk_probe_site *s = site_of(t, e->stack);
    return e->stack && s->stack == e->stack && s->read >= 2 && e->gen == s->prev_gen;
}

static void note_read(struct tmk_thread *t, uint32_t stack)
{
    struct tmk_probe_site *s = site_of(t, stack);
    if (s->stack == stack && s->read < 2) s->read++;
}

void tmk_probe_add(struct tmk_thread *t, uintptr_t p, uint64_t size, uint32_t stack)
{
    lock();
    if ((used + 1) * 4 > nslots * 3 && grow() != 0) {
        unlock();
        return;
    }
    size_t i = find(p);
    if (!slots[i].p) used++;
    uint64_t gen = next_gen++;
    slots[i] = (struct probe_entry){p, size, gen, stack};
    __atomic_store_n(&tmk_probe_used, 1, __ATOMIC_RELAXED);
    unlock();
    if (t && stack) note_alloc(t, stack, gen);
}

/* Linear probing's deletion: the entries after the hole that would not be
 * found across it move back into it. */
static void remove_slot(size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & (nslots - 1);
        if (!slots[j].p) break;
        size_t home = slot_of(slots[j].p);
        /* j's entry may fill the hole at i unless its home lies in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        slots[i] = slots[j];
        i = j;
    }
    slots[i].p = 0;
    used--;
}

/* Removes p's entry; copies it into e (e->p = 0 when absent). */
static void take_entry(uintptr_t p, struct probe_entry *e)
{
    e->p = 0;
    lock();
    if (nslots) {
        size_t i = find(p);
        if (slots[i].p) {
            *e = slots[i];
            remove_slot(i);
        }
    }
    unlock();
}

void tmk_probe_remove(uintptr_t p)
{
    struct probe_entry e;
    take_entry(p, &e);
}

/* Copies slot i's entry into e if the slot holds one; *n = the slot count
 * now (lock taken here). */
static int entry_at(size_t i, struct probe_entry *e, size_t *n)
{
    lock();
    *n = nslots;
    int found = i < nslots && slots[i].p;
    if (found) *e = slots[i];
    unlock();
    return found;
}

/* Is p still the allocation of generation gen? */
static int still_same(uintptr_t p, uint64_t gen)
{
    lock();
    int same = nslots && slots[find(p)].p == p && slots[find(p)].gen == gen;
    unlock();
    return same;
}

/* ---- counting ------------------------------------------------------------ */

struct counts {
    struct tmk_word_counts w; /* probe_count.c; pairs11 never in khash flags, pairs10 empty */
    uint64_t layout, capacity, live;
    int uthash_ok; /* every 16-byte unit so far looks like a uthash bucket */
};

/* A uthash bucket: {UT_hash_handle *hh_head; unsigned count; unsigned
 * expand_mult}. A head is NULL exactly when the count is 0, points at an
 * aligned address when not; the multipliers stay small, and a chain grows
 * to (expand_mult + 1) * 10 at most before uthash spreads the buckets
 * (HASH_BKT_CAPACITY_THRESH; 4 times that here, for a table whose
 * expansions stopped helping). So an array of pointers to low addresses
 * (a non-PIE program's heap: each 16 bytes two pointers, the second one's
 * halves a "count" in the millions and a "multiplier" of 0) is not one. */
static int uthash_bucket(uint64_t head, uint64_t word1)
{
    uint32_t count = (uint32_t)word1, mult = (uint32_t)(word1 >> 32);
    if (!head) return count == 0 && mult < 4096;
    return count && (uint64_t)count <= (uint64_t)(mult + 1) * 40 && mult < 4096 &&
           head >= 4096 && !(head & 7);
}

/* A CPython 3.11 keys object: 32-byte header (dk_refcnt, dk_log2_size,
 * dk_log2_index_bytes, dk_kind, dk_version, dk_usable, dk_nentries), then
 * 2^log2 indices of 1, 2, 4 or 8 bytes, then USABLE_FRACTION(2^log2)
 * entries of 24 (general) or 16 (unicode) bytes. */
struct pydict {
    uint64_t index_off, index_end; /* byte range of the indices */
    unsigned width;
};

static int pydict_layout(const uint8_t *h, uint64_t size, struct pydict *d, uint64_t *cap)
{
    int64_t refcnt, usable, nentries;
    memcpy(&refcnt, h, 8);
    memcpy(&usable, h + 16, 8);
    memcpy(&nentries, h + 24, 8);
    unsigned log2 = h[8], log2_index = h[9], kind = h[10];
    /* dk_refcnt is 0 in a keys object being freed (the probe at free) */
    if (refcnt < 0 || refcnt > (1 << 30) || log2 < 3 || log2 > 40 || kind > 2) return 0;
    unsigned width = log2 < 8 ? 1 : log2 < 16 ? 2 : log2 < 32 ? 4 : 8;
    unsigned wlog = width == 1 ? 0 : width == 2 ? 1 : width == 4 ? 2 : 3;
    if (log2_index != log2 + wlog) return 0;
    uint64_t n = 1ull << log2, usable_all = (2 * n) / 3;
    uint64_t esz = kind == 0 ? 24 : 16;
    if (size != 32 + (n << wlog) + usable_all * esz) return 0;
    if (usable < 0 || nentries < 0 || (uint64_t)usable + (uint64_t)nentries != usable_all)
        return 0;
    d->index_off = 32;
    d->index_end = 32 + (n << wlog);
    d->width = width;
    *cap = n;
    return 1;
}

/* Live indices (>= 0) among the bytes [off, off + n) of the block. */
static uint64_t pydict_live(const struct pydict *d, const uint8_t *b, uint64_t off, size_t n)
{
    uint64_t lo = off > d->index_off ? off : d->index_off;
    uint64_t hi = off + n < d->index_end ? off + n : d->index_end;
    uint64_t live = 0;
    for (uint64_t at = lo; at + d->width <= hi; at += d->width) {
        const uint8_t *q = b + (at - off);
        uint8_t top = q[d->width - 1]; /* little-endian: the sign is in the last byte */
        live += !(top & 0x80);
    }
    return live;
}

/* Does every 16-byte unit of b look like a uthash bucket? */
static int uthash_units(const uint8_t *b, size_t n)
{
    for (size_t at = 0; at + 16 <= n; at += 16) {
        uint64_t head, word1;
        memcpy(&head, b + at, 8);
        memcpy(&word1, b + at + 8, 8);
        if (!uthash_bucket(head, word1)) return 0;
    }
    return 1;
}

/* Where a count reads a block into: every read copies with process_vm_readv,
 * even the probe at free's of a block the freeing thread owns: a page of it
 * the program made unreadable (a coroutine stack's guard page, mprotect'ed
 * in a malloc'd block) gives EFAULT there, never a fault in the program. */
struct reader {
    uint8_t *buf; /* CHUNK bytes */
};

/* [p + off, p + off + n): a pointer to its bytes, or NULL (gone or refused). */
static const uint8_t *read_block(const struct reader *r, uintptr_t p, uint64_t off, size_t n)
{
    struct iovec local = {r->buf, n}, remote = {(void *)(p + off), n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got == (ssize_t)n) return r->buf;
    if (got < 0 && (errno == EPERM || errno == ENOSYS)) refused = errno;
    return NULL;
}

/* Once a read was refused: one PROBE_OFF record (after a TICK to `now`),
 * from whichever thread sees it first. */
static void note_refused(struct tmk_thread *t, uint64_t now)
{
    if (!refused || __atomic_exchange_n(&refusal_written, 1, __ATOMIC_RELAXED)) return;
    uint8_t body[2 * TMK_VARINT_MAX], *q = body;
    q = tmk_put_u(q, TMK_PROBE_OFF_REFUSED);
    q = tmk_put_u(q, (uint64_t)refused);
    size_t len = (size_t)(q - body);
    uint8_t *p = tmk_reserve(t, 2 * TMK_RECORD_MAX);
    p = tmk_put_timed(t, p, TMK_REC_TICK, now);
    *p++ = TMK_REC_PROBE_OFF;
    p = tmk_put_u(p, len);
    memcpy(p, body, len);
    tmk_publish(t, p + len);
}

/* ---- SwissTable control bytes ------------------------------------------- */

/* Are the n control bytes at [p + off) all of the layout's values? Counts
 * the full ones into *full. 0 ok, 1 not control bytes, -1 unreadable. */
static int control_bytes(const struct reader *r, uintptr_t p, uint64_t off, uint64_t n,
                         uint8_t empty, uint8_t deleted, uint64_t *full)
{
    *full = 0;
    for (uint64_t at = 0; at < n; at += CHUNK) {
        size_t len = n - at < CHUNK ? (size_t)(n - at) : CHUNK;
        const uint8_t *b = read_block(r, p, off + at, len);
        if (!b) return -1;
        for (size_t i = 0; i < len; i++) {
            uint8_t c = b[i];
            if (c < 0x80) (*full)++;
            else if (c != empty && c != deleted) return 1;
        }
    }
    return 0;
}

/* Do the `clones` bytes at [p + a) equal those at [p + b)? */
static int same_bytes(const struct reader *r, uintptr_t p, uint64_t a, uint64_t b, size_t clones)
{
    uint8_t x[16];
    const uint8_t *at = read_block(r, p, a, clones);
    if (!at) return 0;
    memcpy(x, at, clones);
    at = read_block(r, p, b, clones);
    return at && !memcmp(x, at, clones);
}

/* hashbrown: size = 2^k * T + 2^k + 16 (T a multiple of... any size; the
 * data rounded to 16), control bytes after the data, the last 16 repeating
 * the first 16. */
static int hashbrown_layout(const struct reader *r, const struct probe_entry *e, struct counts *c)
{
    for (uint64_t b = 1ull << 40; b >= 64; b >>= 1) {
        if (b + 16 >= e->size) continue;
        uint64_t data = e->size - b - 16;
        if (data % b || data / b == 0 || data / b > 4096 || data % 16) continue;
        uint64_t full;
        if (!same_bytes(r, e->p, data, data + b, 16) ||
            control_bytes(r, e->p, data, b, 0xff, 0x80, &full) != 0 || full >= b)
            continue; /* a table is never full (7/8 at most): zeros are not one */
        c->layout = TMK_PROBE_LAYOUT_HASHBROWN;
        c->capacity = b;
        c->live = full;
        return 1;
    }
    return 0;
}

/* Abseil raw_hash_set: 2^k - 1 control bytes, kSentinel 0xff, 15 clones of
 * the first bytes, padding to the slots' alignment, 2^k - 1 slots. */
static int abseil_layout(const struct reader *r, const struct probe_entry *e, struct counts *c)
{
    for (uint64_t cap = (1ull << 40) - 1; cap >= 63; cap >>= 1) {
        if (cap + 16 >= e->size) continue;
        int fits = 0;
        for (uint64_t align = 4; align <= 16 && !fits; align <<= 1) {
            uint64_t slots_at = (cap + 16 + align - 1) & ~(align - 1);
            fits = e->size > slots_at && (e->size - slots_at) % cap == 0;
        }
        uint64_t full;
        const uint8_t *sentinel = fits ? read_block(r, e->p, cap, 1) : NULL;
        if (!sentinel || *sentinel != 0xff || !same_bytes(r, e->p, 0, cap + 1, 15) ||
            control_bytes(r, e->p, 0, cap, 0x80, 0xfe, &full) != 0)
            continue;
        c->layout = TMK_PROBE_LAYOUT_ABSEIL;
        c->capacity = cap;
        c->live = full;
        return 1;
    }
    return 0;
}

/* Does any of 8 words spread over b differ from `first`? A buffer filled
 * with one byte (memset) never does; a khash flags array, whose buckets the
 * hash scatters, always does (probed for khash's layout only). */
static int differs_from(const uint8_t *b, size_t n, uint64_t first)
{
    for (size_t k = 0; k < 8 && n >= 8; k++) {
        uint64_t w;
        memcpy(&w, b + (n - 8) / 7 * k, 8);
        if (w != first) return 1;
    }
    return 0;
}

/* Counts one block. 0, or -1 when it could not be read whole. */
static int count_block(const struct reader *r, const struct probe_entry *e, struct counts *c)
{
    memset(c, 0, sizeof *c);
    uint64_t units = e->size / 16;
    c->uthash_ok = e->size % 16 == 0 && units >= 32 && !(units & (units - 1));
    struct pydict d = {0, 0, 1};
    int is_dict = 0, varied = 0;
    uint64_t first = 0;
    for (uint64_t off = 0; off < e->size; off += CHUNK) {
        size_t n = e->size - off < CHUNK ? (size_t)(e->size - off) : CHUNK;
        const uint8_t *b = read_block(r, e->p, off, n);
        if (!b) return -1;
        if (off == 0 && n >= 8) memcpy(&first, b, 8);
        if (!varied) varied = differs_from(b, n, first);
        if (off == 0 && n >= 32 && pydict_layout(b, e->size, &d, &c->capacity)) {
            is_dict = 1;
            c->layout = TMK_PROBE_LAYOUT_PYDICT;
        }
        tmk_count_words(&c->w, b, off, n);
        if (c->uthash_ok) c->uthash_ok = uthash_units(b, n);
        if (is_dict) c->live += pydict_live(&d, b, off, n);
    }
    if (!is_dict && c->uthash_ok && c->w.sum16) {
        c->layout = TMK_PROBE_LAYOUT_UTHASH;
        c->capacity = units;
        c->live = c->w.sum16;
    }
    /* khash's flags: 2 bits a bucket, never 11, and a table is never more
     * than 77% live (it grows first): a mostly-zero buffer is not one */
    if (!c->layout && varied && !c->w.pairs11 && c->w.pairs10 && !(e->size & (e->size - 1)) &&
        c->w.pairs00 * 100 <= e->size * 4 * 78) {
        c->layout = TMK_PROBE_LAYOUT_KHASH_FLAGS;
        c->capacity = e->size * 4;
        c->live = c->w.pairs00;
    }
    if (!c->layout && !hashbrown_layout(r, e, c)) abseil_layout(r, e, c);
    return 0;
}

/* ---- the pass ------------------------------------------------------------ */

/* A PROBE record at p (at most PROBE_RECORD_MAX bytes); its end. */
#define PROBE_RECORD_MAX (2 * TMK_RECORD_MAX)

static uint8_t *encode_probe(uint8_t *p, const struct probe_entry *e, const struct counts *c)
{
    uint8_t body[TMK_RECORD_MAX], *q = body;
    q = tmk_put_u(q, e->p);
    q = tmk_put_u(q, e->size);
    q = tmk_put_u(q, c->w.nz64);
    q = tmk_put_u(q, c->w.u32ge2);
    q = tmk_put_u(q, c->w.pairs00);
    q = tmk_put_u(q, c->w.sum16);
    q = tmk_put_u(q, c->layout);
    q = tmk_put_u(q, c->capacity);
    q = tmk_put_u(q, c->live);
    size_t len = (size_t)(q - body);
    *p++ = TMK_REC_PROBE;
    p = tmk_put_u(p, len);
    memcpy(p, body, len);
    return p + len;
}

static void put_probe(struct tmk_thread *t, const struct probe_entry *e, const struct counts *c)
{
    tmk_publish(t, encode_probe(tmk_reserve(t, PROBE_RECORD_MAX), e, c));
}

/* Probes blocks from the cursor on, until `budget` bytes were read or every
 * slot was visited once (guard set: the sampler's, or the exiting thread's).
 * Each PROBE follows a TICK to the time its read ended, taken before the
 * check that the block is still the same allocation: never earlier than
 * what it read (a destructor clearing an array in the last milliseconds
 * before its free is no count of the table's, and the analyzer must know
 * that a read was not in them: recognize_replay.c, count_time), and never
 * later than the block's free (an address the program reused names another
 * block then). */
static void pass(struct tmk_thread *t, uint64_t budget)
{
    if (!chunk && !(chunk = tmk_arena_alloc(CHUNK))) return;
    const struct reader reader = {chunk};
    uint64_t spent = 0;
    size_t n = 1;
    struct probe_entry e;
    for (size_t visited = 0; visited < n && spent < budget && !refused; visited++) {
        int found = entry_at(cursor, &e, &n);
        cursor = n ? (cursor + 1) % n : 0;
        if (!found) continue;
        struct counts c;
        spent += e.size;
        if (count_block(&reader, &e, &c) != 0) continue;
        uint64_t read_end = tmk_now();
        if (!still_same(e.p, e.gen)) continue;
        uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
        tmk_publish(t, tmk_put_timed(t, p, TMK_REC_TICK, read_end));
        put_probe(t, &e, &c);
    }
    note_refused(t, tmk_now());
}

/* ---- the probe at free ---------------------------------------------------- */

/* Bytes the probes at free may still read in this second: FREE_SHARE times
 * TIDEMARK_PROBE_BYTES from the start, given again by the sampler once a
 * second. More than the passes: a table's growth arrays take their share
 * (a dict grown to 1M entries frees 40 MiB of them in its first 0.2 s),
 * and its last array, read when the program destroys it (or finalizes), is
 * the one read that says what it kept (256 MiB a second: 20 to 30 ms of
 * copying and counting, 3% of one core at most). */
#define FREE_SHARE 4
static uint64_t free_tokens;
static uint64_t last_refill_ns;

static int take_tokens(uint64_t bytes)
{
    uint64_t have = __atomic_load_n(&free_tokens, __ATOMIC_RELAXED);
    do {
        if (have < bytes) return 0;
    } while (!__atomic_compare_exchange_n(&free_tokens, &have, have - bytes, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return 1;
}

static void refill_tokens(uint64_t now)
{
    if (last_refill_ns && now - last_refill_ns < PROBE_EVERY_NS) return;
    last_refill_ns = now;
    __atomic_store_n(&free_tokens, FREE_SHARE * tmk_opt.probe_bytes, __ATOMIC_RELAXED);
}

/* The probes at free read through one buffer of their own: a thread that
 * finds it taken (another thread is reading a block it frees) skips its
 * probe rather than wait or take memory. 1 when the caller has it. */
static uint8_t *free_chunk;
static int free_chunk_busy;

static int take_free_chunk(void)
{
    if (__atomic_exchange_n(&free_chunk_busy, 1, __ATOMIC_ACQUIRE)) return 0;
    if (!free_chunk && !(free_chunk = tmk_arena_alloc(CHUNK))) {
        __atomic_store_n(&free_chunk_busy, 0, __ATOMIC_RELEASE);
        return 0;
    }
    return 1;
}

void tmk_probe_start(void)
{
    refill_tokens(tmk_clock_ns());
}

uint64_t tmk_probe_freed(struct tmk_thread *t, uintptr_t p, uint64_t now)
{
    struct probe_entry e;
    take_entry(p, &e);
    if (!e.p) return 0;
    if (refused || replaced(t, &e) || !take_tokens(e.size) || !take_free_chunk()) return e.size;
    const struct reader r = {free_chunk};
    struct counts c;
    int counted = count_block(&r, &e, &c) == 0;
    __atomic_store_n(&free_chunk_busy, 0, __ATOMIC_RELEASE);
    if (!counted) {
        note_refused(t, now);
        return e.size;
    }
    note_read(t, e.stack);
    uint8_t *q = tmk_reserve(t, TMK_RECORD_MAX); /* the PROBE record takes the FREE's time */
    tmk_publish(t, tmk_put_timed(t, q, TMK_REC_TICK, now));
    put_probe(t, &e, &c);
    return e.size;
}

/* One pass at a time: the exit's pass may come while the sampler's runs
 * (they share the cursor and the read buffer). */
static pthread_mutex_t pass_mutex = PTHREAD_MUTEX_INITIALIZER;

void tmk_probe_sample(struct tmk_thread *t)
{
    if (!__atomic_load_n(&tmk_probe_used, __ATOMIC_RELAXED) || refused) return;
    uint64_t now = tmk_clock_ns();
    refill_tokens(now);
    if (now - last_pass_ns < PROBE_EVERY_NS) return;
    last_pass_ns = now;
    pthread_mutex_lock(&pass_mutex);
    pass(t, tmk_opt.probe_bytes);
    pthread_mutex_unlock(&pass_mutex);
}

void tmk_probe_final(struct tmk_thread *t)
{
    if (!__atomic_load_n(&tmk_probe_used, __ATOMIC_RELAXED) || refused) return;
    pthread_mutex_lock(&pass_mutex); /* a sampler's pass ends within its budget */
    cursor = 0;
    pass(t, PROBE_EXIT_BYTES);
    pthread_mutex_unlock(&pass_mutex);
}

/* A forked child has the parent's blocks (its file does not): it starts
 * with none. The lock may have been held by a thread that is gone. */
void tmk_probe_after_fork_child(void)
{
    lock_word = 0;
    free_chunk_busy = 0; /* a thread reading at free is gone */
    refused = refusal_written = 0; /* its own file says it again, if so */
    pthread_mutex_init(&pass_mutex, NULL);
    if (slots) memset(slots, 0, nslots * sizeof *slots);
    used = 0;
    cursor = 0;
}
