/* analyzer/model/bigalloc.h - zeroed memory for the hash tables the
 * analysis probes at random, once per record (livemap.h, infomap.h).
 * Random probes into a table of megabytes miss the TLB on 4 KiB pages (on
 * a VM each miss is a nested page walk): a table of 2 MiB or more is
 * allocated on a 2 MiB boundary and marked for huge pages (best effort). */
#ifndef TIDEMARK_ANALYZER_BIGALLOC_H
#define TIDEMARK_ANALYZER_BIGALLOC_H

#include <stddef.h>

/* n * size zeroed bytes, freed with free(); NULL when out of memory. */
void *big_calloc(size_t n, size_t size);

#endif /* TIDEMARK_ANALYZER_BIGALLOC_H */
