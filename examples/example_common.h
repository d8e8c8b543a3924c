/* example_common.h - how the examples measure and print memory.
 *
 * Every example prints the same kind of line per phase, so runs can be put
 * side by side (and tests can read them):
 *
 *   after inserts:  heap    293 MiB (  307499008 bytes)  buckets    293 MiB (  307494912 bytes)
 *
 * heap    = bytes the program has in use from malloc: glibc mallinfo2's
 *           uordblks (in-use arena chunks) + hblkhd (mmapped chunks), the
 *           C counterpart of Go's MemStats.Alloc after a GC;
 * buckets = bytes of the map's bucket arrays and overflow buckets
 *           (gomap_stats().bucket_bytes).
 * MiB is bytes / 1024 / 1024 rounded down, as the seed's printAlloc prints
 * it (it says "MB"). Nothing else varies: no addresses, no timings.
 */
#ifndef TIDEMARK_EXAMPLE_COMMON_H
#define TIDEMARK_EXAMPLE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "tidemark/gomap.h"

/* Command line shared by the examples. */
struct ex_args {
    uint64_t n;    /* --n N: entries inserted (default 1,000,000) */
    uint64_t keep; /* --keep K: entries not deleted (default 0; fixes only) */
};

/* Parses argv; on a bad flag prints one line (with `usage`) to stderr and
 * exits with status 2. `allow_keep` enables --keep. */
void ex_parse_args(int argc, char **argv, const char *usage, int allow_keep,
                   struct ex_args *out);

/* Heap in use now: mallinfo2 uordblks + hblkhd. */
uint64_t ex_heap_in_use(void);

/* A fixed, well-mixed hash of the key bytes (the seed is ignored), so every
 * run places keys alike and prints the same figures. With a per-map seed only
 * the number of separately allocated overflow buckets would vary between
 * runs; B and the bucket arrays never depend on the hash. */
uint64_t ex_fixed_hash(const void *key, size_t key_size, uint64_t seed);


/* The highest bucket memory the map held: call after every write. */
struct ex_peak {
    uint64_t buckets; /* arrays + separately allocated overflow buckets */
    uint64_t arrays;  /* of which current + old array (during a growth both
                         are held), at that moment */
};
void ex_peak_update(struct ex_peak *peak, const gomap *m);

/* "<phase>: heap ... buckets ..." for the map (NULL: no map, 0 buckets). */
void ex_print_phase(const char *phase, const gomap *m);
/* "peak: buckets ... = arrays ... + overflow ... bytes". */
void ex_print_peak(const struct ex_peak *peak);
/* "map: N live, B=18: array of 278528 buckets (262144 + 16384 preallocated
 * overflow) x 1104 bytes = 307494912 bytes, + 0 overflow buckets allocated on
 * their own (0 bytes)" */
void ex_print_shape(const gomap *m);

/* The peak and its end, as the fix examples run it before their cure: puts
 * keys 0..n-1 (value byte 0 = the key's low byte), printing "after
 * inserts:" and the map's shape, deletes all but the last `keep` keys,
 * printing "after deletes:" and the peak. */
void ex_fill_then_drain(gomap *m, const struct ex_args *args);
/* After the cure: every kept key is there with its value byte. Prints
 * "check: K of K kept entries found with their values"; 0 when all are. */
int ex_check_kept(gomap *m, const struct ex_args *args);

/* runtime.KeepAlive(m), and more: the map stays allocated and reachable
 * (from a static pointer) until the process exits, as the Go program's map
 * does. So tidemark sees at the end of the run what the map still holds,
 * and a leak checker sees reachable memory, not a leak. */
void ex_keep_alive(gomap *m);

/* Prints "<what>: out of memory" and exits with status 1. */
void ex_die_oom(const char *what) __attribute__((noreturn));

#endif
