/* analyzer/symbols/symbols.c - the offline symbolizer (see symbols.h): module table,
 * lazy per-module libdwfl sessions, build-id verification, per-address cache
 * and the one-line frame format.
 *
 * Each module gets its own Dwfl session holding exactly that one ELF file,
 * reported at the trace's bias, so modules that reused each other's addresses
 * over the run never collide inside libdwfl.
 */
#define _GNU_SOURCE /* asprintf, vasprintf */
#include "symbols.h"

#include "demangle.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

enum module_state {
    MOD_UNOPENED = 0, /* nothing tried yet */
    MOD_READY,        /* dwfl session open, build-id verified */
    MOD_OFFSETS_ONLY, /* binary missing or not the traced one: offsets only */
};

struct module {
    struct tm_symbolizer_module d; /* build_id and path owned (copies) */
    char *display;            /* path, or "[module N]" when the trace had none */
    int gone;                 /* MODULE_GONE seen */
    unsigned order;           /* insertion order: later wins among equals */
    enum module_state state;
    Dwfl *dwfl;
    Dwfl_Module *mod;
};

struct addr_key {
    uint64_t addr; /* address << 1 | exact */
    uint64_t mod;  /* 1 + the index of the module it was resolved in; 0: none */
};

struct addr_entry {
    struct addr_key key;
    struct tm_sym_frame frame;
    UT_hash_handle hh;
};

/* Interned strings: function and file names repeat across addresses. */
struct str_entry {
    UT_hash_handle hh;
    char s[];
};

struct tm_symbolizer {
    struct module *mods;
    size_t nmods, capmods;
    unsigned next_order;
    struct addr_entry *cache;
    struct str_entry *strings;
    char **warnings;
    size_t nwarnings, capwarnings;
    char *sysroot;
    char *debuginfo_path; /* elfutils keeps a pointer to this */
    Dwfl_Callbacks callbacks;
};

/* ---- small helpers ------------------------------------------------------ */

const char *tm_path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const char *intern(struct tm_symbolizer *s, const char *str)
{
    if (!str) return NULL;
    struct str_entry *e;
    size_t n = strlen(str);
    HASH_FIND(hh, s->strings, str, n, e);
    if (e) return e->s;
    e = malloc(sizeof *e + n + 1);
    if (!e) return NULL; /* degrade to "unknown", never a dangling name */
    memcpy(e->s, str, n + 1);
    HASH_ADD_KEYPTR(hh, s->strings, e->s, n, e);
    return e->s;
}

static void add_warning(struct tm_symbolizer *s, const char *fmt, ...)
{
    if (s->nwarnings == s->capwarnings) {
        size_t cap = s->capwarnings ? 2 * s->capwarnings : 8;
        char **w = realloc(s->warnings, cap * sizeof *w);
        if (!w) return;
        s->warnings = w;
        s->capwarnings = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) >= 0) s->warnings[s->nwarnings++] = msg;
    va_end(ap);
}

/* ---- lifetime ----------------------------------------------------------- */

struct tm_symbolizer *tm_symbolizer_new(const char *sysroot, const char *debuginfo_path)
{
    struct tm_symbolizer *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sysroot = sysroot && *sysroot ? strdup(sysroot) : NULL;
    s->debuginfo_path = debuginfo_path ? strdup(debuginfo_path) : NULL;
    s->callbacks.find_elf = dwfl_build_id_find_elf;
    s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    s->callbacks.debuginfo_path = s->debuginfo_path ? &s->debuginfo_path : NULL;
    return s;
}

static void module_close(struct module *m)
{
    if (m->dwfl) dwfl_end(m->dwfl);
    m->dwfl = NULL;
    m->mod = NULL;
}

static void module_free(struct module *m)
{
    module_close(m);
    free((void *)m->d.build_id);
    free((void *)m->d.path);
    free(m->display);
}

void tm_symbolizer_free(struct tm_symbolizer *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nmods; i++) module_free(&s->mods[i]);
    free(s->mods);
    struct addr_entry *a, *ta;
    HASH_ITER(hh, s->cache, a, ta) {
        HASH_DEL(s->cache, a);
        free((void *)a->frame.callers);
        free(a);
    }
    struct str_entry *e, *te;
    HASH_ITER(hh, s->strings, e, te) {
        HASH_DEL(s->strings, e);
        free(e);
    }
    for (size_t i = 0; i < s->nwarnings; i++) free(s->warnings[i]);
    free(s->warnings);
    free(s->sysroot);
    free(s->debuginfo_path);
    free(s);
}

