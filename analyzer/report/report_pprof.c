/* analyzer/report/report_pprof.c - `tidemark report --format pprof`: the model as a
 * gzipped pprof profile (analyzer/report/profile.proto, encoded with protobuf-c,
 * gzipped with zlib), the format `go tool pprof`, Pyroscope, Parca and
 * Grafana read.
 *
 * Sample types, in this order (the default shown is peak_space):
 *   alloc_objects/count   allocations made from the stack (heap.allocs)
 *   alloc_space/bytes     bytes allocated from it (heap.alloc_bytes)
 *   inuse_space/bytes     bytes still allocated at the end or --at (heap.in_use)
 *   peak_space/bytes      bytes live at the heap's peak (heap.peak_bytes)
 *   retained_space/bytes  tables' retained bucket bytes (total_retained)
 * One sample per heap stack (every stack that allocated), one per table that
 * retains bytes (its creation stack with a leaf "[table ID KIND LABEL]" and
 * labels table_id, table_kind, table_label, table_site), and one
 * "[unattributed]" sample for heap bytes no stack accounts for: each sample
 * type sums to the figure the text and JSON reports state.
 *
 * Locations are return addresses with their inline chains (line[0] the
 * innermost, the last the real function); the shim's frames are left out.
 * Mappings are the trace's modules with their build-ids, marked as already
 * symbolized so that pprof does not look for the binaries. Without symbols
 * (--no-symbols) functions are named by module+offset.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "report.h"
#include "model/stack_namer.h"
#include "model/u64map.h"

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "0.1.0"
#endif

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;

enum { V_ALLOC_OBJECTS, V_ALLOC_SPACE, V_INUSE_SPACE, V_PEAK_SPACE, V_RETAINED_SPACE, N_VALUES };

/* A growable array of pointers; each element was malloc'd. */
struct vec {
    void **v;
    size_t n, cap;
};

struct str_entry {
    UT_hash_handle hh;
    int64_t ix;
    char s[];
};

struct pprof {
    const struct tm_model *m;
    struct tm_stack_namer *names;
    struct vec strings;        /* char *, string_table */
    struct str_entry *by_str;  /* string -> index */
    struct vec mappings, locations, functions, samples;
    struct vec frees;          /* other blocks to free (lines, labels, value arrays) */
    struct u64map loc_by_addr; /* (module, address) -> location id, see location_for */
    struct u64map fn_by_name;  /* name index << 32 | file index -> function id */
    struct u64map pseudo;      /* function id -> location id of a pseudo frame */
    int oom;
};

static void *push(struct pprof *p, struct vec *v, void *x)
{
    if (!x) {
        p->oom = 1;
        return NULL;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        void **n = realloc(v->v, cap * sizeof *n);
        if (!n) {
            free(x);
            p->oom = 1;
            return NULL;
        }
        v->v = n;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return x;
}

/* Allocates a block freed with the profile. */
static void *block(struct pprof *p, size_t size)
{
    return push(p, &p->frees, calloc(1, size ? size : 1));
}

/* The string table index of s (added when new); "" is 0. */
static int64_t str(struct pprof *p, const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s);
    struct str_entry *e;
    HASH_FIND(hh, p->by_str, s, n, e);
    if (e) return e->ix;
    if (!(e = malloc(sizeof *e + n + 1))) {
        p->oom = 1;
        return 0;
    }
    memcpy(e->s, s, n + 1);
    e->ix = (int64_t)p->strings.n;
    if (!push(p, &p->strings, e->s)) return 0; /* freed by push */
    HASH_ADD_KEYPTR(hh, p->by_str, e->s, n, e);
    return e->ix;
}

/* ---- mappings ------------------------------------------------------------ */

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* One mapping per module record, in trace order (the program first): ids are
 * positions + 1, since a module id can be reused after an unload. */
static void add_mappings(struct pprof *p)
{
    for (size_t i = 0; i < p->m->n_modules; i++) {
        const struct tm_module *mod = &p->m->modules[i];
        Mapping *mp = push(p, &p->mappings, malloc(sizeof *mp));
        if (!mp) return;
        perftools__profiles__mapping__init(mp);
        mp->id = i + 1;
        mp->memory_start = mod->start;
        mp->memory_limit = mod->end;
        mp->file_offset = mod->start - mod->bias; /* the first segment's vaddr */
        mp->filename = str(p, mod->path[0] ? mod->path : "[unnamed module]");
        char id[2 * 64 + 1];
        hex(mod->build_id, mod->build_id_len < 64 ? mod->build_id_len : 64, id);
        mp->build_id = str(p, id);
        int named = p->m->opts.symbolize;
        mp->has_functions = mp->has_filenames = mp->has_line_numbers =
            mp->has_inline_frames = named;
    }
}

