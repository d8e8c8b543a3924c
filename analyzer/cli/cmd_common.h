/* analyzer/cli/cmd_common.h - what report, check and diff share: the analysis
 * flags and loading a model with one-line errors. */
#ifndef TIDEMARK_ANALYZER_CMD_COMMON_H
#define TIDEMARK_ANALYZER_CMD_COMMON_H

#include "model/model.h"

#define ANALYSIS_FLAGS_HELP                                                          \
    "  --min-retained SIZE a table is oversized from this many retained bytes\n"     \
    "                      (default 1MiB; sizes take B, KiB, MiB, GiB)\n"            \
    "  --min-ratio R       ... and when retained/held >= R (default 0.5; R in 0..1,\n"  \
    "                      or a percentage P% in 0..100%)\n"                         \
    "  --at TIME           evaluate at TIME since the start (1.5s, 200ms, 10us, 5ns)\n" \
    "  --no-symbols        do not read binaries for symbols (addresses only)\n"     \
    "  --sysroot DIR       look for the traced binaries under DIR\n"               \
    "  --source-root DIR   sites are file:line relative to DIR when under it\n"      \
    "                      (default: the working directory)\n" \
    "  --rules FILE        more rules for tables nobody annotated (tried before the\n" \
    "                      built-in ones; docs/table-rules.md)\n"

/* Consumes one analysis flag at argv[*i] into o: returns 1 if it was one
 * (then *err = 1 if its value was bad, after printing why), else 0. */
int cmd_parse_analysis_flag(int argc, char **argv, int *i, struct tm_options *o, int *err);
/* Sets o->source_root to the working directory when no --source-root was
 * given (so that reports can say what their sites are relative to). */
void cmd_default_source_root(struct tm_options *o);
/* tm_analyze with the error printed; 0 or -1. */
int cmd_load_model(const char *path, const struct tm_options *o, struct tm_model *m);

#endif /* TIDEMARK_ANALYZER_CMD_COMMON_H */
