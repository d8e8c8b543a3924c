#!/bin/sh
# tests/e2e/check_run.sh TIDEMARK SEED_GROW WORKDIR
# check TRACE judges the whole run: the traces the run also left (the
# program's image after an exec, its children's) are judged with TRACE and
# named; --one-trace judges TRACE alone; a trace of another run that only
# looks like one of them is not taken.
set -u
T=$1; SEED=$2; W=$3
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
fail=0
bad() { echo "FAIL: $*"; cat out.txt; fail=1; }
printf '#!/bin/sh\nexec "$@"\n' >wrap.sh && chmod +x wrap.sh

# a wrapper script that execs the program: the table is in w.tmk.1
"$T" run -o w.tmk -- ./wrap.sh "$SEED" >/dev/null 2>&1
"$T" check --no-symbols w.tmk >out.txt; rc=$?
[ $rc = 1 ] || bad "check of a wrapper's trace: exit $rc, not 1"
grep -q "^note: w.tmk's run also wrote w.tmk.1 " out.txt || bad "check does not name w.tmk.1"
grep -q "^FAIL table 1 .* in w.tmk.1: oversized" out.txt || bad "the table is not named with its trace"
"$T" check --no-symbols --one-trace w.tmk >out.txt; rc=$?
[ $rc = 0 ] || bad "check --one-trace: exit $rc, not 0"
grep -q "^check passed: no tables (annotated or recognised) in this trace$" out.txt || bad "--one-trace summary"
"$T" check --no-symbols --format json w.tmk >out.txt
grep -q '"other_traces": \["w.tmk.1"\]' out.txt || bad "json other_traces"
# the same run as the baseline: merged on both sides, nothing grew
"$T" check --no-symbols --baseline w.tmk w.tmk >out.txt; rc=$?
[ $rc = 0 ] || bad "check --baseline of the same wrapper run: exit $rc"

# a shell that forks the program: the table is in the child's trace
"$T" run -o f.tmk -- sh -c '"$0" >/dev/null; exit 0' "$SEED" >/dev/null 2>&1
child=$(ls f.tmk.* 2>/dev/null | head -1)
[ -n "$child" ] || { echo "FAIL: no child trace"; fail=1; }
"$T" check --no-symbols f.tmk >out.txt; rc=$?
[ $rc = 1 ] || bad "check of a forking shell's trace: exit $rc, not 1"
grep -q "^FAIL table 1 .* in $child: oversized" out.txt || bad "the child's table is not named with $child"

# a template with %p: the child's trace is named by its pid
"$T" run -o 'p.%p.tmk' -- sh -c '"$0" >/dev/null; exit 0' "$SEED" >/dev/null 2>run.err
top=$(sed -n 's/^tidemark: trace written to //p' run.err)
[ -n "$top" ] || { echo "FAIL: run did not name its trace"; cat run.err; fail=1; }
"$T" check --no-symbols "$top" >out.txt; rc=$?
[ $rc = 1 ] || bad "check of $top (template p.%p.tmk): exit $rc, not 1"

# another run's trace that looks like a later image: not taken
"$T" run -o s.tmk -- /bin/true >/dev/null 2>&1
cp w.tmk.1 s.tmk.1
"$T" check --no-symbols s.tmk >out.txt; rc=$?
[ $rc = 0 ] || bad "check took another run's s.tmk.1: exit $rc"
grep -q "s.tmk.1" out.txt && bad "check names another run's s.tmk.1"

[ $fail = 0 ] && echo "check_run: all passed"
exit $fail
