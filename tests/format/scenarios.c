/* tests/format/scenarios.c - the synthetic traces the analyzer's tests, the
 * tracegen command and the fuzz seeds share (scenarios.h), written with
 * tracegen's public writer only. Scenario figures come from Go's rules
 * through gomap_sizing.h, exactly as gomap would allocate; tests assert the
 * resulting numbers as literals computed from the rules by hand. */
#include "scenarios.h"

#include "tidemark/annotate.h"
#include "tidemark/gomap_sizing.h"
#include "tidemark/trace_format.h"

#define ARRAY_BASE 0x7f0000000000ull
#define VALUE_BASE 0x10000000ull

static uint64_t array_bytes(uint8_t B, uint32_t bucket)
{
    return B == 0 ? bucket : gomap_array_for_b(B, bucket).bytes;
}

/* buckets as the TABLE_ARRAY record gives them: 2^B, or with overflow set
 * 2^B plus the preallocated overflow buckets (what gomap itself records). */
static uint64_t array_buckets(uint8_t B, uint32_t bucket, int overflow)
{
    struct gomap_array a = gomap_array_for_b(B, bucket);
    return overflow ? a.buckets + a.overflow : 1ull << B;
}

/* The seed program as gomap runs it: 1,000,000 inserts of int64 -> value,
 * then every key deleted. Arrays as makeBucketArray allocates them; the old
 * array is released when its evacuation is done (2^B_old / 2 writes later,
 * as each write evacuates two old buckets). Values over 128 bytes are
 * separate allocations freed on delete. */
static struct tg *seed(uint32_t value_size, uint64_t hint, int overflow, uint32_t file_flags)
{
    const uint64_t N = 1000000, T0 = 1000, DT = 100;
    struct gomap_layout l = gomap_layout_for(8, value_size);
    struct tg *g = tg_new(file_flags);
    uint64_t frames_table[] = {0x401234, 0x401500, 0x7f1000020000};
    uint64_t frames_value[] = {0x401300, 0x401500};
    uint64_t frames_other[] = {0x401400};
    tg_stack(g, 1, 1, 3, frames_table);
    tg_stack(g, 1, 2, 2, frames_value);
    tg_stack(g, 1, 3, 1, frames_other);
    tg_alloc(g, 1, 500, 0x5000, 4096, 3); /* an ordinary buffer, freed at the end */
    tg_alloc(g, 1, 600, 0x6000, 1000, 3); /* and one never freed */
    tg_table_new(g, 1, T0, 1, TMK_KIND_GOMAP, l.value_indirect ? TMK_TABLE_VALUE_INDIRECT : 0, 8,
                 value_size, l.bucket_size, 8, hint, 1, "seed");
    uint8_t B = gomap_b_for_hint(hint);
    uint64_t narr = 0, cur = 0, old = 0, old_free_at = 0, t = T0;
    if (B > 0) { /* makemap allocates at once when B > 0 */
        cur = ARRAY_BASE + (narr++ << 32);
        tg_alloc(g, 1, t, cur, array_bytes(B, l.bucket_size), 1);
        tg_table_array(g, 1, t, 1, cur, array_bytes(B, l.bucket_size),
                       array_buckets(B, l.bucket_size, overflow), TMK_ARRAY_INITIAL, 0, 1);
    }
    for (uint64_t count = 0; count < N; count++) {
        t = T0 + (count + 1) * DT;
        if (!cur) { /* first insert allocates the single bucket */
            cur = ARRAY_BASE + (narr++ << 32);
            tg_alloc(g, 1, t, cur, l.bucket_size, 1);
            tg_table_array(g, 1, t, 1, cur, l.bucket_size, 1, TMK_ARRAY_INITIAL, 0, 1);
        } else if (!old && gomap_over_load_factor(count + 1, B)) {
            B++;
            old = cur;
            old_free_at = count + ((1ull << (B - 1)) + 1) / 2;
            cur = ARRAY_BASE + (narr++ << 32);
            tg_alloc(g, 1, t, cur, array_bytes(B, l.bucket_size), 1);
            tg_table_array(g, 1, t, 1, cur, array_bytes(B, l.bucket_size),
                           array_buckets(B, l.bucket_size, overflow), TMK_ARRAY_GROW, count, 1);
        }
        if (old && count >= old_free_at) {
            tg_free(g, 1, t, old);
            old = 0;
        }
        if (l.value_indirect) tg_alloc(g, 1, t, VALUE_BASE + count * 256, value_size, 2);
        if ((count + 1) % 65536 == 0) tg_table_count(g, 1, t, 1, count + 1);
    }
    if (old) tg_free(g, 1, t, old);
    tg_table_count(g, 1, t, 1, N);
    tg_table_peak(g, 1, 1, N); /* gomap's high-water count, as the shim writes it */
    for (uint64_t k = 0; k < N; k++) {
        t += DT;
        if (l.value_indirect) tg_free(g, 1, t, VALUE_BASE + k * 256);
        if ((k + 1) % 65536 == 0) tg_table_count(g, 1, t, 1, N - k - 1);
    }
    tg_table_count(g, 1, t + DT, 1, 0);
    tg_memory(g, 1, t + DT, 400ull << 20, 0);
    tg_free(g, 1, t + 2 * DT, 0x5000);
    tg_end(g, 1, t + 3 * DT, TMK_END_EXIT, 0);
    return g;
}

