#!/usr/bin/env python3
"""tests/preload/stacks_test.py - the stacks a traced program's
records carry: a dlopen'ed library's frames (MODULE before its stacks,
symbolized by the analyzer) and the caller cache giving every allocation
the frames a plain unwind gives.

    stacks_test.py --build BUILD_DIR CASE

Helpers: harness.py.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Failure, check, eq, build_path, probe, tidemark,  # noqa: E402
                     run, traces, tmkcat, num, clean_trace)


def case_dlopen():
    lib = build_path("tests", "preload", "libtmk_dl_lib.so")
    r = run([probe(), "dlopen", lib, "40"], output=os.path.join(harness.TMP, "d.tmk"),
            env={"TIDEMARK_SAMPLE_INTERVAL": "1"})
    eq(r.returncode, 0, f"status {r.stdout.decode()} {r.stderr.decode()}")
    d = tmkcat(os.path.join(harness.TMP, "d.tmk"), "-z", "7777:7778")
    clean_trace(d, "dlopen")  # frames_outside_modules=0: MODULE before its stacks
    eq(num(d, "sized_allocs"), 80, "allocations made inside the library (and its constructor)")
    check(num(d, "modules_gone") >= 1, "dlclose seen (MODULE_GONE)")
    trace = os.path.join(harness.TMP, "d.tmk")
    dump = subprocess.run([tidemark(), "dump", trace], stdout=subprocess.PIPE, text=True).stdout
    check("libtmk_dl_lib.so" in dump, "no MODULE record for the dlopen'ed library")
    rep = subprocess.run([tidemark(), "report", trace], stdout=subprocess.PIPE, text=True).stdout
    check("dl_lib.c:" in rep or "dl_lib_alloc" in rep,
          f"the library's allocation site is not symbolized:\n{rep}")


def case_no_proc():
    """Without /proc mounted (a mount namespace that unmounted it): the main
    program is still named (AT_EXECFN, made absolute) and its sites have
    names, where they showed as [module 1]+0x... offsets. Skipped where a
    mount namespace cannot be made (not root)."""
    seed = build_path("examples", "seed_grow")
    if subprocess.run(["unshare", "-m", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        print("skipped: unshare -m is not permitted here")
        return
    trace = os.path.join(harness.TMP, "noproc.tmk")
    rel = os.path.relpath(seed, harness.TMP)  # run by a relative path
    r = run(["unshare", "-m", "sh", "-c",
             f"umount -l /proc && LD_PRELOAD={harness.shim()} TIDEMARK_OUTPUT={trace} exec {rel}"],
            preload=False)
    eq(r.returncode, 0, f"status {r.stderr.decode()}")
    rep = subprocess.run([tidemark(), "report", trace], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    check("not named" not in rep.stderr, f"the main program is not named: {rep.stderr}")
    check("seed.c:" in rep.stdout, f"its sites are not named:\n{rep.stdout[:800]}")


def case_no_proc_script():
    """Without /proc, a script run by its path (AT_EXECFN is the script's):
    the main program is named after the interpreter that runs, followed
    through a script that is another's interpreter, never after a script
    (the analyzer read it as the program and showed offsets). Skipped where
    a mount namespace cannot be made (not root)."""
    if subprocess.run(["unshare", "-m", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        print("skipped: unshare -m is not permitted here")
        return
    inner = os.path.join(harness.TMP, "inner")
    outer = os.path.join(harness.TMP, "outer")
    with open(inner, "w") as f:
        f.write(f"#!{probe()} hello\n")
    with open(outer, "w") as f:
        f.write("#! ./inner\n")  # relative: the working directory's
    for script in (inner, outer):
        os.chmod(script, 0o755)
    for script in ("inner", "outer"):
        trace = os.path.join(harness.TMP, f"{script}.tmk")
        r = run(["unshare", "-m", "sh", "-c",
                 f"umount -l /proc && LD_PRELOAD={harness.shim()} TIDEMARK_OUTPUT={trace} "
                 f"exec ./{script}"], preload=False, cwd=harness.TMP)
        eq((r.returncode, r.stdout), (0, b"hello from the probe\n"),
           f"{script}: {r.stderr.decode()}")
        dump = subprocess.run([tidemark(), "dump", trace], stdout=subprocess.PIPE,
                              text=True).stdout
        paths = re.findall(r'MODULE id=\d+ .* path="([^"]*)"', dump)
        check(probe() in paths, f"{script}: the probe is not among the modules: {paths}")
        check(not [p for p in paths if "inner" in p or "outer" in p],
              f"{script}: a script named as a module: {paths}")
        rep = subprocess.run([tidemark(), "report", trace], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        check("warning" not in rep.stderr, f"{script}: {rep.stderr}")


def dlswap(unwinder, as_path=None):
    """shim_probe dlswap: dl_pair_a and dl_pair_b loaded, called 4 times
    (each call keeps a block: 111111 and 222222 bytes; from the second on, the
    stack caches know the stack) and unloaded in turn, 50 times each, at one
    address (each copied to as_path first when given: a plugin rebuilt in
    place). Two sites, each with its own bytes, whatever the unwinder; the
    CFI unwinder's stacks (memo hits included) are libunwind's.
    In place, only the build on disk at the end (dl_pair_b) has names: the
    other is named by offset in that path, never after dl_pair_b."""
    libs = [build_path("tests", "preload", f"libtmk_dl_pair_{x}.so") for x in "ab"]
    what = f"dlswap {unwinder}{' reload' if as_path else ''}"
    trace = os.path.join(harness.TMP, f"{unwinder}.tmk")
    cmd = [probe(), "dlswap", *libs, "50", "4"] + ([as_path] if as_path else [])
    r = run(cmd, output=trace, env={"TIDEMARK_UNWIND": unwinder, "TIDEMARK_UNWIND_VERIFY": "1"})
    out = r.stdout.decode()
    eq(r.returncode, 0, f"{what}: status {out} {r.stderr.decode()}")
    if unwinder == "cfi":
        check(re.search(r"unwind verify: \d+ stacks, \d+ by cfi, [1-9]\d* memo, 0 mismatches",
                        r.stderr.decode()), f"{what}: {r.stderr.decode()}")
    check("same_base=1" in out, f"{what}: the plugins were not loaded at one address: {out}")
    d = tmkcat(trace, "-z", "111111:222222")
    if unwinder == "fp":  # its walk through ld.so (no frame pointers) reads words that are not
        d["frames_outside_modules"] = "0"  # return addresses (dlopen's own allocations)
    clean_trace(d, what)  # frames_outside_modules=0: every stack's modules mapped when written
    eq(num(d, "sized_allocs"), 400, f"{what}: the plugins' allocations")
    # every load that allocated is announced, every unload seen before the next load's stack
    check(num(d, "modules_gone") >= 99, f"{what}: MODULE_GONE records {num(d, 'modules_gone')}")
    rep = subprocess.run([tidemark(), "report", "--format", "json", trace],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eq(rep.returncode, 0, f"{what}: report {rep.stderr}")
    sites = json.loads(rep.stdout)["heap"]["top_at_end"]
    a_site = f"{os.path.basename(as_path)}+0x" if as_path else "dl_pair_a.c:"
    for name, size in ((a_site, 111111), ("dl_pair_b.c:", 222222)):
        mine = [s for s in sites if name in s["site"]]
        eq(len(mine), 1, f"{what}: sites named {name} in {sites}")
        eq((mine[0]["bytes"], mine[0]["allocs"]), (200 * size, 200), f"{what}: {name}'s site")


def case_dl_same_address():
    for unwinder in ("cfi", "fp", "libunwind"):
        dlswap(unwinder)


def case_dl_reload():
    for unwinder in ("cfi", "fp", "libunwind"):
        dlswap(unwinder, os.path.join(harness.TMP, "plugin.so"))


def alloc_stacks(path):
    """Per thread, the (size, frames) of every ALLOC in order, frames as
    module basename + offset (ASLR moves the modules between runs)."""
    p = subprocess.run([build_path("tests", "format", "tmkcat"), "-s", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eq(p.returncode, 0, f"tmkcat -s {path}")
    mods, stacks, seq = [], {}, {}
    for line in p.stdout.splitlines():
        f = line.split(" ", 4)
        if f[0] == "module":
            mods.append((int(f[2], 16), int(f[3], 16), os.path.basename(f[4])))
        elif f[0] == "stack":
            stacks[int(f[1])] = [int(x, 16) for x in line.split()[2:]]
        elif f[0] == "salloc":
            seq.setdefault(int(f[1]), []).append((int(f[2]), int(f[3])))

    def frame(pc):
        for start, end, name in mods:
            if start <= pc < end:
                return f"{name}+{pc - start:#x}"
        return f"{pc:#x}"

    return {th: [(size, tuple(frame(pc) for pc in stacks.get(sid, ()))) for size, sid in allocs]
            for th, allocs in seq.items()}


def by_first_alloc(lists, what):
    """Threads keyed by their first allocation (thread numbers depend on when
    the sampler thread first attached)."""
    keyed = {}
    for th, allocs in lists.items():
        key = allocs[0]
        check(key not in keyed, f"{what}: two threads start with {key}")
        keyed[key] = allocs
    return keyed


def case_stackcache():
    # Paths into malloc with the same caller (return address) at the same
    # stack position but different stacks (stack_paths.c): with the caller
    # cache (=2: also its counts on stderr) every allocation must have the
    # frames the plain unwind (=0) gives, with and without frame pointers.
    for build in ("fp", "nofp"):
        exe = build_path("tests", "preload", f"stack_paths_{build}")
        native = run([exe], preload=False)
        eq(native.returncode, 0, f"{build}: native status")
        got = {}
        for cache in ("2", "0", "cfi"):
            out = os.path.join(harness.TMP, f"sp-{build}-{cache}.%p.tmk")
            env = ({"TIDEMARK_UNWIND": "cfi", "TIDEMARK_UNWIND_VERIFY": "1"} if cache == "cfi"
                   else {"TIDEMARK_UNWIND": "libunwind", "TIDEMARK_STACK_CACHE": cache})
            r = run([exe], output=out, env=env)
            eq((r.returncode, r.stdout), (0, native.stdout), f"{build} cache={cache}: program")
            files = traces(rf"sp-{build}-{cache}\.\d+\.tmk$")
            eq(len(files), 2, f"{build} cache={cache}: traces of the parent and the child")
            procs = {}
            for f in files:
                d = tmkcat(f)
                clean_trace(d, f"{build} cache={cache} {os.path.basename(f)}")
                procs[d["pid"]] = (d["ppid"], by_first_alloc(alloc_stacks(f), f))
            child = [pid for pid, (ppid, _) in procs.items() if ppid in procs]
            eq(len(child), 1, f"{build} cache={cache}: one child's trace")
            got[cache] = ({"parent": next(v[1] for p, v in procs.items() if p != child[0]),
                           "child": procs[child[0]][1]}, r.stderr.decode())
        eq(got["0"][1], "", f"{build}: stderr without the cache")
        distinct = set()
        for proc, other in (("parent", "2"), ("child", "2"), ("parent", "cfi"), ("child", "cfi")):
            cached, plain = got[other][0][proc], got["0"][0][proc]
            what = "with the cache" if other == "2" else "by the CFI unwinder"
            eq(len(cached), len(plain), f"{build} {proc}: threads with allocations")
            for key, want in plain.items():
                check(key in cached, f"{build} {proc}: no thread starting with {key} {what}")
                have = cached[key]
                eq(len(have), len(want), f"{build} {proc}: allocations of the thread starting with {key}")
                for i, (h, w) in enumerate(zip(have, want)):
                    if h != w:
                        raise Failure(f"{build} {proc}: allocation {i} of the thread starting with "
                                      f"size {key[0]}: {what} {h}, libunwind without the cache {w}")
                distinct.update(want)
        # the CFI unwinder's own check: every stack it walked is libunwind's;
        # the sigaltstack handler and the coroutine are libunwind's
        m = re.fullmatch(r"tidemark: unwind verify: (\d+) stacks, (\d+) by cfi, \d+ memo, "
                         r"0 mismatches\n", got["cfi"][1])
        check(m, f"{build}: stderr with TIDEMARK_UNWIND_VERIFY=1: {got['cfi'][1]!r}")
        stacks, by_cfi = map(int, m.groups())
        check(stacks - by_cfi >= 32 and by_cfi > stacks * 0.9,
              f"{build}: {by_cfi} of {stacks} stacks by the CFI unwinder")
        check(len(distinct) > 800, f"{build}: only {len(distinct)} distinct (size, stack) pairs")
        m = re.fullmatch(r"tidemark: stack cache: (\d+) lookups, (\d+) hits, (\d+) fills, "
                         r"(\d+) plain\n", got["2"][1])  # the parent's: a child is silent
        check(m, f"{build}: stderr with TIDEMARK_STACK_CACHE=2: {got['2'][1]!r}")
        lookups, hits, fills, plain_n = map(int, m.groups())
        print(f"stackcache {build}: {lookups} lookups, {hits} hits, {fills} fills, "
              f"{plain_n} plain, {len(distinct)} distinct (size, stack)")
        check(hits > lookups // 3, f"{build}: the cache hit {hits} of {lookups}")
        check(fills > 200, f"{build}: the cache was filled {fills} times")
        # the sigaltstack handler (24 calls) and the coroutine (8) are off
        # the thread's stack: never through the cache
        check(plain_n >= 32, f"{build}: {plain_n} stacks unwound without the cache")



def exe_prefix(frames, exe):
    """The leading frames inside the executable exe (module basename)."""
    out = []
    for f in frames:
        if not f.startswith(exe + "+"):
            break
        out.append(f)
    return tuple(out)


def case_fp_frames():
    # TIDEMARK_UNWIND=fp walks the %rbp chain: in a program built with frame
    # pointers it must find the program's frames libunwind finds, the
    # function that called malloc first, with the shim optimized (its
    # fronts jump to the recording paths) and at -O0 (they call them, as in
    # a Debug build).
    exe = "stack_paths_fp"
    for lib in ("libtidemark.so", "libtidemark_O0.so"):
        path = build_path("preload", lib) if lib == "libtidemark.so" else \
            build_path("tests", "preload", lib)
        got = {}
        for unw in ("fp", "libunwind"):
            out = os.path.join(harness.TMP, f"fpf-{lib}-{unw}.%p.tmk")
            r = run([build_path("tests", "preload", exe)], output=out,
                    env={"LD_PRELOAD": path, "TIDEMARK_UNWIND": unw, "TIDEMARK_STACK_CACHE": "0"})
            eq(r.returncode, 0, f"{lib} {unw}: status")
            files = traces(rf"fpf-{re.escape(lib)}-{unw}\.\d+\.tmk$")
            pids = {tmkcat(f)["pid"] for f in files}
            parent = [f for f in files if tmkcat(f)["ppid"] not in pids]
            eq(len(parent), 1, f"{lib} {unw}: the parent's trace among {files}")
            # threads by the sizes they allocate (frames differ by unwinder)
            got[unw] = {tuple(a[0] for a in allocs): allocs
                        for allocs in alloc_stacks(parent[0]).values()}
        compared = 0
        for key, want in got["libunwind"].items():
            have = got["fp"].get(key)
            check(have is not None and len(have) == len(want),
                  f"{lib}: a thread of {len(want)} allocations with libunwind, not with fp")
            for i, ((size, w), (hsize, h)) in enumerate(zip(want, have)):
                eq(hsize, size, f"{lib}: allocation {i}'s size")
                wp = exe_prefix(w, exe)
                if not wp:
                    continue
                hp = exe_prefix(h, exe)
                if not h:
                    continue  # a handler on a sigaltstack: the walk stops at once
                if hp[:len(wp)] != wp[:len(hp)] or not hp or hp[0] != wp[0]:
                    raise Failure(f"{lib}: allocation {i} (size {size}) with fp {h[:4]}, "
                                  f"with libunwind {w[:4]}")
                compared += 1
        check(compared > 500, f"{lib}: only {compared} allocations compared")
        print(f"fp_frames {lib}: {compared} allocations, the same program frames")

if __name__ == "__main__":
    sys.exit(harness.main(globals(), "stacks"))
