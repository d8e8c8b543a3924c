// bench/gomap/gomap_bench.go - Go's side of "gomap vs Go's map" (issue 3).
//
// The same work as gomap_bench.c, step for step: N int64 keys (splitmix64 of
// 0..N-1, the same sequence), for values of 8 and 128 bytes: insert into a
// map grown from empty (no hint), look every key up (all hits), delete every
// key. ns per operation per phase, with a checksum that depends on every
// result (printed, and compared with the C side's by run.sh).
//
// Built by bench/gomap/run.sh: go build -o DIR/gomap_bench_go gomap_bench.go
// -warmup W reps come first and are printed with rep=0 (a fresh process:
// page faults, Go's heap growing), reported apart by run.sh.
//
// Usage: gomap_bench_go [-n N] [-reps R] [-warmup W] [-vsize 8|128|all]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

func report(vsize int, op string, rep int, n int, d time.Duration, sum uint64) {
	fmt.Printf("impl=go vsize=%d op=%s rep=%d n=%d ns_per_op=%.2f checksum=%016x\n",
		vsize, op, rep, n, float64(d.Nanoseconds())/float64(n), sum)
}

func die(what string) {
	fmt.Fprintln(os.Stderr, "gomap_bench_go:", what)
	os.Exit(3)
}

// 8-byte values: map[int64]uint64.
func run8(keys []int64, rep int) {
	n := len(keys)
	m := make(map[int64]uint64)
	t0 := time.Now()
	for _, k := range keys {
		m[k] = uint64(k)
	}
	report(8, "insert", rep, n, time.Since(t0), uint64(len(m)))

	var sum uint64
	t0 = time.Now()
	for i, k := range keys {
		v, ok := m[k]
		if !ok {
			die("lookup missed")
		}
		sum += v ^ uint64(i)
	}
	report(8, "lookup", rep, n, time.Since(t0), sum)

	t0 = time.Now()
	for _, k := range keys {
		delete(m, k)
	}
	d := time.Since(t0)
	if len(m) != 0 {
		die("map not empty after deletes")
	}
	report(8, "delete", rep, n, d, uint64(n))
}

// 128-byte values: map[int64][16]uint64 (stored inline: Go's limit is 128).
func run128(keys []int64, rep int) {
	n := len(keys)
	m := make(map[int64][16]uint64)
	var val [16]uint64
	t0 := time.Now()
	for i, k := range keys {
		val[0] = uint64(k)
		val[1] = uint64(i)
		m[k] = val
	}
	report(128, "insert", rep, n, time.Since(t0), uint64(len(m)))

	var sum uint64
	t0 = time.Now()
	for i, k := range keys {
		// m[k][0], not v, ok := m[k]: that would copy the 128 bytes out
		// (twice, in Go 1.19), work the C side does not do. Word 0 is the
		// key, so a miss (zero value) is caught as well.
		v0 := m[k][0]
		if v0 != uint64(k) {
			die("lookup missed")
		}
		sum += v0 ^ uint64(i)
	}
	report(128, "lookup", rep, n, time.Since(t0), sum)

	t0 = time.Now()
	for _, k := range keys {
		delete(m, k)
	}
	d := time.Since(t0)
	if len(m) != 0 {
		die("map not empty after deletes")
	}
	report(128, "delete", rep, n, d, uint64(n))
}

func main() {
	n := flag.Int("n", 1000000, "keys")
	reps := flag.Int("reps", 3, "repetitions")
	warmup := flag.Int("warmup", 1, "warm-up repetitions first, printed as rep=0")
	vsize := flag.String("vsize", "all", "8, 128 or all")
	flag.Parse()
	if *n <= 0 || *reps <= 0 || *warmup < 0 {
		die("-n and -reps must be positive, -warmup not negative")
	}
	keys := make([]int64, *n)
	for i := range keys {
		keys[i] = int64(splitmix64(uint64(i)))
	}
	for r := 1; r <= *warmup+*reps; r++ {
		rep := r - *warmup
		if rep < 0 {
			rep = 0
		}
		if *vsize == "8" || *vsize == "all" {
			run8(keys, rep)
		}
		if *vsize == "128" || *vsize == "all" {
			run128(keys, rep)
		}
	}
}