/* The mapping covering addr: a loaded module before an unloaded one, then the
 * latest (as the symbolizer decides); 0 when none. */
static uint64_t mapping_for(const struct pprof *p, uint64_t addr)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->m->n_modules; i++) {
        const struct tm_module *mod = &p->m->modules[i];
        if (addr < mod->start || addr >= mod->end) continue;
        if (best == SIZE_MAX || !mod->gone || p->m->modules[best].gone) best = i;
    }
    return best == SIZE_MAX ? 0 : best + 1;
}

/* ---- functions and locations ---------------------------------------------- */

static uint64_t function_id(struct pprof *p, const char *name, const char *file)
{
    int64_t n = str(p, name), f = str(p, file);
    uint64_t key = (uint64_t)n << 32 | (uint64_t)f;
    uint64_t *id = u64map_get(&p->fn_by_name, key);
    if (id) return *id;
    Function *fn = push(p, &p->functions, malloc(sizeof *fn));
    if (!fn) return 0;
    perftools__profiles__function__init(fn);
    fn->id = p->functions.n;
    fn->name = fn->system_name = n;
    fn->filename = f;
    if (u64map_put(&p->fn_by_name, key, fn->id)) p->oom = 1;
    return fn->id;
}

/* A location of its own lines (addr 0 for a pseudo frame such as a table). */
static Location *new_location(struct pprof *p, uint64_t addr, size_t n_lines)
{
    Location *loc = push(p, &p->locations, malloc(sizeof *loc));
    Line **lines = block(p, n_lines * sizeof *lines);
    if (!loc || !lines) return NULL;
    perftools__profiles__location__init(loc);
    loc->id = p->locations.n;
    loc->address = addr;
    loc->line = lines;
    for (size_t i = 0; i < n_lines; i++) {
        if (!(lines[i] = block(p, sizeof *lines[i]))) return NULL;
        perftools__profiles__line__init(lines[i]);
    }
    loc->n_line = n_lines;
    return loc;
}

/* The location of a frame that is no code: "[table 1 gomap]", ... */
static uint64_t pseudo_location(struct pprof *p, const char *name)
{
    uint64_t fn = function_id(p, name, "");
    uint64_t *id = u64map_get(&p->pseudo, fn);
    if (id) return *id;
    Location *loc = new_location(p, 0, 1);
    if (!loc) return 0;
    loc->line[0]->function_id = fn;
    if (u64map_put(&p->pseudo, fn, loc->id)) p->oom = 1;
    return loc->id;
}

/* The mapping of the trace's module `id`, else (0: unsymbolized) the one
 * covering addr. */
static uint64_t mapping_of(const struct pprof *p, uint64_t id, uint64_t addr)
{
    for (size_t i = 0; id && i < p->m->n_modules; i++)
        if (p->m->modules[i].id == id) return i + 1;
    return mapping_for(p, addr);
}

/* The location of return address addr in a stack whose modules_at is
 * `when`: one per address and module (an object loaded at the addresses of
 * one unloaded before is other code). */
static uint64_t location_for(struct pprof *p, uint64_t addr, uint64_t when)
{
    struct tm_frame_info f[TM_MAX_INLINE];
    size_t n = tm_stack_namer_inlines_at(p->names, addr, when, f, TM_MAX_INLINE);
    uint64_t mod = f[0].module_id;
    uint64_t key = addr < (1ull << 47) && mod < (1ull << 16) ? mod << 47 | addr : addr;
    uint64_t *id = u64map_get(&p->loc_by_addr, key);
    if (id) return *id;
    Location *loc = new_location(p, addr, n);
    if (!loc) return 0;
    loc->mapping_id = mapping_of(p, mod, addr);
    for (size_t i = 0; i < n; i++) {
        char name[512];
        tm_frame_info_name(&f[i], TM_FRAME_FUNCTION, name, sizeof name);
        loc->line[i]->function_id = function_id(p, name, f[i].file);
        loc->line[i]->line = f[i].line;
    }
    if (u64map_put(&p->loc_by_addr, key, loc->id)) p->oom = 1;
    return loc->id;
}

/* ---- samples --------------------------------------------------------------- */

/* A sample of pseudo leaf `leaf` (when nonzero) and, with with_stack, the
 * stack `stack_id` (leaf first, shim frames left out); zero values. */
