/* analyzer/model/units.h - human-readable sizes, exact byte counts and
 * durations (units.c): the model's advice and notices and every report
 * write their figures with these. */
#ifndef TIDEMARK_ANALYZER_UNITS_H
#define TIDEMARK_ANALYZER_UNITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "293.3 MiB", "512 B", "1.0 KiB": binary units, one decimal. */
void tm_human_bytes(uint64_t bytes, char *buf, size_t len);
/* "307,494,912": exact bytes with thousands separators; returns buf
 * (len >= 27 holds any value). */
const char *tm_commas(uint64_t v, char *buf, size_t len);
/* "1.234 s", "12.0 ms", ... */
void tm_human_time(uint64_t ns, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_ANALYZER_UNITS_H */
