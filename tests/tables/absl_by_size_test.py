#!/usr/bin/env python3
"""tests/tables/absl_by_size_test.py - an Abseil table with 8-byte slots
(absl::node_hash_map<int64,int64>, absl_map.cpp built with TABLES_ABSL_NODE) is never taken for a
libstdc++ bucket array by its size (sweep 3, F3).

Its backing array is 8 x a prime bytes at many capacities (1,048,575 slots:
8 x 1,179,649); libstdc++'s bucket counts are the primes of its
__prime_list only, and the by-size rule is a fallback that loses to a rule
naming the block's frames or finding its layout. Grown to 600,000 entries
and erased to 10, the table reads as one Abseil table, oversized, and
`check` fails; the same with TIDEMARK_PROBE_MIN=128 (the small arrays of
the first growths, 19, 37, 73 and 577 x 8 bytes, recorded without a probe),
-O2 and stripped.

usage: absl_by_size_test.py --build DIR --dir TABLES_BUILD_DIR
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

N, KEEP = 600000, 10


def run(cmd, **env):
    return subprocess.run(cmd, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)


def check(args, prog, tmp, extra_env):
    what = f"{os.path.basename(prog)} {extra_env or ''}"
    trace = os.path.join(tmp, "a.tmk")
    p = run([prog, str(N), str(KEEP)], LD_PRELOAD=args.shim, TIDEMARK_OUTPUT=trace, **extra_env)
    if p.returncode != 0:
        return [f"{what}: exit {p.returncode}: {p.stderr.strip()}"]
    own = dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv)
    r = run([args.tidemark, "report", "--format", "json", trace])
    tables = [t for t in json.loads(r.stdout)["tables"] if t["kind"] == "recognised"]
    errors = []
    stdcxx = [(t["rule"], t["held_bytes"]) for t in tables if t["rule"].startswith("libstdc++")]
    if stdcxx:
        errors.append(f"{what}: taken for libstdc++ tables: {stdcxx}")
    alive = [t for t in tables if t["ended_ns"] is None]
    if [(t["rule"].startswith("abseil"), t["held_bytes"], t["verdict"]) for t in alive] != \
            [(True, int(own["held"]), "oversized")]:
        errors.append(f"{what}: live tables "
                      f"{[(t['rule'], t['held_bytes'], t['verdict'], t['live']) for t in alive]}, "
                      f"the program holds {own['held']} B for {own['live']} entries")
    if alive and alive[0]["live_peak"] > N:
        errors.append(f"{what}: peak live {alive[0]['live_peak']}, {N} ever inserted")
    c = run([args.tidemark, "check", trace])
    if c.returncode != 1:
        errors.append(f"{what}: check exit {c.returncode}, want 1: {c.stdout.strip()}")
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    args.shim = os.path.join(args.build, "preload", "libtidemark.so")
    args.tidemark = os.path.join(args.build, "analyzer", "tidemark")
    errors = []
    for level in ("O2", "O2_stripped"):
        prog = os.path.join(args.dir, f"absl_node_map_{level}")
        for env in ({}, {"TIDEMARK_PROBE_MIN": "128"}):
            with tempfile.TemporaryDirectory() as tmp:
                errors += check(args, prog, tmp, env)
    for e in errors:
        print("FAIL", e)
    print("ok" if not errors else f"{len(errors)} failures")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
