/* tests/tables/blockdump.c - a small LD_PRELOAD measuring tool (not the
 * tidemark shim): it logs every allocation of at least TABLES_DUMP_MIN
 * bytes with the allocator call and its stack, and when the program first
 * sleeps (nanosleep/clock_nanosleep, as the table programs do after
 * printing their line) it writes the contents of every such block still
 * live. Used to measure how unannotated tables allocate and lay out their
 * arrays (docs/unannotated-tables.md) and by tables.layouts to check that.
 *
 *   TABLES_DUMP_DIR=dir  (required) where the logs and dumps go:
 *     dir/allocs.log  "alloc seq=S call=C size=N align=A ptr=P frames=F"
 *                     and "free seq=S" (a realloc frees its old block)
 *     dir/live.log    at the first sleep, one "live ..." line per block
 *     dir/block-S.bin its contents (size bytes)
 *   TABLES_DUMP_MIN=n    smallest size logged (default 65536)
 * Frames: "name+0xOFF@module" as libunwind's unw_get_proc_name names them
 * (what a profiler using libunwind sees), "?@module+0xOFF" without a
 * name; up to 16, separated by "|".
 *
 * Real functions: glibc's __libc_malloc and friends, so no dlsym at the
 * first malloc. Calls made inside the tool (libunwind, snprintf) pass
 * through unlogged (a per-thread guard).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);
void *__libc_memalign(size_t, size_t);

#define MAX_BLOCKS 1024
#define MAX_FRAMES 16
#define FRAMES_LEN 8192

struct block {
    void *ptr;
    size_t size;
    unsigned seq;
    char call[16];
    char frames[FRAMES_LEN];
};

static struct block blocks[MAX_BLOCKS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int guard;
static unsigned next_seq = 1;
static int high; /* blocks[high..] have never been used: frees scan below it */
static int dumped;
static char dir[512];
static size_t min_size = 65536;
static int configured; /* 0 not yet, 1 on, -1 off */

static void configure(void)
{
    if (configured) return;
    const char *d = getenv("TABLES_DUMP_DIR"), *m = getenv("TABLES_DUMP_MIN");
    if (!d || strlen(d) >= sizeof dir - 32) {
        configured = -1;
        return;
    }
    strcpy(dir, d);
    if (m) min_size = strtoul(m, NULL, 10);
    configured = 1;
}

static void append(const char *file, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd);
}

/* "name+0xOFF@module|..." for the caller's stack, skipping the hook. */
__attribute__((noinline)) static void stack_text(char *out, size_t cap)
{
    unw_context_t uc;
    unw_cursor_t cur;
    size_t used = 0;
    out[0] = '\0';
    if (unw_getcontext(&uc) || unw_init_local(&cur, &uc)) return;
    for (int depth = 0; depth < MAX_FRAMES + 2 && unw_step(&cur) > 0; depth++) {
        if (depth < 1) continue; /* the hook itself */
        unw_word_t ip, off = 0;
        char name[1024]; /* C++ template names pass 256 bytes */
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        Dl_info di;
        const char *mod = "?";
        uintptr_t base = 0;
        if (dladdr((void *)(uintptr_t)(ip - 1), &di) && di.dli_fname) {
            mod = strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname;
            base = (uintptr_t)di.dli_fbase;
        }
        int n;
        int rc = unw_get_proc_name(&cur, name, sizeof name, &off);
        if (rc == 0 || rc == -UNW_ENOMEM) /* ENOMEM: truncated, still a name */
            n = snprintf(out + used, cap - used, "%s%s+%#lx@%s", used ? "|" : "", name,
                         (unsigned long)off, mod);
        else
            n = snprintf(out + used, cap - used, "%s?@%s+%#lx", used ? "|" : "", mod,
                         (unsigned long)(ip - base));
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
}

__attribute__((noinline)) static void note_alloc(const char *call, void *p, size_t size, size_t align)
{
    if (!p || guard) return;
    configure();
    if (configured != 1 || size < min_size) return;
    guard = 1;
    char frames[FRAMES_LEN];
    stack_text(frames, sizeof frames);
    pthread_mutex_lock(&lock);
    unsigned seq = next_seq++;
    for (int i = 0; i < MAX_BLOCKS; i++) {
        if (blocks[i].ptr) continue;
        blocks[i].ptr = p;
        if (i >= high) __atomic_store_n(&high, i + 1, __ATOMIC_RELEASE);
        blocks[i].size = size;
        blocks[i].seq = seq;
        snprintf(blocks[i].call, sizeof blocks[i].call, "%s", call);
        memcpy(blocks[i].frames, frames, sizeof frames);
        break;
    }
    pthread_mutex_unlock(&lock);
    char line[FRAMES_LEN + 200];
    snprintf(line, sizeof line, "alloc seq=%u call=%s size=%zu align=%zu ptr=%p frames=%s\n",
             seq, call, size, align, p, frames);
    append("allocs.log", line);
    guard = 0;
}

static void note_free(void *p)
{
    if (!p || configured != 1 || guard || !__atomic_load_n(&high, __ATOMIC_ACQUIRE)) return;
    guard = 1;
    unsigned seq = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < high; i++) {
        if (blocks[i].ptr == p) {
            seq = blocks[i].seq;
            blocks[i].ptr = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    if (seq) {
        char line[64];
        snprintf(line, sizeof line, "free seq=%u\n", seq);
        append("allocs.log", line);
    }
    guard = 0;
}

static void dump_live(void)
{
    configure();
    if (configured != 1 || __atomic_exchange_n(&dumped, 1, __ATOMIC_ACQ_REL)) return;
    guard = 1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < high; i++) {
        const struct block *b = &blocks[i];
        if (!b->ptr) continue;
        char name[64], line[FRAMES_LEN + 200], path[600];
        snprintf(name, sizeof name, "block-%u.bin", b->seq);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            size_t off = 0;
            while (off < b->size) {
                ssize_t w = write(fd, (const char *)b->ptr + off, b->size - off);
                if (w <= 0) break;
                off += (size_t)w;
            }
            close(fd);
        }
        snprintf(line, sizeof line, "live seq=%u call=%s size=%zu ptr=%p file=%s frames=%s\n",
                 b->seq, b->call, b->size, b->ptr, name, b->frames);
        append("live.log", line);
    }
    pthread_mutex_unlock(&lock);
    guard = 0;
}

/* ---- the interposed functions ------------------------------------------ */

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    note_alloc("malloc", p, n, 0);
    return p;
}

void *calloc(size_t n, size_t sz)
{
    void *p = __libc_calloc(n, sz);
    note_alloc("calloc", p, n * sz, 0);
    return p;
}

void *realloc(void *old, size_t n)
{
    void *p = __libc_realloc(old, n);
    if (p || n == 0) note_free(old);
    note_alloc("realloc", p, n, 0);
    return p;
}

void free(void *p)
{
    note_free(p);
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    note_alloc("posix_memalign", p, n, align);
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    note_alloc("aligned_alloc", p, n, align);
    return p;
}

void *memalign(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    note_alloc("memalign", p, n, align);
    return p;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    dump_live();
    static int (*next)(const struct timespec *, struct timespec *);
    if (!next) next = (int (*)(const struct timespec *, struct timespec *))dlsym(RTLD_NEXT, "nanosleep");
    return next(req, rem);
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
    dump_live();
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (!next)
        next = (int (*)(clockid_t, int, const struct timespec *, struct timespec *))dlsym(
            RTLD_NEXT, "clock_nanosleep");
    return next(clk, flags, req, rem);
}
