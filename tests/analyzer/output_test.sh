#!/bin/sh
# tests/analyzer/output_test.sh TIDEMARK TRACEGEN
# What every command does when its output cannot be written.
# - Standard output (/dev/full): one line on stderr naming why, exit 2, for
#   every command and for --help and --version too.
# - A file given with -o (report) or --junit (check) appears whole or not at
#   all: written beside it under a temporary name and renamed over it; on a
#   failure the temporary is removed, an existing file is left as it was, and
#   the one error line names the reason. A full file system is a 64 KiB tmpfs
#   in a private mount namespace (unshare; skipped where there is none); a
#   file size limit (ulimit -f: "File too large") is the same failure
#   everywhere.
set -u
T=$1; G=$2
if [ -z "${TIDEMARK_OUTPUT_NS:-}" ]; then # once: into a mount namespace of our own
    for u in "unshare -m" "unshare -rm"; do
        if $u true 2>/dev/null; then TIDEMARK_OUTPUT_NS=1 exec $u sh "$0" "$@"; fi
    done
fi
. "$(dirname "$0")/cli_lib.sh"
W=$(mktemp -d) || exit 1
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
fail=0
umask 022
"$G" seed seed.tmk && "$G" indirect ind.tmk || exit 1
"$T" report --no-symbols --format json -o seed.json seed.tmk || exit 1

to_full() { "$@" >/dev/full; }                         # stdout is /dev/full
small_limit() { (trap '' XFSZ; ulimit -f 1; exec "$@"); } # files end at 512 bytes
files_in() { (cd "$1" && ls -A | sort | tr '\n' ' '); }

# ---- standard output ------------------------------------------------------
stdout_fails() { # stdout_fails DESCRIPTION COMMAND...: exit 2, one line with the reason
    what=$1; shift
    expect 2 "$what > /dev/full" -- to_full "$@"
    one_line_error "^tidemark: cannot write to standard output: No space left on device$"
}
stdout_fails "--help" "$T" --help
stdout_fails "help" "$T" help
stdout_fails "--version" "$T" --version
stdout_fails "version" "$T" version
for c in run report check diff dump top; do stdout_fails "$c --help" "$T" $c --help; done
for f in text json html collapsed pprof openmetrics; do
    stdout_fails "report --format $f" "$T" report --no-symbols --format $f seed.tmk
done
stdout_fails "report -o -" "$T" report --no-symbols -o - seed.tmk
stdout_fails "check (a gate fails)" "$T" check --no-symbols seed.tmk
stdout_fails "check --format json" "$T" check --no-symbols --format json seed.tmk
stdout_fails "diff" "$T" diff --no-symbols seed.tmk ind.tmk
stdout_fails "diff --fail-on-increase" "$T" diff --no-symbols ind.tmk seed.tmk --fail-on-increase 1%
stdout_fails "dump" "$T" dump seed.tmk
stdout_fails "top" "$T" top seed.tmk --iterations 1
# and nothing changes when standard output can be written
expect 0 "diff to a file" -- "$T" diff --no-symbols seed.tmk ind.tmk
[ -s out.txt ] && [ ! -s err.txt ] || { echo "FAIL: diff wrote nothing or an error"; fail=1; }

# ---- -o FILE: written whole, or not at all --------------------------------
# success: a new file gets the umask's mode, an existing one keeps its mode,
# a symbolic link is followed (the file it names is replaced, the link
# stays), a FIFO is written into; no temporary file is left
mkdir ok && printf 'OLD\n' >ok/keep.json && chmod 640 ok/keep.json
ln -s keep.json ok/link.json
expect 0 "report -o new" -- "$T" report --no-symbols --format json -o ok/new.json seed.tmk
cmp -s ok/new.json seed.json || { echo "FAIL: -o new.json differs"; fail=1; }
[ "$(stat -c %a ok/new.json)" = 644 ] || { echo "FAIL: a new -o file is not 644 under umask 022"; fail=1; }
expect 0 "report -o existing" -- "$T" report --no-symbols --format json -o ok/keep.json seed.tmk
cmp -s ok/keep.json seed.json || { echo "FAIL: -o over an existing file"; fail=1; }
[ "$(stat -c %a ok/keep.json)" = 640 ] || { echo "FAIL: -o did not keep the file's mode 640"; fail=1; }
printf 'OLD\n' >ok/keep.json
expect 0 "report -o symlink" -- "$T" report --no-symbols --format json -o ok/link.json seed.tmk
[ -L ok/link.json ] && cmp -s ok/keep.json seed.json || { echo "FAIL: -o through a symlink"; ls -l ok; fail=1; }
# root keeps the owner of the file it replaces (where uid 65534 exists)
if printf 'OLD\n' >ok/owned.json && chown 65534:65534 ok/owned.json 2>/dev/null; then
    expect 0 "report -o another user's file" -- "$T" report --no-symbols --format json -o ok/owned.json seed.tmk
    [ "$(stat -c %u:%g ok/owned.json)" = 65534:65534 ] || { echo "FAIL: -o did not keep the owner"; fail=1; }
