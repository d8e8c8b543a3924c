/* analyzer/cli/json_read.c - see json_read.h. Recursive descent, depth <= 64. */
#include "json_read.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp {
    const char *p, *e;
    int depth;
    const char *err;
};

static void ws(struct jp *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int value(struct jp *j, struct jv *v);
static void free_children(struct jv *v);

static int hex4(const char *p, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
        if (d > 15) return -1;
        *out = *out * 16 + d;
    }
    return 0;
}

static int string(struct jp *j, char **out)
{
    j->p++; /* opening quote */
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    if (!s) return -1;
    while (j->p < j->e && *j->p != '"') {
        if (n + 5 > cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) goto bad;
            s = ns;
        }
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) goto bad;
        if (c != '\\') {
            s[n++] = (char)c;
            continue;
        }
        if (j->p >= j->e) goto bad;
        c = (unsigned char)*j->p++;
        switch (c) {
        case '"': case '\\': case '/': s[n++] = (char)c; break;
        case 'b': s[n++] = '\b'; break;
        case 'f': s[n++] = '\f'; break;
        case 'n': s[n++] = '\n'; break;
        case 'r': s[n++] = '\r'; break;
        case 't': s[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (j->e - j->p < 4 || hex4(j->p, &cp)) goto bad;
            j->p += 4;
            if (cp == 0 || (cp >= 0xd800 && cp < 0xe000)) cp = '?'; /* no surrogate pairs */
            if (cp < 0x80) s[n++] = (char)cp;
            else if (cp < 0x800) {
                s[n++] = (char)(0xc0 | cp >> 6);
                s[n++] = (char)(0x80 | (cp & 0x3f));
            } else {
                s[n++] = (char)(0xe0 | cp >> 12);
                s[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                s[n++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: goto bad;
        }
    }
    if (j->p >= j->e) goto bad;
    j->p++;
    s[n] = 0;
    *out = s;
    return 0;
bad:
    free(s);
    j->err = "bad string";
    return -1;
}

static int number(struct jp *j, struct jv *v)
{
    const char *s = j->p;
    char buf[64];
    size_t n = 0;
    while (j->p < j->e && n < sizeof buf - 1 && strchr("+-0123456789.eE", *j->p)) buf[n++] = *j->p++;
    buf[n] = 0;
    char *end;
    v->type = J_NUM;
    v->num = strtod(buf, &end);
    if (n == 0 || *end || !isfinite(v->num)) {
        j->p = s;
        j->err = "bad number";
        return -1;
    }
    if (buf[0] != '-' && !strpbrk(buf, ".eE")) {
        errno = 0;
        v->u = strtoull(buf, NULL, 10);
        if (errno == ERANGE) { /* no count in a report passes 64 bits */
            j->p = s;
            j->err = "integer past 64 bits";
            return -1;
        }
        v->is_uint = 1;
    }
    return 0;
}

static int push(struct jv *v, struct jv *item, char *key)
{
    struct jv *it = realloc(v->items, (v->n + 1) * sizeof *it);
    if (!it) return -1;
    v->items = it;
    if (v->type == J_OBJ) {
        char **k = realloc(v->keys, (v->n + 1) * sizeof *k);
        if (!k) return -1;
        v->keys = k;
        k[v->n] = key;
    }
    it[v->n++] = *item;
    return 0;
}

static int container(struct jp *j, struct jv *v, char close)
{
    j->p++;
    if (++j->depth > 64) {
        j->err = "nested too deep";
        return -1;
    }
    ws(j);
    if (j->p < j->e && *j->p == close) {
        j->p++;
        j->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        struct jv item;
        memset(&item, 0, sizeof item);
        ws(j);
        if (close == '}') {
            if (j->p >= j->e || *j->p != '"' || string(j, &key)) {
                j->err = "expected a key";
                return -1;
            }
            ws(j);
            if (j->p >= j->e || *j->p != ':') {
                free(key);
                j->err = "expected ':'";
                return -1;
            }
            j->p++;
        }
        if (value(j, &item) || push(v, &item, key)) {
            free(key);
            free_children(&item); /* item itself is on the stack */
            return -1;
        }
        ws(j);
        if (j->p < j->e && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->e && *j->p == close) {
            j->p++;
            j->depth--;
            return 0;
        }
        j->err = "expected ',' or a closing bracket";
        return -1;
    }
}

static int literal(struct jp *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->e - j->p) < n || memcmp(j->p, word, n)) return -1;
    j->p += n;
    return 0;
}

static int value(struct jp *j, struct jv *v)
{
    ws(j);
    if (j->p >= j->e) {
        j->err = "unexpected end";
        return -1;
    }
    switch (*j->p) {
    case '{': v->type = J_OBJ; return container(j, v, '}');
    case '[': v->type = J_ARR; return container(j, v, ']');
    case '"': v->type = J_STR; return string(j, &v->str);
    case 't': v->type = J_BOOL; v->b = 1; return literal(j, "true");
    case 'f': v->type = J_BOOL; return literal(j, "false");
    case 'n': v->type = J_NULL; return literal(j, "null");
    default: return number(j, v);
    }
}

static void free_children(struct jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free_children(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void json_free(struct jv *v)
{
    if (!v) return;
    free_children(v);
    free(v);
}

struct jv *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct jp j = {text, text + len, 0, NULL};
    struct jv *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    int rc = value(&j, v);
    ws(&j);
    if (rc == 0 && j.p != j.e) {
        rc = -1;
        j.err = "trailing bytes";
    }
    if (rc) {
        snprintf(err, errlen, "%s at byte %zu", j.err ? j.err : "bad JSON", (size_t)(j.p - text));
        free_children(v);
        free(v);
        return NULL;
    }
    return v;
}

const struct jv *json_get(const struct jv *obj, const char *key)
{
    if (!obj || obj->type != J_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i] && strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

uint64_t json_u(const struct jv *obj, const char *key, uint64_t dflt)
{
    const struct jv *v = json_get(obj, key);
    return v && v->type == J_NUM && v->is_uint ? v->u : dflt;
}

const char *json_s(const struct jv *obj, const char *key, const char *dflt)
{
    const struct jv *v = json_get(obj, key);
    return v && v->type == J_STR ? v->str : dflt;
}