static Sample *new_sample(struct pprof *p, uint64_t leaf, int with_stack, uint64_t stack_id)
{
    const struct tm_stack *st = with_stack && stack_id ? tm_model_stack(p->m, stack_id) : NULL;
    size_t depth = st ? st->depth : 0;
    Sample *s = push(p, &p->samples, malloc(sizeof *s));
    uint64_t *locs = block(p, (depth + 2) * sizeof *locs);
    int64_t *values = block(p, N_VALUES * sizeof *values);
    if (!s || !locs || !values) return NULL;
    perftools__profiles__sample__init(s);
    s->location_id = locs;
    s->value = values;
    s->n_value = N_VALUES;
    if (leaf) locs[s->n_location_id++] = leaf;
    for (size_t i = 0; i < depth; i++)
        if (!tm_stack_namer_is_shim(p->names, st->frames[i]))
            locs[s->n_location_id++] = location_for(p, st->frames[i], st->modules_at);
    if (with_stack && !st) /* none recorded, or never defined (truncated trace) */
        locs[s->n_location_id++] =
            pseudo_location(p, stack_id ? "[unknown stack]" : "[no stack]");
    return s;
}

static Label *label(struct pprof *p, const char *key, const char *s, int64_t num)
{
    Label *l = block(p, sizeof *l);
    if (!l) return NULL;
    perftools__profiles__label__init(l);
    l->key = str(p, key);
    if (s) l->str = str(p, s);
    else l->num = num;
    return l;
}

static void table_sample(struct pprof *p, const struct tm_table *t)
{
    char leaf[320];
    snprintf(leaf, sizeof leaf, "[table %" PRIu64 " %s%s%s]", t->id,
             tm_table_kind_name(t->kind), t->label[0] ? " " : "", t->label);
    Sample *s = new_sample(p, pseudo_location(p, leaf), 1, t->stack_id);
    Label **labels = block(p, 4 * sizeof *labels);
    if (!s || !labels) return;
    s->value[V_RETAINED_SPACE] = (int64_t)t->retained;
    labels[0] = label(p, "table_id", NULL, (int64_t)t->id);
    labels[1] = label(p, "table_kind", tm_table_kind_name(t->kind), 0);
    labels[2] = label(p, "table_label", t->label, 0);
    labels[3] = label(p, "table_site", t->site, 0);
    s->label = labels;
    s->n_label = 4;
}

static void heap_sample(struct pprof *p, const struct tm_stack_heap *h)
{
    if (!h->allocs && !h->alloc_bytes && !h->end_bytes && !h->peak_bytes) return;
    Sample *s = new_sample(p, 0, 1, h->stack_id);
    if (!s) return;
    s->value[V_ALLOC_OBJECTS] = (int64_t)h->allocs;
    s->value[V_ALLOC_SPACE] = (int64_t)h->alloc_bytes;
    s->value[V_INUSE_SPACE] = (int64_t)h->end_bytes;
    s->value[V_PEAK_SPACE] = (int64_t)h->peak_bytes;
}

/* What no stack accounts for, so that every sample type sums to its total. */
static void unattributed_sample(struct pprof *p, const uint64_t sums[N_VALUES])
{
    const struct tm_heap *h = &p->m->heap;
    uint64_t totals[N_VALUES] = {h->allocs, h->alloc_bytes, h->in_use, h->peak_bytes, 0};
    int any = 0;
    for (int i = 0; i < N_VALUES; i++) any |= totals[i] > sums[i];
    if (!any) return;
    Sample *s = new_sample(p, pseudo_location(p, "[unattributed]"), 0, 0);
    if (!s) return;
    for (int i = 0; i < N_VALUES; i++)
        s->value[i] = totals[i] > sums[i] ? (int64_t)(totals[i] - sums[i]) : 0;
}

static void add_samples(struct pprof *p)
{
    const struct tm_model *m = p->m;
    uint64_t sums[N_VALUES] = {0};
    if (m->heap.tracked) {
        for (size_t i = 0; i < m->heap.n_by_stack; i++) {
            const struct tm_stack_heap *h = &m->heap.by_stack[i];
            heap_sample(p, h);
            sums[V_ALLOC_OBJECTS] += h->allocs;
            sums[V_ALLOC_SPACE] += h->alloc_bytes;
            sums[V_INUSE_SPACE] += h->end_bytes;
            sums[V_PEAK_SPACE] += h->peak_bytes;
        }
        unattributed_sample(p, sums);
    }
    for (size_t i = 0; i < m->n_tables; i++)
        if (m->tables[i].retained) table_sample(p, &m->tables[i]);
}

