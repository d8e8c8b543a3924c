/* tests/preload/dl_lib.c - a small library that shim_probe dlopen's: it
 * allocates from its own code, so the stack of that allocation has a frame
 * inside this object (whose MODULE record must come before that stack). */
#include <stdlib.h>

#define DL_LIB_MARKER_SIZE 7777

__attribute__((noinline)) void *dl_lib_alloc(void)
{
    void *p = malloc(DL_LIB_MARKER_SIZE);
    __asm__ volatile("" ::: "memory"); /* not a tail call: keep this frame */
    return p;
}
