/* tests/report/test_symbols.c - the symbolizer against this very process.
 *
 * The test builds MODULE descriptions of itself the way the shim does
 * (dl_iterate_phdr: bias, PT_LOAD span, GNU build-id note), takes return
 * addresses whose source line it knows from __LINE__, and checks that they
 * resolve to the right function, file and line; then that a module with a
 * different build-id, a missing binary, an unnamed binary, or a size that
 * does not match resolve to module + offset with exactly one warning each,
 * never to a name.
 */
#define _GNU_SOURCE
#include "symbols/symbols.h"

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* ---- this process as the shim would describe it ------------------------ */

struct self_module {
    int found;
    uint64_t bias, start, end;
    uint8_t build_id[64];
    size_t build_id_len;
    char path[4096];
};

static void read_build_id(struct dl_phdr_info *info, const ElfW(Phdr) *ph,
                          struct self_module *m)
{
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    const uint8_t *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
        const uint8_t *name = p + sizeof *n;
        const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);
        if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
            memcmp(name, "GNU", 4) == 0 && n->n_descsz <= sizeof m->build_id) {
            memcpy(m->build_id, desc, n->n_descsz);
            m->build_id_len = n->n_descsz;
            return;
        }
        p = desc + ((n->n_descsz + 3) & ~3u);
    }
}

/* dl_iterate_phdr callback: fills the module that contains `data`'s address. */
struct find_arg {
    uintptr_t addr;
    struct self_module *out;
};

static int find_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct find_arg *a = data;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uint64_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (s < lo) lo = s;
        if (e > hi) hi = e;
    }
    if (a->addr < lo || a->addr >= hi) return 0;
    struct self_module *m = a->out;
    m->found = 1;
    m->bias = info->dlpi_addr;
    m->start = lo;
    m->end = hi;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_NOTE) read_build_id(info, &info->dlpi_phdr[i], m);
    if (info->dlpi_name && info->dlpi_name[0]) {
        snprintf(m->path, sizeof m->path, "%s", info->dlpi_name);
    } else {
        ssize_t n = readlink("/proc/self/exe", m->path, sizeof m->path - 1);
        m->path[n > 0 ? n : 0] = '\0';
    }
    return 1;
}

static struct self_module module_of(const void *addr)
{
    struct self_module m;
    memset(&m, 0, sizeof m);
    struct find_arg a = {(uintptr_t)addr, &m};
    dl_iterate_phdr(find_module, &a);
    return m;
}

static struct tm_symbolizer_module desc_of(const struct self_module *m, uint64_t id)
{
    struct tm_symbolizer_module d = {id, m->bias, m->start, m->end, m->build_id,
                                m->build_id_len, m->path, 0, 0};
    return d;
}

/* ---- functions whose return addresses we know -------------------------- */

