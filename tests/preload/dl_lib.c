/* tests/preload/dl_lib.c - a small library that shim_probe dlopen's: it
 * allocates from its own code, so the stack of that allocation has a frame
 * inside this object (whose MODULE record must come before that stack); so
 * does its constructor, which runs inside dlopen. */
#include <stdlib.h>

#define DL_LIB_MARKER_SIZE 7777

__attribute__((noinline)) void *dl_lib_alloc(void)
{
    void *p = malloc(DL_LIB_MARKER_SIZE);
    __asm__ volatile("" ::: "memory"); /* not a tail call: keep this frame */
    return p;
}

/* The constructor allocates too: inside dlopen, with the loader's lock held. */
static void *ctor_block;

__attribute__((constructor)) static void dl_lib_init(void)
{
    ctor_block = malloc(DL_LIB_MARKER_SIZE + 1);
}

__attribute__((destructor)) static void dl_lib_fini(void)
{
    free(ctor_block);
}
