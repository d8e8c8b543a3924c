#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS [FUZZER SEEDS WORKDIR]] - fuzzes the trace reader
# (and the analysis and every report format behind it) for a bounded time.
#   SECONDS  fuzzing time; "-" or absent = $TIDEMARK_FUZZ_SECONDS or 60
#   FUZZER   the fuzz_reader binary; absent = configure and build build-fuzz/
#            with clang in the repository root, and use its seeds
# Exit 0 when nothing was found; else libFuzzer's status, with the crashing
# input left in WORKDIR (copy it to tests/fuzz/regress/ with the fix).
set -euo pipefail
secs=${1:--}
[ "$secs" = - ] && secs=${TIDEMARK_FUZZ_SECONDS:-60}
case $secs in ''|*[!0-9]*) echo "run.sh: SECONDS must be a number, not '$secs'" >&2; exit 2;; esac

if [ $# -ge 4 ]; then
  fuzzer=$2 seeds=$3 work=$4
else
  root=$(cd "$(dirname "$0")/../.." && pwd)
  build=$root/build-fuzz
  CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTIDEMARK_FUZZ=ON -DTIDEMARK_BENCH=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target fuzz_reader fuzz_seeds >/dev/null
  fuzzer=$build/tests/fuzz/fuzz_reader seeds=$build/tests/fuzz/seeds work=$build/tests/fuzz/work
fi

corpus=$work/corpus
mkdir -p "$corpus"
cp "$seeds"/*.tmk "$corpus"/
here=$(cd "$(dirname "$0")" && pwd)
cp "$here"/regress/* "$corpus"/ 2>/dev/null || true
rm -f "$corpus"/README

echo "fuzzing $fuzzer for ${secs}s (corpus $corpus)"
status=0
# -timeout: an input taking 10 s is a hang; -rss_limit_mb bounds memory.
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -dict="$here/trace.dict" -print_final_stats=1 -artifact_prefix="$work/" \
  "$corpus" 2>"$work/fuzz.log" || status=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)' "$work/fuzz.log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$work/fuzz.log"
  echo "run.sh: the fuzzer found a problem (status $status); inputs:" >&2
  ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-* 2>/dev/null >&2 || true
fi
exit "$status"