struct tg *tg_scenario_seed(uint32_t value_size, uint64_t hint, int fix)
{
    (void)fix;
    return seed(value_size, hint, 0, 0);
}

struct tg *tg_scenario_seed_overflow(uint32_t value_size)
{
    return seed(value_size, 0, 1, 0);
}

struct tg *tg_scenario_seed_flags(uint32_t file_flags)
{
    return seed(128, 0, 0, file_flags);
}

/* Two gomap tables emptied after their arrays were made (all retained):
 * "big" (B=12, site 0x402000) and "small" (B=8, site 0x403000). With
 * --top 1 a report lists only "big". */
struct tg *tg_scenario_two_tables(void)
{
    struct tg *g = tg_new(0);
    uint64_t fa[] = {0x402000}, fb[] = {0x403000};
    struct gomap_layout l = gomap_layout_for(8, 8);
    static const uint8_t Bs[2] = {12, 8};
    static const char *const labels[2] = {"big", "small"};
    tg_stack(g, 1, 1, 1, fa);
    tg_stack(g, 1, 2, 1, fb);
    for (uint64_t k = 0; k < 2; k++) {
        uint64_t ptr = ARRAY_BASE + (k << 32), bytes = array_bytes(Bs[k], l.bucket_size);
        tg_table_new(g, 1, 100, k + 1, TMK_KIND_GOMAP, 0, 8, 8, l.bucket_size, 8, 0, k + 1,
                     labels[k]);
        tg_alloc(g, 1, 200, ptr, bytes, k + 1);
        tg_table_array(g, 1, 200, k + 1, ptr, bytes, array_buckets(Bs[k], l.bucket_size, 1),
                       TMK_ARRAY_INITIAL, 0, k + 1);
        tg_table_count(g, 1, 300, k + 1, 0);
    }
    tg_end(g, 1, 400, TMK_END_EXIT, 0);
    return g;
}

/* One gomap table (B=16: 9.0 MiB, site 0x402000, label "big") filled to
 * 400000 entries (of 425984) at 250, holding `live` at 300, its array freed
 * and TABLE_END at 400: emptied (live 0) it was oversized until freed,
 * still full (400000) it was not. Nothing is oversized at the end. */
struct tg *tg_scenario_freed(uint64_t live)
{
    struct tg *g = tg_new(0);
    uint64_t fa[] = {0x402000};
    struct gomap_layout l = gomap_layout_for(8, 8);
    uint64_t bytes = array_bytes(16, l.bucket_size);
    tg_stack(g, 1, 1, 1, fa);
    tg_table_new(g, 1, 100, 1, TMK_KIND_GOMAP, 0, 8, 8, l.bucket_size, 8, 0, 1, "big");
    tg_alloc(g, 1, 200, ARRAY_BASE, bytes, 1);
    tg_table_array(g, 1, 200, 1, ARRAY_BASE, bytes, array_buckets(16, l.bucket_size, 1),
                   TMK_ARRAY_INITIAL, 0, 1);
    tg_table_count(g, 1, 250, 1, 400000);
    tg_table_count(g, 1, 300, 1, live);
    tg_table_end(g, 1, 400, 1, live);
    tg_free(g, 1, 400, ARRAY_BASE);
    tg_end(g, 1, 500, TMK_END_EXIT, 0);
    return g;
}

