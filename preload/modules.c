/* preload/modules.c - the loaded ELF objects, so that the analyzer can turn
 * return addresses into symbols offline.
 *
 * A scan walks dl_iterate_phdr and compares with the known list: a new object
 * gets an id and a MODULE record (path, GNU build-id from PT_NOTE, load bias,
 * [start, end) of its PT_LOAD segments); an object no longer there gets a
 * MODULE_GONE. A full scan runs at start (and in a forked child); after
 * that, the loader's adds/subs counters are checked whenever a thread adds a
 * stack new to the process (before its STACK record, so a stack in a
 * freshly dlopen'ed object is preceded by its MODULE) and at every sampler
 * tick (so dlclose is seen within an interval).
 *
 * tmk_modules_gen counts the scans that may have seen a change (every scan
 * but the check that found none); caller_cache.c drops its entries when it
 * moves, and the dlclose wrapper (hooks.c) moves it too, at once.
 */

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct module {
    struct module *next;
    uint32_t id;
    int seen;
    uintptr_t bias, start, end;
    char path[];
};

static pthread_mutex_t modules_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct module *modules;
static uint32_t next_module_id = 1;
static unsigned long long seen_adds, seen_subs;
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

static void put_module_record(struct tmk_thread *t, const struct module *m, const uint8_t *bid,
                              size_t bid_len)
{
    size_t path_len = strlen(m->path);
    uint8_t *p = tmk_reserve(t, 64 + bid_len + path_len);
    *p++ = TMK_REC_MODULE;
    p = tmk_put_u(p, m->id);
    p = tmk_put_u(p, m->bias);
    p = tmk_put_u(p, m->start);
    p = tmk_put_u(p, m->end);
    p = tmk_put_u(p, bid_len);
    if (bid_len) memcpy(p, bid, bid_len);
    p += bid_len;
    p = tmk_put_u(p, path_len);
    memcpy(p, m->path, path_len);
    tmk_publish(t, p + path_len);
}

static const char *main_program_path(void)
{
    static char exe[4096];
    if (!exe[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
    }
    return exe;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct tmk_thread *t = arg;
    (void)size;
    uintptr_t start, end;
    tmk_module_range(info, &start, &end);
    if (end == 0) return 0;
    const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name
                                                              : main_program_path();
    size_t path_len = strnlen(path, 4000);
    for (struct module *m = modules; m; m = m->next) {
        if (m->bias == info->dlpi_addr && m->start == start && !strncmp(m->path, path, 4000)) {
            m->seen = 1;
            return 0;
        }
    }
    struct module *m = tmk_arena_alloc(sizeof *m + path_len + 1);
    if (!m) return 0;
    m->id = next_module_id++;
    m->seen = 1;
    m->bias = info->dlpi_addr;
    m->start = start;
    m->end = end;
    memcpy(m->path, path, path_len);
    m->next = modules;
    modules = m;
    const uint8_t *bid = NULL;
    size_t bid_len = build_id(info, &bid);
    put_module_record(t, m, bid, bid_len);
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

/* Scans with the modules mutex held. */
static void scan_locked(struct tmk_thread *t)
{
    unsigned long long c[2] = {0, 0};
    __atomic_add_fetch(&tmk_modules_gen, 1, __ATOMIC_SEQ_CST);
    dl_iterate_phdr(read_counters, c);
    seen_adds = c[0];
    seen_subs = c[1];
    for (struct module *m = modules; m; m = m->next) m->seen = 0;
    dl_iterate_phdr(scan_one, t);
    for (struct module **pm = &modules; *pm;) {
        struct module *m = *pm;
        if (m->seen) {
            pm = &m->next;
            continue;
        }
        uint8_t *p = tmk_reserve(t, TMK_RECORD_MAX);
        *p++ = TMK_REC_MODULE_GONE;
        p = tmk_put_u(p, m->id);
        tmk_publish(t, p);
        *pm = m->next;
        tmk_arena_free(m);
    }
}

void tmk_modules_scan(struct tmk_thread *t)
{
    pthread_mutex_lock(&modules_mutex);
    scan_locked(t);
    pthread_mutex_unlock(&modules_mutex);
}

/* Cheap check, safe from inside malloc: the mutex is only tried (a thread
 * holding it may be waiting for the loader lock this thread holds). */
void tmk_modules_scan_if_changed(struct tmk_thread *t)
{
    if (pthread_mutex_trylock(&modules_mutex) != 0) return;
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(read_counters, c);
    if (c[0] != seen_adds || c[1] != seen_subs) scan_locked(t);
    pthread_mutex_unlock(&modules_mutex);
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
