#!/usr/bin/env python3
"""tests/preload/run_test.py - the traced program's children, and what
`tidemark run` and the shim say.

    run_test.py --build BUILD_DIR CASE

 - children: a child started by fork+exec, vfork+exec or posix_spawn (and
   Python's subprocess.run(capture_output=True)) under a fixed -o path:
   its captured stdout and stderr are byte-identical to the untraced run,
   and every process's trace exists and reads clean.
 - silence: a bad setting is said once, by the process the user started;
   its later images and its children never repeat it, nor the shim's other
   lines (an uncreatable trace file).
 - runlist: `tidemark run` names every trace the run made, the program's
   first, then each child's with its pid, and tells exec from children.
 - refusals: `tidemark run` refuses before the program starts (one line,
   exit 2; 127/126 for a missing or unexecutable program).
 - fulldisk: a trace cut by a full file system (a 64 KiB tmpfs; skipped
   when mounting is not permitted) is called incomplete, never "written".
 - reasons: the shim's one-line messages carry errno's text.
 - otheralloc: an allocator in LD_PRELOAD comes after the shim (its
   allocations recorded); a program with its own malloc: the summary says
   why nothing was recorded.
 - names: a trace path with a space, a quote and bytes that are not UTF-8 is
   one shell word in run's last line; the HTML report is valid UTF-8 and
   shows a 1,280-character frame whole, with its file:line.

Helpers (run, tmkcat, clean_trace, ...) are harness.py's.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq, num, tmkcat, clean_trace, base_env, tidemark  # noqa: E402


def spawner():
    return harness.build_path("tests", "preload", "spawner")


def kv(out):
    """spawner's key=value lines; the captured stdout and stderr as bytes."""
    d = dict(l.split("=", 1) for l in out.decode().splitlines() if "=" in l)
    for k in ("stdout", "stderr"):
        if k in d:
            d[k] = bytes.fromhex(d[k])
    return d


