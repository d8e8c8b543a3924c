#!/bin/sh
# tests/analyzer/cli_test.sh TIDEMARK TRACEGEN GOLDEN_DIR
# Every subcommand, every exit code, golden text/json/dump output on
# synthetic traces. Set UPDATE_GOLDEN=1 to rewrite the golden files.
set -u
T=$1; G=$2; GOLD=$3
. "$(dirname "$0")/cli_lib.sh"
W=$(mktemp -d) || exit 1
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
fail=0
golden() { # golden NAME FILE
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then cp "$2" "$GOLD/$1"; return; fi
    if ! diff -u "$GOLD/$1" "$2"; then echo "FAIL: $1 differs from golden"; fail=1; fi
}

for s in seed seedtables seedsampled seedovf indirect two freed freedfull threads info newer noend execfail execfail-exit; do "$G" $s $s.tmk || exit 1; done
head -c 64 /dev/urandom >random.bin; : >empty.tmk; echo "hello" >text.tmk

expect 0 "--help" -- "$T" --help
grep -q "exit status" out.txt || { echo "FAIL: --help lacks exit codes"; fail=1; }
expect 0 "--version" -- "$T" --version
for c in run report check diff dump; do
    expect 0 "$c --help" -- "$T" $c --help
    # a help names no format but those read (majors 1 and 3); 2.x was never released
    ! grep -q "(2\.[0-9])" out.txt || { echo "FAIL: $c --help names format 2.x"; fail=1; }
done
expect 2 "no command" -- "$T"
expect 2 "unknown command" -- "$T" frobnicate; one_line_error "unknown command"

# report: formats, golden where deterministic
expect 0 "report text" -- "$T" report --no-symbols seed.tmk; golden seed.txt out.txt
head -1 out.txt | grep -q "^1 table retains 293.3 MiB after deletes" || { echo "FAIL: verdict"; fail=1; }
expect 0 "report json" -- "$T" report --no-symbols --format json -o seed.json seed.tmk
# the source root is this test's temporary directory
grep -q "\"source_root\": \"$(pwd -P)\"," seed.json || { echo "FAIL: json source_root"; fail=1; }
sed 's|"source_root": "[^"]*"|"source_root": "(the working directory)"|' seed.json >seed-golden.json
golden seed.json seed-golden.json
grep -q '"retained_bytes": 307494912' seed.json || { echo "FAIL: json retained"; fail=1; }
expect 0 "report indirect" -- "$T" report --no-symbols --format json indirect.tmk
grep -q '"retained_bytes": 40108032' out.txt || { echo "FAIL: indirect retained"; fail=1; }
expect 0 "report collapsed" -- "$T" report --no-symbols --format collapsed --weight retained seed.tmk
grep -q " 307494912$" out.txt || { echo "FAIL: collapsed weight"; fail=1; }
expect 0 "report html" -- "$T" report --no-symbols --format html -o seed.html seed.tmk
grep -q "<html" seed.html || { echo "FAIL: html"; fail=1; }
# rebuild advice: Go's capacity is 2^B x 6.5, not counting the preallocated
# overflow buckets gomap reports in buckets (2^18 x 6.5 = 1703936)
expect 0 "report seedovf" -- "$T" report --no-symbols seedovf.tmk
grep -q "(0 of 1703936 now)" out.txt || { echo "FAIL: rebuild capacity is not 2^B x 6.5"; grep capacity out.txt; fail=1; }
grep -q " 278528 " out.txt || { echo "FAIL: seedovf buckets are not 2^18 + 2^14"; fail=1; }
expect 0 "report --top --at" -- "$T" report --no-symbols --top 1 --at 50ms seed.tmk
head -1 out.txt | grep -q "^no table is oversized (1 table checked)$" || { echo "FAIL: --at 50ms verdict"; fail=1; }
expect 0 "report truncated" -- "$T" report --no-symbols noend.tmk
grep -q "warning: the trace is truncated" out.txt || { echo "FAIL: truncated warning"; fail=1; }
expect 2 "report newer" -- "$T" report newer.tmk
one_line_error "trace version 4.3 is newer than this tidemark (3.1)"
expect 2 "report empty" -- "$T" report empty.tmk; one_line_error "empty"
expect 2 "report text file" -- "$T" report text.tmk; one_line_error "not a tidemark trace"
expect 2 "report random" -- "$T" report random.bin; one_line_error "tidemark:"
expect 2 "report missing" -- "$T" report nosuch.tmk; one_line_error "cannot open"
expect 2 "report bad format" -- "$T" report --format pdf seed.tmk; one_line_error "format"
expect 2 "report bad --at" -- "$T" report --at soon seed.tmk; one_line_error "--at"
expect 2 "report bad --top" -- "$T" report --top -3 seed.tmk; one_line_error "top"
# number flags: one parser per kind of value (cli.c), strict: a value past
# 64 bits is too large (never taken as the largest), no hex, no exponent;
# the error names the flag as the option is spelled, then the value
BIG=99999999999999999999999
expect 2 "report --top too large" -- "$T" report --top $BIG seed.tmk
one_line_error "^tidemark: --top: '$BIG' is too large (expected a whole number in 0\.\.18446744073709551615)$"
expect 2 "top --top too large" -- "$T" top --top=$BIG seed.tmk; one_line_error "^tidemark: --top: '$BIG' is too large"
expect 2 "top --iterations too large" -- "$T" top --iterations $BIG seed.tmk
one_line_error "^tidemark: --iterations: '$BIG' is too large (expected a whole number in 1\.\.18446744073709551615)$"
expect 2 "top --iterations 0" -- "$T" top --iterations=0 seed.tmk
one_line_error "^tidemark: --iterations: bad value '0' (expected a whole number in 1\.\.18446744073709551615)$"
expect 2 "top --interval 1ms" -- "$T" top --interval=1ms seed.tmk
one_line_error "^tidemark: --interval: bad value '1ms' (expected a time of 100ms or more)$"
for a in "--min-retained=-5" "--min-retained -5"; do
    expect 2 "report $a" -- "$T" report $a seed.tmk
    one_line_error "^tidemark: --min-retained: bad value '-5' (expected a size"
