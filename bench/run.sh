#!/usr/bin/env bash
# bench/run.sh - the profiler benchmarks, side by side in one run.
#
# Runs each workload natively, under heaptrack, under tidemark `full` and
# under tidemark `tables`, N times interleaved (rep 1 of every config, then
# rep 2, ...), so slow drifts of a shared machine hit every config alike.
# Then the analyzer: `tidemark report` vs `heaptrack_print` on the traces of
# the same W1 run. Prints medians, ratios to native and PASS/FAIL per target
# (bench/summarize.py); raw figures stay in OUT/results.tsv.
# See bench/README.md for the options, the targets and the dependencies.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
reps=5
build="$root/build"
out=""
only="w1,w1mt,w2,analyzer"
configs="native,heaptrack,full,tables"
w1_allocs=16000000
w2_args=()
do_build=1
callgrind=0

usage() {
    cat <<EOF
usage: bench/run.sh [options]
  -n N             repetitions per config (default $reps; medians are reported)
  -b DIR           build directory (default $root/build)
  -o DIR           where traces and raw results go (default: a new /tmp dir)
  --only LIST      comma list of w1,w1mt,w2,analyzer (default $only)
  --configs LIST   comma list of native,heaptrack,full,fullfp,fullnc,tables
                   (default $configs; fullfp = full with TIDEMARK_UNWIND=fp,
                   fullnc = full with TIDEMARK_STACK_CACHE=0)
  --w1-allocs M    allocations per W1 run (default $w1_allocs)
  --w2-args "A"    arguments for bench_w2 (default: its own)
  --callgrind      instead of timing, count instructions (valgrind callgrind)
                   of native/full/tables on small W1 and W2 runs
  --no-build       do not (re)build
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    -n) reps=$2; shift 2 ;;
    -b) build=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --w1-allocs) w1_allocs=$2; shift 2 ;;
    --w2-args) read -r -a w2_args <<<"$2"; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$reps" in '' | *[!0-9]* | 0) echo "run.sh: -n wants a positive integer" >&2; exit 2 ;; esac

[ -x /usr/bin/time ] || { echo "run.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/tidemark-bench.XXXXXX)
mkdir -p "$out" "$build"
out=$(cd "$out" && pwd)
build=$(cd "$build" && pwd)

if [ "$do_build" = 1 ]; then
    [ -f "$build/CMakeCache.txt" ] ||
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/cmake.log"
    cmake --build "$build" -j2 >>"$out/cmake.log" 2>&1 ||
        { echo "run.sh: build failed, see $out/cmake.log" >&2; exit 2; }
fi

w1="$build/bench/workloads/bench_w1"
w2="$build/bench/workloads/bench_w2"
shim="$build/preload/libtidemark.so"
analyzer="$build/analyzer/tidemark"
have() { [ -e "$1" ]; }
in_list() { [[ ",$2," == *",$1,"* ]]; }

# Command line of workload $1 (w1 | w1mt | w2), into the array `prog`.
workload_cmd() {
    case "$1" in
    w1) prog=("$w1" --allocs "$w1_allocs") ;;
    w1mt) prog=("$w1" --threads 4 --allocs "$w1_allocs") ;;
    w2) prog=("$w2" "${w2_args[@]}") ;;
    esac
}

# Prints "wall_s max_rss_kib cpu_s" (cpu = user + sys of the process and its
# children) of the command after `--`; its stdout goes to $1, stderr to $2.
timed() {
    local so=$1 se=$2; shift 3
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$so.rss" "$@" >"$so" 2>"$se" || {
        echo "run.sh: failed: $* (stderr in $se)" >&2
        return 1
    }
    t1=$(date +%s%N)
    local ns=$((t1 - t0))
    local rss usr sys
    read -r rss usr sys <"$so.rss"
    echo "$((ns / 1000000000)).$(printf '%03d' $((ns / 1000000 % 1000))) $rss $(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
}

# Runs config $2 of workload $1 once (rep $3); appends a line to results.tsv:
# workload config rep wall_s rss_kib cpu_s trace_bytes events checksum
run_one() {
    local wl=$1 cfg=$2 rep=$3 base="$out/$1-$2"
    local -a prog cmd
    workload_cmd "$wl"
    rm -f "$base.trace" "$base.trace.zst" "$base.trace.gz" "$base.tmk"
    case "$cfg" in
    native) cmd=("${prog[@]}") ;;
    heaptrack) cmd=(heaptrack -o "$base.trace" "${prog[@]}") ;;
    full | tables)
        cmd=(env LD_PRELOAD="$shim" TIDEMARK_MODE="$cfg" TIDEMARK_OUTPUT="$base.tmk" "${prog[@]}") ;;
    fullfp)
        cmd=(env LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_UNWIND=fp
            TIDEMARK_OUTPUT="$base.tmk" "${prog[@]}") ;;
    fullnc)
        cmd=(env LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_STACK_CACHE=0
            TIDEMARK_OUTPUT="$base.tmk" "${prog[@]}") ;;
    esac
    local res
    res=$(timed "$base.out" "$base.err" -- "${cmd[@]}") || return 1
    local trace="" bytes=0
    for f in "$base.trace.zst" "$base.trace.gz" "$base.tmk"; do
        [ -e "$f" ] && trace=$f
    done
    [ -n "$trace" ] && bytes=$(stat -c %s "$trace")
    local line events sum
    line=$(grep -E '^w[12] ' "$base.out" | tail -n1 || true)
    events=$(sed -n 's/.* events=\([0-9]*\).*/\1/p' <<<"$line")
    sum=$(sed -n 's/.* checksum=\([0-9a-f]*\).*/\1/p' <<<"$line")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$cfg" "$rep" ${res} "$bytes" \
        "${events:-0}" "${sum:-none}" >>"$out/results.tsv"
    printf '  %-5s %-9s rep %s: %s s, %s KiB, cpu %s s, trace %s B\n' "$wl" "$cfg" "$rep" ${res} "$bytes" >&2
}

