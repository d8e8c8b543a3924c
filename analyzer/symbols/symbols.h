/* analyzer/symbols/symbols.h - offline symbolization of a trace's return addresses.
 *
 * A symbolizer is built from the trace's MODULE records (see
 * include/tidemark/trace_format.h, TMK_REC_MODULE) and maps a runtime
 * address to {function, file, line, module, offset} with elfutils' libdwfl.
 *
 * Rules it keeps:
 *  - Frames are return addresses: the file:line and function are those of
 *    the call instruction, so it looks up address - 1 (not for frame 0 of a
 *    stack when the caller says the address is exact, see `exact`).
 *  - Never a wrong name. A module whose binary is missing, unreadable, or
 *    whose GNU build-id differs from the one the trace recorded resolves to
 *    module + offset only, and the symbolizer records ONE warning for that
 *    module ("<path>: build-id differs; showing offsets"). When the trace has
 *    no build-id, the binary is accepted only if its PT_LOAD span matches the
 *    module's [start, end) size.
 *  - Modules may be unloaded (MODULE_GONE) and a later one mapped at the same
 *    addresses: a lookup at a time (tm_symbolizer_lookup_at: a stack's, as
 *    the trace's count of module events when it was defined) takes the
 *    module mapped then; without a time, or when none was, lookups prefer a
 *    module still loaded, then the latest added.
 *  - Results are cached per address; each module's ELF/DWARF is opened once,
 *    lazily, on its first lookup. Strings returned stay valid until
 *    tm_symbolizer_free.
 *
 * Not thread-safe: one symbolizer per thread.
 */
#ifndef TIDEMARK_ANALYZER_SYMBOLS_H
#define TIDEMARK_ANALYZER_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tm_symbolizer;

/* One MODULE record, as the reader decoded it. The symbolizer copies it. */
struct tm_symbolizer_module {
    uint64_t id;              /* trace's module id, 1-based */
    uint64_t bias;            /* load bias: runtime address = ELF vaddr + bias */
    uint64_t start, end;      /* [start, end): its PT_LOAD segments at run time */
    const uint8_t *build_id;  /* GNU build-id bytes; may be NULL */
    size_t build_id_len;      /* 0 = the trace did not record one */
    const char *path;         /* may be "" or NULL when the shim could not name it */
    /* When it was mapped, as the trace's module events (MODULE and
     * MODULE_GONE records, 1, 2, ... in the order read) count time: loaded
     * from event loaded_at on, gone from event gone_at on (0: not gone). */
    uint64_t loaded_at, gone_at;
};

/* What an address resolves to. Pointers are owned by the symbolizer.
 * Any of function/file may be NULL; module is NULL only when no module
 * covers the address (then offset = the address itself). */
/* A source-level caller of inlined code: the call in `function` at
 * file:line that the compiler inlined. */
struct tm_inline_site {
    const char *function;
    const char *file;
    unsigned line;
};

#define TM_SYM_MAX_CALLERS 32

struct tm_sym_frame {
    const char *function; /* DWARF name (Rust: its linkage name demangled, the
                             full path), else the symbol table's (C++ and Rust
                             demangled); NULL when unknown or untrusted */
    const char *file;     /* source file as DWARF names it, NULL when unknown */
    unsigned line;        /* 0 when unknown */
    const char *module;   /* module path as the trace named it ("[module N]" if empty) */
    uint64_t offset;      /* address - module bias (the ELF vaddr), or the
                             address when no module covers it */
    /* When `function` was inlined: where, innermost first, out to the real
     * function: callers[0] is the call in callers[0].function that the code
     * at this address was inlined from, callers[1] where that function was
     * inlined in turn, ... (from DWARF's inlined subroutines; owned by the
     * symbolizer, n_callers 0 when none or unknown). */
    const struct tm_inline_site *callers;
    unsigned n_callers;   /* at most TM_SYM_MAX_CALLERS (the innermost kept) */
    uint64_t module_id;   /* the trace's id of `module`, 0 when none covers it */
};

/* sysroot: when not NULL, module paths are looked up under this directory
 * first (for reports made on another machine). debuginfo_path: elfutils'
 * search path for separate debug files; NULL = its default
 * (":.debug:/usr/lib/debug"). Returns NULL only when out of memory. */
struct tm_symbolizer *tm_symbolizer_new(const char *sysroot, const char *debuginfo_path);
void tm_symbolizer_free(struct tm_symbolizer *s);

/* Adds a module; a later module with the same id replaces the earlier one.
 * Returns 0, or -1 when out of memory. Cheap: files are opened lazily. */
int tm_symbolizer_add_module(struct tm_symbolizer *s, const struct tm_symbolizer_module *m);

/* Marks module `id` unloaded (MODULE_GONE). Unknown ids are ignored. */
void tm_symbolizer_module_gone(struct tm_symbolizer *s, uint64_t id);

/* Resolves `addr`. exact = 0 for return addresses (looks up addr - 1 for
 * function and line; offset still reports addr), 1 for an exact PC.
 * Always fills *out; returns 1 when a function name was found, else 0. */
int tm_symbolizer_lookup(struct tm_symbolizer *s, uint64_t addr, int exact,
                          struct tm_sym_frame *out);

/* The same, in the module that covered addr after `when` module events
 * (loaded_at <= when < gone_at; the latest added if several); when none
 * did, or when is TM_SYM_AT_END, as tm_symbolizer_lookup. */
#define TM_SYM_AT_END UINT64_MAX
int tm_symbolizer_lookup_at(struct tm_symbolizer *s, uint64_t addr, int exact, uint64_t when,
                            struct tm_sym_frame *out);

/* Warnings collected so far, at most one per module, in the order they
 * arose; *out points at an array owned by the symbolizer. */
size_t tm_symbolizer_warnings(const struct tm_symbolizer *s, const char *const **out);

/* Formats a frame on one line for humans and flame graphs:
 *   "func (file.c:42)", "func (libfoo.so)", "libfoo.so+0x1a2b", "0x7f00dead"
 * with only the file's and module's base names. Writes at most len bytes
 * including the NUL (truncating); returns the length it wanted, like
 * snprintf. */
int tm_sym_frame_format(const struct tm_sym_frame *f, char *buf, size_t len);

/* The last path component of `path` ("" stays ""). */
const char *tm_path_basename(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_SYMBOLS_H */
