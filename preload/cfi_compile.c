/* preload/cfi_compile.c - a module's .eh_frame compiled into the CFI
 * unwinder's rows (cfi.h), one FDE at a time: the first time the walk meets
 * an address that FDE covers.
 *
 * The FDE for an address is the last entry of .eh_frame_hdr's search table
 * that starts at or below it (as libunwind finds it); the table's starts
 * are copied when the module is first met, so that an FDE compiled already
 * is found without reading the module. Its CFA program (after its CIE's
 * initial instructions) is run once, and every row of it becomes one
 * rule: only the CFA, the caller's %rbp and the return address are
 * followed, the other registers' rules do not move a frame. What a rule
 * cannot say becomes FALLBACK for the range it covers; an FDE this file
 * cannot read, too (from the address the search table gives it). From the
 * FDE's end up to the next entry's start is NOFDE. Every byte read is
 * first checked to lie in a readable PT_LOAD segment of the module.
 *
 * Compiling every FDE of a module when it was first met cost clang-14
 * compiling a 3-line file 21 ms and 23 MiB (libLLVM has 95,000 FDEs); most
 * are never on a stack.
 */
#include <string.h>

#include "cfi.h"

#define DW_RBP 6
#define DW_RSP 7
#define DW_RA 16
#define REMEMBER_MAX 16

enum how { HOW_SAME, HOW_OFFSET, HOW_UNDEF, HOW_OTHER };

struct reg_rule {
    enum how how;
    int64_t off;
};

struct state {
    int cfa_reg;      /* DWARF register, -1: an expression */
    int64_t cfa_off;
    struct reg_rule rbp, ra;
};

struct cie {
    const uint8_t *at; /* this CIE, or NULL */
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    int has_z, signal;
    const uint8_t *ins, *ins_end;
};

struct rows_out {
    uint64_t *row;
    size_t n, cap;
    int failed;
};

/* Is [p, p + len) inside a readable PT_LOAD segment? */
static int readable(const struct dl_phdr_info *info, const uint8_t *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R)) continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (a >= s && len <= ph->p_memsz && a - s <= ph->p_memsz - len) return 1;
    }
    return 0;
}

/* ---- reading DWARF's encodings, within [p, end) ---- */

