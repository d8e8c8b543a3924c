#!/usr/bin/env python3
"""tests/preload/live_test.py - traces of processes that are still running:
every thread's records on disk within about a second (the handoff,
preload/buffer.c), `tidemark report` and `top` on a live trace, a trace cut
by SIGKILL, and TIDEMARK_MAX_BYTES.

    live_test.py --build BUILD_DIR CASE

Uses shim_test.py's helpers (running under the shim, tmkcat). The programs
are tests/preload/idle_prog.c; each case takes a few seconds.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shim_test as st  # noqa: E402
from shim_test import Failure, check, eq, tmkcat  # noqa: E402


def idle_prog():
    return st.build_path("tests", "preload", "idle_prog")


def tidemark_bin():
    return st.build_path("analyzer", "tidemark")


def start(cmd, path, env=None, preload=True):
    """Starts cmd under the shim writing `path`; returns it once it said ready."""
    e = st.base_env()
    if preload:
        e["LD_PRELOAD"] = st.shim()
    e["TIDEMARK_OUTPUT"] = path
    e.update(env or {})
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, cwd=st.TMP)
    line = p.stdout.readline()
    if line != b"ready\n":
        p.kill()
        p.wait()
        raise Failure(f"{cmd}: said {line!r}, not ready (rc {p.poll()})")
    return p


def kill(p):
    p.kill()
    p.wait()
    p.stdout.close()
    eq(p.returncode, -signal.SIGKILL, "killed by SIGKILL")


def tidemark(*args, timeout=60):
    try:
        return subprocess.run([tidemark_bin(), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout,
                              env=st.base_env())
    except subprocess.TimeoutExpired:
        raise Failure(f"tidemark {args} did not finish in {timeout} s")


# ---- 1. idle threads' records reach the file --------------------------------------

def sizes_by_thread(path):
    """{size: {thread, ...}} of the allocations in the trace (tmkcat -s)."""
    d = tmkcat(path, "-s", allow_error=True)
    eq(d["rc"], 0, f"a live trace reads: {d.get('error')}")
    out = {}
    for line in d["lines"]:
        f = line.split()
        if f and f[0] == "salloc":
            out.setdefault(int(f[2]), set()).add(f[1])
    return out, d


def idle_states(prefix=()):
    path = os.path.join(st.TMP, "states.tmk")
    p = start([*prefix, idle_prog(), "states", "30"], path, preload=not prefix)
    try:
        time.sleep(1.3)
        sizes, d = sizes_by_thread(path)
    finally:
        kill(p)
    # main (7770), blocked in read (7771), in pthread_cond_wait (7772), in
    # sleep (7773): each allocated once, then recorded nothing more
    for size in (7770, 7771, 7772, 7773):
        check(size in sizes, f"the allocation of {size} bytes is in the file 1.3 s after its "
                             f"thread went idle (sizes seen: {sorted(sizes)[:20]})")
    owners = {min(sizes[s]) for s in (7770, 7771, 7772, 7773)}
    eq(len(owners), 4, "four threads")
    # a block per thread and about a second, not one per handoff pass
    check(num_blocks(d) <= 16, f"blocks in 1.3 s: {num_blocks(d)}")


def num_blocks(d):
    return st.num(d, "blocks")


def case_idle_states():
    idle_states()


def case_idle_fenced():
    """The same without membarrier(2): the owners fence, the sampler still
    takes the buffers."""
    idle_states(prefix=(st.build_path("tests", "preload", "nomembarrier"), st.shim()))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    st.ARGS = args
    st.TMP = tempfile.mkdtemp(prefix=f"tmk-{args.case}-")
    t0 = time.time()
    try:
        CASES[args.case]()
    except Failure as e:
        print(f"FAIL {args.case}: {e}")
        return 1
    finally:
        shutil.rmtree(st.TMP, ignore_errors=True)
    print(f"ok {args.case} ({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
