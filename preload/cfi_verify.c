/* preload/cfi_verify.c - TIDEMARK_UNWIND_VERIFY=1: every stack the CFI
 * unwinder gives (walked, or from its memo) is checked against libunwind's
 * unw_backtrace for the same call; the counts, and the first difference,
 * are said on stderr at exit:
 *
 *   tidemark: unwind verify: S stacks, C by cfi, H memo, M mismatches
 *
 * S: stacks asked for; C: of them, found by the CFI walk (the rest fell back
 * to libunwind); H: of those, also found in the memo; M: walks whose frames
 * differ from libunwind's, plus memo ids that differ from the walk's. For
 * tests; it costs a libunwind unwind per allocation.
 *
 * TIDEMARK_UNWIND_VERIFY=2, the check's own test: every 1,000th walked
 * stack is compared with its innermost frame changed, so M must come out
 * at about S / 1,000.
 */
#include "tidemark/trace_path.h"
#include "cfi.h"
#include "unwind.h"

static uint64_t v_stacks, v_cfi, v_memo, v_mismatch;
static int v_first_frame = -1, v_first_n;
static uintptr_t v_first_cfi, v_first_unw;

void tmk_cfi_verify_count(int walked, int memo_hit)
{
    __atomic_add_fetch(&v_stacks, 1, __ATOMIC_RELAXED);
    if (walked) __atomic_add_fetch(&v_cfi, 1, __ATOMIC_RELAXED);
    if (memo_hit) __atomic_add_fetch(&v_memo, 1, __ATOMIC_RELAXED);
}

static void mismatch(int frame, int n, uintptr_t cfi, uintptr_t unw)
{
    if (__atomic_add_fetch(&v_mismatch, 1, __ATOMIC_RELAXED) == 1) {
        v_first_frame = frame;
        v_first_n = n;
        v_first_cfi = cfi;
        v_first_unw = unw;
    }
}

void tmk_cfi_verify_memo(uint32_t memo_id, uint32_t walk_id)
{
    if (memo_id != walk_id) mismatch(-2, 0, memo_id, walk_id);
}

/* Compares frames f[0, n) from the walk with libunwind's for this call. */
__attribute__((noinline)) void tmk_cfi_verify(struct tmk_thread *t, const uintptr_t *f, int n)
{
    uintptr_t raw[TMK_DEPTH_MAX + TMK_CAPTURE_SLACK];
    int skip, m = tmk_capture_program(t, raw, &skip);
    if (tmk_opt.unwind_verify == 2 && n > 0 &&
        __atomic_load_n(&v_cfi, __ATOMIC_RELAXED) % 1000 == 0)
        raw[skip] ^= 1; /* as if libunwind had found another frame */
    int k = 0;
    while (k < n && k < m && f[k] == raw[skip + k]) k++;
    if (k == n && k == m) return;
    mismatch(k, n, k < n ? f[k] : 0, k < m ? raw[skip + k] : 0);
}

static size_t append_hex(char *out, size_t n, size_t cap, uintptr_t v)
{
    char hex[19] = "0x";
    int len = 2;
    for (int s = 60; s >= 0; s -= 4)
        if ((v >> s) || len > 2 || s == 0) hex[len++] = "0123456789abcdef"[(v >> s) & 15];
    hex[len] = 0;
    return tmk_path_append(out, n, cap, hex);
}

static size_t append_count(char *line, size_t n, const uint64_t *v, const char *label)
{
    n = tmk_path_append_u(line, n, 256, __atomic_load_n(v, __ATOMIC_RELAXED));
    return tmk_path_append(line, n, 256, label);
}

void tmk_cfi_report(void)
{
    if (!tmk_opt.unwind_verify) return;
    char line[256];
    size_t n = append_count(line, 0, &v_stacks, " stacks, ");
    n = append_count(line, n, &v_cfi, " by cfi, ");
    n = append_count(line, n, &v_memo, " memo, ");
    n = append_count(line, n, &v_mismatch, " mismatches");
    if (v_first_frame == -2) {
        n = tmk_path_append(line, n, sizeof line, " (first: memo id ");
        n = tmk_path_append_u(line, n, sizeof line, v_first_cfi);
        n = tmk_path_append(line, n, sizeof line, ", walk id ");
        n = tmk_path_append_u(line, n, sizeof line, v_first_unw);
        n = tmk_path_append(line, n, sizeof line, ")");
    } else if (v_first_frame >= 0) {
        n = tmk_path_append(line, n, sizeof line, " (first: frame ");
        n = tmk_path_append_u(line, n, sizeof line, (uint64_t)v_first_frame);
        n = tmk_path_append(line, n, sizeof line, " of ");
        n = tmk_path_append_u(line, n, sizeof line, (uint64_t)v_first_n);
        n = tmk_path_append(line, n, sizeof line, ", cfi ");
        n = append_hex(line, n, sizeof line, v_first_cfi);
        n = tmk_path_append(line, n, sizeof line, ", libunwind ");
        n = append_hex(line, n, sizeof line, v_first_unw);
        n = tmk_path_append(line, n, sizeof line, ")");
    }
    tmk_warn("unwind verify: ", line, NULL);
}

void tmk_cfi_verify_after_fork_child(void)
{
    v_stacks = v_cfi = v_memo = v_mismatch = 0;
    v_first_frame = -1;
}
