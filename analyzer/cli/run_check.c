/* analyzer/cli/run_check.c - what `tidemark run` checks before the program
 * starts, so that it refuses with one line (exit 2) instead of running the
 * program untraced:
 *  - the program, found in PATH as execvp finds it (127 not found, 126 not
 *    executable, as a shell says), must be one the dynamic loader preloads
 *    the shim into: an ELF with a program interpreter (PT_INTERP), of the
 *    shim's class and machine, whose exec is not "secure" (set-user-ID or
 *    set-group-ID to someone else, file capabilities: AT_SECURE, where the
 *    loader ignores LD_PRELOAD). A "#!" script is judged by its interpreter;
 *    a file of another kind is left to exec.
 *  - the trace path must be creatable: not empty, shorter than PATH_MAX, not
 *    there already; run creates it (O_EXCL, as the shim will) and removes it,
 *    to name the errno the shim would meet.
 */
#define _GNU_SOURCE /* AT_EACCESS */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"

/* Linux follows at most this many "#!" interpreters. */
#define SCRIPT_DEPTH 4

/* ---- finding the program -------------------------------------------------- */

/* 0 when path is a regular file this user may execute, else errno. */
static int executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return errno;
    if (!S_ISREG(st.st_mode)) return EACCES;
    return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 ? 0 : errno;
}

/* The file execvp would run for name, into out; 0 or errno (ENOENT when
 * nothing in PATH has that name, EACCES when only unexecutable ones do). */
static int resolve(const char *name, char *out, size_t cap)
{
    if (!*name) return ENOENT;
    if (strchr(name, '/')) {
        if (strlen(name) >= cap) return ENAMETOOLONG;
        strcpy(out, name);
        return executable(out);
    }
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin"; /* glibc's execvp without PATH */
    int denied = 0;
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int len = (int)(end - p);
        int w = len ? snprintf(out, cap, "%.*s/%s", len, p, name) : snprintf(out, cap, "%s", name);
        if (w > 0 && (size_t)w < cap) {
            int err = executable(out);
            if (!err) return 0;
            if (err == EACCES) denied = 1;
        }
        if (!*end) break;
        p = end;
    }
    return denied ? EACCES : ENOENT;
}

/* ---- reading an ELF header --------------------------------------------- */

struct elf_facts {
    unsigned char cls; /* ELFCLASS32 / ELFCLASS64 */
    uint16_t machine;
    int has_interp;
    char interp[PATH_MAX]; /* PT_INTERP's path, when has_interp */
};

/* 1 when fd is an ELF file (facts filled), 0 when it is not. */
static int elf_read(int fd, struct elf_facts *f)
{
    union {
        Elf64_Ehdr e64;
        Elf32_Ehdr e32;
    } h;
    memset(f, 0, sizeof *f);
    if (pread(fd, &h, sizeof h, 0) < (ssize_t)sizeof h.e32 || memcmp(h.e64.e_ident, ELFMAG, SELFMAG))
        return 0;
    f->cls = h.e64.e_ident[EI_CLASS];
    uint64_t phoff;
    unsigned phnum, phentsize;
    if (f->cls == ELFCLASS64) {
        f->machine = h.e64.e_machine;
        phoff = h.e64.e_phoff, phnum = h.e64.e_phnum, phentsize = h.e64.e_phentsize;
    } else {
        f->machine = h.e32.e_machine;
        phoff = h.e32.e_phoff, phnum = h.e32.e_phnum, phentsize = h.e32.e_phentsize;
    }
    for (unsigned i = 0; i < phnum && i < 4096; i++) {
        union {
            Elf64_Phdr p64;
            Elf32_Phdr p32;
        } ph;
        size_t want = f->cls == ELFCLASS64 ? sizeof ph.p64 : sizeof ph.p32;
        if (phentsize < want || pread(fd, &ph, want, (off_t)(phoff + (uint64_t)i * phentsize)) !=
                                    (ssize_t)want)
            break;
        uint32_t type = f->cls == ELFCLASS64 ? ph.p64.p_type : ph.p32.p_type;
        if (type != PT_INTERP) continue;
        uint64_t off = f->cls == ELFCLASS64 ? ph.p64.p_offset : ph.p32.p_offset;
        uint64_t size = f->cls == ELFCLASS64 ? ph.p64.p_filesz : ph.p32.p_filesz;
        f->has_interp = 1;
        if (size >= sizeof f->interp) size = sizeof f->interp - 1;
        ssize_t n = pread(fd, f->interp, (size_t)size, (off_t)off);
        f->interp[n > 0 ? n : 0] = 0;
        break;
    }
    return 1;
}

static int elf_read_path(const char *path, struct elf_facts *f)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int rc = elf_read(fd, f);
    close(fd);
    return rc;
}

/* Is path the dynamic loader itself ("ld.so PROGRAM" preloads too)? It has
 * no PT_INTERP, like a static binary: compare it with this tidemark's own. */
