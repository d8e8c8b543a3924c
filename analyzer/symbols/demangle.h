/* analyzer/symbols/demangle.h - symbol table names as programmers read them.
 *
 * C++ ("_Znwm" is "operator new(unsigned long)") and Rust's legacy symbols
 * (the C++ demangling of "_ZN...17h<hash>E" with the escapes decoded, ".."
 * as "::" and the hash dropped: "<alloc::vec::Vec<T> as ...>::from_iter");
 * LLVM's ".llvm.N" suffix is ignored. Internal to analyzer/symbols/.
 */
#ifndef TIDEMARK_ANALYZER_DEMANGLE_H
#define TIDEMARK_ANALYZER_DEMANGLE_H

/* The demangled name, malloc'd (the caller frees it); NULL when name is
 * not a "_Z" symbol, cannot be demangled, or memory ran out. */
char *tm_demangle(const char *name);

#endif /* TIDEMARK_ANALYZER_DEMANGLE_H */
