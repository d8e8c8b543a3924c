/* analyzer/cli/output.h - what tidemark writes, and saying once, with the
 * reason, when it could not.
 *
 * Standard output: cli_output_init() makes `stdout` a stream over
 * descriptor 1 that keeps the first write error (errno), so that the one
 * error line names it ("No space left on device") whichever buffer met it;
 * main() checks it once at the end (cli_stdout_check), a command that must
 * stop early (top) checks it between refreshes. A command never reports a
 * failed standard output itself.
 *
 * A file (report -o, check --junit): written whole or not at all. The
 * output goes to a temporary file beside it (".NAME.XXXXXX", the same file
 * system) that is renamed over it once everything was written and closed;
 * on a failure the temporary is removed and an existing file is left as it
 * was. The file keeps the mode of the one it replaces (a new one: 0666 less
 * the umask, as fopen gives). A symbolic link is followed: the file it
 * names is replaced, the link stays. A path that exists and is not a
 * regular file (a FIFO, /dev/stdout, a device) is written in place, as
 * there is nothing to replace atomically; so is a dangling symbolic link. */
#ifndef TIDEMARK_ANALYZER_OUTPUT_H
#define TIDEMARK_ANALYZER_OUTPUT_H

#include <stdio.h>

struct cli_sink;

struct cli_output {
    FILE *f;              /* write here */
    const char *what;     /* "the json report": the error line's words */
    const char *path;     /* as given; NULL: standard output */
    char *target;         /* what the temporary is renamed to */
    char *tmp;            /* the temporary; NULL when written in place */
    struct cli_sink *sink; /* f's first write error; NULL for stdout */
};

/* Standard output as a stream that keeps its first write error; call first
 * thing in main. When it cannot (out of memory), stdout stays as it was and
 * errors are named from errno. */
void cli_output_init(void);

/* 0 when everything written to standard output so far went out; else the
 * one line "cannot write to standard output: REASON" (said once per
 * process, however often asked) and -1. */
int cli_stdout_check(void);

/* Opens PATH for writing (NULL: standard output) as above. 0, or -1
 * after "cannot write WHAT to PATH: REASON". WHAT must outlive o. */
int cli_output_open(struct cli_output *o, const char *path, const char *what);

/* Ends o. `failed`: the writer could not produce everything (its own
 * failure: when no write failed, the reason given is "out of memory").
 * A file: closed, and renamed over PATH when nothing failed, else removed.
 * Standard output: checked (cli_stdout_check). 0, or -1 after one error
 * line. */
int cli_output_close(struct cli_output *o, int failed);

#endif /* TIDEMARK_ANALYZER_OUTPUT_H */
