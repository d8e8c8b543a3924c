#!/usr/bin/env bash
# bench/profile.sh - where the shim (or the analyzer) spends its time.
#
#   bench/profile.sh shim [MODE] [W1 args...]   perf + callgrind of bench_w1 under
#                                               libtidemark.so (MODE full|tables)
#   bench/profile.sh analyzer TRACE.tmk         perf + callgrind of `tidemark report`
#
# perf samples cpu-clock (this VM has no hardware counters) with call graphs;
# callgrind gives exact instruction counts per function on a smaller run.
# Output: the top of both reports on stdout; the raw files under OUT
# (default a new /tmp/tidemark-profile.* directory, or $PROFILE_OUT).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="${BUILD:-$here/../build}"
out="${PROFILE_OUT:-$(mktemp -d /tmp/tidemark-profile.XXXXXX)}"
mkdir -p "$out"
what="${1:-}"
[ $# -gt 0 ] && shift

top_perf() {
    perf report -i "$1" --no-children --sort dso,symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 30  || true
}

top_callgrind() {
    callgrind_annotate --inclusive=no "$1" 2>/dev/null | sed -n '/^Ir/,$p' | head -n 35 || true
}

case "$what" in
shim)
    mode="${1:-full}"
    [ $# -gt 0 ] && shift
    args=("$@")
    [ ${#args[@]} -gt 0 ] || args=(--allocs 2000000)
    w1="$build/bench/workloads/bench_w1"
    shim="$build/preload/libtidemark.so"
    rm -f "$out"/perf-*.tmk "$out"/cg-*.tmk
    # The shim goes to the workload only (env after perf/valgrind), never
    # into the profiler's own processes.
    perf record -e cpu-clock -g -o "$out/perf.data" env LD_PRELOAD="$shim" TIDEMARK_MODE="$mode" \
        TIDEMARK_OUTPUT="$out/perf-%p.tmk" "$w1" "${args[@]}" >/dev/null 2>"$out/perf.err"
    echo "== perf, W1 ${args[*]} under TIDEMARK_MODE=$mode (self time, by dso and symbol)"
    top_perf "$out/perf.data"
    rm -f "$out"/callgrind.*.out
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out/callgrind.%p.out" \
        env LD_PRELOAD="$shim" TIDEMARK_MODE="$mode" TIDEMARK_OUTPUT="$out/cg-%p.tmk" \
        "$w1" --allocs 300000 >/dev/null 2>"$out/callgrind.err"
    echo "== callgrind, W1 --allocs 300000 under TIDEMARK_MODE=$mode (self instructions)"
    top_callgrind "$(ls -S "$out"/callgrind.*.out | head -n1)"
    ;;
analyzer)
    trace="${1:?usage: profile.sh analyzer TRACE.tmk}"
    tm="$build/analyzer/tidemark"
    perf record -e cpu-clock -g -o "$out/perf.data" "$tm" report "$trace" >/dev/null 2>"$out/perf.err"
    echo "== perf, tidemark report $trace (self time, by dso and symbol)"
    top_perf "$out/perf.data"
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
        "$tm" report "$trace" >/dev/null 2>"$out/callgrind.err"
    echo "== callgrind, tidemark report $trace (self instructions)"
    top_callgrind "$out/callgrind.out"
    ;;
*)
    echo "usage: bench/profile.sh shim [full|tables] [W1 args...] | analyzer TRACE.tmk" >&2
    exit 2
    ;;
esac
echo "(raw files in $out)"
