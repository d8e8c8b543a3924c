#!/usr/bin/env python3
"""tests/preload/unwind_test.py - the CFI unwinder (TIDEMARK_UNWIND=cfi, the
default) gives every allocation the stack libunwind's unw_backtrace gives.

Each case runs a program with TIDEMARK_UNWIND_VERIFY=1: the shim unwinds
every allocation both ways and says at exit
"tidemark: unwind verify: S stacks, C by cfi, H memo, M mismatches" (H: the
stacks the memo also had; its id is checked against the walk's). A case
requires M = 0 and that most stacks took the CFI walk (the rest fell back to
libunwind: signal frames, code without CFI).

    unwind_test.py --build BUILD_DIR CASE

Helpers: harness.py.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (check, eq, build_path, probe, run, tmkcat, num,  # noqa: E402
                     clean_trace, traces)

VERIFY = re.compile(r"tidemark: unwind verify: (\d+) stacks, (\d+) by cfi, (\d+) memo, "
                    r"(\d+) mismatches(.*)")


def verify_line(cmd, what, e):
    """Runs cmd with environment e; returns the verify line's match."""
    out = os.path.join(harness.TMP, "u.%p.tmk")
    r = run(cmd, output=out, env=e, timeout=120)
    err = r.stderr.decode(errors="replace")
    eq(r.returncode, 0, f"{what}: status (stderr {err!r})")
    lines = [m for m in map(VERIFY.fullmatch, err.splitlines()) if m]
    eq(len(lines), 1, f"{what}: one verify line in stderr {err!r}")
    return lines[0]


def verified(cmd, what, min_stacks, min_cfi=0.9, env=None, check_trace=True):
    """Runs cmd with the check on; returns (stacks, by_cfi, memo)."""
    e = {"TIDEMARK_UNWIND_VERIFY": "1"}
    e.update(env or {})
    line = verify_line(cmd, what, e)
    stacks, by_cfi, memo, bad = map(int, line.groups()[:4])
    rest = line.group(5)
    print(f"{what}: {stacks} stacks, {by_cfi} by cfi, {memo} memo, {bad} mismatches{rest}")
    eq(bad, 0, f"{what}: stacks where the CFI walk, its memo and libunwind differ{rest}")
    check(stacks >= min_stacks, f"{what}: only {stacks} stacks unwound")
    check(by_cfi >= stacks * min_cfi, f"{what}: only {by_cfi} of {stacks} stacks by the CFI walk")
    if check_trace:
        for f in traces(r"u\.\d+\.tmk$"):
            clean_trace(tmkcat(f), f"{what} {os.path.basename(f)}")
    return stacks, by_cfi, memo


def unwind_prog(mode, **kw):
    exe = build_path("tests", "preload", "unwind_prog")
    if not os.path.exists(exe):
        print(f"{mode}: no unwind_prog (no C++ compiler): skipped")
        return None
    return verified([exe, mode], mode, **kw)


def case_unwind_w3():
    # recursive descent, 4-23 frames: the workload the caller cache missed
    exe = build_path("bench", "workloads", "bench_w3")
    if not os.path.exists(exe):
        print("no bench_w3 (TIDEMARK_BENCH=OFF): skipped")
        return
    verified([exe, "--allocs", "100000"], "w3", 100000, min_cfi=0.999)
    # stacks longer than the depth are cut as libunwind's are
    verified([exe, "--allocs", "20000"], "w3 depth 5", 20000, min_cfi=0.999,
             env={"TIDEMARK_DEPTH": "5"})


def case_unwind_verify_catches():
    # the check itself: =2 changes every 1,000th walked stack's innermost
    # frame before comparing; each must be counted, and described
    exe = build_path("bench", "workloads", "bench_w3")
    cmd = [exe, "--allocs", "20000"] if os.path.exists(exe) else [probe(), "stress", "20000"]
    line = verify_line(cmd, "verify=2", {"TIDEMARK_UNWIND_VERIFY": "2"})
    stacks, by_cfi, _, bad = map(int, line.groups()[:4])
    print(f"verify=2: {stacks} stacks, {by_cfi} by cfi, {bad} mismatches{line.group(5)}")
    check(by_cfi >= 20000, f"verify=2: only {by_cfi} stacks walked")
    eq(bad, by_cfi // 1000, "verify=2: mismatches counted (walks 1000, 2000, ...)")
    check(line.group(5).startswith(" (first: frame 0 of "), f"verify=2: description {line.group(5)!r}")


def case_unwind_throw():
    unwind_prog("throw", min_stacks=3000)


def case_unwind_signal():
    got = unwind_prog("signal", min_stacks=40000, min_cfi=0.3)
    if got:
        stacks, by_cfi, _ = got
        # the SIGUSR1 handler's 20,000 stacks pass a signal frame: libunwind's
        check(stacks - by_cfi >= 20000, f"signal: {stacks - by_cfi} stacks fell back, not 20000+")


def case_unwind_threads():
    got = unwind_prog("threads", min_stacks=80000, min_cfi=0.999)
    if got:
        check(got[2] > 40000, f"threads: the memo had only {got[2]} stacks")


def case_unwind_deep():
    unwind_prog("deep", min_stacks=300, min_cfi=0.99)
    unwind_prog("deep", min_stacks=300, min_cfi=0.99, env={"TIDEMARK_DEPTH": "128"})


def case_unwind_dlopen():
    # a module met after start (compiled then), dropped at dlclose
    lib = build_path("tests", "preload", "libtmk_dl_lib.so")
    verified([probe(), "dlopen", lib, "40"], "dlopen", 80, env={"TIDEMARK_SAMPLE_INTERVAL": "1"})


def case_unwind_python():
    # Debian's python3 (no frame pointers, a large binary, many modules)
    py = "/usr/bin/python3"
    if not os.path.exists(py):
        print("no /usr/bin/python3: skipped")
        return
    script = ("import json, re, collections, decimal\n"
              "d = collections.defaultdict(list)\n"
              "for i in range(20000):\n"
              "    d[i % 97].append(json.dumps({'k': [i] * (i % 7), 's': str(decimal.Decimal(i) / 7)}))\n"
              "print(sum(len(re.findall(r'\\d+', ''.join(v))) for v in d.values()))\n")
    verified([py, "-c", script], "python3", 500)


def case_unwind_constructors():
    # A library's constructor that runs before the shim's own: its stacks
    # end in ld.so's _dl_start_user, which no FDE covers (Debian's glibc);
    # libunwind ends them there (%rbp is 0), and so does the walk. Before,
    # every such stack fell back to libunwind (2 of early_prog's 5 by cfi).
    exe = build_path("tests", "preload", "early", "early_prog")
    verified([exe], "early_prog", 5, min_cfi=1.0)


def case_unwind_binaries():
    # real programs as the system ships them
    ran = 0
    # (programs that close stderr at exit, as coreutils' do, cannot say the
    # counts: not these)
    for cmd in (["git", "--version"], ["bash", "-c", "for i in 1 2 3; do echo $i; done"],
                ["perl", "-e", "my %h = map { $_ => [$_] } 1..5000; print scalar(keys %h)"],
                ["make", "--version"], ["cmake", "--version"]):
        exe = shutil.which(cmd[0])
        if not exe:
            print(f"no {cmd[0]}: skipped")
            continue
        # (cmake: 1,293 of its 2,767 stacks come from libraries' constructors,
        # case_unwind_constructors)
        verified([exe] + cmd[1:], " ".join(cmd), 20)
        ran += 1
    check(ran >= 2, f"only {ran} system programs found")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "unwind"))
