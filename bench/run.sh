#!/usr/bin/env bash
# bench/run.sh - the profiler benchmarks, side by side in one run.
#
# Runs each workload (W1..W5) natively, under heaptrack, under tidemark
# `full` and under tidemark `tables` (and the variants --configs names), N
# times interleaved (rep 1 of every config, then rep 2, ...), so slow drifts
# of a shared machine hit every config alike. Then the analyzer: `tidemark
# report` vs `heaptrack_print` on the traces of the same W1 run. Prints
# medians, ratios to native and PASS/FAIL per target (bench/summarize.py);
# raw figures stay in OUT/results.tsv. --callgrind counts instructions
# instead, and keeps each run's callgrind_annotate top in OUT/cg-WL-CFG.top.
# See bench/README.md for the options, the targets and the dependencies.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
reps=5
build="$root/build"
out=""
only="w1,w1mt,w2,w3,w4,w5,w6,w7,analyzer"
configs="native,heaptrack,full,tables"
w1_allocs=16000000
w2_args=()
w3_args=()
w4_args=()
w5_args=()
w6_args=()
w7_args=()
do_build=1
callgrind=0

usage() {
    cat <<EOF
usage: bench/run.sh [options]
  -n N             repetitions per config (default $reps; medians are reported)
  -b DIR           build directory (default $root/build)
  -o DIR           where traces and raw results go (default: a new /tmp dir)
  --only LIST      comma list of w1,w1mt,w2,w3,w4,w5,w6,w7,analyzer (default $only)
  --configs LIST   comma list of native,nativethread,heaptrack,full,fullfp,
                   fulllu,fullnc,fullnoprobe,tables (default $configs;
                   nativethread = native with one more thread that only
                   sleeps, the floor of any profiler with a thread; full uses
                   the default unwinder (cfi); fullfp = full with
                   TIDEMARK_UNWIND=fp, fulllu = TIDEMARK_UNWIND=libunwind (its
                   stack cache on), fullnc = libunwind with
                   TIDEMARK_STACK_CACHE=0, fullnoprobe = full with
                   TIDEMARK_PROBE_MIN=0)
  --w1-allocs M    allocations per W1 run (default $w1_allocs)
  --w2-args "A"    arguments for bench_w2 (default: its own); also
  --w3-args .. --w7-args for bench_w3 .. bench_w7
  --callgrind      instead of timing, count instructions (valgrind callgrind)
                   of native and the tidemark configs on small runs of each
                   workload (heaptrack cannot run under valgrind)
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
    --w3-args) read -r -a w3_args <<<"$2"; shift 2 ;;
    --w4-args) read -r -a w4_args <<<"$2"; shift 2 ;;
    --w5-args) read -r -a w5_args <<<"$2"; shift 2 ;;
    --w6-args) read -r -a w6_args <<<"$2"; shift 2 ;;
    --w7-args) read -r -a w7_args <<<"$2"; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$reps" in '' | *[!0-9]* | 0) echo "run.sh: -n wants a positive integer" >&2; exit 2 ;; esac
for x in ${configs//,/ }; do
    case " native nativethread heaptrack full fullfp fulllu fullnc fullnoprobe tables " in *" $x "*) ;;
    *) echo "run.sh: unknown config '$x' (see --help)" >&2; exit 2 ;; esac
done
for x in ${only//,/ }; do
    case " w1 w1mt w2 w3 w4 w5 w6 w7 analyzer " in *" $x "*) ;;
    *) echo "run.sh: unknown workload '$x' (see --help)" >&2; exit 2 ;; esac
done

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
w3="$build/bench/workloads/bench_w3"
w4="$build/bench/workloads/bench_w4"
w5="$build/bench/workloads/bench_w5"
w6="$build/bench/workloads/bench_w6"
w7="$build/bench/workloads/bench_w7"
shim="$build/preload/libtidemark.so"
idle_thread="$build/bench/workloads/libbench_idle_thread.so"
analyzer="$build/analyzer/tidemark"
have() { [ -e "$1" ]; }
in_list() { [[ ",$2," == *",$1,"* ]]; }

all_workloads="w1 w1mt w2 w3 w4 w5 w6 w7"
all_configs="native nativethread heaptrack full fullfp fulllu fullnc fullnoprobe tables"

