/* analyzer/read/liveness.h - whether a trace's process is still running, and the
 * trace's clock now (liveness.c). */
#ifndef TIDEMARK_ANALYZER_LIVENESS_H
#define TIDEMARK_ANALYZER_LIVENESS_H

#include <stdint.h>

#include "tidemark/trace_format.h"

/* 1 when the process that writes this trace is running on this machine: its
 * pid is alive, not a zombie, and is the same process (started no later
 * than the file, in this boot). */
int tm_process_running(const struct tmk_file_header *h);

/* Now, as a time of this trace (ns since its start_monotonic_ns; only
 * meaningful while tm_process_running says so). */
uint64_t tm_trace_now(const struct tmk_file_header *h);

/* Records older than this are on disk in a running process's trace (the
 * shim's handoff writes every buffer within about a second): a live trace
 * is read up to tm_trace_now() - TM_LIVE_SETTLE_NS, so that no record is
 * applied before an older one of another thread that is still on its way. */
#define TM_LIVE_SETTLE_NS 1500000000ull

#endif /* TIDEMARK_ANALYZER_LIVENESS_H */
