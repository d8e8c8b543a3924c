/* analyzer/model/table_rules.c - the recognition rules (parsed from
 * table_rules.txt and --rules files) and each implementation's sizing, from
 * its own growth rule (facts: docs/unannotated-tables.md):
 *
 *  - libstdc++: bucket counts come from __prime_list (read from the
 *    installed libstdc++.so.6, the list its _Prime_rehash_policy uses); a
 *    table grown from empty gets 13 buckets at its first insert, then, each
 *    time the count passes the bucket count (max load 1.0), the first prime
 *    of the list >= twice the bucket count. 8 bytes a bucket.
 *  - GLib: 2^k slots, k = the bit length of live * 4/3, at least 3 (what
 *    g_hash_table_resize picks); the bytes a slot takes over the arrays.
 *  - khash: 2^k buckets (at least 4) with live <= round(2^k * 0.77):
 *    flags of max(1, 2^k / 16) u32 words, and the keys and values.
 *  - CPython 3.11 dict: a keys object of 2^k slots; a dict grown by inserts
 *    resizes to the smallest 2^k >= 3 * used when its usable slots run out
 *    (8, 16, 32, 64, ...), and dict(d) sizes for (3 * used + 1) / 2; needed
 *    is the larger of the two. Size = 32 + 2^k * w + (2 * 2^k / 3) * esz.
 *  - uthash: 16-byte buckets, doubled on long chains: twice sizing_rules.c's
 *    replay of uthash's rules on uniform hashes (see tm_rule_needed).
 *  - hashbrown (Rust's HashMap): 2^k buckets (4 or 8 below 8 items) with
 *    items <= 7/8 of them; bytes = 2^k * T + 2^k + 16, T from the block.
 *  - Abseil's flat_hash_map: capacity 2^k - 1 with items <= capacity -
 *    capacity / 8 (all of 7); bytes = capacity + 16 control bytes aligned to
 *    the slot, + capacity * slot, the slot from the block.
 *  - pow2 LOAD: a power of two of buckets, doubled while live > LOAD * it.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table_rules.h"
#include "table_rules_builtin.h" /* tm_builtin_rules[], made from table_rules.txt */
#include "tidemark/trace_format.h"

/* ---- parsing ------------------------------------------------------------- */

