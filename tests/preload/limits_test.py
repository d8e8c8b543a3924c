#!/usr/bin/env python3
"""tests/preload/limits_test.py - a traced program under the limits and in
the namespaces a hardened system gives it must run as it does natively:
RLIMIT_FSIZE smaller than the trace (the shim's write must not raise
SIGXFSZ), unshare(CLONE_NEWUSER) and setns into a user, mount or time
namespace (the sampler thread must not make the process multi-threaded for
them, nor stop for the other namespaces), a small RLIMIT_STACK (the shim's frames on
the program's stack).

    limits_test.py --build BUILD_DIR CASE

Helpers: harness.py.
"""
import os
import re
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, clean_trace, eq, num, probe, run, tmkcat, warned  # noqa: E402


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


def userns_permitted():
    """Native unshare -Ur works here (a container may forbid user namespaces)."""
    try:
        n = run(["unshare", "-Ur", "true"], preload=False)
    except FileNotFoundError:
        return False
    return n.returncode == 0


def case_userns():
    # unshare(CLONE_NEWUSER), syscall(SYS_unshare, ...) and setns into a user
    # namespace fail with EINVAL in a process of more than one thread: the
    # sampler thread stops around them, its records kept, and starts again.
    n = run([probe(), "userns"], preload=False)
    if not userns_permitted() or "=0" not in n.stdout.decode():
        print(f"user namespaces not permitted here natively ({n.stdout!r}): skipped")
        return
    for mode in ("full", "tables"):
        r = run([probe(), "userns"], env={"TIDEMARK_MODE": mode})
        eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, b""), mode)
        files = harness.traces()
        eq(len(files), 4, f"{mode}: the probe, two children, a grandchild: {files}")
        allocs = 0
        for f in files:
            d = tmkcat(f, "-z", "4242:4242")
            clean_trace(d, f"{mode} {os.path.basename(f)}")
            eq(d["end"], "exit", f"{mode} {os.path.basename(f)}: end")
            allocs += num(d, "sized_allocs") if mode == "full" else 0
            os.unlink(f)
        if mode == "full":
            eq(allocs, 40, "the blocks of 4242 bytes before and after each call")


def case_nstypes():
    # setns into a network, UTS or IPC namespace (by type, type 0, a pidfd,
    # syscall()), which the kernel allows a multi-threaded process, leaves
    # the sampler thread running (its tid the same after 1,000 calls: it was
    # stopped and started again around each, 130 us a call); a user, time
    # or mount namespace's setns stops it as before, and works. The probe's
    # "sampler" lines are the shim's; the others are as natively.
    def calls(stdout):
        return [x for x in stdout.decode().splitlines() if not x.startswith("sampler")]

    n = run([probe(), "nstypes"], preload=False)
    if not userns_permitted() or any(not x.endswith("=0") for x in calls(n.stdout)):
        print(f"namespaces not permitted here natively ({calls(n.stdout)}): skipped")
        return

    for mode in ("full", "tables"):
        out = os.path.join(harness.TMP, f"ns.{mode}.tmk")
        r = run([probe(), "nstypes"], output=out, env={"TIDEMARK_MODE": mode})
        eq((r.returncode, calls(r.stdout), r.stderr), (n.returncode, calls(n.stdout), b""), mode)
        m = re.search(r"^sampler=(\d+) (\d+)$", r.stdout.decode(), re.M)
        check(m and m[1] != "0" and m[1] == m[2],
              f"{mode}: the sampler thread was started again: {r.stdout.decode()}")
        check("sampler_after=1" in r.stdout.decode(), f"{mode}: no sampler after the mount setns")
        d = tmkcat(out)
        clean_trace(d, mode)
        eq(d["end"], "exit", f"{mode}: end")
        check(num(d, "memory_samples") < 100,
              f"{mode}: {num(d, 'memory_samples')} MEMORY samples (one a restart)")
        for f in harness.traces():
            os.unlink(f)


def case_pidns():
    # setns into a child's pid namespace: the sampler thread is not stopped
    # for it (the process could make no thread after it, and went on
    # without one). Skipped where that setns is not permitted natively.
    n = run([probe(), "pidns"], preload=False)
    if "setns_pid=0" not in n.stdout.decode():
        print(f"pid namespaces not permitted here natively ({n.stdout!r}): skipped")
        return
    for mode in ("full", "tables"):
        out = os.path.join(harness.TMP, f"pid.{mode}.tmk")
        r = run([probe(), "pidns"], output=out, env={"TIDEMARK_MODE": mode})
        eq((r.returncode, r.stderr), (0, b""), mode)
        check("setns_pid=0" in r.stdout.decode(), f"{mode}: {r.stdout.decode()}")
        m = re.search(r"^sampler=(\d+) (\d+)$", r.stdout.decode(), re.M)
        check(m and m[1] != "0" and m[1] == m[2],
              f"{mode}: the sampler thread is gone: {r.stdout.decode()}")
        d = tmkcat(out)
        clean_trace(d, mode)
        eq(d["end"], "exit", f"{mode}: end")
        for f in harness.traces():
            os.unlink(f)


def case_unshare_cmd():
    # unshare(1) as a user runs it: a user namespace, then exec; with a pid
    # namespace (-p), whose process can make no thread until it forks: the
    # sampler is not started again there, and nothing is said.
    if not userns_permitted():
        print("user namespaces not permitted here natively: skipped")
        return
    for opts in ("-Ur", "-Urpf"):
        cmd = ["unshare", opts, "sh", "-c", "echo $(($$ < 5)); id -u"]  # 1 in a pid namespace
        n = run(cmd, preload=False)
        for mode in ("full", "tables"):
            what = f"unshare {opts}, {mode} mode"
            out = os.path.join(harness.TMP, f"{opts}.{mode}.tmk")
            r = run(cmd, output=out, env={"TIDEMARK_MODE": mode})
            eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, n.stderr), what)
            d = tmkcat(out)
            clean_trace(d, what)
            eq(d["end"], "exec" if opts == "-Ur" else "exit", f"{what}: unshare's trace")
            others = harness.traces(rf"{re.escape(opts)}\.{mode}\.tmk\.\d+$")
            check(len(others) >= 2, f"{what}: sh's and id's traces: {others}")
            for f in others:
                d = tmkcat(f)
                clean_trace(d, f)
                check(d["end"] in ("exit", "exec"), f"{what} {f}: end {d['end']}")


def case_small_stack():
    # RLIMIT_STACK of 20 and 24 KiB: the program runs natively, and under
    # the shim its constructor (13 KiB of path buffers in one frame, once)
    # and its recording must fit on what the program leaves. The stack's
    # start moves with ASLR: 10 runs each. (At 16 KiB the loader itself
    # overflows, about half the time, mapping an LD_PRELOAD library, before
    # any code of the shim runs.)
    for kib in (20, 24):
        lim = {resource.RLIMIT_STACK: kib * 1024}
        n = run([probe(), "hello"], preload=False, limits=lim)
        eq(n.returncode, 0, f"hello natively at {kib} KiB of stack")
        for mode in ("full", "tables"):
            for i in range(10):
                out = os.path.join(harness.TMP, f"s.{kib}.{mode}.{i}.tmk")
                r = run([probe(), "hello"], output=out, limits=lim, env={"TIDEMARK_MODE": mode})
                what = f"hello at {kib} KiB of stack, {mode} mode, run {i}"
                eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, n.stderr), what)
                eq(tmkcat(out)["end"], "exit", f"{what}: the trace's end")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "limits"))