done
for v in 0x10 1e3 1.5.5 12XB " 5"; do
    expect 2 "check --max-retained '$v'" -- "$T" check --max-retained "$v" seed.tmk
    one_line_error "^tidemark: --max-retained: bad value '$v' (expected a size"
done
expect 2 "report --min-retained too large" -- "$T" report --min-retained=${BIG}KiB seed.tmk
one_line_error "^tidemark: --min-retained: '${BIG}KiB' is too large (expected a size below 16 EiB"
expect 2 "report --at too large" -- "$T" report --at ${BIG}s seed.tmk
one_line_error "^tidemark: --at: '${BIG}s' is too large (expected a time below 584 years"
expect 2 "report --at=-1s" -- "$T" report --at=-1s seed.tmk; one_line_error "^tidemark: --at: bad value '-1s' (expected a time"
expect 2 "check --max-growth=abc" -- "$T" check --baseline seed.json --max-growth=abc seed.tmk
one_line_error "^tidemark: --max-growth: bad value 'abc' (expected"
expect 2 "diff --fail-on-increase too large" -- "$T" diff seed.tmk indirect.tmk --fail-on-increase $BIG
one_line_error "^tidemark: --fail-on-increase: '$BIG' is too large (expected SIZE or PCT%"
expect 0 "report --min-retained 1.5GiB" -- "$T" report --no-symbols --min-retained 1.5GiB --format json seed.tmk
grep -q '"min_retained_bytes": 1610612736' out.txt || { echo "FAIL: 1.5GiB"; grep min_retained out.txt; fail=1; }
# --help and --version take no operand; `help COMMAND` is COMMAND --help
expect 2 "--version extra" -- "$T" --version extra; one_line_error "^tidemark: --version takes no operand ('extra' is extra)$"
expect 2 "version extra" -- "$T" version extra; one_line_error "^tidemark: version takes no operand ('extra' is extra)$"
expect 0 "help report" -- "$T" help report; grep -q "^usage: tidemark report TRACE" out.txt || { echo "FAIL: help report"; fail=1; }
expect 0 "--help diff" -- "$T" --help diff; grep -q "^usage: tidemark diff OLD NEW" out.txt || { echo "FAIL: --help diff"; fail=1; }
expect 2 "help nosuch" -- "$T" help nosuch; one_line_error "^tidemark: unknown command 'nosuch' (see tidemark --help)$"
expect 2 "help report extra" -- "$T" help report extra; one_line_error "^tidemark: help takes one COMMAND at most ('extra' is extra)$"
# an END(EXEC) its thread went on after (the exec failed): not the end
expect 0 "report after a failed exec" -- "$T" report --no-symbols --format json execfail.tmk
grep -q '"ended": false' out.txt || { echo "FAIL: a failed exec's END taken for the end"; fail=1; }
grep -q 'no END record' out.txt || { echo "FAIL: no 'no END record' warning after a failed exec"; fail=1; }
expect 0 "report failed exec, then exit" -- "$T" report --no-symbols --format json execfail-exit.tmk
grep -q '"end_why": "exit", "end_status": 3' out.txt ||
    { echo "FAIL: the exit after a failed exec is not the trace's end"; fail=1; }

