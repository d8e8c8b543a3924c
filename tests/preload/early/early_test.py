#!/usr/bin/env python3
"""tests/preload/early/early_test.py - allocations made before the shim's
constructor (issue 13, item 4: "every allocation from the first").

    early_test.py --build BUILD_DIR CASE

The shim starts on the first call of the malloc family, whatever
constructor makes it, so that the blocks other libraries' constructors
allocate (before libtidemark.so's own constructor runs) are in the trace,
with their stacks. Every case also runs its program without the shim and
asserts that nothing the program shows changed: stdout, stderr and exit
status are the same bytes and number.

 constructor_MODE  early_prog (DT_NEEDED early_lib, whose constructor
                   allocates three blocks): every one of them in the trace
                   (tables mode: the 100,003-byte one, the only one large
                   enough to be recorded there), frame 0 in libearly_lib.so;
                   full mode: the kept block still allocated at
                   early_lib_init, a frame of the loader's _dl_init below
                   it, the freed one freed, and the report without "frees
                   of pointers the trace never allocated".
 cxx_pool_MODE     early_cxx (C++): libstdc++'s emergency exception pool,
                   72,704 B allocated by libstdc++'s constructor, recorded
                   (frame 0 in libstdc++), probed (it is over
                   TIDEMARK_PROBE_MIN), and not reported as a table: the
                   report's one table is the program's unordered_map.
 bad_setting       TIDEMARK_DEPTH=0, read by a start inside early_lib's
                   constructor: one stderr line says so, once, and the
                   blocks are recorded as with a good setting.
 fork_exec         early_prog fork-exec: the parent, its forked child and
                   the image that child execs each write a trace; the
                   parent's and the new image's hold the constructor's
                   blocks, every one is clean.
 ctor_exit         EARLY_CTOR_EXIT=7: the constructor calls exit(7) before the
                   shim's constructor ran (no destructor of the shim will run):
                   the trace still ends, END(EXIT, 7), with the blocks.
 ctor_fork         EARLY_CTOR_FORK=1: the constructor forks before the shim's
                   constructor ran; the child's trace is complete, and its
                   sampler thread (started in its shim constructor, not in
                   the fork handler inside another library's constructor)
                   ran exactly once: one "tidemark" THREAD, memory samples.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import check, eq, tmkcat, clean_trace  # noqa: E402

KEPT, FREED, LARGE, MAIN = 12345, 777, 100003, 5555  # early_lib.h
POOL = 72704  # libstdc++ 12's emergency pool (eh_alloc.cc): 64 KiB + 7 KiB


def prog(name):
    return harness.build_path("tests", "preload", "early", name)


def run_unchanged(cmd, mode="full", env=None, output=None):
    """Runs cmd without and with the shim; the program's stdout, stderr and
    exit status must be the same. Returns the traced run."""
    env = dict(env or {})
    plain = harness.run(cmd, preload=False, env=env)
    env["TIDEMARK_MODE"] = mode
    traced = harness.run(cmd, env=env, output=output)
    for what in ("returncode", "stdout", "stderr"):
        eq(getattr(traced, what), getattr(plain, what), f"{cmd[0]}: {what} under the shim")
    return traced


def tidemark(*argv):
    r = harness.run([harness.tidemark(), *argv], preload=False)
    check(r.returncode == 0, f"tidemark {argv[0]}: exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout.decode() + r.stderr.decode()


def report_json(trace):
    return json.loads(tidemark("report", "--format", "json", trace))


class Allocs:
    """A trace's allocations (tmkcat -s): size, the stack's frames, and the
    module path of each frame."""

    def __init__(self, trace):
        d = tmkcat(trace, "-s")
        clean_trace(d, trace)
        eq(harness.num(d, "free_unknown"), 0, f"{trace}: frees of blocks never allocated")
        self.stats = d
        self.modules, self.stacks, self.list = [], {}, []
        for line in d["lines"]:
            f = line.split()
            if f[0] == "module":
                self.modules.append((int(f[2], 16), int(f[3], 16), " ".join(f[4:])))
            elif f[0] == "stack":
                self.stacks[int(f[1])] = [int(x, 16) for x in f[2:]]
            elif f[0] == "salloc":
                self.list.append((int(f[2]), int(f[3])))

    def module_of(self, pc):
        for lo, hi, path in self.modules:
            if lo <= pc < hi:
                return path
        return None

    def of_size(self, size):
        """The frame-0 module of each allocation of this size."""
        return [self.module_of(self.stacks[s][0]) if self.stacks.get(s) else None
                for n, s in self.list if n == size]


def constructor_blocks_recorded(trace, mode, what):
    a = Allocs(trace)
    early = {KEPT: "kept", FREED: "freed", LARGE: "large"} if mode == "full" else {LARGE: "large"}
    for size, name in early.items():
        mods = a.of_size(size)
        eq(len(mods), 1, f"{what}: allocations of the constructor's {name} block ({size} B)")
        check(mods[0] and mods[0].endswith("/libearly_lib.so"),
              f"{what}: the {name} block's frame 0 is in {mods[0]}, not libearly_lib.so")
    if mode != "full":
        return
    eq(a.of_size(MAIN), [mods[0].replace("/libearly_lib.so", "/early_prog")],
       f"{what}: main's control block")
    report = tidemark("report", trace)
    check("frees of pointers the trace never allocated" not in report,
          f"{what}: the report says {report}")
    j = report_json(trace)
    kept = [s for s in j["heap"]["top_at_end"] if s["bytes"] == KEPT]
    eq(len(kept), 1, f"{what}: the kept block among the sites still allocated")
    frames = next(s["frames"] for s in j["stacks"] if s["id"] == kept[0]["stack_id"])
    eq(frames[0]["function"], "early_lib_init", f"{what}: the kept block's frame 0")
    check(any(f["function"] == "_dl_init" for f in frames),
          f"{what}: no _dl_init below the constructor: {frames}")
    check(not any(s["bytes"] == FREED for s in j["heap"]["top_at_end"]),
          f"{what}: the freed block is still allocated")


def constructor(mode):
    r = run_unchanged([prog("early_prog")], mode)
    eq(r.stdout, b"ok\n", "early_prog's output")
    (trace,) = harness.traces()
    constructor_blocks_recorded(trace, mode, f"early_prog ({mode})")


def case_constructor_full():
    constructor("full")


def case_constructor_tables():
    constructor("tables")


def cxx_pool(mode):
    r = run_unchanged([prog("early_cxx")], mode)
    eq(r.returncode, 3, "early_cxx's exit status")
    (trace,) = harness.traces()
    a = Allocs(trace)
    mods = a.of_size(POOL)
    eq(len(mods), 1, f"{mode}: allocations of {POOL} B (libstdc++'s emergency pool)")
    check(mods[0] and "/libstdc++.so" in mods[0], f"{mode}: the pool's frame 0 is in {mods[0]}")
    check(harness.num(a.stats, "allocs") >= 2, f"{mode}: the map's arrays are not in the trace")
    dump = tidemark("dump", trace)
    check(" EXTENDED type=0x88 " in dump or " PROBE " in dump,
          f"{mode}: no probe record: the pool was not probed")
    j = report_json(trace)
    eq([(t["kind"], t["rule"], os.path.basename(t["site"])) for t in j["tables"]],
       [("recognised", "libstdc++-hashtable", "early_cxx.cpp:15")],
       f"{mode}: the report's tables (the map only, never the pool)")


def case_cxx_pool_full():
    cxx_pool("full")


def case_cxx_pool_tables():
    cxx_pool("tables")


def case_bad_setting():
    plain = harness.run([prog("early_prog")], preload=False)
    r = harness.run([prog("early_prog")], env={"TIDEMARK_DEPTH": "0"})
    eq((r.returncode, r.stdout), (plain.returncode, plain.stdout), "early_prog under the shim")
    harness.warned(r, "TIDEMARK_DEPTH=0", r"^tidemark: TIDEMARK_DEPTH=0 is not in 1\.\.128; using 32$")
    (trace,) = harness.traces()
    constructor_blocks_recorded(trace, "full", "early_prog (TIDEMARK_DEPTH=0)")


def header_pid(trace):
    return int(tmkcat(trace)["pid"])


def case_fork_exec():
    out = os.path.join(harness.TMP, "t.%p.tmk")
    r = run_unchanged([prog("early_prog"), "fork-exec"], output=out)
    eq(r.returncode, 5, "early_prog fork-exec's exit status")
    eq(r.stdout, b"ok\nok\nchild 0\n", "early_prog fork-exec's output")
    files = harness.traces()
    eq(len(files), 3, f"traces {files}: the parent, its child, the image the child exec'd")
    by_pid = {}
    for f in files:
        by_pid.setdefault(header_pid(f), []).append(f)
    eq(sorted(len(v) for v in by_pid.values()), [1, 2], f"traces by pid {by_pid}")
    parent = next(v[0] for v in by_pid.values() if len(v) == 1)
    child, image = sorted(next(v for v in by_pid.values() if len(v) == 2))  # .tmk, .tmk.1
    constructor_blocks_recorded(parent, "full", "the parent")
    constructor_blocks_recorded(image, "full", "the exec'd image")
    d = tmkcat(child)
    clean_trace(d, "the forked child")
    eq(d.get("end"), "exec", "the forked child's trace ends with its exec")


def case_ctor_exit():
    r = run_unchanged([prog("early_prog")], env={"EARLY_CTOR_EXIT": "7"})
    eq(r.returncode, 7, "early_prog's exit status")
    (trace,) = harness.traces()
    d = tmkcat(trace)
    eq((d.get("end"), d.get("end_status")), ("exit", "7"), "the trace's END")
    a = Allocs(trace)
    for size in (KEPT, FREED, LARGE):
        eq(len(a.of_size(size)), 1, f"allocations of {size} B")


def case_ctor_fork():
    r = run_unchanged([prog("early_prog")], env={"EARLY_CTOR_FORK": "1"})
    eq(r.stdout, b"ok\nok\n", "early_prog's output (both processes)")
    files = harness.traces()
    eq(len(files), 2, f"traces {files}: the parent and the child forked in the constructor")
    kinds = {}
    for f in files:
        d = tmkcat(f)
        clean_trace(d, f)
        eq(d.get("end"), "exit", f"{f}: end")
        kinds["parent" if d["ppid"] == str(os.getpid()) else "child"] = f
        dump = tidemark("dump", f)
        samplers = re.findall(r' THREAD tid=\d+ name="tidemark"', dump)
        eq(len(samplers), 1, f"{f}: sampler threads")
    eq(sorted(kinds), ["child", "parent"], f"traces {files}")
    constructor_blocks_recorded(kinds["parent"], "full", "the parent")
    d = tmkcat(kinds["child"])
    check(harness.num(d, "memory_samples") >= 5,
          f"the child's sampler wrote {d['memory_samples']} memory samples in 300 ms")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "early"))