/* Three threads: thread 2 frees what thread 1 allocated, thread 3 reuses an
 * address after thread 2 freed it; blocks are flushed out of thread order. */
struct tg *tg_scenario_threads(void)
{
    struct tg *g = tg_new(0);
    tg_alloc(g, 1, 100, 0xa000, 10, 0);
    tg_alloc(g, 1, 200, 0xb000, 20, 0);
    tg_flush(g, 1);
    tg_free(g, 2, 150, 0xa000);
    tg_free(g, 2, 250, 0xb000);
    tg_alloc(g, 3, 160, 0xa000, 30, 0); /* reuse after thread 2's free at 150 */
    tg_flush(g, 3);
    tg_flush(g, 2);
    tg_alloc(g, 1, 300, 0xc000, 40, 0);
    tg_free(g, 3, 310, 0xa000);
    tg_flush(g, 3);
    tg_end(g, 1, 400, TMK_END_EXIT, 0);
    return g;
}

/* ---- 3.0: the heap by info ------------------------------------------------- */

#define INFO_ARRAY 0x7f0000010000ull
#define SLOT(n) ((uint64_t)(n) << 16) /* 65.5 us slots, narrower than TMK_TICK_NS */

static struct tg *info_prologue(int v3)
{
    struct tg *g = tg_new(0);
    if (v3) tg_set_version(g, 3, 0);
    uint64_t f1[] = {0x401000}, f2[] = {0x402000};
    tg_module(g, 1, 1, 0, 0x400000, 0x500000, "/usr/bin/info");
    tg_stack(g, 1, 1, 1, f1);
    tg_stack(g, 1, 2, 1, f2);
    return g;
}

/* The table's life, by address in both versions. */
static void info_table_end(struct tg *g)
{
    tg_free(g, 1, SLOT(3), INFO_ARRAY);
    tg_table_end(g, 1, SLOT(3) + 92, 1, 0);
    tg_end(g, 1, SLOT(4), TMK_END_EXIT, 0);
}

struct tg *tg_scenario_info(void)
{
    struct tg *g = info_prologue(1);
    tg_tick(g, 2, SLOT(2));
    tg_free_info(g, 2, 4096, 1); /* at 131072: read before b3's ALLOC_INFO (131372) */
    tg_flush(g, 2);
    tg_set_zstd(g, 1);          /* thread 1's block, with the END, comes last */
    tg_tick(g, 1, SLOT(1));
    tg_alloc_info(g, 1, 4096, 1);                      /* b1 at 65536 */
    tg_table_new(g, 1, SLOT(1) + 64, 1, TMK_KIND_GENERIC, 0, 8, 8, 256, 0, 0, 2, "info");
    tg_alloc_info(g, 1, 4096, 1);                      /* the array at 65600 */
    tg_table_array_info(g, 1, SLOT(1) + 74, 1, INFO_ARRAY, 4096, 16, TMK_ARRAY_INITIAL, 0, 2,
                        4096, 1);
    tg_tick(g, 1, SLOT(2));
    tg_free_info(g, 1, 4096, 1);                       /* b1 */
    tg_memory(g, 1, SLOT(2) + 300, 1 << 20, 0);
    tg_alloc_info(g, 1, 4096, 1);                      /* b3, freed by thread 2 */
    tg_alloc_info(g, 1, 4096, 1);                      /* b4 (after b3's free), live */
    tg_tick(g, 1, SLOT(3));
    info_table_end(g);
    tg_flush(g, 1);
    tg_set_zstd(g, 0);
    return g;
}