static char *dup_trimmed(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static void rule_free(struct tm_rule *r)
{
    free(r->name);
    free(r->impl);
    free(r->advice);
    for (unsigned i = 0; i < r->n_frames; i++) free(r->frames[i]);
    for (unsigned i = 0; i < r->n_first; i++) free(r->first[i]);
}

/* Globs separated by blanks into v (at most TM_RULE_MAX_FRAMES). */
static int parse_globs(char **v, unsigned *n, char *rest)
{
    for (char *tok = strtok(rest, " \t"); tok; tok = strtok(NULL, " \t")) {
        if (*n == TM_RULE_MAX_FRAMES) return -1;
        if (!(v[*n] = strdup(tok))) return -1;
        (*n)++;
    }
    return *n ? 0 : -1;
}

static int parse_size(struct tm_rule *r, const char *v)
{
    if (!strcmp(v, "any")) r->size = TM_SIZE_ANY;
    else if (!strcmp(v, "primes8")) r->size = TM_SIZE_PRIMES8;
    else if (!strcmp(v, "pow2")) r->size = TM_SIZE_POW2;
    else if (!strcmp(v, "pydict")) r->size = TM_SIZE_PYDICT;
    else if (!strncmp(v, "pow2x", 5) && atoll(v + 5) > 0) {
        r->size = TM_SIZE_POW2X;
        r->slot = (uint64_t)atoll(v + 5);
    } else
        return -1;
    return 0;
}

static int parse_count(struct tm_rule *r, const char *v)
{
    static const char *const names[] = {"nonzero64", "u32ge2", "pairs00", "sum16", "layout"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(v, names[i])) {
            r->count = (enum tm_rule_count)i;
            return 0;
        }
    return -1;
}

static int parse_model(struct tm_rule *r, const char *v)
{
    if (!strcmp(v, "libstdc++")) r->model = TM_RULE_LIBSTDCXX;
    else if (!strcmp(v, "glib")) r->model = TM_RULE_GLIB;
    else if (!strcmp(v, "khash")) r->model = TM_RULE_KHASH;
    else if (!strcmp(v, "pydict")) r->model = TM_RULE_PYDICT;
    else if (!strcmp(v, "uthash")) r->model = TM_RULE_UTHASH;
    else if (!strcmp(v, "hashbrown")) r->model = TM_RULE_HASHBROWN;
    else if (!strcmp(v, "abseil")) r->model = TM_RULE_ABSEIL;
    else if (!strncmp(v, "pow2 ", 5)) {
        r->model = TM_RULE_POW2;
        r->load = atof(v + 5);
        if (!(r->load > 0 && r->load <= 64)) return -1;
    } else
        return -1;
    return 0;
}

static int parse_layout(struct tm_rule *r, const char *v)
{
    if (!strcmp(v, "pydict")) r->layout = TMK_PROBE_LAYOUT_PYDICT;
    else if (!strcmp(v, "uthash")) r->layout = TMK_PROBE_LAYOUT_UTHASH;
    else if (!strcmp(v, "hashbrown")) r->layout = TMK_PROBE_LAYOUT_HASHBROWN;
    else if (!strcmp(v, "abseil")) r->layout = TMK_PROBE_LAYOUT_ABSEIL;
    else if (!strcmp(v, "khash-flags")) r->layout = TMK_PROBE_LAYOUT_KHASH_FLAGS;
    else return -1;
    return 0;
}

/* One "word value" line of a rule. 0, or -1 (err says why). */
static int parse_field(struct tm_rule *r, char *word, char *value, char *err, size_t errlen)
{
    int bad = 0;
    if (!strcmp(word, "impl")) bad = !(r->impl = dup_trimmed(value));
    else if (!strcmp(word, "advice")) bad = !(r->advice = dup_trimmed(value));
    else if (!strcmp(word, "frames")) bad = parse_globs(r->frames, &r->n_frames, value);
    else if (!strcmp(word, "first")) bad = parse_globs(r->first, &r->n_first, value);
    else if (!strcmp(word, "depth")) bad = (r->depth = (unsigned)atoi(value)) == 0 || r->depth > 64;
    else if (!strcmp(word, "layout")) bad = parse_layout(r, value);
    else if (!strcmp(word, "size")) bad = parse_size(r, value);
    else if (!strcmp(word, "count")) bad = parse_count(r, value);
    else if (!strcmp(word, "count-array"))
        r->count_array = !strcmp(value, "smallest") ? TM_COUNT_ARRAY_SMALLEST
                         : !strcmp(value, "only") ? TM_COUNT_ARRAY_ONLY
                                                    : (bad = 1, TM_COUNT_ARRAY_ONLY);
    else if (!strcmp(word, "model")) bad = parse_model(r, value);
    else if (!strcmp(word, "fallback")) bad = *value != 0 || (r->fallback = 1) == 0;
    else {
        snprintf(err, errlen, "unknown word '%.40s'", word);
        return -1;
    }
    if (bad) snprintf(err, errlen, "bad %.20s '%.60s'", word, value);
    return bad ? -1 : 0;
}

static int finish_rule(struct tm_rules *rs, struct tm_rule *r, char *err, size_t errlen)
{
    if (!r->impl || !r->advice || (!r->n_frames && !r->layout)) {
        snprintf(err, errlen, "rule %s needs impl, advice and frames or layout", r->name);
        return -1;
    }
    struct tm_rule *v = realloc(rs->v, (rs->n + 1) * sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rs->v = v;
    rs->v[rs->n++] = *r;
    memset(r, 0, sizeof *r);
    return 0;
}

int tm_rules_parse(struct tm_rules *rs, const char *text, char *err, size_t errlen)
{
    struct tm_rule cur;
    int in_rule = 0, lineno = 0;
    char why[200] = "";
    memset(&cur, 0, sizeof cur);
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        lineno++;
        if (n >= sizeof line) {
            snprintf(why, sizeof why, "line too long");
            goto bad;
        }
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (e ? 1 : 0);
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (!*s || *s == '#') continue;
        char *value = s;
        while (*value && !isspace((unsigned char)*value)) value++;
        if (*value) *value++ = 0;
        while (isspace((unsigned char)*value)) value++;
        if (!strcmp(s, "rule")) {
            if (in_rule || !*value) {
                snprintf(why, sizeof why, in_rule ? "'rule' before 'end'" : "rule without a name");
                goto bad;
            }
            memset(&cur, 0, sizeof cur);
            cur.depth = 8;
            if (!(cur.name = dup_trimmed(value))) goto bad;
            in_rule = 1;
        } else if (!strcmp(s, "end")) {
            if (!in_rule || finish_rule(rs, &cur, why, sizeof why)) goto bad;
            in_rule = 0;
        } else if (!in_rule) {
            snprintf(why, sizeof why, "'%.40s' outside a rule", s);
            goto bad;
        } else if (parse_field(&cur, s, value, why, sizeof why)) {
            goto bad;
        }
    }
    if (!in_rule) return 0;
    snprintf(why, sizeof why, "rule %s has no 'end'", cur.name);
bad:
    rule_free(&cur);
    snprintf(err, errlen, "line %d: %s", lineno, why[0] ? why : "out of memory");
    return -1;
}

int tm_rules_builtin(struct tm_rules *rs, char *err, size_t errlen)
{
    return tm_rules_parse(rs, tm_builtin_rules, err, errlen);
}

int tm_rules_load(struct tm_rules *rs, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: cannot be read", path);
        return -1;
    }
    char *text = calloc(1, 1 << 20);
    size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    int big = text && !feof(f);
    fclose(f);
    if (!text || big) {
        free(text);
        snprintf(err, errlen, "%s: %s", path, text ? "larger than 1 MiB" : "out of memory");
        return -1;
    }
    text[n] = 0;
    char why[300];
    int rc = tm_rules_parse(rs, text, why, sizeof why);
    if (rc) snprintf(err, errlen, "%s: %s", path, why);
    free(text);
    return rc;
}

