/* tests/preload/test_cfi_fdes.c - the CFI unwinder's FDEs compiled one at a
 * time (preload/cfi_compile.c), on this process's libc: nothing is
 * compiled when a module is first met; an address's rule is there once its
 * FDE is compiled, and only that FDE's rows and page are made; a
 * function's first instruction reads CFA = %rsp + 8; an address before the
 * first FDE falls back; freeing gives everything back. (That the rules are
 * libunwind's frames is tests/preload/unwind_test.py's part.)
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/cfi.h"
#include "../check.h"

static struct tmk_cfi_fdes fdes;
static uintptr_t want_pc; /* tmk_cfi_fdes_compile's address, inside the callback */

/* The object holding want_pc: set up at the first call, compile want_pc's
 * FDE at every call (the loader's lock held, as in the shim). */
static int in_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    int *found = arg;
    uintptr_t start, end;
    tmk_module_range(info, &start, &end);
    if (want_pc < start || want_pc >= end) return 0;
    if (!*found) tmk_cfi_fdes_init(info, start, end, &fdes);
    else tmk_cfi_fdes_compile(info, &fdes, want_pc);
    *found = 1;
    return 1;
}

static void compile(uintptr_t pc)
{
    int found = 1;
    want_pc = pc;
    dl_iterate_phdr(in_libc, &found);
}

static size_t pages_made(void)
{
    size_t n = 0;
    for (uint64_t k = 0; k < (fdes.count + 1023) / 1024; k++) n += fdes.page[k] != NULL;
    return n;
}

int main(void)
{
    uintptr_t qsort_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "qsort");
    uintptr_t bsearch_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "bsearch");
    CHECK(qsort_pc && bsearch_pc);
    int found = 0;
    want_pc = qsort_pc;
    dl_iterate_phdr(in_libc, &found);
    CHECK(found, "no object holds qsort");
    CHECK(fdes.count > 1000, "libc has %llu FDEs in its table", (unsigned long long)fdes.count);
    CHECK_EQ_U64(fdes.n, 0);
    CHECK_EQ_U64(pages_made(), 0);

    uint32_t rule = 99;
    CHECK(tmk_cfi_fdes_rule(&fdes, qsort_pc, &rule) == 0, "qsort's FDE compiled before asked");
    compile(qsort_pc);
    CHECK(tmk_cfi_fdes_rule(&fdes, qsort_pc, &rule) == 1);
    CHECK(TMK_CFI_KIND(rule) == TMK_CFI_STD && !TMK_CFI_CFA_RBP(rule) &&
              TMK_CFI_CFA_OFF(rule) == 8 && !TMK_CFI_RBP_SAVED(rule),
          "qsort's first instruction: rule %#x, not CFA = %%rsp + 8", rule);
    CHECK_EQ_U64(pages_made(), 1);
    CHECK(fdes.n > 0 && fdes.n < 256, "%zu rows for one FDE", fdes.n);
    size_t rows_one = fdes.n;

    compile(qsort_pc); /* again: nothing more */
    CHECK_EQ_U64(fdes.n, rows_one);
    CHECK(tmk_cfi_fdes_rule(&fdes, bsearch_pc, &rule) == 0, "bsearch's FDE compiled with qsort's");
    compile(bsearch_pc);
    CHECK(tmk_cfi_fdes_rule(&fdes, bsearch_pc, &rule) == 1 && TMK_CFI_KIND(rule) == TMK_CFI_STD);
    CHECK(fdes.n > rows_one);
    CHECK(pages_made() <= 2);

    /* below the first FDE: no FDE, nothing to compile */
    CHECK(tmk_cfi_fdes_rule(&fdes, fdes.start, &rule) == 1 && rule == TMK_CFI_FALLBACK,
          "the module's first byte: rule %#x", rule);

    tmk_cfi_fdes_free(&fdes);
    CHECK(!fdes.pcs && !fdes.page && !fdes.row && !fdes.count);
    return check_status();
}
