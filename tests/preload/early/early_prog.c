/* tests/preload/early/early_prog.c - links early_lib (DT_NEEDED), whose
 * constructor allocated three blocks before the shim started; frees one of
 * them, and allocates a control block of its own that the shim must see.
 * Prints "ok" when the library's blocks exist.
 *
 *   early_prog             as above; exit status 0
 *   early_prog fork-exec   then forks a child that execs this program again
 *                          (a new image, whose library allocates again
 *                          before the shim starts), waits for it and prints
 *                          "child N", N its exit status; exit status 5
 * With EARLY_CTOR_FORK=1 (early_lib.c) the constructor forked: the child
 * keeps its copy of the freed block, waits 300 ms (the shim's sampler runs
 * meanwhile) and prints "ok" too; the parent waits for it first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "early_lib.h"

/* The child's exit status, 128 + its signal, or -1. */
static int wait_for(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int fork_exec(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char *argv[] = {"early_prog", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    return wait_for(pid);
}

/* Kept where the compiler cannot see it unused (clang drops a malloc whose
 * block nothing outside reads). */
char *volatile early_main_block;

int main(int argc, char **argv)
{
    char *mine = malloc(EARLY_MAIN_BYTES);
    early_main_block = mine;
    if (!mine || !early_blocks_ok()) {
        fprintf(stderr, "early_prog: no memory\n");
        return 1;
    }
    memset(mine, 1, EARLY_MAIN_BYTES);
    pid_t ctor_child = early_ctor_child();
    if (ctor_child == 0) {
        struct timespec ts = {0, 300000000};
        nanosleep(&ts, NULL);
    } else {
        early_free_block();
    }
    if (ctor_child > 0 && wait_for(ctor_child) != 0) return 1;
    puts("ok");
    if (argc > 1 && !strcmp(argv[1], "fork-exec")) {
        int child = fork_exec();
        printf("child %d\n", child);
        return 5;
    }
    return mine[EARLY_MAIN_BYTES - 1] == 1 ? 0 : 1; /* `mine` is kept */
}
