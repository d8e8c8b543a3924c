#!/usr/bin/env python3
"""tests/preload/shim_test.py - runs programs under libtidemark.so and reads
their traces back with tmkcat (the independent reader) and the analyzer.

    shim_test.py --build BUILD_DIR CASE

One CASE per CTest test (tests/preload/CMakeLists.txt). Each case works in
its own temporary directory, removed at the end, and fails with a message
naming what differed. Figures that come from Go's rules (the seed) are
literals here, not read back from the program.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

ARGS = None
TMP = None


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


# ---- running ----------------------------------------------------------------

def build_path(*parts):
    return os.path.join(ARGS.build, *parts)



def shim():
    return build_path("preload", "libtidemark.so")


def probe():
    return build_path("tests", "preload", "shim_probe")


def base_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("TIDEMARK_") or k in ("LD_PRELOAD", "ASAN_OPTIONS"):
            del env[k]
    env["LC_ALL"] = "C"
    return env


def run(cmd, preload=True, output=None, env=None, timeout=60, input=None, cwd=None):
    """Runs cmd (list); returns CompletedProcess with bytes stdout/stderr."""
    e = base_env()
    if preload:
        e["LD_PRELOAD"] = shim()
        e["TIDEMARK_OUTPUT"] = output if output is not None else os.path.join(TMP, "t.%p.tmk")
    if env:
        e.update(env)
    try:
        return subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, input=input, cwd=cwd or TMP)
    except subprocess.TimeoutExpired:
        raise Failure(f"{cmd} did not finish in {timeout} s (deadlock?)")


def traces(pattern=r".*\.tmk(\.\d+)*$", where=None):
    where = where or TMP
    return sorted(os.path.join(where, f) for f in os.listdir(where) if re.match(pattern, f))


def tmkcat(path, *flags, allow_error=False):
    """Parses tmkcat's key=value lines; other lines go to d['lines']."""
    p = subprocess.run([build_path("tests", "format", "tmkcat"), *flags, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    d = {"lines": [], "rc": p.returncode}
    for line in p.stdout.splitlines():
        m = re.match(r"^([a-z_.0-9]+)=(.*)$", line)
        if m and not line.startswith(("alloc ", "free ", "array ")):
            d[m.group(1)] = m.group(2)
        else:
            d["lines"].append(line)
    if not allow_error:
        check(p.returncode == 0, f"tmkcat {path}: rc {p.returncode}: {d.get('error')} "
                                 f"{p.stderr.strip()}")
    return d


def num(d, key):
    check(key in d, f"tmkcat printed no {key}")
    return int(d[key])


def clean_trace(d, what):
    """The invariants every complete trace must hold."""
    for k in ("alloc_while_live", "free_after_free", "free_before_alloc", "stacks_undefined",
              "stack_redefined", "time_backwards", "frames_outside_modules", "truncated"):
        eq(num(d, k), 0, f"{what}: {k}")
    check("error" not in d, f"{what}: tmkcat error {d.get('error')}")


def one_trace(what, pattern=r".*\.tmk(\.\d+)?$"):
    ts = traces(pattern)
    eq(len(ts), 1, f"{what}: trace files {ts}")
    return ts[0]


# ---- 1. the seed examples ----------------------------------------------------

SEED = {
    # name: (bytes held after deletes, buckets of the last array), from Go's
    # rules: B=18, 2^18 + 2^14 buckets of 1,104 (or 144) bytes.
    "seed_grow": (307494912, 278528, 1104),
    "seed_indirect": (40108032, 278528, 144),
}


def seed_figures(out):
    m = re.search(r"after deletes:.*buckets\s+\d+ MiB \(\s*(\d+) bytes\)", out)
    p = re.search(r"peak:\s+buckets\s+\d+ MiB \(\s*(\d+) bytes\) = arrays (\d+) \+ overflow (\d+)",
                  out)
    check(m and p, f"unexpected example output:\n{out}")
    return int(m.group(1)), int(p.group(1)), int(p.group(2)), int(p.group(3))


def case_seed():
    for name, (held, buckets, bsize) in SEED.items():
        exe = build_path("examples", name)
        native = run([exe], preload=False)
        eq(native.returncode, 0, f"{name} native status")
        r = run([exe], output=os.path.join(TMP, name + ".tmk"))
        eq(r.returncode, 0, f"{name} status under the shim")
        eq(r.stderr, b"", f"{name} stderr under the shim")
        out = r.stdout.decode()
        after, peak, peak_arrays, peak_ovf = seed_figures(out)
        eq(after, held, f"{name}: gomap's bytes held after deletes")
        eq(seed_figures(native.stdout.decode()), (after, peak, peak_arrays, peak_ovf),
           f"{name}: gomap's figures with and without the shim")
        d = tmkcat(os.path.join(TMP, name + ".tmk"))
        clean_trace(d, name)
        eq(d["end"], "exit", f"{name} end")
        eq(num(d, "tables"), 1, f"{name} tables")
        eq(d["table.1.label"], name, f"{name} label")
        eq(num(d, "table.1.held"), held, f"{name}: trace's bucket bytes held at exit")
        eq(num(d, "array_held"), held, f"{name}: trace's live array bytes")
        eq(num(d, "table.1.peak_held"), peak, f"{name}: trace's peak bucket bytes")
        eq(num(d, "table.1.peak_held_arrays"), peak_arrays, f"{name}: arrays at the peak")
        eq(peak - num(d, "table.1.peak_held_arrays"), peak_ovf, f"{name}: overflow at the peak")
        eq(num(d, "table.1.buckets"), buckets, f"{name}: buckets of the last array")
        eq(num(d, "table.1.held") // buckets, bsize, f"{name}: bucket size")
        eq(num(d, "table.1.live"), 0, f"{name}: the live count read at exit")
        check(num(d, "table_counts") >= 2, f"{name}: live counts sampled")
        by_reason = [int(x) for x in d["table.1.arrays"].split(",")]
        eq(by_reason[0], 1, f"{name}: initial arrays")
        eq(by_reason[1], 18, f"{name}: doubling growths (B 0 -> 18)")
        # the analyzer agrees
        rep = subprocess.run([build_path("analyzer", "tidemark"), "report",
                              os.path.join(TMP, name + ".tmk")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        eq(rep.returncode, 0, f"{name}: tidemark report status")
        check(f"{held:,}" in rep.stdout, f"{name}: report does not say {held:,} B:\n{rep.stdout}")


# ---- 2. uthash ---------------------------------------------------------------

def case_uthash():
    exe = build_path("tests", "preload", "uthash_prog")
    native = run([exe], preload=False)
    r = run([exe], output=os.path.join(TMP, "u.tmk"))
    eq(r.returncode, 0, "status")
    eq(r.stdout, native.stdout, "stdout with and without the shim")
    want = [tuple(l.split()[1:]) for l in r.stdout.decode().splitlines() if l.startswith("array")]
    ended = [l.split()[1] for l in r.stdout.decode().splitlines() if l.startswith("end")]
    check(len(want) > 10, f"too few expansions: {want}")
    d = tmkcat(os.path.join(TMP, "u.tmk"), "-a")
    clean_trace(d, "uthash")
    eq(num(d, "tables"), 2, "tables")
    label = {str(i): d[f"table.{i}.label"] for i in (1, 2)}
    eq(sorted(label.values()), ["alpha", "beta"], "labels")
    got = []
    for line in d["lines"]:
        m = re.match(r"array table=(\d+) bytes=(\d+) buckets=(\d+) reason=(\d+)", line)
        if m:
            eq(int(m.group(2)), int(m.group(3)) * 16, "bytes = buckets * sizeof(UT_hash_bucket)")
            got.append((label[m.group(1)], m.group(3), m.group(4)))
    eq(got, want, "bucket arrays (table, buckets, reason) in order")
    for i in ("1", "2"):
        eq(int(d[f"table.{i}.ended"]), int(label[i] in ended), f"table {label[i]} ended")
        if label[i] == "alpha":
            eq(num(d, f"table.{i}.live"), 20000, "alpha's live count read at exit")
    eq(num(d, "table_counts") > 0, True, "table counts")
    # tables beginning and ending on 4 threads at once, counts sampled each ms
    r = run([exe, "threads"], output=os.path.join(TMP, "ut.tmk"),
            env={"TIDEMARK_SAMPLE_INTERVAL": "1"})
    eq(r.returncode, 0, "threads status")
    made = int(r.stdout.split()[1])
    d = tmkcat(os.path.join(TMP, "ut.tmk"))
    clean_trace(d, "uthash threads")
    eq((num(d, "tables"), num(d, "tables_ended")), (made, made), "every table made and ended")
    eq(num(d, "arrays_live"), 0, "no bucket array left")


# ---- 3. stress -----------------------------------------------------------------

def case_stress():
    # 8 threads x 1,000,000 allocations, every other block freed by the next
    # thread: counts read back exactly, and in the merged order no free comes
    # before its allocation (alloc_while_live / free_after_free / free_unknown)
    n = 1000000
    for unw in ("libunwind", "fp"):
        t0 = time.time()
        out = os.path.join(TMP, f"s-{unw}.tmk")
        r = run([probe(), "stress", str(n)], output=out, timeout=100,
                env={"TIDEMARK_UNWIND": unw})
        eq(r.returncode, 0, f"{unw}: status ({r.stderr.decode()})")
        d = tmkcat(out, "-z", "600:631")
        clean_trace(d, f"stress {unw}")
        eq(d["end"], "exit", f"{unw}: end")
        eq(num(d, "sized_allocs"), 8 * n, f"{unw}: allocations of the workload read back")
        eq(num(d, "sized_frees"), 8 * n, f"{unw}: frees of the workload read back")
        eq(num(d, "lost"), 0, f"{unw}: lost")
        eq(num(d, "free_unknown"), 0, f"{unw}: frees of unknown addresses")
        eq(num(d, "allocs") - num(d, "frees"), num(d, "live_allocs"), "allocs - frees = live")
        check(num(d, "threads") >= 9, f"threads {d['threads']}")
        os.unlink(out)
        print(f"stress {unw}: {time.time() - t0:.1f} s")
    # realloc across threads: each block made and regrown on one thread, then
    # regrown and freed on the next; 3 allocations (ALLOC records) per block
    n = 200000
    out = os.path.join(TMP, "r.tmk")
    r = run([probe(), "rstress", str(n)], output=out, timeout=100)
    eq(r.returncode, 0, f"rstress status ({r.stderr.decode()})")
    d = tmkcat(out, "-z", "700:1923")
    clean_trace(d, "realloc stress")
    eq(num(d, "sized_allocs"), 3 * 4 * n, "malloc + 2 reallocs per block, read back")
    eq(num(d, "sized_frees"), 3 * 4 * n, "their frees (2 by realloc, 1 by free)")
    eq(num(d, "free_unknown"), 0, "frees of unknown addresses")


# ---- 4. process life: fork, exec, system, dlopen, aligned, edge cases --------

def case_fork():
    r = run([probe(), "fork"])
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    parent, child = out["parent"], out["child"]
    eq(out["forked"], child, "fork's pid")
    p = tmkcat(os.path.join(TMP, f"t.{parent}.tmk"), "-z", "2222:3333")
    c = tmkcat(os.path.join(TMP, f"t.{child}.tmk"), "-z", "2222:3333")
    for d, who in ((p, "parent"), (c, "child")):
        clean_trace(d, who)
        eq(d["end"], "exit", f"{who} end")
    eq(p["pid"], parent, "parent header pid")
    eq(c["pid"], child, "child header pid")
    eq(c["ppid"], parent, "child header ppid")
    eq(num(p, "sized_allocs"), 10, "parent's allocations after the fork (3333)")
    eq(num(c, "sized_allocs"), 100, "child's allocations (2222), none of the parent's")
    eq(num(c, "sized_frees"), 100, "child's frees")
    eq(c["end_status"], "3", "child exit status")
    check(num(c, "modules") > 3, "child announces the modules")
    # a fixed output path: the child writes PATH.<pid>
    for t in traces():
        os.unlink(t)
    fixed = os.path.join(TMP, "fixed.tmk")
    r = run([probe(), "fork"], output=fixed)
    eq(r.returncode, 0, "status with a fixed path")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    eq(tmkcat(fixed)["pid"], out["parent"], "the parent's file at the fixed path")
    eq(tmkcat(f"{fixed}.{out['child']}")["ppid"], out["parent"], "the child's at PATH.<pid>")
    eq(r.stderr, b"", "stderr with a fixed path")


def case_forkexec():
    r = run([probe(), "forkexec"])
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    child = out["forked"]
    eq(out["execchild"], child, "exec keeps the pid")
    before = tmkcat(os.path.join(TMP, f"t.{child}.tmk"))
    eq(before["end"], "exec", "forked child's trace ends with exec")
    eq(before["ppid"], out["parent"], "forked child's ppid")
    after_files = traces(rf"t\.{child}\.tmk\.\d+$")
    eq(len(after_files), 1, f"the exec'ed image's own file: {traces()}")
    after = tmkcat(after_files[0], "-z", "4444:4444")
    clean_trace(after, "exec'ed image")
    eq(after["end"], "exit", "exec'ed image end")
    eq(after["end_status"], "4", "exec'ed image status")
    eq(num(after, "sized_allocs"), 5, "exec'ed image's allocations")
    eq(r.stderr, b"", "stderr")
    # a fixed path: the forked child writes PATH.<pid>, its exec'ed image
    # PATH.<pid>.1, quietly (the existing PATH is its parent's)
    for t in traces():
        os.unlink(t)
    fixed = os.path.join(TMP, "fixed.tmk")
    r = run([probe(), "forkexec"], output=fixed)
    eq((r.returncode, r.stderr), (0, b""), "fork+exec with a fixed path")
    child = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)["forked"]
    eq(tmkcat(f"{fixed}.{child}")["end"], "exec", "the forked child's file")
    d = tmkcat(f"{fixed}.{child}.1", "-z", "4444:4444")
    eq((d["pid"], num(d, "sized_allocs")), (child, 5), "the exec'ed image's file")
    eq(sorted(os.path.basename(t) for t in traces()),
       sorted(["fixed.tmk", f"fixed.tmk.{child}", f"fixed.tmk.{child}.1"]), "files")
    # the same through a shell pipeline under tidemark run
    for t in traces():
        os.unlink(t)
    e = base_env()
    p = subprocess.run([build_path("analyzer", "tidemark"), "run", "-o", fixed, "--", "sh", "-c",
                        "seq 1 5 | sort -r | head -2; exit 4"], env=e, cwd=TMP,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    eq((p.returncode, p.stdout), (4, b"5\n4\n"), "tidemark run of a pipeline")
    check(b"exists" not in p.stderr, f"tidemark run of a pipeline: {p.stderr.decode()}")


def case_system():
    r = run([probe(), "system"])
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    check(b"from-sh" in r.stdout, "the shell ran")
    parent = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)["parent"]
    d = tmkcat(os.path.join(TMP, f"t.{parent}.tmk"))
    clean_trace(d, "parent")
    eq(d["end"], "exit", "parent end")
    shells = [tmkcat(t) for t in traces()]
    shells = [s for s in shells if s["ppid"] == parent]
    eq(len(shells), 1, "one trace from the shell system() ran")
    clean_trace(shells[0], "shell")
    eq(shells[0]["end_status"], "5", "shell's exit status")
    eq(r.stderr, b"", "stderr")


def case_vfork():
    r = run([probe(), "vfork"], output=os.path.join(TMP, "v.tmk"))
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    d = tmkcat(os.path.join(TMP, "v.tmk"), "-z", "6666:6666")
    clean_trace(d, "vfork parent")
    eq(d.get("end"), "exit", "parent's trace ends normally after its vfork children")
    eq(num(d, "sized_allocs"), 1000, "parent's allocations after the vfork children")
    eq(len(traces()), 1, f"no other trace file: {traces()}")


def case_dlopen():
    lib = build_path("tests", "preload", "libtmk_dl_lib.so")
    r = run([probe(), "dlopen", lib, "40"], output=os.path.join(TMP, "d.tmk"),
            env={"TIDEMARK_SAMPLE_INTERVAL": "1"})
    eq(r.returncode, 0, f"status {r.stdout.decode()} {r.stderr.decode()}")
    d = tmkcat(os.path.join(TMP, "d.tmk"), "-z", "7777:7778")
    clean_trace(d, "dlopen")  # frames_outside_modules=0: MODULE before its stacks
    eq(num(d, "sized_allocs"), 80, "allocations made inside the library (and its constructor)")
    check(num(d, "modules_gone") >= 1, "dlclose seen (MODULE_GONE)")
    dump = subprocess.run([build_path("analyzer", "tidemark"), "dump",
                           os.path.join(TMP, "d.tmk")], stdout=subprocess.PIPE, text=True).stdout
    check("libtmk_dl_lib.so" in dump, "no MODULE record for the dlopen'ed library")
    rep = subprocess.run([build_path("analyzer", "tidemark"), "report",
                          os.path.join(TMP, "d.tmk")], stdout=subprocess.PIPE, text=True).stdout
    check("dl_lib.c:" in rep or "dl_lib_alloc" in rep,
          f"the library's allocation site is not symbolized:\n{rep}")


def case_aligned():
    native = run([probe(), "aligned"], preload=False)
    r = run([probe(), "aligned"], output=os.path.join(TMP, "a.tmk"))
    eq(r.returncode, 0, f"status: {r.stdout.decode()}")
    bad = [l for l in r.stdout.decode().splitlines() if l.startswith("aligned_alloc_bad")]
    eq(bad, [l for l in native.stdout.decode().splitlines()
             if l.startswith("aligned_alloc_bad")], "aligned_alloc(3, 12) as glibc answers it")
    d = tmkcat(os.path.join(TMP, "a.tmk"), "-e")
    clean_trace(d, "aligned")
    want = [l.split()[0:3] for l in r.stdout.decode().splitlines() if l.startswith("alloc=")]
    check(len(want) == 23, f"want 23 aligned allocations, got {len(want)}")
    # full mode: allocations by info (no address): each one with its size;
    # blocks of TIDEMARK_PROBE_MIN (64 KiB) or more by address
    sizes = collections.Counter(int(m.group(1)) for m in
                                (re.match(r"alloc (?:info=\S+|0x[0-9a-f]+) (\d+)$", l)
                                 for l in d["lines"]) if m)
    for fn, size in collections.Counter((fn, int(size)) for fn, _, size in want):
        check(sizes[size] >= 1, f"{fn[6:]}: no allocation of {size} bytes in the trace")
    # by address (every allocation sampled): each one at its address
    r = run([probe(), "aligned"], output=os.path.join(TMP, "a1.tmk"),
            env={"TIDEMARK_SAMPLE_BYTES": "1"})
    eq(r.returncode, 0, f"sampled status: {r.stdout.decode()}")
    d = tmkcat(os.path.join(TMP, "a1.tmk"), "-e")
    clean_trace(d, "aligned, sampled")
    recorded = set()
    for line in d["lines"]:
        m = re.match(r"alloc (0x[0-9a-f]+) (\d+)", line)
        if m:
            recorded.add((int(m.group(1), 16), int(m.group(2))))
    want = [l.split()[0:3] for l in r.stdout.decode().splitlines() if l.startswith("alloc=")]
    for fn, ptr, size in want:
        check((int(ptr, 16), int(size)) in recorded,
              f"{fn[6:]}: no ALLOC {ptr} size {size} in the trace")


def case_edge():
    r = run([probe(), "edge"], output=os.path.join(TMP, "e.tmk"))
    eq(r.returncode, 0, f"status: {r.stdout.decode()}")
    for unw in ("fp",):
        r2 = run([probe(), "edge"], output=os.path.join(TMP, "e2.tmk"),
                 env={"TIDEMARK_UNWIND": unw})
        eq(r2.returncode, 0, f"status with TIDEMARK_UNWIND={unw}: {r2.stdout.decode()}")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    d = tmkcat(os.path.join(TMP, "e.tmk"), "-e")
    clean_trace(d, "edge")
    # full mode records blocks by info ("alloc info=SIZE@STACK SIZE", "free info=SIZE@STACK");
    # the probe's first allocation of 333 bytes is the one it reallocs to 0
    lines = [l for l in d["lines"] if l.startswith(("alloc ", "free "))]
    i = [n for n, l in enumerate(lines) if l.startswith("alloc ") and l.split()[2:] == ["333"]]
    check(i, "an allocation of 333 bytes")
    key = lines[i[0]].split()[1]
    nxt = [l for l in lines[i[0] + 1:] if l.split()[1] == key]
    eq(nxt[:1], [f"free {key}"], "realloc(p, 0) is recorded as the free of p")
    check(not any(l.startswith("alloc ") and l.endswith(" 0") for l in lines),
          "an allocation of 0 bytes was recorded (realloc(p, 0) returned NULL)")
    check(any(l.startswith("alloc ") and l.endswith(" 444") for l in lines),
          "realloc(NULL, 444) recorded as an allocation")
    eq(num(d, "free_unknown"), 0, "frees of unknown addresses (free(NULL) recorded?)")
    # 2^33 + 16 bytes is past what an info holds (< 2^32): ALLOC and FREE by address
    big = int(out["big"], 16)
    check(f"alloc {big:#x} {2**33 + 16}" in lines, "the 8 GiB block's ALLOC by address")
    check(f"free {big:#x}" in lines, "the 8 GiB block's FREE by address")


# ---- 5. the program is unchanged ------------------------------------------------

def same(cmd, what, input=None, cwd_native=None, cwd_shim=None, subst=None):
    n = run(cmd, preload=False, input=input, cwd=cwd_native)
    s = run(cmd, input=input, cwd=cwd_shim)
    no, so = n.stdout, s.stdout
    if subst:
        no, so = no.replace(subst[0], b"DIR"), so.replace(subst[1], b"DIR")
    eq(s.returncode, n.returncode, f"{what}: exit status")
    eq(so, no, f"{what}: stdout")
    eq(s.stderr, n.stderr, f"{what}: stderr")
    return n


def case_unchanged():
    lines = b"".join(b"%d line %x zeta\n" % ((i * 7919) % 10007, i * 31) for i in range(20000))
    same(["sort"], "sort", input=lines)
    same(["sort", "-n", "-r", "-k", "1,1"], "sort -n -r", input=lines)
    gz = same(["gzip", "-n", "-c"], "gzip", input=lines).stdout
    same(["gunzip", "-c"], "gunzip", input=gz)
    same(["python3", "-c", "import json, collections, sys\n"
          "d = collections.Counter(w for w in sys.stdin.read().split())\n"
          "print(json.dumps(d.most_common(5)), sum(d.values()))"], "python3", input=lines)
    mp_script = (
        "import multiprocessing as mp, threading, subprocess, sys\n"
        "def sq(x): return sum(i * i for i in range(x))\n"
        "if __name__ == '__main__':\n"
        "    mp.set_start_method('fork')\n"
        "    with mp.Pool(3) as p: print(p.map(sq, range(200, 230)))\n"
        "    out = []\n"
        "    ts = [threading.Thread(target=lambda k=k: out.append(sq(1000 + k))) for k in range(8)]\n"
        "    [t.start() for t in ts]; [t.join() for t in ts]\n"
        "    print(sorted(out))\n"
        "    print(subprocess.run(['sh', '-c', 'echo sub; exit 2'], capture_output=True).stdout)\n"
        "    sys.exit(3)\n")
    n = same(["python3", "-c", mp_script], "python3 multiprocessing, threads, subprocess")
    eq(n.returncode, 3, "python3's exit status")
    same(["git", "--version"], "git --version")
    a, b = os.path.join(TMP, "ga"), os.path.join(TMP, "gb")
    os.mkdir(a)
    os.mkdir(b)
    same(["git", "init"], "git init", cwd_native=a, cwd_shim=b,
         subst=(a.encode(), b.encode()))
    for d in (a, b):
        with open(os.path.join(d, "f.txt"), "wb") as f:
            f.write(lines)
    git_env = {"GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE":
               "2020-01-01T00:00:00Z", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x", "HOME": TMP}
    for cmd in (["git", "add", "f.txt"], ["git", "commit", "-q", "-m", "one"],
                ["git", "log", "--format=%H %s"], ["git", "gc", "-q"],
                ["git", "fsck", "--no-progress"], ["git", "show", "--stat", "HEAD"]):
        nr = run(cmd, preload=False, cwd=a, env=git_env)
        sr = run(cmd, cwd=b, env=git_env)
        eq((sr.returncode, sr.stdout, sr.stderr), (nr.returncode, nr.stdout, nr.stderr),
           " ".join(cmd))
    same(["sh", "-c", "seq 1 30000 | sort -r | head -3; echo done | tr a-z A-Z"], "sh pipeline")
    n = same(["sh", "-c", "seq 1 100 | sort -n | tail -1; exit 3"], "sh nonzero exit")
    eq(n.returncode, 3, "nonzero exit")
    n = same(["sh", "-c", "echo dying; kill -TERM $$"], "death by SIGTERM")
    eq(n.returncode, -signal.SIGTERM, "death by SIGTERM")
    n = same(["python3", "-c", "import os, signal; print('x', flush=True); "
              "os.kill(os.getpid(), signal.SIGSEGV)"], "death by SIGSEGV")
    eq(n.returncode, -signal.SIGSEGV, "death by SIGSEGV")
    for t in traces():
        d = tmkcat(t, allow_error=True)
        eq(d["rc"], 0, f"trace {os.path.basename(t)} well formed: {d.get('error')}")


# ---- 6. kill, output path, settings ---------------------------------------------

def case_kill():
    e = base_env()
    e["LD_PRELOAD"] = shim()
    path = os.path.join(TMP, "k.tmk")
    e["TIDEMARK_OUTPUT"] = path
    p = subprocess.Popen([probe(), "spin", "1.5"], env=e, stdout=subprocess.PIPE)
    line = p.stdout.readline()
    eq(line, b"ready\n", "probe ready")
    time.sleep(0.3)
    p.kill()
    p.wait()
    p.stdout.close()
    eq(p.returncode, -signal.SIGKILL, "killed")
    d = tmkcat(path, allow_error=True)
    eq(d["rc"], 0, f"killed trace reads: {d.get('error')}")
    eq(d["end"], "none", "no END in a killed trace")
    check(num(d, "memory_samples") >= 50, f"samples up to the last flush: {d['memory_samples']}")
    check(num(d, "modules") > 3, "modules")
    rep = subprocess.run([build_path("analyzer", "tidemark"), "report", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eq(rep.returncode, 0, f"report on a truncated trace: {rep.stderr}")
    check("truncated" in (rep.stdout + rep.stderr).lower(), "report says truncated")
    # a program that allocates slowly: its records older than about a second
    # are in the file when it is killed (not only when a buffer fills)
    path = os.path.join(TMP, "k2.tmk")
    e["TIDEMARK_OUTPUT"] = path
    p = subprocess.Popen([probe(), "trickle"], env=e, stdout=subprocess.PIPE)
    line = p.stdout.readline().split()
    eq(line[:1], [b"ready"], "trickle ready")
    p.kill()
    p.wait()
    p.stdout.close()
    d = tmkcat(path, "-z", "3333:3333", allow_error=True)
    eq(d["rc"], 0, f"killed trace reads: {d.get('error')}")
    check(num(d, "sized_allocs") >= int(line[1]),
          f"records of the first 0.5 s of a 1.5 s run: {d['sized_allocs']} of {int(line[1])}")


def warned(r, what, pattern):
    lines = r.stderr.decode().splitlines()
    eq(len(lines), 1, f"{what}: stderr lines {lines}")
    check(lines[0].startswith("tidemark: ") and re.search(pattern, lines[0]),
          f"{what}: stderr {lines[0]!r}")


def case_output():
    hello = run([probe(), "hello"], preload=False)
    eq(hello.returncode, 0, "hello")
    # mode 0600, %p and %e
    r = run([probe(), "hello"], output=os.path.join(TMP, "o.%e.%p.tmk"))
    eq((r.returncode, r.stdout, r.stderr), (0, hello.stdout, b""), "hello under the shim")
    ts = traces(r"o\.shim_probe\.\d+\.tmk$")
    eq(len(ts), 1, f"%e.%p expanded: {traces()}")
    eq(stat.S_IMODE(os.lstat(ts[0]).st_mode), 0o600, "trace file mode")
    pid = re.match(r".*o\.shim_probe\.(\d+)\.tmk$", ts[0]).group(1)
    eq(tmkcat(ts[0])["pid"], pid, "%p is the pid")
    os.unlink(ts[0])
    r = run([probe(), "hello"], output=os.path.join(TMP, "pct%%.%p.tmk"))
    eq(len(traces(r"pct%\.\d+\.tmk$")), 1, f"%% is a %: {traces()}")
    for t in traces():
        os.unlink(t)
    # an existing file: untouched
    existing = os.path.join(TMP, "exists.tmk")
    with open(existing, "wb") as f:
        f.write(b"precious bytes\n")
    r = run([probe(), "hello"], output=existing)
    eq((r.returncode, r.stdout), (0, hello.stdout), "existing path: program unchanged")
    warned(r, "existing path", "exists")
    with open(existing, "rb") as f:
        eq(f.read(), b"precious bytes\n", "existing file's content")
    check(existing + ".1" in r.stderr.decode(), "the warning names the file written instead")
    clean_trace(tmkcat(existing + ".1"), "trace beside the existing file")
    os.unlink(existing + ".1")
    # a symlink at the path: not followed, target untouched
    target = os.path.join(TMP, "target")
    with open(target, "wb") as f:
        f.write(b"target bytes\n")
    link = os.path.join(TMP, "link.tmk")
    os.symlink(target, link)
    r = run([probe(), "hello"], output=link)
    eq((r.returncode, r.stdout), (0, hello.stdout), "symlink: program unchanged")
    warned(r, "symlink", "symlink")
    with open(target, "rb") as f:
        eq(f.read(), b"target bytes\n", "symlink target's content")
    check(os.path.islink(link), "the symlink is still there")
    dangling = os.path.join(TMP, "dangling.tmk")
    os.symlink(os.path.join(TMP, "nowhere"), dangling)
    r = run([probe(), "hello"], output=dangling)
    eq((r.returncode, r.stdout), (0, hello.stdout), "dangling symlink: program unchanged")
    warned(r, "dangling symlink", "symlink")
    check(not os.path.exists(os.path.join(TMP, "nowhere")), "dangling symlink followed")
    # a missing directory, an unwritable one
    r = run([probe(), "hello"], output=os.path.join(TMP, "missing", "x.tmk"))
    eq((r.returncode, r.stdout), (0, hello.stdout), "missing dir: program unchanged")
    warned(r, "missing directory", "cannot be created")
    r = run([probe(), "hello"], output="/proc/tidemark-test-%p.tmk")
    eq((r.returncode, r.stdout), (0, hello.stdout), "unwritable dir: program unchanged")
    warned(r, "unwritable directory (/proc)", "cannot be created")
    if os.geteuid() != 0:
        ro = os.path.join(TMP, "ro")
        os.mkdir(ro, 0o500)
        r = run([probe(), "hello"], output=os.path.join(ro, "x.tmk"))
        os.chmod(ro, 0o700)
        eq((r.returncode, r.stdout), (0, hello.stdout), "read-only dir: program unchanged")
        warned(r, "read-only directory", "cannot be created")
    # a failing program keeps its status with a bad path
    r = run(["sh", "-c", "echo out; exit 7"], output=os.path.join(TMP, "missing", "y.tmk"))
    eq((r.returncode, r.stdout), (7, b"out\n"), "exit status with a bad path")
    leftovers = [t for t in traces() if not os.path.islink(t) and "exists" not in t]
    eq(leftovers, [], "no trace file was made")


def case_descriptors():
    # The program's own descriptors are the program's: a shell's `exec 3>`,
    # a daemon closing every descriptor, a dup2 onto the trace's descriptor.
    # The program's files must hold only its bytes.
    out = os.path.join(TMP, "out.txt")
    script = f"exec 3>{out}; echo hi >&3; seq 1 20000 | sort -r >&3; exec 3>&-; echo done"
    n = run(["sh", "-c", script], preload=False)
    with open(out, "rb") as f:
        native = f.read()
    os.unlink(out)
    r = run(["sh", "-c", script])
    eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, n.stderr), "sh exec 3>")
    with open(out, "rb") as f:
        eq(f.read(), native, "the file sh wrote through descriptor 3")
    for t in traces():
        clean_trace(tmkcat(t), os.path.basename(t))
        os.unlink(t)
    # none of the shim's descriptors (trace file, libunwind's validation
    # pipe) sits at a low number, where the program's own would land
    for unw in ("libunwind", "fp"):
        n = run([probe(), "fds"], preload=False)
        r = run([probe(), "fds"], env={"TIDEMARK_UNWIND": unw})
        eq(r.stdout.decode(), n.stdout.decode(), f"descriptors 3..99 ({unw})")
    mine = os.path.join(TMP, "mine.txt")
    r = run([probe(), "closefds", mine], output=os.path.join(TMP, "c.tmk"))
    eq(r.returncode, 0, f"closefds status {r.stdout.decode()}")
    with open(mine, "rb") as f:
        eq(f.read(), b"mine\n", "the file of a program that closed every descriptor")
    check(len(r.stderr.decode().splitlines()) <= 1, f"closefds stderr {r.stderr}")
    d = tmkcat(os.path.join(TMP, "c.tmk"), allow_error=True)
    eq(d["rc"], 0, f"closefds trace reads: {d.get('error')}")
    # a program that puts its own file on the trace's number keeps it, and
    # the trace goes on (opened again by its path), silently and complete
    r = run([probe(), "dup2", mine], output=os.path.join(TMP, "d.tmk"))
    eq(r.returncode, 0, f"dup2 status {r.stdout.decode()}")
    with open(mine, "rb") as f:
        eq(f.read(), b"mine\n", "the file a program dup2'ed onto the trace's descriptor")
    eq(r.stderr, b"", "dup2 onto the trace descriptor: nothing on stderr")
    d = tmkcat(os.path.join(TMP, "d.tmk"))
    clean_trace(d, "dup2 trace")
    check(num(d, "allocs") >= 300000, f"every allocation after the dup2 is in the trace: {d['allocs']}")


# Shell programs keeping their own files on numbers all over the descriptor
# space (a sample of 3..1023 and the last ones below a 1024 limit): every
# line must reach the file, and a flock'ed file must stay locked. libunwind's
# memory validation used a pipe of its own, which the shim had put at 100/101:
# the program's file there was closed, or got bytes of process memory.
FD_SAMPLE = (3, 4, 9, 10, 63, 99, 100, 101, 102, 255, 256, 511, 777, 1000, 1008, 1015, 1022, 1023)


def program_fd_script(fd, path, mode):
    redirect = f"{fd}<>" if mode == "rw" else f"{fd}>"
    return (f"exec {redirect}{path}; for i in $(seq 1 200); do a=\"$a$i\"; "
            f"echo \"line $i\" >&{fd}; done; echo ok")


def case_program_fds():
    for unwind in ("libunwind", "fp"):
        for limit in ("20000", "1024"):
            for fd in FD_SAMPLE:
                for mode in ("w", "rw"):
                    out = os.path.join(TMP, "out.txt")
                    if mode == "rw":
                        with open(out, "wb") as f:
                            f.write(b"hello\n")
                    script = f"ulimit -n {limit}; " + program_fd_script(fd, out, mode)
                    what = f"fd {fd} ({mode}, limit {limit}, {unwind})"
                    r = run(["bash", "-c", script], env={"TIDEMARK_UNWIND": unwind},
                            output=os.path.join(TMP, "p.tmk"))
                    eq((r.returncode, r.stdout, r.stderr), (0, b"ok\n", b""), what)
                    with open(out, "rb") as f:
                        lines = f.read().decode(errors="replace").splitlines()
                    eq(lines, [f"line {i}" for i in range(1, 201)], f"{what}: the file")
                    clean_trace(tmkcat(os.path.join(TMP, "p.tmk")), what)
                    for t in traces():
                        os.unlink(t)
                    os.unlink(out)
    # the flock idiom: while this shell holds the lock on its descriptor,
    # a second locker is refused
    lock = os.path.join(TMP, "lock")
    for fd in (100, 101, 1023):
        script = (f"exec {fd}>{lock}; flock -n {fd} || exit 9; "
                  f"for i in $(seq 1 300); do a=\"$a$i\"; done; "
                  f"flock -n {lock} true && echo second-got || echo second-refused")
        n = run(["bash", "-c", script], preload=False)
        eq(n.stdout, b"second-refused\n", "flock without the shim")
        r = run(["bash", "-c", script], output=os.path.join(TMP, "l.%p.tmk"))
        eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, n.stderr),
           f"flock on descriptor {fd}")
        for t in traces():
            os.unlink(t)


def case_settings():
    hello = run([probe(), "hello"], preload=False)
    for var, val, pat in (("TIDEMARK_DEPTH", "abc", "TIDEMARK_DEPTH=abc"),
                          ("TIDEMARK_DEPTH", "0", "TIDEMARK_DEPTH=0"),
                          ("TIDEMARK_MODE", "foo", "TIDEMARK_MODE=foo"),
                          ("TIDEMARK_UNWIND", "dwarf", "TIDEMARK_UNWIND=dwarf"),
                          ("TIDEMARK_SAMPLE_INTERVAL", "-5", "TIDEMARK_SAMPLE_INTERVAL=-5"),
                          ("TIDEMARK_SAMPLE_BYTES", "1k", "TIDEMARK_SAMPLE_BYTES=1k"),
                          ("TIDEMARK_STACK_CACHE", "on", "TIDEMARK_STACK_CACHE=on"),
                          ("TIDEMARK_COMPRESS", "yes", "TIDEMARK_COMPRESS=yes")):
        out = os.path.join(TMP, "set.tmk")
        r = run([probe(), "hello"], output=out, env={var: val})
        eq((r.returncode, r.stdout), (0, hello.stdout), f"{var}={val}: program unchanged")
        warned(r, f"{var}={val}", re.escape(pat))
        d = tmkcat(out)
        clean_trace(d, f"{var}={val}")
        eq((d["max_depth"], d["flags"], d["sample_interval"]), ("32", "0", "0"),
           f"{var}={val}: defaults used")
        os.unlink(out)
    # TIDEMARK_QUIET=1: nothing on stderr, even for a bad value
    out = os.path.join(TMP, "set.tmk")
    r = run([probe(), "hello"], output=out, env={"TIDEMARK_QUIET": "1", "TIDEMARK_MODE": "foo"})
    eq((r.returncode, r.stdout, r.stderr), (0, hello.stdout, b""), "TIDEMARK_QUIET=1")
    clean_trace(tmkcat(out), "quiet")
    os.unlink(out)
    # an empty TIDEMARK_OUTPUT: one line, the default name in the working directory
    r = run([probe(), "hello"], output="")
    eq((r.returncode, r.stdout), (0, hello.stdout), "TIDEMARK_OUTPUT=''")
    warned(r, "TIDEMARK_OUTPUT=''", "TIDEMARK_OUTPUT")
    ts = traces(r"tidemark\.\d+\.tmk$")
    eq(len(ts), 1, f"default trace name: {traces()}")
    clean_trace(tmkcat(ts[0]), "default name")
    os.unlink(ts[0])
    r = run([probe(), "hello"], output=out, env={"TIDEMARK_DEPTH": "5"})
    eq(r.stderr, b"", "a good setting says nothing")
    d = tmkcat(out)
    eq(d["max_depth"], "5", "TIDEMARK_DEPTH=5 in the header")
    check(num(d, "max_depth_seen") <= 5, "no stack deeper than TIDEMARK_DEPTH")
    # TIDEMARK_COMPRESS: zstd blocks by default in full mode, raw with 0 and
    # in tables mode; the same records either way
    counts = {}
    for env, zstd in (({}, True), ({"TIDEMARK_COMPRESS": "0"}, False),
                      ({"TIDEMARK_MODE": "tables"}, False),
                      ({"TIDEMARK_MODE": "tables", "TIDEMARK_COMPRESS": "1"}, True)):
        out = os.path.join(TMP, "z.tmk")
        r = run([probe(), "stress", "20000"], output=out, env=env)
        eq(r.returncode, 0, f"{env}: status")
        d = tmkcat(out)
        clean_trace(d, f"{env}")
        check((num(d, "zstd_blocks") > 0) == zstd, f"{env}: zstd blocks {d['zstd_blocks']}")
        counts.setdefault(env.get("TIDEMARK_MODE", "full"), []).append(
            (num(d, "allocs"), num(d, "frees")))
        os.unlink(out)
    eq(counts["full"][0], counts["full"][1], "full mode: the same counts raw and compressed")


# ---- 7. mode tables ------------------------------------------------------------------

def case_tables_mode():
    out = os.path.join(TMP, "tm.tmk")
    exe = build_path("examples", "seed_grow")
    r = run([exe], output=out, env={"TIDEMARK_MODE": "tables"})
    eq(r.returncode, 0, "status")
    eq(r.stderr, b"", "stderr")
    d = tmkcat(out, "-a")
    clean_trace(d, "tables mode")
    eq(int(d["flags"]) & 1, 1, "TMK_FILE_MODE_TABLES flag")
    arrays = num(d, "arrays")
    check(arrays > 1000, f"bucket arrays present ({arrays})")
    eq(num(d, "allocs"), arrays, "ALLOC records are the bucket arrays' only")
    eq(num(d, "frees"), arrays - num(d, "arrays_live"), "FREE records are the arrays' only")
    eq(num(d, "table.1.held"), 307494912, "bytes held after deletes")
    check(num(d, "table_counts") > 0 and num(d, "memory_samples") > 0, "counts and samples")


# ---- 8. signals, threads, exits ----------------------------------------------------

def case_sigalrm():
    # The handler mallocs, frees, reallocs and callocs, and frees blocks the
    # main loop allocated, while the main loop is in malloc/free: no
    # deadlock, no crash, and the trace stays consistent (no free recorded
    # for an allocation that was not, none lost for one that was).
    for unw in ("libunwind", "fp"):
        out = os.path.join(TMP, f"sa-{unw}.tmk")
        r = run([probe(), "sigalrm", "0.8"], output=out, timeout=30,
                env={"TIDEMARK_UNWIND": unw})
        eq(r.returncode, 0, f"{unw}: status {r.stdout.decode()} {r.stderr.decode()}")
        d = tmkcat(out)
        clean_trace(d, f"sigalrm {unw}")
        eq(d["end"], "exit", f"{unw}: end")
        eq(num(d, "free_unknown"), 0, f"{unw}: frees of allocations not in the trace")


def case_threads():
    # 4,402 threads over the run (thread numbers are never reused: more than
    # 4,096, which a fixed-size reader table would not hold), 2 of them
    # allocating all along.
    r = run([probe(), "threads", "1100"], output=os.path.join(TMP, "th.tmk"), timeout=60)
    eq(r.returncode, 0, "status")
    started = int(r.stdout.decode().split("=")[1])
    d = tmkcat(os.path.join(TMP, "th.tmk"), "-z", "16:68")
    clean_trace(d, "threads")
    eq(d["end"], "exit", "end")
    eq(num(d, "thread_records"), started + 2, "one THREAD record per thread (+ main, sampler)")
    eq(num(d, "free_unknown"), 0, "free_unknown")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (1100 * 4 * 50,) * 2,
       "the short-lived threads' allocations and frees")


def case_forkthreads():
    r = run([probe(), "forkthreads", "30"], timeout=60)
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    ts = traces()
    eq(len(ts), 31, "one trace per process")
    children = 0
    for t in ts:
        d = tmkcat(t, "-z", "1234:1234")
        clean_trace(d, os.path.basename(t))
        eq(d["end"], "exit", f"{os.path.basename(t)} end")
        if num(d, "sized_allocs"):
            children += 1
            eq((num(d, "sized_allocs"), num(d, "sized_frees")), (1000, 1000),
               f"{os.path.basename(t)}: the child's own records")
    eq(children, 30, "children with their records")


def case_sampled():
    n = 1000000
    out = os.path.join(TMP, "s.tmk")
    r = run([probe(), "stress", str(n)], output=out, env={"TIDEMARK_SAMPLE_BYTES": "65536"})
    eq(r.returncode, 0, "status")
    d = tmkcat(out, "-z", "600:631")
    clean_trace(d, "sampled stress")
    eq((int(d["flags"]) & 2, d["sample_interval"]), (2, "65536"), "header says sampled")
    want = 8 * n * 615.5 / 65536  # mean size of 600..631
    got = num(d, "sized_allocs")
    check(abs(got - want) < 0.05 * want, f"samples: {got}, expected about {want:.0f}")
    eq(num(d, "sized_frees"), got, "every sampled block's free, no other")
    eq(num(d, "free_unknown"), 0, "frees of blocks not sampled")
    out = os.path.join(TMP, "g.tmk")
    r = run([build_path("examples", "seed_grow")], output=out,
            env={"TIDEMARK_SAMPLE_BYTES": "1000000"})
    eq(r.returncode, 0, "seed status")
    d = tmkcat(out)
    clean_trace(d, "sampled seed")
    eq(d["table.1.arrays"], "1,18,0,0,0,38038,0", "every bucket array, never sampled")
    eq(num(d, "table.1.held"), 307494912, "bytes held after deletes")
    eq(num(d, "free_unknown"), 0, "frees of blocks not sampled")


def case_exits():
    r = run([probe(), "exit-thread"], output=os.path.join(TMP, "x1.tmk"), timeout=30)
    eq(r.returncode, 7, "exit(7) from a thread")
    d = tmkcat(os.path.join(TMP, "x1.tmk"))
    clean_trace(d, "exit from a thread")
    eq((d["end"], d.get("end_status")), ("exit", "7"), "END of exit(7) from a thread")
    r = run([probe(), "main-pthread-exit"], output=os.path.join(TMP, "x5.tmk"), timeout=10)
    eq(r.returncode, 0, "main's pthread_exit, then the last thread ends")
    d = tmkcat(os.path.join(TMP, "x5.tmk"), "-z", "5432:5432")
    clean_trace(d, "main pthread_exit")
    eq((d["end"], d.get("end_status")), ("exit", "0"), "END after main's pthread_exit")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (1000, 1000), "the last thread's records")
    r = run([probe(), "cancel"], output=os.path.join(TMP, "x6.tmk"), timeout=30)
    eq(r.returncode, 0, f"pthread_cancel of an allocating thread: {r.stdout.decode()}")
    d = tmkcat(os.path.join(TMP, "x6.tmk"))
    clean_trace(d, "cancel")
    eq(d["end"], "exit", "END after a cancelled thread")
    # _exit from a signal handler, wherever the allocating main thread is
    r = run([probe(), "alarm-exit", "3000"], output=os.path.join(TMP, "x8.tmk"), timeout=20)
    eq(r.returncode, 0, "_exit(0) from a SIGALRM handler")
    d = tmkcat(os.path.join(TMP, "x8.tmk"))
    clean_trace(d, "_exit from a handler")
    eq((d["end"], d.get("end_status")), ("exit", "0"), "END of _exit from a handler")
    r = run([probe(), "_exit"], output=os.path.join(TMP, "x2.tmk"))
    eq((r.returncode, r.stdout), (5, b"before _exit\n"), "_exit(5)")
    d = tmkcat(os.path.join(TMP, "x2.tmk"), "-z", "8888:8888")
    clean_trace(d, "_exit")
    eq((d["end"], d.get("end_status")), ("exit", "5"), "END of _exit(5)")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (100, 100), "records before _exit")
    r = run([probe(), "quick_exit"], output=os.path.join(TMP, "x4.tmk"))
    eq(r.returncode, 3, "quick_exit(3)")
    d = tmkcat(os.path.join(TMP, "x4.tmk"), "-z", "4321:4322")
    clean_trace(d, "quick_exit")
    eq((d["end"], d.get("end_status")), ("exit", "3"), "END of quick_exit(3)")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (1001, 1001),
       "records before quick_exit and of its at_quick_exit handler")
    n = run([probe(), "double-free"], preload=False)
    r = run([probe(), "double-free"], output=os.path.join(TMP, "x7.tmk"))
    eq((r.returncode, r.stderr), (n.returncode, n.stderr), "glibc's double-free abort")
    eq(r.returncode, -signal.SIGABRT, "double free aborts")
    d = tmkcat(os.path.join(TMP, "x7.tmk"), "-z", "9999:9999")
    # full mode writes the block's first free by info; the second, of a
    # block no longer live, by address: a free of an address never allocated
    eq(num(d, "free_after_free") + num(d, "free_unknown"), 1, "the trace shows the double free")
    d["free_after_free"] = "0"
    clean_trace(d, "double free")
    eq((d["end"], d.get("end_status")), ("signal", str(int(signal.SIGABRT))), "END of the abort")
    eq(num(d, "sized_allocs"), 100, "records before the double free")
    r = run([probe(), "abort"], output=os.path.join(TMP, "x3.tmk"))
    eq(r.returncode, -signal.SIGABRT, "abort")
    d = tmkcat(os.path.join(TMP, "x3.tmk"), "-z", "9999:9999")
    clean_trace(d, "abort")
    eq((d["end"], d.get("end_status")), ("signal", str(int(signal.SIGABRT))), "END of abort")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (100, 100), "records before abort")