static int is_dynamic_loader(const char *path)
{
    struct elf_facts self;
    struct stat a, b;
    return elf_read_path("/proc/self/exe", &self) && self.has_interp && stat(path, &a) == 0 &&
           stat(self.interp, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* ---- the checks ------------------------------------------------------------ */

/* Would exec'ing path be secure (AT_SECURE: LD_PRELOAD ignored)? Says why
 * into why. The kernel makes it so when the exec changes the effective user
 * or group from the real one, or (for a non-root user) grants capabilities;
 * not on a nosuid mount, nor under no_new_privs. */
static int secure_exec(const char *path, const struct stat *st, char *why, size_t cap)
{
    struct statvfs v;
    if (statvfs(path, &v) == 0 && (v.f_flag & ST_NOSUID)) return 0;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) return 0;
    if ((st->st_mode & S_ISUID) && st->st_uid != getuid()) {
        snprintf(why, cap, "is set-user-ID (owner uid %u)", (unsigned)st->st_uid);
        return 1;
    }
    if ((st->st_mode & S_ISGID) && st->st_gid != getgid()) {
        snprintf(why, cap, "is set-group-ID (group gid %u)", (unsigned)st->st_gid);
        return 1;
    }
    if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0) {
        snprintf(why, cap, "has file capabilities");
        return 1;
    }
    return 0;
}

/* The interpreter a "#!" line at the start of head names, into out. */
static int script_interpreter(const char *head, size_t n, char *out, size_t cap)
{
    if (n < 2 || head[0] != '#' || head[1] != '!') return 0;
    size_t i = 2, len = 0;
    while (i < n && (head[i] == ' ' || head[i] == '\t')) i++;
    while (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && len + 1 < cap)
        out[len++] = head[i++];
    out[len] = 0;
    return len > 0;
}

/* Judges the file at path (`via`, for messages: "" or " (the interpreter
 * of SCRIPT)"); 0 or the exit status after one line. */
static int judge(const char *path, const char *via, const struct elf_facts *shim, int depth)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0; /* exec will say */
    char head[256];
    ssize_t n = pread(fd, head, sizeof head, 0);
    struct elf_facts f;
    int elf = elf_read(fd, &f);
    struct stat st;
    int have_st = fstat(fd, &st) == 0;
    close(fd);
    char interp[PATH_MAX];
    if (!elf) {
        if (n > 0 && depth < SCRIPT_DEPTH &&
            script_interpreter(head, (size_t)n, interp, sizeof interp)) {
            char how[PATH_MAX + 64];
            snprintf(how, sizeof how, " (the interpreter of %s)", path);
            return judge(interp, how, shim, depth + 1);
        }
        return 0; /* not ours to judge: exec runs it or says why not */
    }
    char why[128];
    if (f.cls != shim->cls) {
        cli_error("run: %s%s is a %s-bit program and libtidemark.so is %s-bit; cannot trace it",
                  path, via, f.cls == ELFCLASS32 ? "32" : "64", shim->cls == ELFCLASS32 ? "32" : "64");
        return 2;
    }
    if (f.machine != shim->machine) {
        cli_error("run: %s%s is built for ELF machine %u and libtidemark.so for %u; cannot trace it",
                  path, via, f.machine, shim->machine);
        return 2;
    }
    if (!f.has_interp && !is_dynamic_loader(path)) {
        cli_error("run: %s%s is statically linked (no program interpreter): the shim cannot be "
                  "preloaded into it; cannot trace it", path, via);
        return 2;
    }
    if (have_st && secure_exec(path, &st, why, sizeof why)) {
        cli_error("run: %s%s %s: the loader ignores LD_PRELOAD for it; cannot trace it", path,
                  via, why);
        return 2;
    }
    return 0;
}

int run_check_program(const char *program, const char *shim)
{
    char path[PATH_MAX];
    int err = resolve(program, path, sizeof path);
    if (err == ENOENT && !strchr(program, '/')) {
        cli_error("run: %s: command not found", program);
        return RUN_EXIT_NOT_FOUND;
    }
    if (err) {
        cli_error("run: %s: %s", program, strerror(err));
        return err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG ? RUN_EXIT_NOT_FOUND
                                                                      : RUN_EXIT_NOT_EXECUTABLE;
    }
    struct elf_facts self;
    if (!elf_read_path(shim, &self)) return 0; /* cannot judge: let the loader say */
    return judge(path, "", &self, 0);
}

int run_check_template(const char *tmpl)
{
    if (!*tmpl) {
        cli_error("run: -o is empty; name a trace file (the default is tidemark.%%p.tmk)");
        return 2;
    }
    if (strlen(tmpl) > SHIM_TEMPLATE_MAX) {
        cli_error("run: -o is %zu bytes long; the shim takes at most %d", strlen(tmpl),
                  SHIM_TEMPLATE_MAX);
        return 2;
    }
    return 0;
}

int run_check_output(const char *path)
{
    size_t len = strlen(path);
    if (len >= PATH_MAX) {
        cli_error("run: the trace path is %zu bytes long; a path has at most %d", len,
                  PATH_MAX - 1);
        return 2;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        cli_error("%s exists; remove it or choose another -o", path);
        return 2;
    }
    /* Create it as the shim will, and remove it: the one test that gives the
     * errno the shim would get (a missing or read-only directory, EACCES
     * that root meets only in /proc and the like, a name too long). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_error("run: cannot create the trace %s: %s", path, strerror(errno));
        return 2;
    }
    close(fd);
    unlink(path);
    return 0;
}