# a FIFO, a directory, a device: refused at once with one line, exit 2,
# wherever an input is opened (timeout: a blocking open fails the test)
mkfifo fifo.tmk || { echo "FAIL: mkfifo"; fail=1; }
for c in report dump check; do
    expect 2 "$c FIFO" -- timeout 20 "$T" $c fifo.tmk
    one_line_error "fifo.tmk: not a regular file (a FIFO)$"
done
expect 2 "check --baseline FIFO" -- timeout 20 "$T" check --no-symbols --max-retained 1GiB --baseline fifo.tmk seed.tmk
one_line_error "fifo.tmk: not a regular file (a FIFO)$"
expect 2 "diff FIFO old" -- timeout 20 "$T" diff --no-symbols fifo.tmk seed.tmk
one_line_error "fifo.tmk: not a regular file (a FIFO)$"
expect 2 "diff FIFO new" -- timeout 20 "$T" diff --no-symbols seed.json fifo.tmk
one_line_error "fifo.tmk: not a regular file (a FIFO)$"
expect 2 "report directory" -- timeout 20 "$T" report "$W"; one_line_error "not a regular file (a directory)$"
expect 2 "report device" -- timeout 20 "$T" report /dev/null; one_line_error "not a regular file (a character device)$"

# dump
expect 0 "dump" -- "$T" dump threads.tmk; golden threads.dump out.txt
# 3.0: a zstd block, heap by info as read (ALLOC_INFO, FREE_INFO, TABLE_ARRAY info=)
expect 0 "dump info" -- "$T" dump info.tmk; golden info.dump out.txt
expect 2 "dump newer" -- "$T" dump newer.tmk; one_line_error "newer"