/* ---- module table ------------------------------------------------------- */

static struct module *module_by_id(struct tm_symbolizer *s, uint64_t id)
{
    for (size_t i = 0; i < s->nmods; i++)
        if (s->mods[i].d.id == id) return &s->mods[i];
    return NULL;
}

static int module_copy(struct module *m, const struct tm_symbolizer_module *d)
{
    memset(m, 0, sizeof *m);
    m->d = *d;
    m->d.build_id = NULL;
    m->d.build_id_len = 0;
    m->d.path = strdup(d->path ? d->path : "");
    if (d->build_id && d->build_id_len) {
        uint8_t *b = malloc(d->build_id_len);
        if (b) {
            memcpy(b, d->build_id, d->build_id_len);
            m->d.build_id = b;
            m->d.build_id_len = d->build_id_len;
        }
    }
    if (m->d.path && *m->d.path)
        m->display = strdup(m->d.path);
    else if (asprintf(&m->display, "[module %" PRIu64 "]", d->id) < 0)
        m->display = NULL;
    if (!m->d.path || !m->display || (d->build_id_len && !m->d.build_id)) {
        module_free(m);
        return -1;
    }
    return 0;
}

int tm_symbolizer_add_module(struct tm_symbolizer *s, const struct tm_symbolizer_module *d)
{
    struct module fresh;
    if (module_copy(&fresh, d)) return -1;
    fresh.order = s->next_order++;
    struct module *old = module_by_id(s, d->id);
    if (old) {
        module_free(old);
        *old = fresh;
    } else {
        if (s->nmods == s->capmods) {
            size_t cap = s->capmods ? 2 * s->capmods : 16;
            struct module *n = realloc(s->mods, cap * sizeof *n);
            if (!n) {
                module_free(&fresh);
                return -1;
            }
            s->mods = n;
            s->capmods = cap;
        }
        s->mods[s->nmods++] = fresh;
    }
    /* Cached answers may name the module an address belonged to before. */
    struct addr_entry *a, *ta;
    HASH_ITER(hh, s->cache, a, ta) {
        HASH_DEL(s->cache, a);
        free(a);
    }
    return 0;
}

void tm_symbolizer_module_gone(struct tm_symbolizer *s, uint64_t id)
{
    struct module *m = module_by_id(s, id);
    if (m) m->gone = 1;
}

/* Was m mapped after `when` module events? */
static int mapped_at(const struct module *m, uint64_t when)
{
    return m->d.loaded_at <= when && (!m->d.gone_at || when < m->d.gone_at);
}

/* The module covering addr after `when` module events, the latest added
 * among them; else (or at TM_SYM_AT_END) loaded ones before gone ones, then
 * the latest. */
static struct module *module_for(struct tm_symbolizer *s, uint64_t addr, uint64_t when)
{
    struct module *best = NULL;
    for (size_t i = 0; when != TM_SYM_AT_END && i < s->nmods; i++) {
        struct module *m = &s->mods[i];
        if (addr < m->d.start || addr >= m->d.end || !mapped_at(m, when)) continue;
        if (!best || m->order > best->order) best = m;
    }
    if (best) return best;
    for (size_t i = 0; i < s->nmods; i++) {
        struct module *m = &s->mods[i];
        if (addr < m->d.start || addr >= m->d.end) continue;
        if (!best || (best->gone && !m->gone) ||
            (best->gone == m->gone && m->order > best->order))
            best = m;
    }
    return best;
}

/* ---- opening one module ------------------------------------------------- */

static int build_ids_equal(const struct module *m, const unsigned char *bits, int len)
{
    return len > 0 && (size_t)len == m->d.build_id_len &&
           memcmp(bits, m->d.build_id, (size_t)len) == 0;
}

/* Span of the ELF's PT_LOAD segments, for traces without a build-id. */
static int load_span(Elf *elf, uint64_t *span)
{
    size_t n;
    if (elf_getphdrnum(elf, &n)) return -1;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD) continue;
        if (ph.p_vaddr < lo) lo = ph.p_vaddr;
        if (ph.p_vaddr + ph.p_memsz > hi) hi = ph.p_vaddr + ph.p_memsz;
    }
    if (lo > hi) return -1;
    *span = hi - lo;
    return 0;
}

