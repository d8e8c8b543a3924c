/* preload/modules.c - the loaded ELF objects, so that the analyzer can turn
 * return addresses into symbols offline.
 *
 * A scan walks dl_iterate_phdr and compares with the known list: a new object
 * gets an id and a MODULE record (path, GNU build-id from PT_NOTE, load bias,
 * [start, end) of its PT_LOAD segments); an object no longer there gets a
 * MODULE_GONE, and intern.c forgets the stacks with a frame in its range
 * (another object may come to those addresses). The MODULE_GONE records of a
 * scan come before its MODULE records, each after a TICK to the present
 * time. An object is the same one only with the same path, bias, range and
 * build-id: a plugin rebuilt and reloaded at the same address is another.
 * A full scan runs at start (and in a forked child); after that, the
 * loader's adds/subs counters are checked (tmk_modules_check) whenever a
 * thread adds a stack new to the process (before its STACK record, so a
 * stack in a freshly dlopen'ed object is preceded by its MODULE), before a
 * thread takes a stack after tmk_modules_gen moved (intern.h's
 * tmk_stacks_sync: an object unloaded and another loaded at its addresses
 * are both seen before that stack is interned), and at every sampler tick.
 *
 * tmk_modules_gen counts the scans that may have seen a change (every scan
 * but the check that found none); caller_cache.c and cfi.c drop their
 * entries when it moves, and the dlclose wrapper (hooks.c) moves it too, at
 * once.
 */

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "internal.h"

struct module {
    struct module *next;
    uint32_t id;
    int seen;       /* found by the current scan */
    int announced;  /* its MODULE record is written */
    uintptr_t bias, start, end;
    const uint8_t *bid; /* its build-id: bid_len bytes after the path */
    size_t bid_len;
    char path[];
};

static pthread_mutex_t modules_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct module *modules;
static uint32_t next_module_id = 1;
static unsigned long long seen_adds, seen_subs;
/* tmk_modules_gen as read before the loader's counters by the last check
 * that completed: a change it did not see moved tmk_modules_gen after. */
static uint32_t checked_gen;
uintptr_t tmk_self_start, tmk_self_end;
uint32_t tmk_modules_gen;

void tmk_modules_lock(void) { pthread_mutex_lock(&modules_mutex); }
void tmk_modules_unlock(void) { pthread_mutex_unlock(&modules_mutex); }

/* The GNU build-id of the object, or 0 bytes. */
static size_t build_id(const struct dl_phdr_info *info, const uint8_t **out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *n;
            const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);
            const uint8_t *next = desc + ((n->n_descsz + 3) & ~3u);
            if (next > end) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
                *out = desc;
                return n->n_descsz;
            }
            p = next;
        }
    }
    return 0;
}

/* Records carry the present time: a stack another thread interns after
 * this scan is read after them. */
static void put_module_record(struct tmk_thread *t, const struct module *m)
{
    size_t path_len = strlen(m->path);
    uint8_t *p = tmk_reserve(t, 64 + m->bid_len + path_len);
    p = tmk_put_tick(t, p, tmk_now());
    *p++ = TMK_REC_MODULE;
    p = tmk_put_u(p, m->id);
    p = tmk_put_u(p, m->bias);
    p = tmk_put_u(p, m->start);
    p = tmk_put_u(p, m->end);
    p = tmk_put_u(p, m->bid_len);
    if (m->bid_len) memcpy(p, m->bid, m->bid_len);
    p += m->bid_len;
    p = tmk_put_u(p, path_len);
    memcpy(p, m->path, path_len);
    tmk_publish(t, p + path_len);
}

static void put_gone_record(struct tmk_thread *t, const struct module *m)
{
    uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
    p = tmk_put_tick(t, p, tmk_now());
    *p++ = TMK_REC_MODULE_GONE;
    p = tmk_put_u(p, m->id);
    tmk_publish(t, p);
}

/* ---- the main program's path ----------------------------------------------- */

#define EXEC_DEPTH 5        /* the kernel's nesting of interpreters (exec_binprm) */
#define SHEBANG_BYTES 256   /* BINPRM_BUF_SIZE: the kernel reads no more of a "#!" line */

/* path made absolute by the working directory (a leading "./" dropped) in
 * out, of n bytes: 0, or -1 when it does not fit. */
static int absolute_path(const char *path, char *out, size_t n)
{
    size_t dir = 0, len;
    if (path[0] != '/') {
        while (path[0] == '.' && path[1] == '/') path += 2;
        if (!getcwd(out, n - 1)) return -1;
        dir = strlen(out);
        if (dir == 0 || out[dir - 1] != '/') out[dir++] = '/';
    }
    len = strlen(path);
    if (len >= n - dir) return -1;
    memcpy(out + dir, path, len + 1);
    return 0;
}

