#!/usr/bin/env bash
# bench/gomap/run.sh - gomap vs Go's own map (issue 3), side by side.
#
# Builds the C driver (build target bench_gomap) and the Go twin
# (gomap_bench.go, `go build`), then runs them in turn, ROUNDS times
# (C, Go, C, Go, ...; each process: 1 warm-up rep + REPS reps), so a slow
# period of a shared machine hits both alike. Prints medians of ns/op per
# (value size, operation), the ratio gomap/Go and PASS/FAIL against the
# target (every operation within 1.25x of Go, steady-state reps), and checks
# that both computed the same checksums. Without `go` the Go side is skipped
# (said so) and only gomap's figures are printed.
# With --callgrind: instruction counts of one rep of each (valgrind), instead.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
rounds=5
reps=3
n=1000000
out=""
do_build=1
callgrind=0

usage() {
    cat <<EOF
usage: bench/gomap/run.sh [options]
  -n ROUNDS      process pairs (C then Go), default $rounds
  --reps R       measured reps per process (after 1 warm-up), default $reps
  --keys N       keys per map, default $n
  -b DIR         build directory (default $root/build)
  -o DIR         raw output there (default a new /tmp dir)
  --callgrind    instruction counts (valgrind callgrind) of 1 rep per value
                 size, per program (whole program), instead of timing
  --no-build     do not (re)build
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    -n) rounds=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --keys) n=$2; shift 2 ;;
    -b) build=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for v in "$rounds" "$reps" "$n"; do
    case "$v" in '' | *[!0-9]* | 0) echo "run.sh: -n, --reps, --keys want positive integers" >&2; exit 2 ;; esac
done
[ -n "$out" ] || out=$(mktemp -d /tmp/gomap-bench.XXXXXX)
mkdir -p "$out" "$build"
out=$(cd "$out" && pwd)
build=$(cd "$build" && pwd) # go build needs an absolute GOCACHE
out=$(cd "$out" && pwd)

cdrv="$build/bench/gomap/bench_gomap"
godrv="$build/bench/gomap/gomap_bench_go"
if [ "$do_build" = 1 ]; then
    [ -f "$build/CMakeCache.txt" ] ||
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/cmake.log"
    cmake --build "$build" -j2 --target bench_gomap >>"$out/cmake.log" 2>&1 ||
        { echo "run.sh: build failed, see $out/cmake.log" >&2; exit 2; }
    if command -v go >/dev/null; then
        mkdir -p "$build/bench/gomap"
        (cd "$here" && GOCACHE="$build/bench/gomap/gocache" GOFLAGS= \
            go build -o "$godrv" gomap_bench.go) >>"$out/go-build.log" 2>&1 ||
            { echo "run.sh: go build failed, see $out/go-build.log" >&2; exit 2; }
    fi
fi
[ -x "$cdrv" ] || { echo "run.sh: $cdrv missing (build with TIDEMARK_BENCH=ON)" >&2; exit 2; }
have_go=1
if ! command -v go >/dev/null || [ ! -x "$godrv" ]; then
    have_go=0
    echo "run.sh: Go not found (apt-get install golang-go): the Go side is skipped, no ratios" >&2
fi

{
    echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm), $(nproc) cores"
    echo "# $(gcc --version | head -n1)"
    if [ "$have_go" = 1 ]; then echo "# $(go version)"; fi
    if [ "$callgrind" = 1 ]; then
        echo "# callgrind: 1 rep per value size, no warm-up, $n keys"
    else
        echo "# $rounds rounds x ($reps reps + 1 warm-up) per program, $n keys"
    fi
    echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/meta.txt"

if [ "$callgrind" = 1 ]; then
    command -v valgrind >/dev/null || { echo "run.sh: valgrind missing" >&2; exit 2; }
    cat "$out/meta.txt"
    echo "# instructions, whole program (key generation included), 1 rep, no warm-up"
    for v in 8 128; do
        valgrind --tool=callgrind --callgrind-out-file="$out/cg-gomap-$v.out" \
            "$cdrv" --n "$n" --reps 1 --warmup 0 --vsize "$v" \
            >"$out/cg-gomap-$v.stdout" 2>"$out/cg-gomap-$v.err" || true
        echo "gomap vsize=$v instructions=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/cg-gomap-$v.err")"
        if [ "$have_go" = 1 ]; then
            # asyncpreemptoff: callgrind asserts on the SIGURG preemption signals
            GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$out/cg-go-$v.out" \
                "$godrv" -n "$n" -reps 1 -warmup 0 -vsize "$v" \
                >"$out/cg-go-$v.stdout" 2>"$out/cg-go-$v.err" || true
            echo "go    vsize=$v instructions=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/cg-go-$v.err")"
        fi
    done
    echo "(per function: callgrind_annotate $out/cg-*.out)"
    exit 0
fi

: >"$out/raw.txt"
for r in $(seq 1 "$rounds"); do
    "$cdrv" --n "$n" --reps "$reps" --warmup 1 | tee -a "$out/raw.txt" >&2
    if [ "$have_go" = 1 ]; then
        "$godrv" -n "$n" -reps "$reps" -warmup 1 | tee -a "$out/raw.txt" >&2
    fi
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/meta.txt"
echo "run.sh: raw lines in $out/raw.txt" >&2
cat "$out/meta.txt"
python3 "$here/summarize.py" "$out/raw.txt"