struct tg *tg_scenario_info_v1(void)
{
    struct tg *g = info_prologue(0);
    tg_alloc(g, 1, SLOT(1), 0x5000, 4096, 1);
    tg_table_new(g, 1, SLOT(1) + 64, 1, TMK_KIND_GENERIC, 0, 8, 8, 256, 0, 0, 2, "info");
    tg_alloc(g, 1, SLOT(1) + 64, INFO_ARRAY, 4096, 1);
    tg_table_array(g, 1, SLOT(1) + 74, 1, INFO_ARRAY, 4096, 16, TMK_ARRAY_INITIAL, 0, 2);
    tg_free(g, 1, SLOT(2), 0x5000);
    tg_memory(g, 1, SLOT(2) + 300, 1 << 20, 0);
    tg_alloc(g, 1, SLOT(2) + 300, 0x6000, 4096, 1);
    tg_free(g, 2, SLOT(2) + 350, 0x6000);
    tg_alloc(g, 1, SLOT(2) + 400, 0x7000, 4096, 1);
    info_table_end(g);
    return g;
}

struct tg *tg_scenario_info_late(void)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, 0);
    /* in units of TMK_TICK_NS, the widest slot a writer may use */
    tg_tick(g, 1, 3 * TMK_TICK_NS);
    tg_alloc_info(g, 1, 100, 0);
    tg_end(g, 1, 4 * TMK_TICK_NS, TMK_END_EXIT, 0);
    tg_tick(g, 2, 2 * TMK_TICK_NS);
    tg_free_info(g, 2, 100, 0); /* a whole slot before its block was allocated */
    return g;
}

/* A small 3.minor trace of what a report shows, in blocks of about 100
 * bytes: a gomap table (8 -> 128) grown to B=3 by info, then emptied (its
 * last array retained); heap by info allocated on thread 1, partly freed
 * on thread 2; memory samples; END. */
struct tg *tg_scenario_mixed(uint16_t minor, int zstd)
{
    struct tg *g = tg_new(0);
    tg_set_version(g, 3, minor);
    tg_set_block_limit(g, 100);
    tg_set_zstd(g, zstd);
    struct gomap_layout l = gomap_layout_for(8, 128);
    uint64_t f1[] = {0x401000, 0x401800}, f2[] = {0x402000}, f3[] = {0x403000, 0x401800};
    tg_module(g, 1, 1, 0, 0x400000, 0x500000, "/usr/bin/mixed");
    tg_stack(g, 1, 1, 2, f1);
    tg_stack(g, 1, 2, 1, f2);
    tg_stack(g, 1, 3, 2, f3);
    tg_table_new(g, 1, SLOT(1), 1, TMK_KIND_GOMAP, 0, 8, 128, l.bucket_size, 8, 0, 1, "mixed");
    uint64_t prev = 0;
    for (uint8_t B = 0; B <= 3; B++) {
        uint64_t t = SLOT(2 + 3 * B), bytes = array_bytes(B, l.bucket_size);
        uint64_t ptr = INFO_ARRAY + ((uint64_t)B << 20);
        tg_tick(g, 1, t);
        tg_alloc_info(g, 1, bytes, 1);
        tg_table_array_info(g, 1, t + 10, 1, ptr, bytes, array_buckets(B, l.bucket_size, 1),
                            B ? TMK_ARRAY_GROW : TMK_ARRAY_INITIAL, B ? 6u << B : 0, 1, bytes, 1);
        if (prev) tg_free(g, 1, t + 20, prev);
        prev = ptr;
        for (uint64_t k = 0; k < 8; k++) { /* values and buffers of other sites */
            tg_alloc_info(g, 1, 48 + 16 * k, 2 + k % 2);
            if (k % 3 == 0) tg_free_info(g, 2, 48 + 16 * k, 2 + k % 2);
        }
        tg_table_count(g, 1, t + 30, 1, 7u << B);
        tg_memory(g, 2, t + 40, (10u + B) << 20, 0);
    }
    tg_table_peak(g, 1, 1, 56);
    tg_table_count(g, 1, SLOT(20), 1, 0);
    tg_tick(g, 2, SLOT(21));
    tg_free_info(g, 2, 64, 3);
    tg_end(g, 1, SLOT(22), TMK_END_EXIT, 0);
    return g;
}
