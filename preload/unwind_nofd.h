/* preload/unwind_nofd.h - unwind_nofd.c's interface: libunwind's validation
 * pipe without a descriptor (the syscall, pipe2 and pipe the program gets).
 */
#ifndef TIDEMARK_PRELOAD_UNWIND_NOFD_H
#define TIDEMARK_PRELOAD_UNWIND_NOFD_H

#include "compiler.h"

/* Finds the real syscall/pipe2/pipe before any unwind. */
void tmk_unwind_nofd_init(void) TMK_HIDDEN;
/* syscall, pipe2, pipe as the program gets them (hooks.c): inside one of
 * the shim's unwinds, sentinels and a readability check instead. */
long tmk_nofd_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) TMK_HIDDEN;
int tmk_nofd_pipe2(int fds[2], int flags) TMK_HIDDEN;
int tmk_nofd_pipe(int fds[2]) TMK_HIDDEN;

#endif /* TIDEMARK_PRELOAD_UNWIND_NOFD_H */