usable_config() {
    case "$1" in
    native) return 0 ;;
    heaptrack) command -v heaptrack >/dev/null ;;
    full | tables | fullfp | fullnc) have "$shim" ;;
    esac
}

usable_workload() {
    case "$1" in
    w1 | w1mt) have "$w1" ;;
    w2) have "$w2" ;;
    *) return 1 ;;
    esac
}

# --- instruction counts (valgrind callgrind): deterministic, noise-free ----
run_callgrind() {
    local wl cfg
    printf 'workload\tconfig\tinstructions\n' >"$out/callgrind.tsv"
    for wl in w1 w2; do
        in_list "$wl" "$only" && usable_workload "$wl" || continue
        local -a prog
        if [ "$wl" = w1 ]; then prog=("$w1" --allocs 1000000); else prog=("$w2" --cycles 4); fi
        for cfg in native full fullfp fullnc tables; do
            in_list "$cfg" "$configs" && usable_config "$cfg" || continue
            local -a pre=(env)
            # env after valgrind: the shim goes into the workload only (with
            # --trace-children env is counted too, in every config alike).
            case "$cfg" in
            full | tables) pre+=(LD_PRELOAD="$shim" TIDEMARK_MODE="$cfg") ;;
            fullfp) pre+=(LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_UNWIND=fp) ;;
            fullnc) pre+=(LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_STACK_CACHE=0) ;;
            esac
            pre+=(TIDEMARK_OUTPUT="$out/cg-$wl-$cfg-%p.tmk")
            rm -f "$out/cg-$wl-$cfg-"*
            valgrind --tool=callgrind --trace-children=yes \
                --callgrind-out-file="$out/cg-$wl-$cfg-%p.out" \
                "${pre[@]}" "${prog[@]}" >"$out/cg-$wl-$cfg.stdout" 2>"$out/cg-$wl-$cfg.err"
            local ir
            ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/cg-$wl-$cfg.err" |
                awk '{ s += $1 } END { printf "%.0f\n", s }')
            printf '%s\t%s\t%s\n' "$wl" "$cfg" "$ir" >>"$out/callgrind.tsv"
            echo "  callgrind $wl $cfg: $ir instructions" >&2
        done
    done
    python3 "$here/summarize.py" --callgrind "$out/callgrind.tsv"
}

if [ "$callgrind" = 1 ]; then
    run_callgrind
    exit 0
fi

# --- wall time and memory, interleaved repetitions -----------------------
printf 'workload\tconfig\trep\twall_s\trss_kib\tcpu_s\ttrace_bytes\tevents\tchecksum\n' >"$out/results.tsv"
echo "run.sh: $reps reps, results in $out" >&2
for rep in $(seq 1 "$reps"); do
    for wl in w1 w1mt w2; do
        in_list "$wl" "$only" && usable_workload "$wl" || continue
        for cfg in native heaptrack full fullfp fullnc tables; do
            in_list "$cfg" "$configs" && usable_config "$cfg" || continue
            run_one "$wl" "$cfg" "$rep" || true
        done
    done
done

# --- the analyzer against heaptrack_print, on the last W1 traces ---------
printf 'tool\trep\twall_s\trss_kib\tcpu_s\n' >"$out/analyzer.tsv"
if in_list analyzer "$only"; then
    ht="$out/w1-heaptrack.trace.zst"
    [ -e "$ht" ] || ht="$out/w1-heaptrack.trace.gz"
    tm="$out/w1-full.tmk"
    for rep in $(seq 1 "$reps"); do
        if [ -e "$ht" ] && command -v heaptrack_print >/dev/null; then
            r=$(timed "$out/print.out" "$out/print.err" -- heaptrack_print -f "$ht") &&
                printf 'heaptrack_print\t%s\t%s\t%s\t%s\n' "$rep" $r >>"$out/analyzer.tsv" &&
                echo "  heaptrack_print rep $rep: $r" >&2
        fi
        if [ -e "$tm" ] && have "$analyzer"; then
            r=$(timed "$out/report.out" "$out/report.err" -- "$analyzer" report "$tm") &&
                printf 'tidemark_report\t%s\t%s\t%s\t%s\n' "$rep" $r >>"$out/analyzer.tsv" &&
                echo "  tidemark report rep $rep: $r" >&2
        fi
    done
fi

python3 "$here/summarize.py" "$out/results.tsv" "$out/analyzer.tsv"
