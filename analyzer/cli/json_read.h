/* analyzer/cli/json_read.h - a small JSON parser (RFC 8259) for reading our own
 * reports back (check --baseline, diff). Integers up to 2^64-1 are kept
 * exact in `u`. Depth is limited; any error gives NULL and a message. */
#ifndef TIDEMARK_ANALYZER_JSON_READ_H
#define TIDEMARK_ANALYZER_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jtype type;
    int is_uint;       /* J_NUM that is a non-negative integer: exact in u */
    uint64_t u;
    double num;
    int b;
    char *str;         /* J_STR, NUL-terminated (a \u0000 becomes '?') */
    struct jv *items;  /* J_ARR / J_OBJ values */
    char **keys;       /* J_OBJ keys */
    size_t n;
};

struct jv *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct jv *v);
/* Member of an object, or NULL. */
const struct jv *json_get(const struct jv *obj, const char *key);
/* Convenience: u of a numeric member, or dflt. */
uint64_t json_u(const struct jv *obj, const char *key, uint64_t dflt);
const char *json_s(const struct jv *obj, const char *key, const char *dflt);

#endif /* TIDEMARK_ANALYZER_JSON_READ_H */