# check: 0 pass, 1 gate failed (table named with figures), 2 cannot judge
expect 1 "check default gate" -- "$T" check --no-symbols seed.tmk
grep -q "FAIL table 1 .*307,494,912 B" out.txt || { echo "FAIL: check names the table"; fail=1; }
expect 0 "check max-retained passes" -- "$T" check --no-symbols --max-retained 300MiB indirect.tmk
expect 1 "check max-retained fails" -- "$T" check --no-symbols --max-retained 38MiB indirect.tmk
expect 1 "check ratio" -- "$T" check --no-symbols --max-retained-ratio 50% seed.tmk
expect 0 "check baseline same" -- "$T" check --no-symbols --max-retained 1GiB --baseline seed.json seed.tmk
"$T" report --no-symbols --format json -o indirect.json indirect.tmk
expect 1 "check baseline grew" -- "$T" check --no-symbols --max-retained 1GiB --baseline indirect.json seed.tmk
expect 0 "check baseline shrank" -- "$T" check --no-symbols --max-retained 1GiB --baseline seed.json indirect.tmk
expect 2 "check truncated" -- "$T" check noend.tmk; one_line_error "truncated"
expect 0 "check --allow-truncated" -- "$T" check --allow-truncated noend.tmk
# --until-freed needs a report's last_* (schema minor 2): an older one is refused
"$T" report --no-symbols --format json seed.tmk | sed -E 's/"schema_minor": [0-9]+,/"schema_minor": 1,/' >minor1.json
expect 2 "check --until-freed, minor 1" -- "$T" check --until-freed minor1.json
one_line_error "schema minor 1.*cannot judge --until-freed"
expect 2 "check --until-freed, minor 1 baseline" -- "$T" check --until-freed --baseline minor1.json seed.tmk
one_line_error "schema minor 1.*cannot judge --until-freed"
expect 1 "check --until-freed, minor 2" -- "$T" check --until-freed seed.tmk
expect 2 "check bad size" -- "$T" check --max-retained 12XB seed.tmk; one_line_error "12XB"
expect 2 "check bad baseline" -- "$T" check --baseline text.tmk seed.tmk; one_line_error "text.tmk"
expect 2 "check newer" -- "$T" check newer.tmk; one_line_error "newer"
# --max-growth only means something against a baseline
expect 2 "check --max-growth without --baseline" -- "$T" check --no-symbols --max-growth 5 seed.tmk
one_line_error "--max-growth needs --baseline"
# ratios: R in [0,1] or P% in [0,100], one parser for every ratio flag
expect 1 "check ratio 0.5" -- "$T" check --no-symbols --max-retained-ratio 0.5 seed.tmk
expect 0 "check ratio 1 = 100%" -- "$T" check --no-symbols --max-retained-ratio 1 seed.tmk
expect 0 "check ratio 100%" -- "$T" check --no-symbols --max-retained-ratio 100% seed.tmk
for r in 1.5 50 150% -0.1 abc 0.5x ""; do
    expect 2 "check ratio '$r'" -- "$T" check --no-symbols --max-retained-ratio "$r" seed.tmk
    one_line_error "--max-retained-ratio: bad value"
done
expect 0 "report --min-ratio 0.9%" -- "$T" report --no-symbols --format json --min-ratio 0.9% seed.tmk
grep -q '"min_retained_ratio": 0.0090' out.txt || { echo "FAIL: --min-ratio 0.9% is not 0.009"; fail=1; }
expect 0 "report --min-ratio 50%" -- "$T" report --no-symbols --format json --min-ratio=50% seed.tmk
grep -q '"min_retained_ratio": 0.5000' out.txt || { echo "FAIL: --min-ratio 50% is not 0.5"; fail=1; }
for r in 1.5 101% 50 abc; do
    expect 2 "report --min-ratio '$r'" -- "$T" report --no-symbols --min-ratio "$r" seed.tmk
    one_line_error "--min-ratio: bad value"
    expect 2 "check --min-ratio '$r'" -- "$T" check --no-symbols --min-ratio "$r" seed.tmk
    one_line_error "--min-ratio: bad value"
done
# --at is an analysis flag of check and diff too, and their --help says so;
# every command's --help names each of its flags once
for c in report check diff; do
    expect 0 "$c --help" -- "$T" $c --help
    grep -q -e "--at TIME" out.txt || { echo "FAIL: $c --help does not list --at"; fail=1; }
    twice=$(grep -o -e '^  --[a-z-]*' out.txt | sort | uniq -d)
    [ -z "$twice" ] || { echo "FAIL: $c --help lists twice: $twice"; fail=1; }
done
expect 0 "check --at" -- "$T" check --no-symbols --at 50ms seed.tmk