void tm_rules_free(struct tm_rules *rs)
{
    for (size_t i = 0; i < rs->n; i++) rule_free(&rs->v[i]);
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

/* ---- matching ------------------------------------------------------------ */

static int is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

static int is_prime(uint64_t n)
{
    if (n < 2) return 0;
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0) return 0;
    return 1;
}

/* libstdc++'s __prime_list, from the library itself; NULL if absent. */
static const unsigned long *prime_list(size_t *n)
{
    static const unsigned long *list;
    static size_t count;
    static int tried;
    if (!tried) {
        tried = 1;
        void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
        const unsigned long *l = h ? dlsym(h, "_ZNSt8__detail12__prime_listE") : NULL;
        if (l) {
            size_t i = 1;
            while (i < 305 && l[i] > l[i - 1]) i++; /* 304 primes + the largest */
            list = l;
            count = i;
        }
    }
    *n = count;
    return list;
}

/* Is n one of libstdc++'s bucket counts? Its _Prime_rehash_policy picks
 * every count from __prime_list (below 14 from a small table of the same
 * primes); a prime outside the list (Abseil's 8-byte-slot arrays are often
 * 8 x a prime) is no libstdc++ bucket count. Without the list, any prime. */
static int libstdcxx_bucket_count(uint64_t n)
{
    size_t count;
    const unsigned long *l = prime_list(&count);
    if (!l) return is_prime(n);
    size_t lo = 0, hi = count; /* sorted: the first entry >= n */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l[mid] < n) lo = mid + 1;
        else hi = mid;
    }
    return lo < count && l[lo] == n;
}

static uint64_t pydict_keys_bytes(unsigned log2, uint64_t esz)
{
    uint64_t n = 1ull << log2;
    uint64_t w = log2 < 8 ? 1 : log2 < 16 ? 2 : log2 < 32 ? 4 : 8;
    return 32 + n * w + (2 * n / 3) * esz;
}

int tm_rule_size_fits(const struct tm_rule *r, uint64_t size)
{
    switch (r->size) {
    case TM_SIZE_PRIMES8: return size % 8 == 0 && libstdcxx_bucket_count(size / 8);
    case TM_SIZE_POW2: return 1; /* the slot width is not known: any array */
    case TM_SIZE_POW2X: return size % r->slot == 0 && is_pow2(size / r->slot);
    case TM_SIZE_PYDICT:
        for (unsigned k = 3; k < 40; k++)
            if (size == pydict_keys_bytes(k, 24) || size == pydict_keys_bytes(k, 16)) return 1;
        return 0;
    case TM_SIZE_ANY:
    default: return 1;
    }
}

static int any_glob(char *const *v, unsigned n, const char *function)
{
    if (!function) return 0;
    for (unsigned i = 0; i < n; i++)
        if (fnmatch(v[i], function, 0) == 0) return 1;
    return 0;
}

int tm_rule_frame_matches(const struct tm_rule *r, const char *function)
{
    return any_glob(r->frames, r->n_frames, function);
}

int tm_rule_first_matches(const struct tm_rule *r, const char *function)
{
    return !r->n_first || any_glob(r->first, r->n_first, function);
}

/* ---- sizing ------------------------------------------------------------- */

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 1;
    while (p < v && p < (1ull << 62)) p <<= 1;
    return p;
}

static unsigned bit_length(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0;
}

/* The first prime of the list >= v (libstdc++'s _M_next_bkt for v >= 14);
 * without the list, the next prime. */