/* Decides whether the opened file is the binary the trace saw. On refusal
 * returns the reason for the warning. */
static const char *verify_module(struct module *m)
{
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m->mod, &bits, &vaddr);
    if (m->d.build_id_len) return build_ids_equal(m, bits, len) ? NULL : "build-id differs";
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(m->mod, &bias);
    uint64_t span;
    if (!elf || load_span(elf, &span)) return "unreadable ELF";
    /* The shim's [start, end) is the same PT_LOAD span, relocated. */
    if (span != m->d.end - m->d.start) return "no build-id in trace and size differs";
    return NULL;
}

static void module_open(struct tm_symbolizer *s, struct module *m)
{
    m->state = MOD_OFFSETS_ONLY;
    if (!*m->d.path) {
        add_warning(s, "%s: binary not named in the trace; showing offsets", m->display);
        return;
    }
    char *file = NULL;
    if (s->sysroot) {
        if (asprintf(&file, "%s/%s", s->sysroot, m->d.path) < 0) return;
    } else {
        file = strdup(m->d.path);
        if (!file) return;
    }
    m->dwfl = dwfl_begin(&s->callbacks);
    if (m->dwfl) {
        dwfl_report_begin(m->dwfl);
        /* ET_DYN with add_p_vaddr: the module sits at bias + p_vaddr, i.e. our
         * bias; ET_EXEC ignores it (and its bias is 0). */
        m->mod = dwfl_report_elf(m->dwfl, tm_path_basename(m->d.path), file, -1,
                                 m->d.bias, true);
        dwfl_report_end(m->dwfl, NULL, NULL);
    }
    free(file);
    if (!m->mod) {
        add_warning(s, "%s: cannot read binary (%s); showing offsets", m->display,
                    dwfl_errmsg(-1));
        module_close(m);
        return;
    }
    const char *why = verify_module(m);
    if (why) {
        add_warning(s, "%s: %s; showing offsets", m->display, why);
        module_close(m);
        return;
    }
    m->state = MOD_READY;
}

/* ---- lookup ------------------------------------------------------------- */

/* A symbol table name as programmers read it (demangle.h); other names,
 * and ones it cannot demangle, stay. */
static const char *demangled(struct tm_symbolizer *s, const char *name)
{
    char *d = tm_demangle(name);
    const char *r = intern(s, d ? d : name);
    free(d);
    return r;
}

/* The compilation unit whose code holds pc. libdw (0.188) finds it through
 * .debug_aranges only; clang and rustc do not write that section by
 * default, so then every unit's ranges are asked in turn. */
static Dwarf_Die *unit_at(Dwfl_Module *mod, GElf_Addr pc, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, bias);
    if (cu) return cu;
    while ((cu = dwfl_module_nextcu(mod, cu, bias)) != NULL)
        if (dwarf_haspc(cu, pc - *bias) > 0) return cu;
    return NULL;
}

static int is_function_scope(Dwarf_Die *d)
{
    int tag = dwarf_tag(d);
    return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram;
}

/* DIEs that hold code at addresses of their own: functions, inlined calls,
 * blocks. */
static int holds_code(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_lexical_block || tag == DW_TAG_try_block ||
           tag == DW_TAG_catch_block || tag == DW_TAG_with_stmt || tag == DW_TAG_entry_point;
}

/* DIEs without addresses that may own code: namespaces, modules, types
 * (C++ and Rust methods). */
static int may_own_code(int tag)
{
    return tag == DW_TAG_namespace || tag == DW_TAG_module || tag == DW_TAG_class_type ||
           tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
           tag == DW_TAG_interface_type;
}

#define MAX_SCOPE_NEST 64 /* function scopes kept around one pc */
/* a damaged file (units importing each other) ends the walk there */
#define MAX_DIE_NEST 256
#define MAX_DIES_WALKED (1L << 22)

/* The function scopes around pc in one unit, outermost first. */
struct scope_chain {
    Dwarf_Addr pc;
    Dwarf_Die die[MAX_SCOPE_NEST];
    int n;
    long budget; /* DIEs it may still look at */
};