static int read_uleb(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    const uint8_t *p = *pp;
    for (;;) {
        if (p >= end || shift > 63) return -1;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    *pp = p;
    *out = v;
    return 0;
}

static int read_sleb(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    const uint8_t *p = *pp;
    do {
        if (p >= end || shift > 63) return -1;
        b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= ~(uint64_t)0 << shift;
    *pp = p;
    *out = (int64_t)v;
    return 0;
}

static int read_fixed(const uint8_t **pp, const uint8_t *end, size_t n, uint64_t *out)
{
    if ((size_t)(end - *pp) < n) return -1;
    uint64_t v = 0;
    memcpy(&v, *pp, n); /* little-endian */
    *pp += n;
    *out = v;
    return 0;
}

/* A pointer in encoding enc (DW_EH_PE_*); datarel: the base of datarel
 * values (the .eh_frame_hdr), 0 where there is none. An indirect pointer is
 * read but not followed (only a personality's is, and it is skipped). */
static int read_enc(const uint8_t **pp, const uint8_t *end, uint8_t enc, uintptr_t datarel,
                    uint64_t *out)
{
    const uint8_t *field = *pp;
    uint64_t v = 0;
    int64_t s = 0;
    int rc;
    switch (enc & 0x0f) {
    case 0x00: rc = read_fixed(pp, end, 8, &v); break;
    case 0x01: rc = read_uleb(pp, end, &v); break;
    case 0x02: rc = read_fixed(pp, end, 2, &v); break;
    case 0x03: rc = read_fixed(pp, end, 4, &v); break;
    case 0x04: rc = read_fixed(pp, end, 8, &v); break;
    case 0x09: rc = read_sleb(pp, end, &s); v = (uint64_t)s; break;
    case 0x0a: rc = read_fixed(pp, end, 2, &v); v = (uint64_t)(int64_t)(int16_t)v; break;
    case 0x0b: rc = read_fixed(pp, end, 4, &v); v = (uint64_t)(int64_t)(int32_t)v; break;
    case 0x0c: rc = read_fixed(pp, end, 8, &v); break;
    default: return -1;
    }
    if (rc) return -1;
    switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += (uintptr_t)field; break;
    case 0x30:
        if (!datarel) return -1;
        v += datarel;
        break;
    default: return -1;
    }
    *out = v;
    return 0;
}

/* ---- CIEs ---- */

/* A CFI record (CIE or FDE) at p: its body [*body, *rec_end). */
static int record_at(const struct dl_phdr_info *info, const uint8_t *p, const uint8_t **body,
                     const uint8_t **rec_end)
{
    if (!readable(info, p, 4)) return -1;
    uint32_t len32;
    memcpy(&len32, p, 4);
    if (len32 == 0 || len32 == 0xffffffffu) return -1; /* a terminator; 64-bit DWARF */
    if (!readable(info, p + 4, len32)) return -1;
    *body = p + 4;
    *rec_end = p + 4 + len32;
    return 0;
}

static int parse_cie(const struct dl_phdr_info *info, const uint8_t *at, struct cie *c)
{
    const uint8_t *p, *end;
    uint64_t id, ver = 0, skip;
    memset(c, 0, sizeof *c);
    if (record_at(info, at, &p, &end) || read_fixed(&p, end, 4, &id) || id != 0 ||
        read_fixed(&p, end, 1, &ver) || (ver != 1 && ver != 3))
        return -1;
    const char *aug = (const char *)p;
    size_t aug_len = strnlen(aug, (size_t)(end - p));
    if (aug_len == (size_t)(end - p)) return -1;
    p += aug_len + 1;
    if (aug[0] == 'e' && aug[1] == 'h') return -1; /* an old gcc's eh pointer: never here */
    if (read_uleb(&p, end, &c->code_align) || read_sleb(&p, end, &c->data_align)) return -1;
    if (ver == 1) {
        if (read_fixed(&p, end, 1, &c->ra_reg)) return -1;
    } else if (read_uleb(&p, end, &c->ra_reg)) {
        return -1;
    }
    const uint8_t *aug_end = end;
    if (aug[0] == 'z') {
        c->has_z = 1;
        if (read_uleb(&p, end, &skip) || skip > (uint64_t)(end - p)) return -1;
        aug_end = p + skip;
    }
    for (size_t i = c->has_z; i < aug_len; i++) {
        uint64_t enc, v;
        switch (aug[i]) {
        case 'R':
            if (read_fixed(&p, aug_end, 1, &enc)) return -1;
            c->fde_enc = (uint8_t)enc;
            break;
        case 'L':
            if (read_fixed(&p, aug_end, 1, &enc)) return -1;
            break;
        case 'P':
            if (read_fixed(&p, aug_end, 1, &enc) || read_enc(&p, aug_end, (uint8_t)(enc & 0x7f), 0, &v))
                return -1;
            break;
        case 'S': c->signal = 1; break;
        default:
            if (!c->has_z) return -1; /* cannot skip what it does not know */
            p = aug_end;
            i = aug_len;
            break;
        }
    }
    if (c->has_z) p = aug_end;
    c->at = at;
    c->ins = p;
    c->ins_end = end;
    return 0;
}

/* ---- the rows ---- */

static void put_row(struct rows_out *o, uint32_t off, uint32_t rule)
{
    if (o->failed) return;
    if (o->n && (uint32_t)(o->row[o->n - 1] >> 32) == off) {
        o->n--; /* an empty range: the later rule wins */
        if (o->n && (uint32_t)o->row[o->n - 1] == rule) return;
    } else if (o->n && (uint32_t)o->row[o->n - 1] == rule) {
        return; /* the same rule goes on */
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        uint64_t *r = tmk_arena_alloc(cap * sizeof *r);
        if (!r) {
            o->failed = 1;
            return;
        }
        if (o->n) memcpy(r, o->row, o->n * sizeof *r);
        tmk_arena_free(o->row);
        o->row = r;
        o->cap = cap;
    }
    o->row[o->n++] = (uint64_t)off << 32 | rule;
}

static uint32_t rule_of(const struct state *s, int signal)
{
    if (signal) return TMK_CFI_FALLBACK;
    if (s->ra.how == HOW_UNDEF) return TMK_CFI_END;
    if (s->ra.how != HOW_OFFSET || s->ra.off != -8) return TMK_CFI_FALLBACK;
    if ((s->cfa_reg != DW_RSP && s->cfa_reg != DW_RBP) || s->cfa_off < 0 ||
        s->cfa_off > (int64_t)TMK_CFI_CFA_OFF_MAX)
        return TMK_CFI_FALLBACK;
    int saved = 0;
    int64_t off = 0;
    if (s->rbp.how == HOW_OFFSET) {
        if (s->rbp.off % 8 || s->rbp.off < -1024 || s->rbp.off > 1016 || !s->rbp.off)
            return TMK_CFI_FALLBACK;
        saved = 1;
        off = s->rbp.off;
    } else if (s->rbp.how != HOW_SAME) {
        return TMK_CFI_FALLBACK;
    }
    return tmk_cfi_rule(s->cfa_reg == DW_RBP, (uint32_t)s->cfa_off, saved, (int)off);
}

/* ---- running a CFA program ---- */

struct run {
    const struct cie *cie;
    struct state s, init;            /* now; after the CIE's instructions */
    struct state saved[REMEMBER_MAX];
    int nsaved;
    uint64_t loc;                    /* current address (absolute) */
    struct rows_out *o;              /* NULL while running the CIE's */
    uintptr_t start;                 /* the module's start */
};

static struct reg_rule *tracked(struct state *s, uint64_t reg)
{
    if (reg == DW_RBP) return &s->rbp;
    if (reg == DW_RA) return &s->ra;
    return NULL;
}

static void set_rule(struct run *r, uint64_t reg, enum how how, int64_t off)
{
    struct reg_rule *x = tracked(&r->s, reg);
    if (x) {
        x->how = how;
        x->off = off;
    }
}

static void advance(struct run *r, uint64_t delta)
{
    if (r->o && delta) put_row(r->o, (uint32_t)(r->loc - r->start), rule_of(&r->s, r->cie->signal));
    r->loc += delta * r->cie->code_align;
}

/* Runs [p, end); 0, or -1 on anything it cannot read. */
static int run_program(struct run *r, const uint8_t *p, const uint8_t *end)
{
    const struct cie *c = r->cie;
    while (p < end) {
        uint8_t op = *p++;
        uint64_t reg, u, v;
        int64_t s;
        switch (op >> 6) {
        case 1: advance(r, op & 0x3f); continue;
        case 2:
            if (read_uleb(&p, end, &u)) return -1;
            set_rule(r, op & 0x3f, HOW_OFFSET, (int64_t)u * c->data_align);
            continue;
        case 3: {
            struct reg_rule *x = tracked(&r->s, op & 0x3f);
            if (x) *x = *tracked(&r->init, op & 0x3f);
            continue;
        }
        default: break;
        }
        switch (op) {
        case 0x00: break; /* nop */
        case 0x02: if (read_fixed(&p, end, 1, &u)) return -1; advance(r, u); break;
        case 0x03: if (read_fixed(&p, end, 2, &u)) return -1; advance(r, u); break;
        case 0x04: if (read_fixed(&p, end, 4, &u)) return -1; advance(r, u); break;
        case 0x05: /* offset_extended */
            if (read_uleb(&p, end, &reg) || read_uleb(&p, end, &u)) return -1;
            set_rule(r, reg, HOW_OFFSET, (int64_t)u * c->data_align);
            break;
        case 0x06: /* restore_extended */
            if (read_uleb(&p, end, &reg)) return -1;
            if (tracked(&r->s, reg)) *tracked(&r->s, reg) = *tracked(&r->init, reg);
            break;
        case 0x07: if (read_uleb(&p, end, &reg)) return -1; set_rule(r, reg, HOW_UNDEF, 0); break;
        case 0x08: if (read_uleb(&p, end, &reg)) return -1; set_rule(r, reg, HOW_SAME, 0); break;
        case 0x09: /* register */
            if (read_uleb(&p, end, &reg) || read_uleb(&p, end, &u)) return -1;
            set_rule(r, reg, HOW_OTHER, 0);
            break;
        case 0x0a:
            if (r->nsaved == REMEMBER_MAX) return -1;
            r->saved[r->nsaved++] = r->s;
            break;
        case 0x0b: /* restore_state: every rule, the CFA's too (as libgcc and libunwind do) */
            if (!r->nsaved) return -1;
            r->s = r->saved[--r->nsaved];
            break;
        case 0x0c: /* def_cfa */
            if (read_uleb(&p, end, &reg) || read_uleb(&p, end, &u)) return -1;
            r->s.cfa_reg = (int)(reg > 64 ? 64 : reg);
            r->s.cfa_off = (int64_t)u;
            break;
        case 0x0d: /* def_cfa_register */
            if (read_uleb(&p, end, &reg)) return -1;
            if (r->s.cfa_reg >= 0) r->s.cfa_reg = (int)(reg > 64 ? 64 : reg);
            break;
        case 0x0e: /* def_cfa_offset */
            if (read_uleb(&p, end, &u)) return -1;
            r->s.cfa_off = (int64_t)u;
            break;
        case 0x0f: /* def_cfa_expression */
            if (read_uleb(&p, end, &u) || u > (uint64_t)(end - p)) return -1;
            p += u;
            r->s.cfa_reg = -1;
            break;
        case 0x10: /* expression */
        case 0x16: /* val_expression */
            if (read_uleb(&p, end, &reg) || read_uleb(&p, end, &u) || u > (uint64_t)(end - p))
                return -1;
            p += u;
            set_rule(r, reg, HOW_OTHER, 0);
            break;
        case 0x11: /* offset_extended_sf */
            if (read_uleb(&p, end, &reg) || read_sleb(&p, end, &s)) return -1;
            set_rule(r, reg, HOW_OFFSET, s * c->data_align);
            break;
        case 0x12: /* def_cfa_sf */
            if (read_uleb(&p, end, &reg) || read_sleb(&p, end, &s)) return -1;
            r->s.cfa_reg = (int)(reg > 64 ? 64 : reg);
            r->s.cfa_off = s * c->data_align;
            break;
        case 0x13: /* def_cfa_offset_sf */
            if (read_sleb(&p, end, &s)) return -1;
            r->s.cfa_off = s * c->data_align;
            break;
        case 0x14: /* val_offset */
            if (read_uleb(&p, end, &reg) || read_uleb(&p, end, &v)) return -1;
            set_rule(r, reg, HOW_OTHER, 0);
            break;
        case 0x15: /* val_offset_sf */
            if (read_uleb(&p, end, &reg) || read_sleb(&p, end, &s)) return -1;
            set_rule(r, reg, HOW_OTHER, 0);
            break;
        case 0x2e: /* GNU_args_size */
            if (read_uleb(&p, end, &u)) return -1;
            break;
        case 0x2f: /* GNU_negative_offset_extended */
            if (read_uleb(&p, end, &reg) || read_uleb(&p, end, &u)) return -1;
            set_rule(r, reg, HOW_OFFSET, -(int64_t)u * c->data_align);
            break;
        default: /* set_loc and anything else */
            return -1;
        }
    }
    return 0;
}

/* The CIE's initial state: CFA, %rbp and return address rules. */
static int initial_state(const struct cie *c, struct state *out)
{
    static struct run r; /* see compile_fde */
    memset(&r, 0, sizeof r);
    r.cie = c;
    r.s.cfa_reg = -1;
    r.s.rbp.how = HOW_SAME;
    r.s.ra.how = HOW_SAME;
    if (c->ra_reg != DW_RA || run_program(&r, c->ins, c->ins_end)) return -1;
    *out = r.s;
    return 0;
}

/* One FDE at fde: its rows from its start to its end, then a NOFDE row at
 * its end (an address past it and before the next table entry's start is
 * in no FDE). Nothing for an FDE outside [start, end) or unreadable. */
static void compile_fde(const struct dl_phdr_info *info, const uint8_t *fde, struct cie *cie,
                        uintptr_t start, uintptr_t end, struct rows_out *o)
{
    const uint8_t *p, *rec_end;
    uint64_t cie_off, pc_begin, pc_range, skip;
    if (record_at(info, fde, &p, &rec_end) || read_fixed(&p, rec_end, 4, &cie_off) || !cie_off)
        return;
    const uint8_t *cie_at = p - 4 - cie_off;
    if (cie->at != cie_at && parse_cie(info, cie_at, cie)) {
        cie->at = NULL;
        return;
    }
    if (read_enc(&p, rec_end, cie->fde_enc, 0, &pc_begin) ||
        read_enc(&p, rec_end, cie->fde_enc & 0x0f, 0, &pc_range))
        return;
    if (pc_begin < start || pc_begin >= end || pc_range > end - pc_begin || !pc_range) return;
    if (cie->has_z) {
        if (read_uleb(&p, rec_end, &skip) || skip > (uint64_t)(rec_end - p)) return;
        p += skip;
    }
    /* static, not on the program's stack (its remember stack: 2 KiB, under a
     * malloc of the program's): tmk_cfi_fdes_compile runs inside
     * dl_iterate_phdr, whose lock is the process's, and cfi.c's lock */
    static struct run r;
    memset(&r, 0, sizeof r);
    r.cie = cie;
    r.start = start;
    r.loc = pc_begin;
    if (initial_state(cie, &r.init)) {
        put_row(o, (uint32_t)(pc_begin - start), TMK_CFI_FALLBACK);
    } else {
        r.s = r.init;
        size_t n_before = o->n;
        r.o = o;
        if (run_program(&r, p, rec_end)) {
            /* the rows made so far may be wrong: the whole FDE falls back
             * (a row put at pc_begin itself is replaced by this one) */
            if (o->n > n_before) o->n = n_before;
            put_row(o, (uint32_t)(pc_begin - start), TMK_CFI_FALLBACK);
        } else if (r.loc < pc_begin + pc_range) {
            put_row(o, (uint32_t)(r.loc - start), rule_of(&r.s, cie->signal));
        }
    }
    put_row(o, (uint32_t)(pc_begin + pc_range - start), TMK_CFI_NOFDE);
}

/* The .eh_frame_hdr's search table: its entries and their count. */
static int hdr_table(const struct dl_phdr_info *info, const uint8_t **hdr_out,
                     const uint8_t **table, uint64_t *count)
{
    const uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_EH_FRAME) {
            hdr = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
            hdr_len = ph->p_memsz;
        }
    }
    if (!hdr || hdr_len < 4 || !readable(info, hdr, hdr_len) || hdr[0] != 1) return -1;
    const uint8_t *p = hdr + 4, *end = hdr + hdr_len;
    uint64_t eh_frame;
    if (hdr[3] != 0x3b /* datarel sdata4 */ || read_enc(&p, end, hdr[1], (uintptr_t)hdr, &eh_frame) ||
        read_enc(&p, end, hdr[2], (uintptr_t)hdr, count) || *count > (uint64_t)(end - p) / 8)
        return -1;
    *hdr_out = hdr;
    *table = p;
    return 0;
}