# a baseline written with --top N says so, and a table it does not list is
# unknown there (not judged), not 0 bytes
expect 0 "report --top 1 json" -- "$T" report --no-symbols --format json --top 1 -o top1.json two.tmk
grep -q '"top": 1' top1.json || { echo "FAIL: --top 1 json lacks \"top\": 1"; fail=1; }
grep -q '"top": 0' seed.json || { echo "FAIL: json without --top lacks \"top\": 0"; fail=1; }
expect 0 "check against a --top baseline" -- "$T" check --no-symbols --max-retained 1GiB --baseline top1.json two.tmk
grep -q "^FAIL" out.txt && { echo "FAIL: a table missing from a --top baseline failed"; cat out.txt; fail=1; }
grep -q "table 2 0x403000: not in the baseline" out.txt || { echo "FAIL: check does not say table 2 is unknown"; cat out.txt; fail=1; }
expect 0 "diff --top report vs trace" -- "$T" diff --no-symbols top1.json two.tmk
grep -q "\[new\]" out.txt && { echo "FAIL: diff calls a table missing from a --top report new"; cat out.txt; fail=1; }
grep -q "0x403000 .*\[not listed in OLD" out.txt || { echo "FAIL: diff does not mark 0x403000 not listed"; cat out.txt; fail=1; }
expect 0 "diff trace vs --top report" -- "$T" diff --no-symbols two.tmk top1.json
grep -q "\[gone\]" out.txt && { echo "FAIL: diff calls a table missing from a --top report gone"; cat out.txt; fail=1; }
# tables and sites match across working directories: a site is compared by
# its last path component ("/src/a/examples/seed.c:56" = "examples/seed.c:56")
sed 's|"0x401234"|"/home/ci/src/examples/seed.c:56"|g; s|"0x401400"|"/home/ci/src/lib/buf.c:9"|g' seed.json >abs.json
sed 's|"0x401234"|"examples/seed.c:56"|g; s|"0x401400"|"lib/buf.c:9"|g' seed.json >rel.json
expect 0 "diff across directories" -- "$T" diff abs.json rel.json
# a count past 64 bits in a report is damage, not the largest count
sed 's|"retained_bytes": 307494912|"retained_bytes": 99999999999999999999999|' seed.json >big.json
expect 2 "diff a report with a count past 64 bits" -- "$T" diff big.json seed.json
one_line_error "^tidemark: big.json: not a JSON report (integer past 64 bits at byte [0-9]*)$"
grep -q -e "\[new\]" -e "\[gone\]" -e "(gone)" out.txt && { echo "FAIL: diff across directories does not match"; cat out.txt; fail=1; }

# check's formats and diff's gate on synthetic traces (tests/verdict checks
# what they say; here they also run in the sanitizer build)
for f in text json github junit; do
    expect 1 "check --format $f" -- "$T" check --no-symbols --format $f --junit j.xml seed.tmk
    grep -q "testcase classname=\"tidemark.oversized\"" j.xml || { echo "FAIL: --junit with $f"; fail=1; }
    expect 0 "check --format $f, a --top baseline" -- "$T" check --no-symbols --format $f --baseline top1.json two.tmk
done
grep -q "<skipped message=\"table 2 0x403000: not in the baseline" out.txt || { echo "FAIL: junit skipped"; cat out.txt; fail=1; }
# a JSON report is judged with check's thresholds, as a trace is
expect 1 "check a JSON report" -- "$T" check --format json seed.json
expect 0 "check a JSON report, --min-retained 1GiB" -- "$T" check --format json seed.json --min-retained 1GiB
grep -q '"status": "passed"' out.txt || { echo "FAIL: a JSON report judged with --min-retained"; fail=1; }
expect 1 "diff --fail-on-increase" -- "$T" diff --no-symbols indirect.tmk seed.tmk --fail-on-increase 10%
grep -q "^increase: 0x401234 retained +255.0 MiB, +666.7% > --fail-on-increase 10%$" out.txt ||
    { echo "FAIL: diff --fail-on-increase line"; cat out.txt; fail=1; }