static uint64_t next_bucket_count(uint64_t v)
{
    size_t n;
    const unsigned long *l = prime_list(&n);
    if (l) {
        for (size_t i = 0; i < n; i++)
            if (l[i] >= v) return l[i];
        return l[n - 1];
    }
    while (!is_prime(v)) v++;
    return v;
}

static uint64_t libstdcxx_needed(uint64_t live)
{
    if (!live) return 0; /* one bucket inside the map object: no array */
    uint64_t b = 13;
    while (b < live) b = next_bucket_count(2 * b);
    return b * 8;
}

static uint64_t khash_upper(uint64_t n) { return (uint64_t)((double)n * 0.77 + 0.5); }

/* CPython 3.11: the keys object for `live` entries, the larger of a dict
 * grown by inserts and one made by dict(d). */
static uint64_t pydict_needed(uint64_t live, uint64_t held, uint64_t capacity)
{
    if (!live || !capacity) return 0;
    /* esz from the block itself: (held - 32 - cap * w) / usable slots */
    unsigned log2 = bit_length(capacity) - 1;
    uint64_t w = log2 < 8 ? 1 : log2 < 16 ? 2 : log2 < 32 ? 4 : 8;
    uint64_t usable = 2 * capacity / 3;
    uint64_t esz = usable && held > 32 + capacity * w ? (held - 32 - capacity * w) / usable : 24;
    unsigned grown = 3;
    while ((2ull << grown) / 3 < live) grown++;           /* 8, 16, 32, ...: usable >= live */
    unsigned copy = bit_length((3 * live + 1) / 2 - 1);   /* estimate_log2_keysize */
    if (copy < 3) copy = 3;
    unsigned k = grown > copy ? grown : copy;
    return pydict_keys_bytes(k, esz);
}

static uint64_t hashbrown_buckets(uint64_t items)
{
    if (!items) return 0; /* an empty map allocates nothing */
    if (items < 8) return items < 4 ? 4 : 8;
    return pow2_at_least((items * 8 + 6) / 7);
}

/* T from the block now (held bytes over `buckets` buckets), then the bytes
 * of a table of b buckets. */
static uint64_t hashbrown_bytes(uint64_t b, uint64_t held, uint64_t buckets)
{
    if (!b || !buckets || held < buckets + 16) return 0;
    uint64_t t = (held - buckets - 16) / buckets;
    return ((b * t + 15) & ~15ull) + b + 16;
}

static uint64_t abseil_capacity(uint64_t items)
{
    if (!items) return 0;
    uint64_t cap = 1;
    while (cap - cap / 8 < items) cap = cap * 2 + 1;
    return cap;
}

static uint64_t abseil_bytes(uint64_t cap, uint64_t held, uint64_t capacity)
{
    if (!cap || !capacity || held < capacity + 16) return 0;
    uint64_t slot = (held - capacity - 16) / capacity; /* the padding is < 16 */
    uint64_t align = slot % 16 == 0 ? 16 : slot % 8 == 0 ? 8 : 4;
    return ((cap + 16 + align - 1) & ~(align - 1)) + cap * slot;
}

uint64_t tm_rule_needed(const struct tm_rule *r, uint64_t live, uint64_t held, uint64_t buckets)
{
    double per_bucket = buckets ? (double)held / (double)buckets : 0;
    uint64_t b;
    switch (r->model) {
    case TM_RULE_LIBSTDCXX:
        return libstdcxx_needed(live);
    case TM_RULE_GLIB:
        b = 1ull << bit_length(live * 4 / 3);
        if (b < 8) b = 8;
        return (uint64_t)llround((double)b * per_bucket);
    case TM_RULE_KHASH:
        if (!live) return 0;
        for (b = 4; khash_upper(b) < live; b <<= 1) {
        }
        /* the flags array is not proportional below 16 buckets: scale the
         * keys and values, add the flags */
        return (uint64_t)llround((double)b * (per_bucket - 0.25)) + (b < 16 ? 4 : b / 4);
    case TM_RULE_PYDICT:
        return pydict_needed(live, held, buckets);
    case TM_RULE_UTHASH:
        /* uthash doubles when one chain grows long, which depends on the
         * keys' hashes: its own size for `live` keys runs up to twice the
         * uniform-hash replay's (measured: 524,288 or 1,048,576 buckets for
         * 1M keys). Twice the replay, so a full table is never oversized. */
        return live ? tm_uthash_expected_buckets(live) * 32 : 0;
    case TM_RULE_HASHBROWN:
        return hashbrown_bytes(hashbrown_buckets(live), held, buckets);
    case TM_RULE_ABSEIL:
        return abseil_bytes(abseil_capacity(live), held, buckets);
    case TM_RULE_POW2:
    default:
        if (!live) return 0;
        b = pow2_at_least((uint64_t)ceil((double)live / r->load));
        return (uint64_t)llround((double)b * per_bucket);
    }
}