/* Walks parent's children down to the scopes holding c->pc, adding each
 * function and inlined call on the way; 1 when a DIE holding pc was found.
 * libdw's dwarf_getscopes does not serve: it also looks up the innermost
 * inlined call's abstract definition and fails (0 scopes) when that is in
 * another unit, as across rustc's codegen units or GCC's -flto. */
static int find_scopes(Dwarf_Die *parent, struct scope_chain *c, int depth)
{
    Dwarf_Die d;
    if (depth >= MAX_DIE_NEST || dwarf_child(parent, &d) != 0) return 0;
    do {
        if (--c->budget < 0) return 0;
        int tag = dwarf_tag(&d);
        if (holds_code(tag)) {
            if (dwarf_haspc(&d, c->pc) <= 0) continue;
            if (is_function_scope(&d) && c->n < MAX_SCOPE_NEST) c->die[c->n++] = d;
            find_scopes(&d, c, depth + 1);
            return 1;
        }
        Dwarf_Attribute attr;
        Dwarf_Die unit;
        if (tag == DW_TAG_imported_unit) { /* dwz: a partial unit's DIEs, here */
            if (dwarf_formref_die(dwarf_attr(&d, DW_AT_import, &attr), &unit) &&
                find_scopes(&unit, c, depth + 1))
                return 1;
        } else if (may_own_code(tag) && dwarf_haschildren(&d) > 0) {
            if (find_scopes(&d, c, depth + 1)) return 1;
        }
    } while (dwarf_siblingof(&d, &d) == 0);
    return 0;
}

/* Where the inlined subroutine `inl` was called: its DW_AT_call_file (an
 * index into its unit's file table) and DW_AT_call_line. */
static void call_site(Dwarf_Die *inl, const char **file, unsigned *line)
{
    Dwarf_Attribute attr;
    Dwarf_Word v;
    Dwarf_Die cu;
    Dwarf_Files *files;
    size_t nfiles;
    *file = NULL;
    *line = 0;
    if (dwarf_attr(inl, DW_AT_call_file, &attr) && dwarf_formudata(&attr, &v) == 0 &&
        dwarf_diecu(inl, &cu, NULL, NULL) && dwarf_getsrcfiles(&cu, &files, &nfiles) == 0)
        *file = dwarf_filesrc(files, (size_t)v, NULL, NULL);
    if (dwarf_attr(inl, DW_AT_call_line, &attr) && dwarf_formudata(&attr, &v) == 0)
        *line = (unsigned)v;
}

/* A function scope's name: DWARF's; for Rust, whose DW_AT_name is the last
 * segment of the path ("with_capacity<u64, u64>"), the path its linkage
 * name demangles to ("hashbrown::raw::RawTableInner::with_capacity"), as
 * the symbol table names it. */
static const char *scope_name(struct tm_symbolizer *s, Dwarf_Die *d)
{
    Dwarf_Die cu;
    Dwarf_Attribute attr;
    if (dwarf_diecu(d, &cu, NULL, NULL) && dwarf_srclang(&cu) == DW_LANG_Rust &&
        dwarf_attr_integrate(d, DW_AT_linkage_name, &attr)) {
        char *path = tm_demangle(dwarf_formstring(&attr));
        const char *r = path ? intern(s, path) : NULL;
        free(path);
        if (r) return r;
    }
    return intern(s, dwarf_diename(d)); /* follows abstract_origin */
}

/* The function whose code is at pc as DWARF sees it: the innermost inlined
 * subroutine, so that the name matches the file:line of the same address
 * (the ELF symbol would name the function it was inlined into); and, in
 * f->callers, the chain of calls it was inlined from, out to the real
 * function. NULL when the module has no DWARF for pc. */
static const char *function_and_inlines(struct tm_symbolizer *s, Dwfl_Module *mod,
                                        GElf_Addr pc, struct tm_sym_frame *f)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = unit_at(mod, pc, &bias);
    if (!cu) return NULL;
    struct scope_chain *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->pc = pc - bias;
    c->n = 0;
    c->budget = MAX_DIES_WALKED;
    find_scopes(cu, c, 0);
    const char *name = c->n ? scope_name(s, &c->die[c->n - 1]) : NULL;
    struct tm_inline_site sites[TM_SYM_MAX_CALLERS];
    unsigned k = 0;
    /* die[i] was inlined into die[i - 1], called from there */
    for (int i = c->n - 1; i > 0 && k < TM_SYM_MAX_CALLERS; i--) {
        if (dwarf_tag(&c->die[i]) != DW_TAG_inlined_subroutine) break;
        const char *file;
        call_site(&c->die[i], &file, &sites[k].line);
        sites[k].file = intern(s, file);
        sites[k].function = scope_name(s, &c->die[i - 1]);
        k++;
    }
    free(c);
    if (k && (f->callers = malloc(k * sizeof *sites))) {
        memcpy((void *)f->callers, sites, k * sizeof *sites);
        f->n_callers = k;
    }
    return name;
}