# ---- 9. tmkcat on format 2.0 (tracegen's traces; no shim) -----------------------

def case_format2():
    gen = build_path("tests", "format", "tracegen")
    d = {}
    for s in ("info", "info1", "infolate"):
        out = os.path.join(TMP, s + ".tmk")
        subprocess.run([gen, s, out], check=True)
        d[s] = tmkcat(out, "-z", "4096:4096")
    clean_trace(d["info"], "2.0 info scenario")
    clean_trace(d["info1"], "its 1.1 twin")
    eq(num(d["info"], "allocs_by_info"), 4, "ALLOC_INFO records")
    eq(num(d["info"], "ticks"), 4, "TICK records")
    for k in ("allocs", "frees", "live_allocs", "sized_allocs", "sized_frees", "arrays",
              "array_held", "table.1.peak_held", "table.1.held"):
        eq(num(d["info"], k), num(d["info1"], k), f"{k}: 2.0 by info = 1.1 by address")
    eq((num(d["info"], "allocs"), num(d["info"], "frees"), num(d["info"], "live_allocs")),
       (4, 3, 1), "allocations, frees, live at the end")
    eq(num(d["infolate"], "free_before_alloc"), 1, "a free by info a whole slot before its allocation")


# ---- 9. the caller cache ------------------------------------------------------------

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
        for cache in ("2", "0"):
            out = os.path.join(TMP, f"sp-{build}-{cache}.%p.tmk")
            r = run([exe], output=out, env={"TIDEMARK_STACK_CACHE": cache})
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
        for proc in ("parent", "child"):
            cached, plain = got["2"][0][proc], got["0"][0][proc]
            eq(len(cached), len(plain), f"{build} {proc}: threads with allocations")
            for key, want in plain.items():
                check(key in cached, f"{build} {proc}: no thread starting with {key} with the cache")
                have = cached[key]
                eq(len(have), len(want), f"{build} {proc}: allocations of the thread starting with {key}")
                for i, (h, w) in enumerate(zip(have, want)):
                    if h != w:
                        raise Failure(f"{build} {proc}: allocation {i} of the thread starting with "
                                      f"size {key[0]}: with the cache {h}, without {w}")
                distinct.update(want)
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


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    ARGS = ap.parse_args()
    ARGS.build = os.path.abspath(ARGS.build)
    TMP = tempfile.mkdtemp(prefix=f"tmk-{ARGS.case}-")
    t0 = time.time()
    try:
        CASES[ARGS.case]()
    except Failure as e:
        print(f"FAIL {ARGS.case}: {e}")
        return 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"ok {ARGS.case} ({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
