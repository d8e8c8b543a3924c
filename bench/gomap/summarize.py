#!/usr/bin/env python3
"""bench/gomap/summarize.py RAW - the table of bench/gomap/run.sh.

RAW holds the drivers' lines (impl=gomap|go vsize= op= rep= n= ns_per_op=
checksum=). Steady-state reps (rep >= 1) give the medians, the ratio
gomap/Go and PASS/FAIL (target: ratio <= 1.25 for every operation); warm-up
reps (rep = 0, the first use of a fresh process) are shown apart. Checksums
must agree between the two implementations. Exit 0, or 1 when a checksum
differs.
"""
import statistics
import sys
from collections import defaultdict

TARGET = 1.25
OPS = ("insert", "lookup", "delete")


def main(path):
    steady = defaultdict(list)
    cold = defaultdict(list)
    sums = defaultdict(set)
    for line in open(path):
        if not line.startswith("impl="):
            continue
        f = dict(kv.split("=", 1) for kv in line.split())
        key = (f["impl"], int(f["vsize"]), f["op"])
        (cold if f["rep"] == "0" else steady)[key].append(float(f["ns_per_op"]))
        sums[(int(f["vsize"]), f["op"])].add(f["checksum"])

    ok = True
    for k, s in sorted(sums.items()):
        if len(s) != 1:
            print(f"checksum MISMATCH for vsize={k[0]} op={k[1]}: {sorted(s)}")
            ok = False
    have_go = any(k[0] == "go" for k in steady)

    def med(d, key):
        v = d.get(key)
        return statistics.median(v) if v else None

    def spread(d, key):
        v = d.get(key)
        m = statistics.median(v)
        return (max(v) - min(v)) / m * 100 if m else 0.0

    print("Steady state (median ns/op over all reps >= 1; spread = (max-min)/median):")
    print(f"{'value':>6} {'op':<7} {'reps':>4} {'gomap':>9} {'spread':>7} {'Go':>9} {'spread':>7} {'gomap/Go':>9}  verdict")
    verdicts = []
    for v in (8, 128):
        for op in OPS:
            g = med(steady, ("gomap", v, op))
            if g is None:
                continue
            n = len(steady[("gomap", v, op)])
            go = med(steady, ("go", v, op)) if have_go else None
            if go:
                r = g / go
                verdict = "PASS" if r <= TARGET else "FAIL"
                verdicts.append(verdict)
                print(f"{v:>5}B {op:<7} {n:>4} {g:>9.2f} {spread(steady, ('gomap', v, op)):>6.1f}% "
                      f"{go:>9.2f} {spread(steady, ('go', v, op)):>6.1f}% {r:>9.3f}  {verdict}")
            else:
                print(f"{v:>5}B {op:<7} {n:>4} {g:>9.2f} {spread(steady, ('gomap', v, op)):>6.1f}% "
                      f"{'-':>9} {'-':>7} {'-':>9}  (no Go)")
    if cold:
        print("\nFirst rep of each process (cold: fresh memory from the kernel; for Go also its heap growing),")
        print("median ns/op (information, not judged):")
        print(f"{'value':>6} {'op':<7} {'gomap':>9} {'Go':>9} {'gomap/Go':>9}")
        for v in (8, 128):
            for op in OPS:
                g = med(cold, ("gomap", v, op))
                go = med(cold, ("go", v, op))
                if g is None:
                    continue
                r = f"{g / go:9.3f}" if go else f"{'-':>9}"
                gs = f"{go:9.2f}" if go else f"{'-':>9}"
                print(f"{v:>5}B {op:<7} {g:>9.2f} {gs} {r}")
    print()
    if not have_go:
        print(f"Target (every operation <= {TARGET}x Go): not judged, Go side missing")
    else:
        allpass = bool(verdicts) and all(x == "PASS" for x in verdicts)
        print(f"Target (every operation <= {TARGET}x Go, steady state): {'PASS' if allpass else 'FAIL'}")
    print("Checksums: " + ("identical in both implementations" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