# Command line of workload $1 (w1 | w1mt | w2 .. w7), into the array `prog`.
workload_cmd() {
    case "$1" in
    w1) prog=("$w1" --allocs "$w1_allocs") ;;
    w1mt) prog=("$w1" --threads 4 --allocs "$w1_allocs") ;;
    w2) prog=("$w2" "${w2_args[@]}") ;;
    w3) prog=("$w3" "${w3_args[@]}") ;;
    w4) prog=("$w4" "${w4_args[@]}") ;;
    w5) prog=("$w5" "${w5_args[@]}") ;;
    w6) prog=("$w6" "${w6_args[@]}") ;;
    w7) prog=("$w7" "${w7_args[@]}") ;;
    esac
}

# The smaller runs --callgrind counts (valgrind is ~50x slower), into `prog`.
callgrind_cmd() {
    case "$1" in
    w1) prog=("$w1" --allocs 1000000) ;;
    w1mt) prog=("$w1" --threads 4 --allocs 1000000) ;;
    w2) prog=("$w2" --cycles 4) ;;
    w3) prog=("$w3" --allocs 2000000) ;;
    w4) prog=("$w4" --allocs 2000000) ;;
    w5) prog=("$w5") ;;
    w6) prog=("$w6" --mib 256) ;;
    w7) prog=("$w7" --records 500000) ;;
    esac
}

# The environment a tidemark config sets (nothing for native), into the
# array `tm_env`; the trace goes to $2.
config_env() {
    tm_env=()
    case "$1" in
    full | tables) tm_env=(LD_PRELOAD="$shim" TIDEMARK_MODE="$1") ;;
    fullfp) tm_env=(LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_UNWIND=fp) ;;
    fulllu) tm_env=(LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_UNWIND=libunwind) ;;
    fullnc) tm_env=(LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_UNWIND=libunwind TIDEMARK_STACK_CACHE=0) ;;
    fullnoprobe) tm_env=(LD_PRELOAD="$shim" TIDEMARK_MODE=full TIDEMARK_PROBE_MIN=0) ;;
    nativethread) tm_env=(LD_PRELOAD="$idle_thread") ;;
    *) return 0 ;;
    esac
    tm_env+=(TIDEMARK_OUTPUT="$2")
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
# prog_rss_kib (the program's own VmHWM, which the workload prints: under
# heaptrack that leaves out its interpreter process, which rss_kib may be)
run_one() {
    local wl=$1 cfg=$2 rep=$3 base="$out/$1-$2"
    local -a prog cmd tm_env
    workload_cmd "$wl"
    rm -f "$base.trace" "$base.trace.zst" "$base.trace.gz" "$base.tmk"
    case "$cfg" in
    native) cmd=("${prog[@]}") ;;
    heaptrack) cmd=(heaptrack -o "$base.trace" "${prog[@]}") ;;
    *) config_env "$cfg" "$base.tmk"; cmd=(env "${tm_env[@]}" "${prog[@]}") ;;
    esac
    local res
    res=$(timed "$base.out" "$base.err" -- "${cmd[@]}") || return 1
    local trace="" bytes=0
    for f in "$base.trace.zst" "$base.trace.gz" "$base.tmk"; do
        [ -e "$f" ] && trace=$f
    done
    [ -n "$trace" ] && bytes=$(stat -c %s "$trace")
    local line events sum hwm
    line=$(grep -E '^w[0-9] ' "$base.out" | tail -n1 || true)
    events=$(sed -n 's/.* events=\([0-9]*\).*/\1/p' <<<"$line")
    sum=$(sed -n 's/.* checksum=\([0-9a-f]*\).*/\1/p' <<<"$line")
    hwm=$(sed -n 's/.* hwm_kib=\([0-9]*\).*/\1/p' <<<"$line")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$cfg" "$rep" ${res} "$bytes" \
        "${events:-0}" "${sum:-none}" "${hwm:-0}" >>"$out/results.tsv"
    printf '  %-5s %-11s rep %s: %s s, %s KiB, cpu %s s, trace %s B\n' "$wl" "$cfg" "$rep" ${res} "$bytes" >&2
}