/* ---- the profile ----------------------------------------------------------- */

static ValueType *value_type(struct pprof *p, const char *type, const char *unit)
{
    ValueType *v = block(p, sizeof *v);
    if (!v) return NULL;
    perftools__profiles__value_type__init(v);
    v->type = str(p, type);
    v->unit = str(p, unit);
    return v;
}

static void fill_profile(struct pprof *p, Profile *pr, ValueType **types, int64_t *comments)
{
    static const char *const names[N_VALUES][2] = {
        {"alloc_objects", "count"}, {"alloc_space", "bytes"},     {"inuse_space", "bytes"},
        {"peak_space", "bytes"},    {"retained_space", "bytes"}};
    const struct tm_model *m = p->m;
    str(p, ""); /* string_table[0] */
    for (int i = 0; i < N_VALUES; i++) types[i] = value_type(p, names[i][0], names[i][1]);
    add_mappings(p);
    add_samples(p);
    char line[600];
    snprintf(line, sizeof line, "tidemark %s report of %s", TIDEMARK_VERSION, m->info.path);
    comments[0] = str(p, line);
    tm_verdict_line(m, line, sizeof line);
    comments[1] = str(p, line);
    pr->sample_type = types;
    pr->n_sample_type = N_VALUES;
    pr->default_sample_type = types[V_PEAK_SPACE] ? types[V_PEAK_SPACE]->type : 0;
    pr->period_type = value_type(p, "space", "bytes");
    pr->period = m->info.sample_interval ? (int64_t)m->info.sample_interval : 1;
    pr->time_nanos = (int64_t)m->info.start_realtime_ns;
    pr->duration_nanos = (int64_t)m->info.duration_ns;
    pr->comment = comments;
    pr->n_comment = 2;
    pr->sample = (Sample **)p->samples.v;
    pr->n_sample = p->samples.n;
    pr->mapping = (Mapping **)p->mappings.v;
    pr->n_mapping = p->mappings.n;
    pr->location = (Location **)p->locations.v;
    pr->n_location = p->locations.n;
    pr->function = (Function **)p->functions.v;
    pr->n_function = p->functions.n;
    pr->string_table = (char **)p->strings.v;
    pr->n_string_table = p->strings.n;
}

/* gzip (RFC 1952) of data, written to out. */
static int write_gzip(const uint8_t *data, size_t len, FILE *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -1;
    uint8_t buf[1 << 16];
    z.next_in = (uint8_t *)data;
    z.avail_in = (uInt)len; /* profiles are far below 4 GiB */
    int rc;
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        rc = deflate(&z, Z_FINISH);
        size_t n = sizeof buf - z.avail_out;
        if ((rc != Z_OK && rc != Z_STREAM_END) || fwrite(buf, 1, n, out) != n) {
            deflateEnd(&z);
            return -1;
        }
    } while (rc != Z_STREAM_END);
    deflateEnd(&z);
    return 0;
}

static void free_vec(struct vec *v)
{
    for (size_t i = 0; i < v->n; i++) free(v->v[i]);
    free(v->v);
}

static void pprof_free(struct pprof *p)
{
    free(p->strings.v); /* the strings live in by_str's entries */
    struct str_entry *e, *t;
    HASH_ITER(hh, p->by_str, e, t) {
        HASH_DEL(p->by_str, e);
        free(e);
    }
    free_vec(&p->mappings);
    free_vec(&p->locations);
    free_vec(&p->functions);
    free_vec(&p->samples);
    free_vec(&p->frees);
    u64map_free(&p->loc_by_addr);
    u64map_free(&p->fn_by_name);
    u64map_free(&p->pseudo);
    tm_stack_namer_free(p->names);
}

int tm_report_pprof(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    (void)o;
    struct pprof p;
    memset(&p, 0, sizeof p);
    p.m = m;
    p.names = tm_stack_namer_new(m);
    u64map_init(&p.loc_by_addr);
    u64map_init(&p.fn_by_name);
    u64map_init(&p.pseudo);
    Profile pr = PERFTOOLS__PROFILES__PROFILE__INIT;
    ValueType *types[N_VALUES] = {0};
    int64_t comments[2];
    fill_profile(&p, &pr, types, comments);
    int rc = -1;
    if (!p.oom) {
        size_t len = perftools__profiles__profile__get_packed_size(&pr);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf) {
            perftools__profiles__profile__pack(&pr, buf);
            rc = write_gzip(buf, len, out);
            free(buf);
        }
    }
    pprof_free(&p);
    fflush(out);
    return rc || ferror(out) ? -1 : 0;
}
