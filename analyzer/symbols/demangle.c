/* analyzer/symbols/demangle.c - symbol table names as programmers read them
 * (see demangle.h): the C++ ABI's demangling (libstdc++'s __cxa_demangle),
 * then Rust's legacy symbols cleaned of their escapes and hash.
 */
#include "demangle.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* libstdc++'s demangler (the C++ ABI's), linked from libstdc++. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* Does name end in a Rust legacy symbol's hash ("::h" and 16 hex digits)? */
static int rust_hash_at_end(const char *name, size_t n)
{
    if (n < 19 || memcmp(name + n - 19, "::h", 3) != 0) return 0;
    for (size_t i = n - 16; i < n; i++)
        if (!isxdigit((unsigned char)name[i])) return 0;
    return 1;
}

/* One of the legacy Rust mangling's escapes at p ("$LT$", "$u20$", ...):
 * its character, *len its length; 0 when p holds none. */
static char rust_escape(const char *p, size_t *len)
{
    static const struct {
        const char *code;
        char c;
    } named[] = {{"$LT$", '<'}, {"$GT$", '>'}, {"$RF$", '&'}, {"$BP$", '*'}, {"$C$", ','},
                 {"$SP$", '@'}, {"$LP$", '('}, {"$RP$", ')'}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t k = strlen(named[i].code);
        if (strncmp(p, named[i].code, k) == 0) {
            *len = k;
            return named[i].c;
        }
    }
    if (p[0] == '$' && p[1] == 'u' && isxdigit((unsigned char)p[2]) &&
        isxdigit((unsigned char)p[3]) && p[4] == '$') {
        char hex[3] = {p[2], p[3], 0};
        long c = strtol(hex, NULL, 16);
        if (c >= 0x20 && c < 0x7f) {
            *len = 5;
            return (char)c;
        }
    }
    return 0;
}

/* A legacy Rust symbol as __cxa_demangle leaves it
 * ("_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$...$GT$::from_iter::h0123...")
 * as Rust programmers read it ("<alloc::vec::Vec<T> as ...>::from_iter"):
 * escapes decoded, ".." as "::", the hash dropped, as rustc-demangle does.
 * Into out (cap bytes); 0, or -1 when name is not one. */
static int rust_legacy_clean(const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    /* a path, then the hash */
    if (!rust_hash_at_end(name, n) || n == 19 || n - 19 + 1 > cap) return -1;
    n -= 19; /* without "::h" + hash */
    size_t o = 0;
    for (size_t i = 0; i < n;) { /* never longer than name: cap > n holds it */
        int seg_start = i == 0 || (i >= 2 && name[i - 1] == ':' && name[i - 2] == ':');
        size_t len;
        char c;
        if (seg_start && name[i] == '_' && name[i + 1] == '$') { /* "_$LT$": '$' cannot start one */
            i++;
            continue;
        }
        if ((c = rust_escape(name + i, &len)) != 0) {
            out[o++] = c;
            i += len;
        } else if (name[i] == '.' && name[i + 1] == '.') {
            out[o++] = ':';
            out[o++] = ':';
            i += 2;
        } else {
            out[o++] = name[i++];
        }
    }
    out[o] = 0;
    return 0;
}

/* See demangle.h. */
char *tm_demangle(const char *name)
{
    if (!name || strncmp(name, "_Z", 2) != 0) return NULL;
    /* LLVM's suffix for a local symbol made global (ThinLTO, Rust's
     * codegen units: "_ZN...E.llvm.1467...") is not part of the mangling */
    char base[1024];
    const char *llvm = strstr(name, ".llvm.");
    if (llvm && (size_t)(llvm - name) < sizeof base) {
        memcpy(base, name, (size_t)(llvm - name));
        base[llvm - name] = 0;
        name = base;
    }
    int status = -1;
    char *d = __cxa_demangle(name, NULL, NULL, &status);
    if (status != 0 || !d) {
        free(d);
        return NULL;
    }
    char rust[1024];
    if (rust_legacy_clean(d, rust, sizeof rust) == 0) {
        char *r = strdup(rust);
        if (r) {
            free(d);
            return r;
        }
    }
    return d;
}