def tm_run(args, cwd=None, env=None, timeout=60):
    e = base_env()
    if env:
        e.update(env)
    return subprocess.run([tidemark(), "run", *args], env=e, cwd=cwd or harness.TMP,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def one_line(r, what, pattern):
    lines = r.stderr.decode().splitlines()
    eq(len(lines), 1, f"{what}: stderr lines {lines}")
    check(re.search(pattern, lines[0]), f"{what}: stderr {lines[0]!r} lacks {pattern!r}")


def clear():
    for f in os.listdir(harness.TMP):
        p = os.path.join(harness.TMP, f)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


# The child: writes to stdout and stderr and allocates (sort).
CHILD = ["sh", "-c", "echo to-out; echo to-err >&2; seq 1 300 | sort -r | head -1"]

PY_PARENT = r"""
import os, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True)
print("spawn", r.returncode, r.stdout.hex(), r.stderr.hex())
rd_o, wr_o = os.pipe(); rd_e, wr_e = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(wr_o, 1); os.dup2(wr_e, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
os.close(wr_o); os.close(wr_e)
_, status = os.waitpid(pid, 0)
def whole(fd):
    b = b""
    while True:
        k = os.read(fd, 65536)
        if not k: return b
        b += k
o = whole(rd_o); e = whole(rd_e)
print("fork", status, o.hex(), e.hex())
"""


# ---- children ---------------------------------------------------------------

def traces_of(fixed, clean=True):
    """{pid: [(name, tmkcat dict)]} of every trace at fixed, fixed.N,
    fixed.<pid>...: each one reads to its end (clean: and holds every
    invariant of a complete trace)."""
    d = os.path.dirname(fixed)
    base = os.path.basename(fixed)
    got = {}
    for f in sorted(os.listdir(d)):
        if re.fullmatch(re.escape(base) + r"(\.\d+)*", f):
            h = tmkcat(os.path.join(d, f))
            if clean:
                clean_trace(h, f)
            else:
                eq((num(h, "truncated"), h.get("error")), (0, None), f"{f} reads whole")
            got.setdefault(h["pid"], []).append((f, h))
    return got


def case_children():
    fixed = os.path.join(harness.TMP, "c.tmk")
    for how in ("fork", "vfork", "spawn"):
        native = harness.run([spawner(), how, *CHILD], preload=False)
        eq(native.returncode, 0, f"{how}: native status")
        r = harness.run([spawner(), how, *CHILD], output=fixed)
        eq(r.returncode, 0, f"{how}: status")
        n, t = kv(native.stdout), kv(r.stdout)
        eq((t["status"], t["stdout"], t["stderr"]), (n["status"], n["stdout"], n["stderr"]),
           f"{how}: the child's captured status, stdout, stderr")
        eq(r.stderr, b"", f"{how}: the parent's stderr")
        procs = traces_of(fixed)
        parent, child = t["pid"], t["child"]
        check(parent in procs and child in procs, f"{how}: traces of {parent} and {child}: "
                                                  f"{sorted(procs)}")
        eq(procs[parent][0][0], "c.tmk", f"{how}: the parent's file")
        eq(procs[child][0][0], f"c.tmk.{child}", f"{how}: the child's file")
        eq(procs[child][0][1]["ppid"], parent, f"{how}: the child's parent")
        clear()
    # Python's own ways: subprocess.run(capture_output=True), os.fork + exec
    script = os.path.join(harness.TMP, "parent.py")
    with open(script, "w") as f:
        f.write(PY_PARENT)
    native = harness.run([sys.executable, script, *CHILD], preload=False)
    eq(native.returncode, 0, f"python parent: native {native.stderr!r}")
    r = harness.run([sys.executable, script, *CHILD], output=fixed)
    eq((r.returncode, r.stdout, r.stderr), (0, native.stdout, b""),
       "python parent: what its children wrote, as it captured them")
    # (not clean_trace: CPython's own traces may name frames in an extension
    # module before its MODULE record, frames_outside_modules > 0, as before)
    procs = traces_of(fixed, clean=False)
    check(len(procs) >= 3, f"python parent: traces of the parent and both children: {procs}")
    for pid, files in procs.items():
        check(files[0][1]["end"] in ("exit", "exec"), f"{files[0][0]}: end {files[0][1]['end']}")
    clear()
    # the same under tidemark run: the program's output unchanged, and every
    # trace file of the run named once, the program's first
    with open(script, "w") as f:
        f.write(PY_PARENT)
    r = tm_run(["-o", fixed, "--", sys.executable, script, *CHILD])
    eq((r.returncode, r.stdout), (0, native.stdout), "python parent under tidemark run")
    err = r.stderr.decode()
    named = re.findall(r"^tidemark: .* (/\S+)$", err, re.M)
    files = [os.path.join(harness.TMP, f) for f in os.listdir(harness.TMP) if f.startswith("c.tmk")]
    eq(sorted(named), sorted(files), f"tidemark run names every trace once: {err}")
    eq(named[0], fixed, "the program's trace first")


def case_pidns():
    """A descendant in another pid namespace (unshare -pf) names its pid as
    seen there, which run cannot place among the program's descendants: its
    trace is listed apart ("also written during the run"), not left out.
    Skipped where unshare -pf is not permitted natively."""
    if subprocess.run(["unshare", "-pf", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        print("skipped: unshare -pf is not permitted here")
        return
    fixed = os.path.join(harness.TMP, "ns.tmk")
    r = tm_run(["-o", fixed, "--", "unshare", "-pf", harness.probe(), "hello"])
    eq(r.returncode, 0, f"status {r.stderr.decode()}")
    err = r.stderr.decode()
    files = sorted(os.path.join(harness.TMP, f) for f in os.listdir(harness.TMP)
                   if f.startswith("ns.tmk") and f != "ns.tmk")
    check(files, f"no trace of the namespace's processes: {os.listdir(harness.TMP)}")
    for path in files:
        check(path in err, f"{path} not named by run: {err}")


# ---- silence ----------------------------------------------------------------

def case_silence():
    fixed = os.path.join(harness.TMP, "s.tmk")
    bad = {"TIDEMARK_MODE": "bogus"}
    for how in ("fork", "vfork", "spawn"):
        native = harness.run([spawner(), how, *CHILD], preload=False)
        r = harness.run([spawner(), how, *CHILD], output=fixed, env=bad)
        eq(kv(r.stdout)["stderr"], kv(native.stdout)["stderr"],
           f"{how}: a child does not repeat a bad setting")
        one_line(r, f"{how}: the bad setting, once", r"TIDEMARK_MODE=bogus is not")
        clear()
    # the process's later images (exec: same pid) do not repeat it either
    r = harness.run(["sh", "-c", 'exec sh -c "exec sh -c true"'], output=fixed, env=bad)
    eq(r.returncode, 0, "exec chain status")
    one_line(r, "exec chain: the bad setting, once", r"TIDEMARK_MODE=bogus")
    eq(sorted(os.listdir(harness.TMP)), ["s.tmk", "s.tmk.1", "s.tmk.2"], "exec chain's files")
    clear()
    # an uncreatable trace: said by the process the user started, not by
    # its later images or children (which find no parent trace: /proc shows
    # them the shim in their parent)
    missing = os.path.join(harness.TMP, "missing", "m.tmk")
    for how in ("fork", "vfork", "spawn"):
        native = harness.run([spawner(), how, *CHILD], preload=False)
        r = harness.run([spawner(), how, *CHILD], output=missing)
        eq(kv(r.stdout)["stderr"], kv(native.stdout)["stderr"],
           f"{how}: a child says nothing when its parent's trace could not be created")
        one_line(r, f"{how}: uncreatable trace", r"cannot be created: No such file or directory")
    r = harness.run(["sh", "-c", 'exec sh -c "exit 3"'], output=missing)
    eq(r.returncode, 3, "exec with an uncreatable trace: status")
    check(len(r.stderr.decode().splitlines()) <= 2,
          f"exec with an uncreatable trace: {r.stderr.decode()!r}")
    # a descendant with %p in the path: its own file, quiet
    r = harness.run([spawner(), "spawn", *CHILD], output=os.path.join(harness.TMP, "p.%p.tmk"),
                    env=bad)
    one_line(r, "%p: the bad setting, once", r"TIDEMARK_MODE=bogus")
    t = kv(r.stdout)
    for pid in (t["pid"], t["child"]):
        clean_trace(tmkcat(os.path.join(harness.TMP, f"p.{pid}.tmk")), f"p.{pid}.tmk")


# ---- runlist ----------------------------------------------------------------

def case_runlist():
    for out in ("r.tmk", "r.%p.tmk", "r.%e.tmk"):
        r = tm_run(["-o", os.path.join(harness.TMP, out), "--", spawner(), "spawn", *CHILD])
        eq(r.returncode, 0, f"-o {out}: status {r.stderr.decode()}")
        t = kv(r.stdout)
        err = r.stderr.decode()
        top = os.path.join(harness.TMP, out.replace("%p", t["pid"]).replace("%e", "spawner"))
        check(err.startswith(f"tidemark: trace written to {top}\n"),
              f"-o {out}: first line {err!r}")
        check("the program exec'ed" not in err, f"-o {out}: a child is not an exec: {err!r}")
        want = {"r.tmk": f"r.tmk.{t['child']}", "r.%p.tmk": f"r.{t['child']}.tmk",
                "r.%e.tmk": f"r.sh.tmk.{t['child']}"}[out]
        line = f"tidemark: child process {t['child']} (parent {t['pid']}): {harness.TMP}/{want}\n"
        check(line in err, f"-o {out}: {line!r} not in {err!r}")
        clean_trace(tmkcat(os.path.join(harness.TMP, want)), want)
        clear()
    # exec and children together: a shell that forks, then execs
    r = tm_run(["-o", os.path.join(harness.TMP, "x.tmk"), "--", "sh", "-c",
                "sort </dev/null; exec sh -c 'seq 1 3 | sort >/dev/null'"])
    eq(r.returncode, 0, f"exec + children: {r.stderr.decode()}")
    err = r.stderr.decode()
    lines = err.splitlines()
    eq(lines[0], f"tidemark: trace written to {harness.TMP}/x.tmk", "exec + children: first line")
    eq(lines[1], f"tidemark: the program exec'ed; its new image's trace is {harness.TMP}/x.tmk.1",
       "exec + children: the exec")
    kids = [l for l in lines if l.startswith("tidemark: child process ")]
    files = sorted(f for f in os.listdir(harness.TMP) if re.fullmatch(r"x\.tmk\.\d{3,}(\.\d+)*", f))
    eq(len(kids), len(files), f"exec + children: every child listed: {kids} vs {files}")
    check(len(files) >= 3, f"exec + children: sort, seq, sort: {files}")
    check(f"summarizing the program's last image: {harness.TMP}/x.tmk.1" in err,
          f"exec + children: the summary's trace: {err!r}")


# ---- refusals ---------------------------------------------------------------

def refused(args, status, pattern, what):
    marker = os.path.join(harness.TMP, "ran")
    r = tm_run(args)
    eq(r.returncode, status, f"{what}: status ({r.stderr.decode()!r})")
    one_line(r, what, pattern)
    check(not os.path.exists(marker), f"{what}: the program ran")
    return r


def compile_static():
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    src = os.path.join(harness.TMP, "static.c")
    with open(src, "w") as f:
        f.write('#include <stdio.h>\nint main(int c, char **v) {\n'
                '    if (c > 1) fclose(fopen(v[1], "w"));\n    return 0;\n}\n')
    exe = os.path.join(harness.TMP, "static")
    p = subprocess.run([cc, "-static", "-o", exe, src], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return exe if p.returncode == 0 else None


def case_refusals():
    marker = os.path.join(harness.TMP, "ran")
    touch = ["--", "sh", "-c", f": >{marker}"]
    refused(["-o", "", *touch], 2, r"-o is empty", "empty -o")
    refused(["-o", "x" * 5000, *touch], 2, r"-o is 5000 bytes long; the shim takes at most 4095",
            "-o too long for the shim")
    refused(["-o", "x" * 4090, *touch], 2,
            r"-o is \d+ bytes long as an absolute path \(in /.*\); the shim takes at most 4095",
            "-o too long for the shim once absolute")
    refused(["-o", "/" + "%p" * 2040, *touch], 2,
            r"the trace path is \d+ bytes long; a path has at most 4095", "path too long")
    refused(["-o", os.path.join(harness.TMP, "n" * 300 + ".tmk"), *touch], 2,
            r"cannot create the trace .*: File name too long", "name too long")
    refused(["-o", os.path.join(harness.TMP, "missing", "t.tmk"), *touch], 2,
            r"cannot create the trace .*/missing/t\.tmk: No such file or directory",
            "missing directory")
    refused(["-o", "/proc/tidemark-test.tmk", *touch], 2,
            r"cannot create the trace /proc/tidemark-test\.tmk: ", "unwritable directory")
    if os.geteuid() != 0:
        ro = os.path.join(harness.TMP, "ro")
        os.mkdir(ro, 0o500)
        refused(["-o", os.path.join(ro, "t.tmk"), *touch], 2, r"Permission denied",
                "read-only directory")
    exists = os.path.join(harness.TMP, "exists.tmk")
    with open(exists, "w") as f:
        f.write("keep")
    refused(["-o", exists, *touch], 2, r"exists\.tmk exists; remove it", "existing output")
    with open(exists) as f:
        eq(f.read(), "keep", "the existing output is left as it is")
    # programs
    out = ["-o", os.path.join(harness.TMP, "p.%p.tmk"), "--"]
    refused([*out, "no-such-program-tidemark"], 127,
            r"run: no-such-program-tidemark: command not found", "missing program")
    refused([*out, os.path.join(harness.TMP, "nowhere")], 127, r"No such file or directory",
            "missing program path")
    plain = os.path.join(harness.TMP, "plain")
    with open(plain, "w") as f:
        f.write("#!/bin/sh\n: >ran\n")
    refused([*out, plain], 126, r"Permission denied", "program not executable")
    refused([*out, harness.TMP], 126, r"Permission denied", "a directory as the program")
    static = compile_static()
    if static:
        refused([*out, static, marker], 2,
                r"static is statically linked \(no program interpreter\)", "static program")
        script = os.path.join(harness.TMP, "script")
        with open(script, "w") as f:
            f.write(f"#!{static} {marker}\n")
        os.chmod(script, 0o755)
        refused([*out, script], 2, r"static \(the interpreter of .*script\) is statically linked",
                "script with a static interpreter")
    else:
        print("skip: static program (no cc -static, libc.a missing?)")
    # set-user-ID / set-group-ID to someone else: AT_SECURE, LD_PRELOAD ignored
    if os.geteuid() == 0:
        for bit, flag, pattern in ((0o4000, "suid", r"is set-user-ID \(owner uid 65534\)"),
                                   (0o2000, "sgid", r"is set-group-ID \(group gid 65534\)")):
            exe = os.path.join(harness.TMP, flag)
            shutil.copy(shutil.which("touch"), exe)
            os.chown(exe, 65534, 65534)
            os.chmod(exe, 0o755 | bit)
            refused([*out, exe, marker], 2, pattern + r": the loader ignores LD_PRELOAD",
                    f"{flag} program")
        # one's own set-user-ID program runs with one's own uid: traced
        mine = os.path.join(harness.TMP, "mine")
        shutil.copy(shutil.which("true"), mine)
        os.chmod(mine, 0o4755)
        r = tm_run(["--no-summary", "-o", os.path.join(harness.TMP, "mine.tmk"), "--", mine])
        eq((r.returncode, r.stderr.decode()),
           (0, f"tidemark: trace written to {harness.TMP}/mine.tmk\n"), "own set-user-ID program")
    else:
        print("skip: set-user-ID to another user (not root)")
    # the dynamic loader run as a program preloads like any dynamic program
    loader = "/lib64/ld-linux-x86-64.so.2"
    if os.path.exists(loader):
        r = tm_run(["--no-summary", "-o", os.path.join(harness.TMP, "ld.tmk"), "--", loader,
                    shutil.which("true")])
        eq((r.returncode, r.stderr.decode()),
           (0, f"tidemark: trace written to {harness.TMP}/ld.tmk\n"), "ld.so PROGRAM")
    # --help names the statuses
    r = subprocess.run([tidemark(), "run", "--help"], stdout=subprocess.PIPE)
    check(b"127" in r.stdout and b"126" in r.stdout and b"statically linked" in r.stdout,
          "run --help documents the refusals and statuses")


# ---- fulldisk ---------------------------------------------------------------

def mount_tmpfs(d, size):
    os.mkdir(d)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", d],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode == 0


def case_fulldisk():
    full = os.path.join(harness.TMP, "full")
    if os.geteuid() != 0 or not shutil.which("mount") or not mount_tmpfs(full, "64k"):
        print("skip: cannot mount a tmpfs (not root, or not permitted)")
        return
    try:
        seed = harness.build_path("examples", "seed_grow")
        trace = os.path.join(full, "f.tmk")
        r = tm_run(["-o", trace, "--", seed, "--n", "200000"], timeout=120)
        err = r.stderr.decode()
        eq(r.returncode, 0, f"full disk: the program's status ({err!r})")
        check("trace written" not in err, f"full disk: 'trace written' said: {err!r}")
        check(f"tidemark: {trace} is incomplete: tracing stopped: No space left on device\n"
              in err, f"full disk: incomplete: {err!r}")
        check(f"trace file {trace}: write failed: No space left on device; tracing stopped"
              in err, f"full disk: the shim's own line: {err!r}")
        r = tm_run(["--no-summary", "-o", trace + "2", "--", seed, "--n", "200000"], timeout=120)
        err = r.stderr.decode()
        check("trace written" not in err, f"full disk, --no-summary: {err!r}")
        check(re.search(r"(is empty|may be incomplete).*No space left on device", err),
              f"full disk, --no-summary: {err!r}")
        # nothing written at all: the header's write fails
        fd = os.open(os.path.join(full, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        trace = os.path.join(full, "e.tmk")
        r = tm_run(["-o", trace, "--", "true"])
        err = r.stderr.decode()
        eq(r.returncode, 0, f"empty trace: status ({err!r})")
        check(f"tidemark: {trace} is empty: tracing stopped before its header was written: "
              "No space left on device\n" in err, f"empty trace: {err!r}")
        check("trace written" not in err and "empty file" not in err, f"empty trace: {err!r}")
    finally:
        subprocess.run(["umount", full])


# ---- reasons ----------------------------------------------------------------

def case_reasons():
    hello = [harness.probe(), "hello"]
    r = harness.run(hello, output=os.path.join(harness.TMP, "missing", "x.tmk"))
    one_line(r, "missing directory", r"trace file .*/missing/x\.tmk: cannot be created: "
                                     r"No such file or directory; not tracing$")
    notdir = os.path.join(harness.TMP, "file")
    open(notdir, "w").close()
    r = harness.run(hello, output=os.path.join(notdir, "x.tmk"))
    one_line(r, "not a directory", r"cannot be created: Not a directory; not tracing$")
    r = harness.run(hello, output=os.path.join(harness.TMP, "n" * 300))
    one_line(r, "name too long", r"cannot be created: File name too long; not tracing$")


def case_diff_own_report():
    # `tidemark diff` of a trace against its own JSON report: the same, site
    # by site (the report lists every site, the trace is read whole too): no
    # site is "new" or "gone". python3 ends with more than 10 sites live.
    if not os.path.exists("/usr/bin/python3"):
        print("no /usr/bin/python3: skipped")
        return
    path = os.path.join(harness.TMP, "py.tmk")
    r = harness.run(["/usr/bin/python3", "-c", "import json; print(len(json.dumps({'a': 1})))"],
                    output=path)
    eq(r.returncode, 0, "python3 status")
    report = os.path.join(harness.TMP, "py.json")
    subprocess.run([tidemark(), "report", "--format", "json", "-o", report, path], check=True)
    out = subprocess.run([tidemark(), "diff", path, report], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    sites = out.split("allocation sites", 1)[-1]
    eq([l for l in sites.splitlines() if l.endswith(("(new)", "(gone)"))], [],
       "sites new or gone between a trace and its own report")
    check("more sites not shown" in sites, f"fewer than 11 sites: {sites[:300]}")


# ---- relative ---------------------------------------------------------------

def case_relative():
    # `run -o rel.tmk` (and the default tidemark.%p.tmk) puts every trace of
    # the run beside the first, whatever directory the program goes to
    # before it forks or execs, and lists them all.
    sub = os.path.join(harness.TMP, "sub")
    for args, first in ((["-o", "rel.tmk"], "rel.tmk"), ([], "tidemark.{p}.tmk")):
        clear()
        os.mkdir(sub)
        r = tm_run([*args, "--", "sh", "-c", f"cd sub && exec {harness.probe()} hello"])
        eq(r.returncode, 0, f"{args} exec: status {r.stderr.decode()}")
        err = r.stderr.decode()
        names = sorted(os.listdir(harness.TMP))
        eq(len(names), 3, f"{args} exec: sub, the shell's trace and the probe's: {names}")
        top = [n for n in names if re.fullmatch(r"(rel|tidemark\.\d+)\.tmk", n)]
        eq(len(top), 1, f"{args} exec: the first trace {names}")
        check(top[0] + ".1" in names, f"{args} exec: the new image's trace {names}")
        check(err.startswith(f"tidemark: trace written to {top[0]}\n"), f"{args}: {err!r}")
        line = f"tidemark: the program exec'ed; its new image's trace is {top[0]}.1\n"
        check(line in err, f"{args} exec: {line!r} not in {err!r}")
        eq(os.listdir(sub), [], f"{args} exec: nothing written in sub")
        clean_trace(tmkcat(os.path.join(harness.TMP, top[0] + ".1")), f"{args}: the new image")
    clear()
    os.mkdir(sub)
    r = tm_run(["-o", "rel2.tmk", "--", harness.probe(), "chdir-fork", "sub"])
    eq(r.returncode, 0, f"fork: status {r.stderr.decode()}")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    line = f"tidemark: child process {out['forked']} (parent {out['parent']}): rel2.tmk.{out['forked']}\n"
    check(line in r.stderr.decode(), f"fork: {line!r} not in {r.stderr.decode()!r}")
    clean_trace(tmkcat(os.path.join(harness.TMP, f"rel2.tmk.{out['forked']}")), "the child's trace")
    eq(os.listdir(sub), [], "fork: nothing written in sub")


# ---- names ------------------------------------------------------------------

LONG_PROG = r'''#include <stdlib.h>
#include <string.h>
#define P(a, b) a##b
#define D(a) P(a, a)
#define LONG D(D(D(D(D(D(D(long_name_)))))))
__attribute__((noinline)) char *LONG(size_t n) { char *p = malloc(n); memset(p, 1, n); return p; }
int main(void) { char *p = LONG(1 << 20); return p[7] - 1; }
'''


def case_names():
    # Names a user reads (sweep 3, F18): a program named with a space and
    # bytes that are not UTF-8, whose frame is a 1,280-character function:
    # run's last line quotes the trace's path for the shell, and the HTML
    # report is valid UTF-8 with the whole name and its file:line.
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        print("skipped: no C compiler")
        return
    src = os.path.join(harness.TMP, "longname.c")
    with open(src, "w") as f:
        f.write(LONG_PROG)
    exe = os.path.join(os.fsencode(harness.TMP), b"bad\xff\xfe 'name'")
    p = subprocess.run([cc, "-g", "-O1", "-o", exe, src], stderr=subprocess.PIPE)
    eq(p.returncode, 0, f"cc: {p.stderr}")
    r = tm_run(["-o", "%e.tmk", "--", exe])
    eq(r.returncode, 0, f"run: {r.stderr}")
    last = r.stderr.splitlines()[-1]
    check(last.startswith(b"  full report: "), f"last line {last!r}")
    words = shlex.split(os.fsdecode(last[len(b"  full report: "):]))
    eq(words[:2], ["tidemark", "report"], f"{last!r}")
    trace = os.path.join(harness.TMP, words[-1])
    eq(len(words), 3, f"{last!r}: one shell word for the path")
    check(os.path.exists(trace), f"{last!r}: {trace!r} is not the trace")
    html = subprocess.run([tidemark(), "report", "--format", "html", trace],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout
    try:
        text = html.decode("utf-8")
    except UnicodeDecodeError as e:
        check(False, f"the HTML report is not UTF-8: {e}")
    check("bad\ufffd\ufffd &#39;name&#39;" in text, "the program's name, escaped")
    name = "long_name_" * 128
    line = LONG_PROG.splitlines().index(next(l for l in LONG_PROG.splitlines()
                                             if "noinline" in l)) + 1
    check(f"<code>{name} (longname.c:{line})</code>" in text,
          f"the whole frame and its location: {[m[:40] + '...' + m[-40:] for m in re.findall(r'<code>long_name_[^<]*</code>', text)]}")


# ---- otheralloc -------------------------------------------------------------

# A malloc of its own (a bump allocator, as jemalloc or tcmalloc define
# theirs): in a library preloaded before run, or linked into the program.
BUMP = r'''#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
static char *arena, *top;
static void *bump(size_t n)
{
    if (!arena) top = arena = mmap(0, 1 << 26, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *p = top;
    top += (n + 15) & ~(size_t)15;
    return p;
}
void *malloc(size_t n) { return bump(n); }
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) { return memset(bump(a * b), 0, a * b); }
void *realloc(void *p, size_t n) { void *q = bump(n); if (p) memcpy(q, p, n); return q; }
int posix_memalign(void **r, size_t a, size_t n) { (void)a; *r = bump(n + 64); return 0; }
void *aligned_alloc(size_t a, size_t n) { (void)a; return bump(n + 64); }
void *memalign(size_t a, size_t n) { (void)a; return bump(n + 64); }
'''
USER = r'''#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    for (int i = 0; i < 100; i++) {
        char *volatile p = malloc(1000);
        p[0] = 1;
        free(p);
    }
    puts("done");
    return 0;
}
'''


def case_otheralloc():
    # sweep 3, F6: LD_PRELOAD already naming an allocator that defines malloc
    # (jemalloc, tcmalloc): run puts the shim first, so the program's
    # allocations are recorded; a program whose malloc is its own (linked
    # in: nothing recorded) gets a summary that says why there is none.
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        print("skipped: no C compiler")
        return
    srcs = {}
    for name, text in (("bump.c", BUMP), ("user.c", USER)):
        srcs[name] = os.path.join(harness.TMP, name)
        with open(srcs[name], "w") as f:
            f.write(text)
    lib = os.path.join(harness.TMP, "libbump.so")
    user = os.path.join(harness.TMP, "user")
    own = os.path.join(harness.TMP, "own")
    for cmd in ([cc, "-shared", "-fPIC", "-O1", "-o", lib, srcs["bump.c"]],
                [cc, "-O1", "-o", user, srcs["user.c"]],
                [cc, "-O1", "-o", own, srcs["user.c"], srcs["bump.c"]]):
        p = subprocess.run(cmd, stderr=subprocess.PIPE)
        eq(p.returncode, 0, f"{cmd}: {p.stderr}")
    r = tm_run(["-o", "pre.tmk", "--", user], env={"LD_PRELOAD": lib})
    eq(r.returncode, 0, f"run with LD_PRELOAD={lib}: {r.stderr}")
    d = tmkcat(os.path.join(harness.TMP, "pre.tmk"))
    check(num(d, "allocs") >= 100, f"LD_PRELOAD={lib}: {num(d, 'allocs')} allocations recorded")
    r = tm_run(["-o", "own.tmk", "--", own])
    eq(r.returncode, 0, f"run own: {r.stderr}")
    err = r.stderr.decode()
    check(re.search(r"heap: .*, 0 allocations\n  note: no allocation was recorded: the program's "
                    r"malloc is not the one the shim wraps", err), f"own malloc: {err!r}")
    check("note: no allocation" not in tm_run(["-o", "u.tmk", "--", user]).stderr.decode(),
          "the note only when nothing was recorded")


# ---- exec_fail --------------------------------------------------------------

def case_exec_fail():
    # A program whose execvp of a missing command fails and goes on: run
    # passes its status through, calls its one trace complete (no exec'ed
    # image), and the report has the allocations made after the exec and
    # the exit status.
    r = tm_run(["-o", "ef.tmk", "--", harness.probe(), "exec-fail", "execvp"])
    eq(r.returncode, 3, f"status {r.stderr.decode()}")
    err = r.stderr.decode()
    check(err.startswith("tidemark: trace written to ef.tmk\n"), f"first line {err!r}")
    check("exec'ed" not in err and "incomplete" not in err, f"no exec, complete: {err!r}")
    eq(sorted(f for f in os.listdir(harness.TMP) if f.startswith("ef.tmk")), ["ef.tmk"], "traces")
    rep = subprocess.run([tidemark(), "report", os.path.join(harness.TMP, "ef.tmk")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eq(rep.returncode, 0, f"report: {rep.stderr}")
    check(re.search(r"^trace .*, exit status 3$", rep.stdout, re.M), f"report: {rep.stdout}")
    d = tmkcat(os.path.join(harness.TMP, "ef.tmk"), "-z", "1002:1002")
    eq(num(d, "sized_allocs"), 7, "the blocks allocated after the exec")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "run"))