expect 0 "diff --fail-on-increase, a decrease" -- "$T" diff --no-symbols seed.tmk indirect.tmk --fail-on-increase 0
# --until-freed: a table freed while oversized (freed.tmk: emptied, then
# freed) compared by what it held until then, as check --until-freed does;
# freedfull.tmk's was full when freed: nothing to see there
expect 0 "diff freed, without --until-freed" -- "$T" diff --no-symbols freedfull.tmk freed.tmk --fail-on-increase 0
expect 1 "diff --until-freed" -- "$T" diff --no-symbols freedfull.tmk freed.tmk --fail-on-increase 0 --until-freed
grep -q "^  0x402000 .* 0 B -> *9.6 MiB (+9.6 MiB)  held 0 B -> 9.6 MiB  (new: until freed)$" out.txt ||
    { echo "FAIL: diff --until-freed row"; cat out.txt; fail=1; }
grep -q "^increase: 0x402000 retained +9.6 MiB > --fail-on-increase 0 B$" out.txt ||
    { echo "FAIL: diff --until-freed increase"; cat out.txt; fail=1; }
"$T" report --no-symbols --format json -o freed.json freed.tmk
expect 0 "diff --until-freed, the same run as a report" -- "$T" diff --no-symbols freed.json freed.tmk --fail-on-increase 0 --until-freed
grep -q "9.6 MiB -> *9.6 MiB (=).*  (until freed)$" out.txt || { echo "FAIL: diff --until-freed report vs trace"; cat out.txt; fail=1; }
expect 0 "diff --until-freed, a decrease" -- "$T" diff --no-symbols freed.tmk freedfull.tmk --fail-on-increase 0 --until-freed
grep -q "(old: until freed)$" out.txt || { echo "FAIL: diff --until-freed old side"; cat out.txt; fail=1; }
"$T" report --no-symbols --format json freed.tmk | sed -E 's/"schema_minor": [0-9]+,/"schema_minor": 1,/' >freed-minor1.json
expect 2 "diff --until-freed, minor 1" -- "$T" diff --no-symbols freed-minor1.json freed.tmk --until-freed
one_line_error "^tidemark: diff: freed-minor1.json is a report of schema minor 1, .*cannot judge --until-freed"
expect 2 "diff bad --fail-on-increase" -- "$T" diff seed.tmk indirect.tmk --fail-on-increase 5x
one_line_error "--fail-on-increase: bad value '5x'"

# diff: traces and reports in any mix
expect 0 "diff traces" -- "$T" diff --no-symbols seed.tmk indirect.tmk; golden seed-indirect.diff out.txt
expect 0 "diff json vs trace" -- "$T" diff --no-symbols seed.json indirect.tmk
grep -q "293.3 MiB -> 38.3 MiB" out.txt || { echo "FAIL: diff figures"; fail=1; }
expect 2 "diff one arg" -- "$T" diff seed.tmk; one_line_error "OLD and NEW"
# a tables-mode or sampled trace does not track the heap: diff says so on its
# side and compares neither the heap peak nor the allocation sites (a JSON
# report of it says the same); its tables are compared as usual
"$T" report --no-symbols --format json -o seedtables.json seedtables.tmk
for old in seed.tmk seed.json; do
    for new in seedtables.tmk seedsampled.tmk seedtables.json; do
        expect 0 "diff $old $new" -- "$T" diff --no-symbols $old $new
        grep -q "^heap peak: 439.9 MiB -> not tracked (not compared: NEW is a tables-mode or sampled trace)$" out.txt &&
            grep -q "^allocation sites: not compared (NEW is a tables-mode or sampled trace)$" out.txt &&
            grep -q "^  0x401234  *293.3 MiB ->  293.3 MiB (=)  held" out.txt ||
            { echo "FAIL: diff $old $new compares an untracked heap"; cat out.txt; fail=1; }
    done
done
expect 0 "diff tables vs full" -- "$T" diff --no-symbols seedtables.tmk seed.tmk
grep -q "^heap peak: not tracked -> 439.9 MiB (not compared: OLD is a tables-mode or sampled trace)$" out.txt ||
    { echo "FAIL: diff tables vs full"; cat out.txt; fail=1; }