#define PAGE_FDES 1024u

void tmk_cfi_fdes_init(const struct dl_phdr_info *info, uintptr_t start, uintptr_t end,
                       struct tmk_cfi_fdes *f)
{
    memset(f, 0, sizeof *f);
    f->start = start;
    f->end = end;
    const uint8_t *hdr, *table;
    uint64_t count;
    if (end - start > UINT32_MAX || hdr_table(info, &hdr, &table, &count) || !count) return;
    uint32_t *pcs = tmk_arena_alloc(count * sizeof *pcs);
    struct tmk_cfi_fde_rows **page =
        tmk_arena_alloc((count + PAGE_FDES - 1) / PAGE_FDES * sizeof *page);
    if (!pcs || !page) {
        tmk_arena_free(pcs);
        tmk_arena_free(page);
        return;
    }
    uint32_t last = 0;
    for (uint64_t i = 0; i < count; i++) {
        int32_t pc_rel;
        memcpy(&pc_rel, table + i * 8, 4);
        uintptr_t pc = (uintptr_t)hdr + (uintptr_t)(intptr_t)pc_rel;
        uint32_t off = pc < start ? 0 : pc >= end ? UINT32_MAX : (uint32_t)(pc - start);
        pcs[i] = off < last ? last : off; /* a table out of order reads as sorted */
        last = pcs[i];
    }
    f->pcs = pcs;
    f->page = page;
    f->count = count;
}

