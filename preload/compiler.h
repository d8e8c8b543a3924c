/* preload/compiler.h - the attributes and branch hints every file of the shim
 * uses: symbol visibility (TMK_EXPORT, TMK_HIDDEN), TMK_NOINLINE,
 * TMK_FRAMELESS, TMK_LIKELY and TMK_UNLIKELY.
 */
#ifndef TIDEMARK_PRELOAD_COMPILER_H
#define TIDEMARK_PRELOAD_COMPILER_H

#define TMK_EXPORT __attribute__((visibility("default")))
#define TMK_HIDDEN __attribute__((visibility("hidden")))
#define TMK_NOINLINE __attribute__((noinline))
/* A function without a frame of its own, whatever -fno-omit-frame-pointer
 * says (gcc; clang has no such attribute: preload/CMakeLists.txt builds
 * hooks.c with -momit-leaf-frame-pointer there). Only when
 * optimizing: at -O0 its tail calls are calls, and a frameless caller of
 * the recording path would hide its own caller from TIDEMARK_UNWIND=fp's
 * walk (the %rbp chain skips its return address). */
#if defined(__clang__) || !defined(__OPTIMIZE__)
#define TMK_FRAMELESS
#else
#define TMK_FRAMELESS __attribute__((optimize("omit-frame-pointer")))
#endif
#define TMK_LIKELY(x) __builtin_expect(!!(x), 1)
#define TMK_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* TIDEMARK_PRELOAD_COMPILER_H */