static void resolve(struct tm_symbolizer *s, struct module *m, uint64_t addr, int exact,
                    struct tm_sym_frame *f)
{
    memset(f, 0, sizeof *f);
    if (!m) {
        f->offset = addr;
        return;
    }
    f->module = intern(s, m->display);
    f->module_id = m->d.id;
    f->offset = addr - m->d.bias;
    if (m->state == MOD_UNOPENED) module_open(s, m);
    if (m->state != MOD_READY) return;

    /* A return address points after the call; addr - 1 is inside it. */
    GElf_Addr pc = exact || addr == 0 ? addr : addr - 1;
    GElf_Off off;
    GElf_Sym sym;
    const char *name = function_and_inlines(s, m->mod, pc, f);
    if (name) f->function = intern(s, name);
    else f->function = demangled(s, dwfl_module_addrinfo(m->mod, pc, &off, &sym, NULL, NULL, NULL));
    int lineno = 0;
    const char *src = NULL;
    Dwfl_Line *line = dwfl_module_getsrc(m->mod, pc);
    if (line) {
        src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
    } else {
        Dwarf_Addr bias;
        Dwarf_Die *cu = unit_at(m->mod, pc, &bias); /* no .debug_aranges */
        Dwarf_Line *l = cu ? dwarf_getsrc_die(cu, pc - bias) : NULL;
        if (l && (src = dwarf_linesrc(l, NULL, NULL)) != NULL) dwarf_lineno(l, &lineno);
    }
    if (src) {
        f->file = intern(s, src);
        f->line = lineno > 0 ? (unsigned)lineno : 0;
    }
}

int tm_symbolizer_lookup(struct tm_symbolizer *s, uint64_t addr, int exact,
                          struct tm_sym_frame *out)
{
    return tm_symbolizer_lookup_at(s, addr, exact, TM_SYM_AT_END, out);
}

int tm_symbolizer_lookup_at(struct tm_symbolizer *s, uint64_t addr, int exact, uint64_t when,
                            struct tm_sym_frame *out)
{
    struct module *m = module_for(s, addr, when);
    struct addr_key key;
    memset(&key, 0, sizeof key); /* the hash reads every byte */
    key.addr = addr << 1 | (exact ? 1 : 0);
    key.mod = m ? (uint64_t)(m - s->mods) + 1 : 0;
    struct addr_entry *e;
    HASH_FIND(hh, s->cache, &key, sizeof key, e);
    if (!e) {
        e = malloc(sizeof *e);
        if (!e) {
            resolve(s, m, addr, exact, out);
            free((void *)out->callers); /* nobody would own it */
            out->callers = NULL;
            out->n_callers = 0;
            return out->function != NULL;
        }
        e->key = key;
        resolve(s, m, addr, exact, &e->frame);
        HASH_ADD(hh, s->cache, key, sizeof e->key, e);
    }
    *out = e->frame;
    return out->function != NULL;
}

size_t tm_symbolizer_warnings(const struct tm_symbolizer *s, const char *const **out)
{
    *out = (const char *const *)s->warnings;
    return s->nwarnings;
}

/* ---- formatting --------------------------------------------------------- */

int tm_sym_frame_format(const struct tm_sym_frame *f, char *buf, size_t len)
{
    if (f->function && f->file && f->line)
        return snprintf(buf, len, "%s (%s:%u)", f->function, tm_path_basename(f->file),
                        f->line);
    if (f->function && f->module)
        return snprintf(buf, len, "%s (%s)", f->function, tm_path_basename(f->module));
    if (f->function) return snprintf(buf, len, "%s", f->function);
    if (f->module)
        return snprintf(buf, len, "%s+0x%" PRIx64, tm_path_basename(f->module), f->offset);
    return snprintf(buf, len, "0x%" PRIx64, f->offset);
}