/* CPython: the capacity of a keys object of `bytes`, or 0. */
static uint64_t pydict_capacity(uint64_t bytes)
{
    for (unsigned k = 3; k < 40; k++)
        if (bytes == pydict_keys_bytes(k, 24) || bytes == pydict_keys_bytes(k, 16)) return 1ull << k;
    return 0;
}

uint64_t tm_rule_buckets(const struct tm_rule *r, uint64_t count_bytes, uint64_t layout_cap)
{
    switch (r->model) {
    case TM_RULE_LIBSTDCXX: return count_bytes / 8;
    case TM_RULE_GLIB: return count_bytes / 4; /* the hashes array */
    case TM_RULE_KHASH: return count_bytes < 4 ? 0 : count_bytes * 4; /* 2 bits a bucket */
    case TM_RULE_PYDICT: return layout_cap ? layout_cap : pydict_capacity(count_bytes); /* a keys object's size says it */
    case TM_RULE_UTHASH: return count_bytes / 16;
    case TM_RULE_HASHBROWN:
    case TM_RULE_ABSEIL: return layout_cap;
    case TM_RULE_POW2:
    default: return r->slot ? count_bytes / r->slot : 0;
    }
}

void tm_rule_live_range(uint64_t nonzero, uint64_t buckets, uint64_t *lo, uint64_t *hi)
{
    *lo = nonzero;
    *hi = nonzero;
    if (buckets && nonzero < buckets) {
        /* -B ln(1 - nz/B), at most B: libstdc++ grows past load 1.0, so a
         * table never holds more entries than buckets (dense integer keys
         * under the identity hash fill buckets evenly: the estimate there
         * runs above the truth, up to 274,706 for 172,933 buckets) */
        double est = -(double)buckets * log1p(-(double)nonzero / (double)buckets);
        if (est > (double)buckets) est = (double)buckets;
        if (est > (double)nonzero) *hi = (uint64_t)llround(est);
    }
}

int tm_rule_count_estimated(const struct tm_rule *r)
{
    return r && r->count == TM_COUNT_NONZERO64;
}

/* hashbrown: items a table of b buckets holds before it grows. */
static uint64_t hashbrown_capacity(uint64_t b)
{
    return b < 8 ? b - 1 : b / 8 * 7;
}

/* Abseil: the capacity whose array of `slot`-byte slots takes `bytes`, or 0. */
static uint64_t abseil_capacity_of(uint64_t bytes, uint64_t slot)
{
    uint64_t align = slot % 16 == 0 ? 16 : slot % 8 == 0 ? 8 : 4;
    for (uint64_t cap = 1; cap < (1ull << 40); cap = cap * 2 + 1)
        if (((cap + 16 + align - 1) & ~(align - 1)) + cap * slot == bytes) return cap;
    return 0;
}

uint64_t tm_rule_count_at_growth(const struct tm_rule *r, uint64_t old_bytes, uint64_t new_bytes,
                                 uint64_t new_cap)
{
    switch (r->model) {
    case TM_RULE_HASHBROWN: {
        if (!new_cap || new_bytes < new_cap + 16) return 0;
        uint64_t t = (new_bytes - new_cap - 16) / new_cap; /* the slot */
        uint64_t old_b = old_bytes > 16 ? (old_bytes - 16) / (t + 1) : 0;
        return old_b >= 4 && old_b * (t + 1) + 16 == old_bytes ? hashbrown_capacity(old_b) + 1 : 0;
    }
    case TM_RULE_ABSEIL: {
        if (!new_cap || new_bytes < new_cap + 16) return 0;
        uint64_t slot = (new_bytes - new_cap - 16) / new_cap; /* the padding is < 16 */
        uint64_t old = abseil_capacity_of(old_bytes, slot);
        return old ? old - old / 8 + 1 : 0;
    }
    case TM_RULE_LIBSTDCXX: return old_bytes / 8 + 1;
    case TM_RULE_PYDICT: return (2 * pydict_capacity(old_bytes)) / 3 + 1;
    case TM_RULE_KHASH: return old_bytes < 4 ? 0 : khash_upper(old_bytes * 4);
    case TM_RULE_GLIB: return old_bytes / 4 * 15 / 16 + 1;
    default: return 0;
    }
}