expect 0 "diff tables vs sampled" -- "$T" diff --no-symbols seedtables.tmk seedsampled.tmk
grep -q "^heap peak: not tracked -> not tracked (not compared: OLD and NEW are tables-mode or sampled traces)$" out.txt ||
    { echo "FAIL: diff tables vs sampled"; cat out.txt; fail=1; }
expect 0 "diff --fail-on-increase full vs tables" -- "$T" diff --no-symbols seed.tmk seedtables.tmk --fail-on-increase 0
# a truncated side: said first; its heap peak is not compared; a gate
# refuses it unless --allow-truncated (as check does)
expect 0 "diff vs truncated" -- "$T" diff --no-symbols seed.tmk noend.tmk
head -1 out.txt | grep -q "^warning: NEW noend.tmk is truncated; its figures cover what was complete$" &&
    grep -q "^heap peak: 439.9 MiB -> 64 B (not compared: NEW is truncated)$" out.txt ||
    { echo "FAIL: diff vs a truncated trace"; cat out.txt; fail=1; }
expect 2 "diff --fail-on-increase, truncated OLD" -- "$T" diff --no-symbols noend.tmk seed.tmk --fail-on-increase 10%
one_line_error "^tidemark: diff: OLD noend.tmk is truncated; cannot judge an increase (pass --allow-truncated to judge what is complete)$"
expect 1 "diff --fail-on-increase --allow-truncated" -- "$T" diff --no-symbols noend.tmk seed.tmk --fail-on-increase 10% --allow-truncated
# check: a truncated baseline is refused as a truncated TRACE is; tables
# are judged across modes (they are recorded in every mode)
expect 2 "check, truncated baseline" -- "$T" check --no-symbols --baseline noend.tmk seed.tmk
one_line_error "^tidemark: check: the baseline noend.tmk is truncated; cannot judge (pass --allow-truncated to judge what is complete)$"
expect 1 "check, truncated baseline, --allow-truncated" -- "$T" check --no-symbols --allow-truncated --baseline noend.tmk seed.tmk
expect 0 "check --baseline full, tables trace" -- "$T" check --no-symbols --baseline seed.json seedtables.tmk
expect 0 "check --baseline tables, sampled trace" -- "$T" check --no-symbols --baseline seedtables.json seedsampled.tmk

