#!/usr/bin/env python3
"""tests/preload/limits_test.py - a traced program under the limits and in
the namespaces a hardened system gives it must run as it does natively:
RLIMIT_FSIZE smaller than the trace (the shim's write must not raise
SIGXFSZ), unshare(CLONE_NEWUSER) (the sampler thread must not make the
process multi-threaded for it), a small RLIMIT_STACK (the shim's frames on
the program's stack).

    limits_test.py --build BUILD_DIR CASE

Helpers: harness.py.
"""
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq, probe, run, tmkcat, warned  # noqa: E402


def case_fsize():
    # Limits below the trace's size: the program's status and stdout are the
    # native ones; the shim says why tracing stopped, once; what was written
    # reads back (its last block cut off). xfsz has a SIGXFSZ handler of its
    # own, which must never run; stress and hello have the default action,
    # which kills. 512 B is below every first block (the final flush at
    # exit, on the main thread, crosses it); larger limits are crossed by
    # the sampler's or a program thread's writes.
    for cmd in (["xfsz", "200000"], ["stress", "20000"], ["hello"]):
        full = os.path.join(harness.TMP, f"{cmd[0]}.tmk")
        eq(run([probe(), *cmd], output=full).returncode, 0, f"{cmd[0]} without a limit")
        size = os.path.getsize(full)
        for limit in (512, 2048, 16384, 49152):
            what = f"{cmd[0]} ({size} B of trace) under RLIMIT_FSIZE {limit}"
            lim = {resource.RLIMIT_FSIZE: limit}
            n = run([probe(), *cmd], preload=False, limits=lim)
            out = os.path.join(harness.TMP, f"{cmd[0]}.{limit}.tmk")
            r = run([probe(), *cmd], output=out, limits=lim)
            eq((r.returncode, r.stdout), (n.returncode, n.stdout), what)
            eq(n.returncode, 0, f"{what}, natively")
            stops = size > limit
            if stops:
                warned(r, what, r": write failed: File too large; tracing stopped$")
            else:
                eq(r.stderr, b"", f"{what}: stderr")
            check(os.path.getsize(out) <= limit, f"{what}: trace of {os.path.getsize(out)} B")
            d = tmkcat(out)
            eq(d["end"], "none" if stops else "exit", f"{what}: the trace's end")
            os.unlink(out)


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "limits"))
