#!/usr/bin/env python3
"""cxx_sites.py - heap sites of a C++ program name the program's own lines.

Usage: cxx_sites.py TIDEMARK PROGRAM SOURCE WORKDIR

Runs PROGRAM (tests/e2e/cxx_sites.cpp) under the shim and checks that the
report's top sites at the heap's peak are the source lines marked SITE (all
allocations there go through operator new and inlined libstdc++ code).
Exit status: 0 pass, 1 a check failed, 2 bad usage.
"""
import json
import os
import subprocess
import sys


def main():
    if len(sys.argv) != 5:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    tidemark, prog, source, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, "cxx_sites.tmk")
    if os.path.exists(trace):
        os.unlink(trace)
    marks = {}
    with open(source) as f:
        for n, line in enumerate(f, 1):
            if "// SITE " in line:
                marks[line.split("// SITE ")[1].strip()] = n
    run = subprocess.run([tidemark, "run", "--no-summary", "-o", trace, "--", prog],
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0 or run.stdout.strip() != "100000":
        print(f"FAIL: {prog} under the shim: exit {run.returncode}, stdout {run.stdout!r}")
        return 1
    rep = subprocess.run([tidemark, "report", "--format", "json", trace],
                         capture_output=True, text=True, timeout=120)
    sites = [s["site"] for s in json.loads(rep.stdout)["heap"]["top_by_peak"][:2]]
    want = {f"cxx_sites.cpp:{marks['main']}", f"cxx_sites.cpp:{marks['worker']}"}
    got = {os.path.basename(s) for s in sites}
    ok = got == want
    print(("ok:   " if ok else "FAIL: ") + f"top sites {sites}, expected {sorted(want)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