# run: status passthrough and errors
expect 2 "run no program" -- "$T" run --; one_line_error "missing PROGRAM"
expect 2 "run bad mode" -- "$T" run --mode fast -- true; one_line_error "mode"
if [ -e "$(dirname "$T")/../preload/libtidemark.so" ]; then
    expect 3 "run exit status" -- "$T" run -o "$W/r.%p.tmk" -- sh -c 'exit 3'
    grep -q "trace written to $W/r\." err.txt || { echo "FAIL: run names the trace"; fail=1; }
    expect 137 "run signal" -- "$T" run --no-summary -o "$W/k.%p.tmk" -- sh -c 'kill -9 $$'
    expect 127 "run missing program" -- "$T" run -o "$W/m.%p.tmk" -- /nonexistent/prog
    # an existing -o path: refused before the program starts (the shim would
    # write PATH.1 and run would summarize the old file)
    "$G" seed "$W/old.tmk"
    expect 2 "run -o existing" -- "$T" run -o "$W/old.tmk" -- sh -c ': >ran.txt'
    one_line_error "$W/old.tmk exists; remove it or choose another -o"
    [ ! -e ran.txt ] || { echo "FAIL: run started the program despite an existing -o"; fail=1; }
    [ ! -e "$W/old.tmk.1" ] || { echo "FAIL: run -o existing wrote old.tmk.1"; fail=1; }
    # what else run refuses before the program starts (run_check.c; all of
    # them: tests/preload/run_test.py refusals), and its list of children
    expect 2 "run -o empty" -- "$T" run -o "" -- sh -c ': >ran.txt'; one_line_error "-o is empty"
    expect 2 "run -o missing dir" -- "$T" run -o "$W/nodir/t.tmk" -- sh -c ': >ran.txt'
    one_line_error "cannot create the trace $W/nodir/t.tmk: No such file or directory"
    expect 127 "run not found" -- "$T" run -o "$W/nf.tmk" -- no-such-program-tidemark
    one_line_error "no-such-program-tidemark: command not found"
    [ ! -e ran.txt ] || { echo "FAIL: run started the program it refused"; fail=1; }
    expect 0 "run children" -- "$T" run --no-summary -o "$W/ch.tmk" -- sh -c 'sort </dev/null; true'
    grep -q "^tidemark: child process [0-9]* (parent [0-9]*): $W/ch.tmk.[0-9]*$" err.txt ||
        { echo "FAIL: run does not list the child"; cat err.txt; fail=1; }
    # %e and %% expanded as the shim does
    expect 0 "run -o %e.%p" -- "$T" run --no-summary -o "$W/x.%e.%p.tmk" -- sh -c 'exit 0'
    grep -q "trace written to $W/x\.sh\.[0-9]*\.tmk$" err.txt ||
        { echo "FAIL: run -o x.%e.%p.tmk"; cat err.txt; fail=1; }
    expect 0 "run -o %%" -- "$T" run --no-summary -o "$W/pct%%.%p.tmk" -- sh -c 'exit 0'
    grep -q "trace written to $W/pct%\.[0-9]*\.tmk$" err.txt ||
        { echo "FAIL: run -o pct%%.%p.tmk"; cat err.txt; fail=1; }
    # an exec'ed image writes PATH.1 (same pid): run says so
    expect 0 "run exec" -- "$T" run -o "$W/ex.tmk" -- sh -c 'exec sh -c "exit 0"'
    grep -q "trace written to $W/ex.tmk$" err.txt || { echo "FAIL: run exec: first trace"; fail=1; }
    grep -q "the program exec'ed; its new image's trace is $W/ex.tmk.1$" err.txt ||
        { echo "FAIL: run exec does not name ex.tmk.1"; cat err.txt; fail=1; }
    grep -q "summarizing the program's last image: $W/ex.tmk.1$" err.txt &&
        grep -q "full report: tidemark report $W/ex.tmk.1$" err.txt ||
        { echo "FAIL: run exec does not summarize the last image"; cat err.txt; fail=1; }
    # a baseline written in another directory (sites relative there) matches
    SEED="$(dirname "$T")/../examples/seed_grow"
    SRC=$(cd "$GOLD/../../.." && pwd)
    # (not in a sanitizer build: an ASan program refuses a preloaded ASan shim)
    if [ -x "$SEED" ] && [ "${TIDEMARK_TEST_SANITIZED:-0}" != 1 ]; then
        "$T" run --no-summary -o "$W/sg.tmk" -- "$SEED" --n 20000 >/dev/null 2>&1
        (cd "$SRC" && "$T" report --format json -o "$W/sg-src.json" "$W/sg.tmk") ||
            { echo "FAIL: report from the source directory"; fail=1; }
        grep -q '"site": "examples/seed.c:' "$W/sg-src.json" ||
            { echo "FAIL: expected a relative site in sg-src.json"; grep '"site"' "$W/sg-src.json" | head -2; fail=1; }
        expect 0 "check --baseline from another directory" -- "$T" check --max-retained 1GiB --baseline "$W/sg-src.json" "$W/sg.tmk"
        grep -q "^FAIL" out.txt && { echo "FAIL: baseline from another directory does not match"; cat out.txt; fail=1; }
        expect 0 "diff from another directory" -- "$T" diff "$W/sg-src.json" "$W/sg.tmk"
        grep -q -e "\[new\]" -e "\[gone\]" out.txt && { echo "FAIL: diff from another directory does not match"; cat out.txt; fail=1; }
    fi
    expect 0 "run no exec" -- "$T" run -o "$W/noex.tmk" -- sh -c 'exit 0'
    ! grep -q "exec'ed" err.txt || { echo "FAIL: run without exec mentions exec"; fail=1; }
fi
exit $fail
