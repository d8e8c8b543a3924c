/* tests/preload/spawner.c - starts a child the ways programs do and captures
 * what the child writes, as `subprocess.run(..., capture_output=True)` does:
 *
 *     spawner fork|vfork|spawn PROGRAM [ARGS...]
 *
 * fork: fork + execvp; vfork: vfork + execvp; spawn: posix_spawnp (glibc:
 * clone(CLONE_VM|CLONE_VFORK)). The child's stdout and stderr go to pipes;
 * then this prints "pid=P", "child=C", "status=S" and the captured bytes as
 * "stdout=HEX" and "stderr=HEX" lines on its own stdout. run_test.py runs it
 * with and without the shim: the captured bytes must be the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct capture {
    char buf[1 << 16];
    size_t len;
};

/* Reads both pipes to their ends. */
static void drain(int out, int err, struct capture *o, struct capture *e)
{
    struct pollfd p[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    struct capture *c[2] = {o, e};
    int open_ends = 2;
    while (open_ends > 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents) continue;
            ssize_t n = read(p[i].fd, c[i]->buf + c[i]->len, sizeof c[i]->buf - c[i]->len);
            if (n > 0) {
                c[i]->len += (size_t)n;
            } else if (n == 0 || errno != EINTR) {
                close(p[i].fd);
                p[i].fd = -1;
                open_ends--;
            }
        }
    }
}

static void print_hex(const char *key, const struct capture *c)
{
    printf("%s=", key);
    for (size_t i = 0; i < c->len; i++) printf("%02x", (unsigned char)c->buf[i]);
    printf("\n");
}

static pid_t start(const char *how, int out[2], int err[2], char **argv)
{
    pid_t pid = -1;
    if (!strcmp(how, "spawn")) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        return rc == 0 ? pid : -1;
    }
    if (!strcmp(how, "vfork"))
        pid = vfork();
    else if (!strcmp(how, "fork"))
        pid = fork();
    else
        return -1;
    if (pid == 0) { /* after vfork: only dup2, exec and _exit */
        dup2(out[1], 1);
        dup2(err[1], 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawner fork|vfork|spawn PROGRAM [ARGS...]\n");
        return 2;
    }
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return 2;
    pid_t pid = start(argv[1], out, err, argv + 2);
    if (pid < 0) return 2;
    close(out[1]);
    close(err[1]);
    static struct capture o, e;
    drain(out[0], err[0], &o, &e);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    printf("pid=%d\nchild=%d\nstatus=%d\n", (int)getpid(), (int)pid, status);
    print_hex("stdout", &o);
    print_hex("stderr", &e);
    return 0;
}