enum exec_kind { EXEC_UNREADABLE, EXEC_ELF, EXEC_SCRIPT, EXEC_OTHER };

/* What the kernel finds at the start of path: an ELF file, or a script
 * whose interpreter's path (as written on its "#!" line) goes to interp, of
 * n bytes; EXEC_OTHER for anything else (a binfmt_misc format, a "#!" line
 * longer than the kernel reads). */
static enum exec_kind exec_kind(const char *path, char *interp, size_t n)
{
    char buf[SHEBANG_BYTES + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return EXEC_UNREADABLE;
    ssize_t got = read(fd, buf, SHEBANG_BYTES);
    close(fd);
    if (got < 0) return EXEC_UNREADABLE;
    buf[got] = 0;
    if (got >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG)) return EXEC_ELF;
    if (got < 2 || buf[0] != '#' || buf[1] != '!') return EXEC_OTHER;
    const char *p = buf + 2;
    while (*p == ' ' || *p == '\t') p++;
    size_t len = strcspn(p, " \t\n"); /* and the first NUL */
    int cut = p + len == buf + got && got == SHEBANG_BYTES;
    if (len == 0 || len >= n || cut) return EXEC_OTHER;
    memcpy(interp, p, len);
    interp[len] = 0;
    return EXEC_SCRIPT;
}

/* Without /proc: the file the kernel ran, found from the path the program
 * was executed by (AT_EXECFN). That path when it is an ELF file (or one
 * this process cannot read: it is all there is); for a script, its
 * interpreter, followed as the kernel follows it (an interpreter may be a
 * script too); "" for anything else, which the analyzer reports as not
 * named rather than reading a file that is not the program. Relative paths
 * are the working directory's (the exec's, unless a constructor run before
 * the shim's changed it). */
static void program_from_execfn(char *out, size_t n)
{
    const char *fn = (const char *)getauxval(AT_EXECFN);
    char interp[SHEBANG_BYTES];
    if (fn && absolute_path(fn, out, n) == 0) {
        for (int depth = 0; depth < EXEC_DEPTH; depth++) {
            enum exec_kind kind = exec_kind(out, interp, sizeof interp);
            if (kind == EXEC_ELF || kind == EXEC_UNREADABLE) return;
            if (kind != EXEC_SCRIPT || absolute_path(interp, out, n) != 0) break;
        }
    }
    out[0] = 0;
}

/* The main program's path: /proc/self/exe, or without /proc (a chroot, a
 * mount namespace that unmounted it) program_from_execfn's. Found once
 * (scans run one at a time, under the modules mutex); errno kept. */
static const char *main_program_path(void)
{
    static char exe[4096];
    static int found;
    if (!found) {
        int saved = errno;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        if (!exe[0]) program_from_execfn(exe, sizeof exe);
        found = 1;
        errno = saved;
    }
    return exe;
}

static int same_module(const struct module *m, uintptr_t bias, uintptr_t start, uintptr_t end,
                       const char *path, const uint8_t *bid, size_t bid_len)
{
    return m->bias == bias && m->start == start && m->end == end && m->bid_len == bid_len &&
           !strncmp(m->path, path, 4000) && (!bid_len || !memcmp(m->bid, bid, bid_len));
}

/* One object of the pass: the known one it is marked seen, else a new one
 * is listed (announced after the pass). */
static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    uintptr_t start, end;
    tmk_module_range(info, &start, &end);
    if (end == 0) return 0;
    const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name
                                                              : main_program_path();
    size_t path_len = strnlen(path, 4000);
    const uint8_t *bid = NULL;
    size_t bid_len = build_id(info, &bid);
    if (bid_len > 256) bid_len = 0; /* not a build-id anyone makes */
    for (struct module *m = modules; m; m = m->next) {
        if (same_module(m, info->dlpi_addr, start, end, path, bid, bid_len)) {
            m->seen = 1;
            return 0;
        }
    }
    struct module *m = tmk_arena_alloc(sizeof *m + path_len + 1 + bid_len);
    if (!m) return 0;
    m->id = next_module_id++;
    m->seen = 1;
    m->announced = 0;
    m->bias = info->dlpi_addr;
    m->start = start;
    m->end = end;
    memcpy(m->path, path, path_len);
    m->path[path_len] = 0;
    m->bid = (const uint8_t *)m->path + path_len + 1;
    m->bid_len = bid_len;
    if (bid_len) memcpy((uint8_t *)m->path + path_len + 1, bid, bid_len);
    m->next = modules;
    modules = m;
    return 0;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
    unsigned long long *c = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c[0] = info->dlpi_adds;
        c[1] = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every call: stop */
}