/* The search table's entry for pc: the last one starting at or below it,
 * or -1. */
static int64_t entry_of(const struct tmk_cfi_fdes *f, uintptr_t pc)
{
    if (!f->pcs || pc < f->start || pc - f->start > UINT32_MAX) return -1;
    uint32_t off = (uint32_t)(pc - f->start);
    uint64_t lo = 0, hi = f->count; /* the first entry above off is at hi */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (f->pcs[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int64_t)lo - 1;
}

static struct tmk_cfi_fde_rows *rows_of(const struct tmk_cfi_fdes *f, uint64_t i)
{
    struct tmk_cfi_fde_rows *pg = f->page[i / PAGE_FDES];
    return pg ? &pg[i % PAGE_FDES] : NULL;
}

int tmk_cfi_fdes_rule(const struct tmk_cfi_fdes *f, uintptr_t pc, uint32_t *rule)
{
    *rule = TMK_CFI_FALLBACK;
    int64_t i = entry_of(f, pc);
    if (i < 0) return 1; /* before the first FDE, or no table */
    const struct tmk_cfi_fde_rows *r = rows_of(f, (uint64_t)i);
    if (!r || !r->first) return 0;
    uint64_t key = (uint64_t)(pc - f->start) << 32 | UINT32_MAX;
    const uint64_t *row = f->row + r->first - 1;
    size_t lo = 0, hi = r->n; /* the first row above key is at hi */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (row[mid] <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo) *rule = (uint32_t)row[lo - 1];
    return 1;
}

/* Appends o's rows to f's (o is then empty). 0, or -1 (no memory). */
static int keep_rows(struct tmk_cfi_fdes *f, struct rows_out *o)
{
    if (f->n + o->n > UINT32_MAX - 1) return -1;
    if (f->n + o->n > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->n + o->n) cap *= 2;
        uint64_t *r = tmk_arena_alloc(cap * sizeof *r);
        if (!r) return -1;
        if (f->n) memcpy(r, f->row, f->n * sizeof *r);
        tmk_arena_free(f->row);
        f->row = r;
        f->cap = cap;
    }
    if (o->n) memcpy(f->row + f->n, o->row, o->n * sizeof *o->row);
    f->n += o->n;
    return 0;
}