fi
rm -f ok/owned.json
[ "$(files_in ok)" = "keep.json link.json new.json " ] || { echo "FAIL: -o left files: $(files_in ok)"; fail=1; }
mkfifo ok/fifo && { cat ok/fifo >fifo.out & }
expect 0 "report -o FIFO" -- "$T" report --no-symbols --format json -o ok/fifo seed.tmk
wait
[ -p ok/fifo ] && cmp -s fifo.out seed.json || { echo "FAIL: -o into a FIFO"; fail=1; }
expect 2 "report -o missing directory" -- "$T" report --no-symbols -o nodir/r.txt seed.tmk
one_line_error "^tidemark: cannot write the text report to nodir/r.txt: No such file or directory$"
expect 2 "check --junit missing directory" -- "$T" check --no-symbols --junit nodir/j.xml seed.tmk
one_line_error "^tidemark: cannot write the JUnit XML to nodir/j.xml: No such file or directory$"

# failure: each file stops at 512 bytes (every report of seed.tmk here is
# longer); the old file stays, no file appears, nothing is left behind
mkdir lim && printf 'OLD\n' >lim/r.json && printf 'OLD\n' >lim/j.xml
for f in text json html openmetrics; do
    expect 2 "report $f past the file size limit" -- small_limit "$T" report --no-symbols --format $f -o lim/r.$f seed.tmk
    one_line_error "^tidemark: cannot write the $f report to lim/r.$f: File too large$"
done
expect 2 "check --junit past the file size limit" -- small_limit "$T" check --no-symbols --junit lim/j.xml seed.tmk
one_line_error "^tidemark: cannot write the JUnit XML to lim/j.xml: File too large$"
[ "$(files_in lim)" = "j.xml r.json " ] || { echo "FAIL: left behind in lim: $(files_in lim)"; fail=1; }
[ "$(cat lim/r.json lim/j.xml)" = "OLD
OLD" ] || { echo "FAIL: a failed -o changed the existing file"; fail=1; }

# a full file system: every format, and check --junit
if [ -n "${TIDEMARK_OUTPUT_NS:-}" ] && mkdir full && mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
    printf 'OLD\n' >full/r.json && printf 'OLD\n' >full/j.xml
    dd if=/dev/zero of=full/fill bs=4096 2>/dev/null # until the file system is full
    for f in text json html collapsed pprof openmetrics; do
        expect 2 "report $f on a full file system" -- "$T" report --no-symbols --format $f -o full/r.$f seed.tmk
        one_line_error "^tidemark: cannot write the $f report to full/r.$f: No space left on device$"
    done
    expect 2 "check --junit on a full file system" -- "$T" check --no-symbols --junit full/j.xml seed.tmk
    one_line_error "^tidemark: cannot write the JUnit XML to full/j.xml: No space left on device$"
    [ "$(files_in full)" = "fill j.xml r.json " ] || { echo "FAIL: left behind on the full file system: $(files_in full)"; fail=1; }
    [ "$(cat full/r.json full/j.xml)" = "OLD
OLD" ] || { echo "FAIL: a failed -o changed the existing file"; fail=1; }
    umount full
else
    echo "note: no private mount namespace here: the full file system case is skipped"
fi
exit $fail