/* Scans with the modules mutex held; c: the loader's counters read before.
 * The objects gone first (MODULE_GONE, their stacks forgotten), then the
 * new ones (MODULE). Returns tmk_modules_gen as this scan moved it. */
static uint32_t scan_locked(struct tmk_thread *t, const unsigned long long c[2])
{
    uint32_t gen = __atomic_add_fetch(&tmk_modules_gen, 1, __ATOMIC_SEQ_CST);
    seen_adds = c[0];
    seen_subs = c[1];
    for (struct module *m = modules; m; m = m->next) m->seen = 0;
    dl_iterate_phdr(scan_one, NULL);
    for (struct module **pm = &modules; *pm;) {
        struct module *m = *pm;
        if (m->seen) {
            pm = &m->next;
            continue;
        }
        if (m->announced) {
            put_gone_record(t, m);
            tmk_intern_forget(m->start, m->end);
        }
        *pm = m->next;
        tmk_arena_free(m);
    }
    for (struct module *m = modules; m; m = m->next) {
        if (m->announced) continue;
        put_module_record(t, m);
        m->announced = 1;
    }
    return gen;
}

/* Reads the loader's counters and scans when they moved; the modules mutex
 * held. gen: tmk_modules_gen read before. */
static void check_locked(struct tmk_thread *t, uint32_t gen, int always)
{
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(read_counters, c);
    if (always || c[0] != seen_adds || c[1] != seen_subs) {
        /* this scan's own move of the generation is checked too, unless
         * another came between */
        uint32_t mine = scan_locked(t, c);
        if (mine == gen + 1) gen = mine;
    }
    __atomic_store_n(&checked_gen, gen, __ATOMIC_RELEASE);
}

void tmk_modules_scan(struct tmk_thread *t)
{
    pthread_mutex_lock(&modules_mutex);
    check_locked(t, __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE), 1);
    pthread_mutex_unlock(&modules_mutex);
}

/* Cheap check, safe from inside malloc: the mutex is only tried (a thread
 * holding it may be waiting for the loader lock this thread holds). */
void tmk_modules_scan_if_changed(struct tmk_thread *t)
{
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    if (pthread_mutex_trylock(&modules_mutex) != 0) return;
    check_locked(t, gen, 0);
    pthread_mutex_unlock(&modules_mutex);
}

/* The mutex, tried for up to about 2 ms (another thread's check takes
 * microseconds; one that waits for the loader's lock, which this thread may
 * hold, is not waited for longer): 0, or -1 when not had. */
static int lock_patiently(void)
{
    uint64_t until = 0;
    for (unsigned i = 0;; i++) {
        if (pthread_mutex_trylock(&modules_mutex) == 0) return 0;
        if (i < 64) {
            __builtin_ia32_pause();
            continue;
        }
        uint64_t now = tmk_clock_ns();
        if (!until) until = now + 2000000;
        if (now >= until) return -1;
        sched_yield();
    }
}

int tmk_modules_check(struct tmk_thread *t, int how)
{
    uint32_t gen = __atomic_load_n(&tmk_modules_gen, __ATOMIC_ACQUIRE);
    if (!(how & TMK_CHECK_ALWAYS) && __atomic_load_n(&checked_gen, __ATOMIC_ACQUIRE) == gen)
        return 0;
    if (how & TMK_CHECK_PATIENT ? lock_patiently() : pthread_mutex_trylock(&modules_mutex))
        return -1;
    check_locked(t, gen, 0);
    pthread_mutex_unlock(&modules_mutex);
    return 0;
}

/* The child's file starts with no modules: forget them (rescanned after). */
void tmk_modules_after_fork_child(void)
{
    pthread_mutex_init(&modules_mutex, NULL);
    while (modules) {
        struct module *m = modules;
        modules = m->next;
        tmk_arena_free(m);
    }
    next_module_id = 1;
    seen_adds = seen_subs = 0;
    checked_gen = 0;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t here = (uintptr_t)arg, start, end;
    tmk_module_range(info, &start, &end);
    if (here < start || here >= end) return 0;
    tmk_self_start = start;
    tmk_self_end = end;
    return 1;
}

void tmk_modules_find_self(void)
{
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&tmk_modules_find_self);
}
