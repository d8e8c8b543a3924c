#!/usr/bin/env python3
"""tests/preload/early/early_test.py - allocations made before the shim's
constructor (issue 13, item 4).

    early_test.py --build BUILD_DIR --mode full|tables --expect missing|recorded

Runs early_prog (DT_NEEDED early_lib, whose constructor allocates three
blocks before libtidemark.so's constructor runs) under the shim, then reads
the trace with `tidemark dump` and `tidemark report`.

 --expect missing: what the shim does today, asserted exactly. The control
   block main allocates is in the trace; the constructor's blocks are not
   (full mode: not the kept one, not the freed one, not the 100,003-byte
   one; tables mode: not the 100,003-byte one, which is large enough to be
   recorded by address and probed); in full mode the report says
   "1 frees of pointers the trace never allocated" (the freed block).
 --expect recorded: what the fix must give (issue 13: "every allocation
   from the first"): every one of them in the trace, the report without
   that warning, and (full mode) the kept block still allocated at
   early_lib.c's constructor.

Exit status 0 when the trace is as expected, 1 when not (with the reason).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

KEPT, FREED, LARGE, MAIN = 12345, 777, 100003, 5555  # early_lib.h


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TIDEMARK_") and k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    env["LC_ALL"] = "C"
    return env


def run_traced(args, tmp):
    trace = os.path.join(tmp, "early.tmk")
    env = clean_env()
    env.update(LD_PRELOAD=os.path.join(args.build, "preload", "libtidemark.so"),
               TIDEMARK_MODE=args.mode, TIDEMARK_OUTPUT=trace)
    prog = os.path.join(args.build, "tests", "preload", "early", "early_prog")
    r = subprocess.run([prog], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    check(r.returncode == 0 and r.stdout == b"ok\n",
          f"early_prog exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    check(os.path.exists(trace), "no trace written")
    return trace


def tidemark(args, *argv):
    r = subprocess.run([os.path.join(args.build, "analyzer", "tidemark"), *argv],
                       env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    check(r.returncode == 0, f"tidemark {argv[0]} exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout.decode() + r.stderr.decode()


def sizes_allocated(dump):
    """Sizes of the ALLOC records of the dump (by address or by info)."""
    return [int(m.group(1)) for m in
            re.finditer(r" ALLOC(?:_INFO)?(?: ptr=\S+)?(?: \([^)]*\))? size=(\d+)", dump)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--mode", choices=("full", "tables"), required=True)
    ap.add_argument("--expect", choices=("missing", "recorded"), required=True)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="tmk-early-")
    try:
        trace = run_traced(args, tmp)
        sizes = sizes_allocated(tidemark(args, "dump", trace))
        report = tidemark(args, "report", trace)
        unknown = re.search(r"(\d+) frees of pointers the trace never allocated", report)
        if args.mode == "full":
            check(MAIN in sizes, f"the control block ({MAIN} B, main's) is not in the trace")
            early = {KEPT: "kept", FREED: "freed", LARGE: "large"}
        else:
            early = {LARGE: "large"}  # tables mode records only probed sizes by address
        want = args.expect == "recorded"
        for size, name in early.items():
            check((size in sizes) == want,
                  f"the constructor's {name} block ({size} B) is {'not ' if want else ''}"
                  f"in the trace (expected {args.expect})")
        if args.mode == "full":
            if want:
                check(not unknown, f"the report still says: {unknown.group(0) if unknown else ''}")
                check("early_lib.c" in report,
                      "the report names no early_lib.c site for the kept block")
            else:
                check(unknown and unknown.group(1) == "1",
                      "the report does not say '1 frees of pointers the trace never "
                      f"allocated':\n{report}")
    except Failure as e:
        print(f"FAIL early {args.mode} (expect {args.expect}): {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"ok early {args.mode}: the constructor's blocks are {args.expect}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