static __attribute__((noinline)) uint64_t return_address(void)
{
    return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static unsigned call_line;

static __attribute__((noinline)) uint64_t known_caller(void)
{
    call_line = __LINE__ + 1;
    uint64_t ra = return_address();
    return ra;
}

/* Inlined into its caller even at -O0: its name and line still come out. */
static unsigned inline_line;

static inline __attribute__((always_inline)) uint64_t inlined_caller(void)
{
    inline_line = __LINE__ + 1;
    uint64_t ra = return_address();
    return ra;
}

static unsigned outer_line;

static __attribute__((noinline)) uint64_t outer_of_inline(void)
{
    outer_line = __LINE__ + 1;
    return inlined_caller();
}

/* ---- the tests ---------------------------------------------------------- */

static size_t warnings_mentioning(struct tm_symbolizer *s, const char *text)
{
    const char *const *w;
    size_t n = tm_symbolizer_warnings(s, &w), hits = 0;
    for (size_t i = 0; i < n; i++) hits += strstr(w[i], text) != NULL;
    return hits;
}

static void test_resolves_own_code(const struct self_module *self)
{
    struct tm_symbolizer *s = tm_symbolizer_new(NULL, NULL);
    struct tm_symbolizer_module d = desc_of(self, 1);
    CHECK(tm_symbolizer_add_module(s, &d) == 0);

    uint64_t ra = known_caller();
    struct tm_sym_frame f;
    CHECK(tm_symbolizer_lookup(s, ra, 0, &f) == 1);
    CHECK_STR(f.function, "known_caller");
    CHECK_STR(f.file ? tm_path_basename(f.file) : NULL, "test_symbols.c");
    CHECK(f.line == call_line);
    CHECK_STR(f.module, self->path);
    CHECK(f.offset == ra - self->bias);

    /* An inlined call: DWARF's innermost function, not the ELF symbol. */
    uint64_t ra_inl = outer_of_inline();
    CHECK(tm_symbolizer_lookup(s, ra_inl, 0, &f) == 1);
    CHECK_STR(f.function, "inlined_caller");
    CHECK(f.line == inline_line);
    /* ... and where it was inlined: the call in outer_of_inline. */
    CHECK(f.n_callers == 1);
    if (f.n_callers == 1) {
        CHECK_STR(f.callers[0].function, "outer_of_inline");
        CHECK_STR(f.callers[0].file ? tm_path_basename(f.callers[0].file) : NULL,
                  "test_symbols.c");
        CHECK(f.callers[0].line == outer_line);
    }

    /* An exact PC: the function's own entry. */
    uint64_t entry = (uint64_t)(uintptr_t)&known_caller;
    CHECK(tm_symbolizer_lookup(s, entry, 1, &f) == 1);
    CHECK_STR(f.function, "known_caller");

    /* The cache gives the same answer, same pointers. */
    struct tm_sym_frame g;
    tm_symbolizer_lookup(s, ra, 0, &f);
    tm_symbolizer_lookup(s, ra, 0, &g);
    CHECK(g.function == f.function && g.file == f.file);
    CHECK(g.line == call_line);

    char buf[256];
    tm_symbolizer_lookup(s, ra, 0, &f);
    tm_sym_frame_format(&f, buf, sizeof buf);
    char want[256];
    snprintf(want, sizeof want, "known_caller (test_symbols.c:%u)", call_line);
    CHECK_STR(buf, want);

    const char *const *w;
    CHECK(tm_symbolizer_warnings(s, &w) == 0);
    tm_symbolizer_free(s);
}

static void test_shared_library(void)
{
    /* getpid lives in libc, found through its dynamic symbol table. */
    const void *fn = (const void *)&getpid;
    struct self_module libc = module_of(fn);
    CHECK(libc.found);
    struct tm_symbolizer *s = tm_symbolizer_new(NULL, NULL);
    struct tm_symbolizer_module d = desc_of(&libc, 7);
    tm_symbolizer_add_module(s, &d);
    struct tm_sym_frame f;
    tm_symbolizer_lookup(s, (uint64_t)(uintptr_t)fn, 1, &f);
    CHECK_CONTAINS(f.function, "getpid");
    CHECK(f.offset == (uint64_t)(uintptr_t)fn - libc.bias);
    tm_symbolizer_free(s);
}

static void test_build_id_mismatch(const struct self_module *self)
{
    struct self_module other = *self;
    CHECK(other.build_id_len > 0); /* Debian's gcc always emits one */
    other.build_id[0] ^= 0xff;
    struct tm_symbolizer *s = tm_symbolizer_new(NULL, NULL);
    struct tm_symbolizer_module d = desc_of(&other, 1);
    tm_symbolizer_add_module(s, &d);

    uint64_t ra = known_caller();
    struct tm_sym_frame f;
    CHECK(tm_symbolizer_lookup(s, ra, 0, &f) == 0);
    CHECK(f.function == NULL && f.file == NULL && f.line == 0);
    CHECK_STR(f.module, self->path);
    CHECK(f.offset == ra - self->bias);
    /* A second address in the same module: still one warning. */
    tm_symbolizer_lookup(s, (uint64_t)(uintptr_t)&known_caller, 1, &f);
    CHECK(f.function == NULL);
    const char *const *w;
    CHECK(tm_symbolizer_warnings(s, &w) == 1);
    char want[4200];
    snprintf(want, sizeof want, "%s: build-id differs; showing offsets", self->path);
    CHECK_STR(w[0], want);

    char buf[256], wantfmt[256];
    tm_sym_frame_format(&f, buf, sizeof buf);
    snprintf(wantfmt, sizeof wantfmt, "%s+0x%llx", tm_path_basename(self->path),
             (unsigned long long)f.offset);
    CHECK_STR(buf, wantfmt);
    tm_symbolizer_free(s);
}

static void test_missing_and_unnamed(const struct self_module *self)
{
    struct tm_symbolizer *s = tm_symbolizer_new(NULL, NULL);
    struct tm_symbolizer_module missing = {2, 0x10000000, 0x10000000, 0x10100000, NULL, 0,
                                      "/nonexistent/libgone.so", 0, 0};
    struct tm_symbolizer_module unnamed = {3, 0x20000000, 0x20000000, 0x20100000, NULL, 0, "", 0, 0};
    tm_symbolizer_add_module(s, &missing);
    tm_symbolizer_add_module(s, &unnamed);
    struct tm_sym_frame f;
    CHECK(tm_symbolizer_lookup(s, 0x10000123, 0, &f) == 0);
    CHECK_STR(f.module, "/nonexistent/libgone.so");
    CHECK(f.offset == 0x123 && f.function == NULL);
    tm_symbolizer_lookup(s, 0x10000456, 0, &f);
    CHECK(tm_symbolizer_lookup(s, 0x20000010, 0, &f) == 0);
    CHECK_STR(f.module, "[module 3]");
    CHECK(f.offset == 0x10);
    CHECK(warnings_mentioning(s, "/nonexistent/libgone.so") == 1);
    CHECK(warnings_mentioning(s, "[module 3]") == 1);

    /* Outside every module: the raw address. */
    CHECK(tm_symbolizer_lookup(s, 0x5, 0, &f) == 0);
    CHECK(f.module == NULL && f.offset == 0x5);
    char buf[64];
    tm_sym_frame_format(&f, buf, sizeof buf);
    CHECK_STR(buf, "0x5");

    /* No build-id in the trace and a span that is not the binary's: refused. */
    struct self_module wrong = *self;
    wrong.build_id_len = 0;
    wrong.end += 4096;
    struct tm_symbolizer_module d = desc_of(&wrong, 4);
    tm_symbolizer_add_module(s, &d);
    CHECK(tm_symbolizer_lookup(s, known_caller(), 0, &f) == 0);
    CHECK(warnings_mentioning(s, "size differs") == 1);
    tm_symbolizer_free(s);
}

static void test_no_build_id_but_same_span(const struct self_module *self)
{
    struct self_module m = *self;
    m.build_id_len = 0;
    struct tm_symbolizer *s = tm_symbolizer_new(NULL, NULL);
    struct tm_symbolizer_module d = desc_of(&m, 1);
    tm_symbolizer_add_module(s, &d);
    struct tm_sym_frame f;
    CHECK(tm_symbolizer_lookup(s, known_caller(), 0, &f) == 1);
    CHECK_STR(f.function, "known_caller");
    tm_symbolizer_free(s);
}

static void test_reloaded_range(const struct self_module *self)
{
    /* Module 1 (a wrong build of us) was unloaded, module 2 (the right one)
     * mapped at the same addresses: the loaded one answers. */
    struct self_module old = *self;
    old.build_id[0] ^= 0xff;
    struct tm_symbolizer *s = tm_symbolizer_new(NULL, NULL);
    struct tm_symbolizer_module d1 = desc_of(&old, 1), d2 = desc_of(self, 2);
    tm_symbolizer_add_module(s, &d2);
    tm_symbolizer_add_module(s, &d1);
    tm_symbolizer_module_gone(s, 1);
    struct tm_sym_frame f;
    CHECK(tm_symbolizer_lookup(s, known_caller(), 0, &f) == 1);
    CHECK_STR(f.function, "known_caller");
    tm_symbolizer_free(s);
}

static void test_lookup_at_a_time(const struct self_module *self)
{
    /* Three objects in turn at one range, as a trace's module events number
     * them: A (a wrong build of us) mapped at event 1, gone at 2; B (us)
     * mapped at 3, gone at 4; C (missing) mapped at 5, still loaded. A
     * stack defined at event k is named after the object mapped then, and
     * the same address gives each its own answer, also from the cache. */
    struct self_module wrong = *self;
    wrong.build_id[0] ^= 0xff;
    struct tm_symbolizer *s = tm_symbolizer_new(NULL, NULL);
    struct tm_symbolizer_module a = desc_of(&wrong, 1), b = desc_of(self, 2);
    struct tm_symbolizer_module c = {3, self->bias, self->start, self->end, NULL, 0,
                                     "/nonexistent/libc3.so", 0, 0};
    a.loaded_at = 1;
    a.gone_at = 2;
    b.loaded_at = 3;
    b.gone_at = 4;
    c.loaded_at = 5;
    tm_symbolizer_add_module(s, &a);
    tm_symbolizer_add_module(s, &b);
    tm_symbolizer_add_module(s, &c);
    tm_symbolizer_module_gone(s, 1);
    tm_symbolizer_module_gone(s, 2);
    uint64_t pc = known_caller();
    struct tm_sym_frame f;
    for (int round = 0; round < 2; round++) {
        CHECK(tm_symbolizer_lookup_at(s, pc, 0, 3, &f) == 1);
        CHECK_STR(f.function, "known_caller");
        CHECK(f.module_id == 2);
        CHECK(tm_symbolizer_lookup_at(s, pc, 0, 1, &f) == 0);
        CHECK(f.module_id == 1 && f.module && strstr(f.module, self->path));
        CHECK(tm_symbolizer_lookup_at(s, pc, 0, 6, &f) == 0);
        CHECK(f.module_id == 3);
        /* at the end, or at a time no object covered (2: between A and B),
         * as before: the object still loaded */
        CHECK(tm_symbolizer_lookup(s, pc, 0, &f) == 0);
        CHECK(f.module_id == 3);
        tm_symbolizer_lookup_at(s, pc, 0, 2, &f);
        CHECK(f.module_id == 3);
        tm_symbolizer_lookup_at(s, pc, 0, 0, &f);
        CHECK(f.module_id == 3);
    }
    tm_symbolizer_free(s);
}

static void test_format_truncates(void)
{
    struct tm_sym_frame f = {"a_long_function_name", "/src/dir/file.c", 42, "/lib/x.so", 0x10, NULL, 0, 1};
    char buf[8];
    int n = tm_sym_frame_format(&f, buf, sizeof buf);
    CHECK(n == (int)strlen("a_long_function_name (file.c:42)"));
    CHECK(strlen(buf) == 7);
    struct tm_sym_frame g = {"fn", NULL, 0, "/lib/x.so", 0x10, NULL, 0, 1};
    char big[64];
    tm_sym_frame_format(&g, big, sizeof big);
    CHECK_STR(big, "fn (x.so)");
}

int main(void)
{
    struct self_module self = module_of((const void *)&known_caller);
    CHECK(self.found);
    if (!self.found) return check_status();
    test_resolves_own_code(&self);
    test_shared_library();
    test_build_id_mismatch(&self);
    test_missing_and_unnamed(&self);
    test_no_build_id_but_same_span(&self);
    test_reloaded_range(&self);
    test_lookup_at_a_time(&self);
    test_format_truncates();
    return check_status();
}