void tmk_cfi_fdes_compile(const struct dl_phdr_info *info, struct tmk_cfi_fdes *f, uintptr_t pc)
{
    int64_t i = entry_of(f, pc);
    if (i < 0) return;
    size_t pg = (size_t)i / PAGE_FDES;
    if (!f->page[pg] && !(f->page[pg] = tmk_arena_alloc(PAGE_FDES * sizeof *f->page[pg])))
        return;
    struct tmk_cfi_fde_rows *r = &f->page[pg][(size_t)i % PAGE_FDES];
    if (r->first) return;
    const uint8_t *hdr, *table;
    uint64_t count;
    struct rows_out o = {0};
    if (!hdr_table(info, &hdr, &table, &count) && count == f->count) {
        int32_t pc_rel, fde_rel;
        memcpy(&pc_rel, table + (uint64_t)i * 8, 4);
        memcpy(&fde_rel, table + (uint64_t)i * 8 + 4, 4);
        /* FALLBACK from where the table says this FDE starts, unless its
         * rows replace it */
        uintptr_t table_pc = (uintptr_t)hdr + (uintptr_t)(intptr_t)pc_rel;
        if (table_pc >= f->start && table_pc < f->end)
            put_row(&o, (uint32_t)(table_pc - f->start), TMK_CFI_FALLBACK);
        struct cie cie = {0};
        compile_fde(info, hdr + fde_rel, &cie, f->start, f->end, &o);
    }
    if (o.failed) o.n = 0; /* no memory: no rows, FALLBACK */
    uint32_t first = (uint32_t)f->n + 1;
    if (keep_rows(f, &o) != 0) o.n = 0; /* no memory: no rows, FALLBACK */
    r->first = first;
    r->n = (uint32_t)o.n;
    tmk_arena_free(o.row);
}

void tmk_cfi_fdes_free(struct tmk_cfi_fdes *f)
{
    if (f->page)
        for (uint64_t k = 0; k < (f->count + PAGE_FDES - 1) / PAGE_FDES; k++)
            tmk_arena_free(f->page[k]);
    tmk_arena_free(f->page);
    tmk_arena_free(f->pcs);
    tmk_arena_free(f->row);
    memset(f, 0, sizeof *f);
}