usable_config() {
    case "$1" in
    native) return 0 ;;
    nativethread) have "$idle_thread" ;;
    heaptrack) command -v heaptrack >/dev/null ;;
    full | tables | fullfp | fulllu | fullnc | fullnoprobe) have "$shim" ;;
    *) return 1 ;;
    esac
}

usable_workload() {
    case "$1" in
    w1 | w1mt) have "$w1" ;;
    w2) have "$w2" ;;
    w3) have "$w3" ;;
    w4) have "$w4" ;;
    w5) have "$w5" ;;
    w6) have "$w6" ;;
    w7) have "$w7" ;;
    *) return 1 ;;
    esac
}

# --- instruction counts (valgrind callgrind): deterministic, noise-free ----
# One callgrind file per thread (cg-WL-CFG-PID.out-TT), kept in OUT. The
# shim's sampler thread (the one running sampler_main) works by the clock:
# once a second it probes, every 10 ms it samples, so under valgrind's ~50x
# slowdown it weighs ~50x what it does in a real run. callgrind.tsv has both
# the total and the program's threads alone (prog_instructions: the
# allocation path, what the targets are checked on). cg-WL-CFG.top has the
# top 40 functions by self instructions of the program's busiest thread,
# cg-WL-CFG.sampler.top the sampler's (callgrind_annotate --inclusive=no).
top_functions() {
    callgrind_annotate --inclusive=no "$1" 2>/dev/null | sed -n '/^Ir/,$p' | head -n 40 || true
}

run_callgrind() {
    local wl cfg
    printf 'workload\tconfig\tinstructions\tprog_instructions\n' >"$out/callgrind.tsv"
    for wl in $all_workloads; do
        in_list "$wl" "$only" && usable_workload "$wl" || continue
        local -a prog tm_env
        callgrind_cmd "$wl"
        for cfg in $all_configs; do
            [ "$cfg" = heaptrack ] && continue
            in_list "$cfg" "$configs" && usable_config "$cfg" || continue
            # env after valgrind: the shim goes into the workload only (with
            # --trace-children env is counted too, in every config alike).
            config_env "$cfg" "$out/cg-$wl-$cfg-%p.tmk"
            rm -f "$out/cg-$wl-$cfg-"* "$out/cg-$wl-$cfg.top" "$out/cg-$wl-$cfg.sampler.top"
            valgrind --tool=callgrind --trace-children=yes --separate-threads=yes \
                --callgrind-out-file="$out/cg-$wl-$cfg-%p.out" \
                env "${tm_env[@]}" "${prog[@]}" >"$out/cg-$wl-$cfg.stdout" 2>"$out/cg-$wl-$cfg.err"
            local ir pir=0 f n busiest="" most=-1
            ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/cg-$wl-$cfg.err" |
                awk '{ s += $1 } END { printf "%.0f\n", s }')
            for f in "$out/cg-$wl-$cfg-"*.out-*; do
                [ -e "$f" ] || continue
                n=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | head -n1)
                if grep -q 'sampler_main' "$f"; then
                    top_functions "$f" >"$out/cg-$wl-$cfg.sampler.top"
                    continue
                fi
                pir=$((pir + ${n:-0}))
                if [ "${n:-0}" -gt "$most" ]; then most=${n:-0}; busiest=$f; fi
            done
            [ -n "$busiest" ] && top_functions "$busiest" >"$out/cg-$wl-$cfg.top"
            printf '%s\t%s\t%s\t%s\n' "$wl" "$cfg" "$ir" "$pir" >>"$out/callgrind.tsv"
            echo "  callgrind $wl $cfg: $ir instructions, $pir in the program's threads" >&2
        done
    done
    python3 "$here/summarize.py" --callgrind "$out/callgrind.tsv"
}

if [ "$callgrind" = 1 ]; then
    run_callgrind
    exit 0
fi

# --- wall time and memory, interleaved repetitions -----------------------
printf 'workload\tconfig\trep\twall_s\trss_kib\tcpu_s\ttrace_bytes\tevents\tchecksum\tprog_rss_kib\n' \
    >"$out/results.tsv"
echo "run.sh: $reps reps, results in $out" >&2
for rep in $(seq 1 "$reps"); do
    for wl in $all_workloads; do
        in_list "$wl" "$only" && usable_workload "$wl" || continue
        for cfg in $all_configs; do
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
