#!/usr/bin/env python3
"""tests/preload/process_test.py - a traced process's life under
libtidemark.so: fork, fork+exec, system, vfork, threads by the thousand,
every way to exit, SIGKILL, and programs that must run unchanged.

    process_test.py --build BUILD_DIR CASE

Helpers: harness.py.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (build_path, check, eq, shim, probe, tidemark, base_env,  # noqa: E402
                     run, traces, tmkcat, num, clean_trace)


def case_fork():
    r = run([probe(), "fork"])
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    parent, child = out["parent"], out["child"]
    eq(out["forked"], child, "fork's pid")
    p = tmkcat(os.path.join(harness.TMP, f"t.{parent}.tmk"), "-z", "2222:3333")
    c = tmkcat(os.path.join(harness.TMP, f"t.{child}.tmk"), "-z", "2222:3333")
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
    fixed = os.path.join(harness.TMP, "fixed.tmk")
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
    before = tmkcat(os.path.join(harness.TMP, f"t.{child}.tmk"))
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
    fixed = os.path.join(harness.TMP, "fixed.tmk")
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
    p = subprocess.run([tidemark(), "run", "-o", fixed, "--", "sh", "-c",
                        "seq 1 5 | sort -r | head -2; exit 4"], env=e, cwd=harness.TMP,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    eq((p.returncode, p.stdout), (4, b"5\n4\n"), "tidemark run of a pipeline")
    check(b"exists" not in p.stderr, f"tidemark run of a pipeline: {p.stderr.decode()}")


def case_system():
    r = run([probe(), "system"])
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    check(b"from-sh" in r.stdout, "the shell ran")
    parent = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)["parent"]
    d = tmkcat(os.path.join(harness.TMP, f"t.{parent}.tmk"))
    clean_trace(d, "parent")
    eq(d["end"], "exit", "parent end")
    shells = [tmkcat(t) for t in traces()]
    shells = [s for s in shells if s["ppid"] == parent]
    eq(len(shells), 1, "one trace from the shell system() ran")
    clean_trace(shells[0], "shell")
    eq(shells[0]["end_status"], "5", "shell's exit status")
    eq(r.stderr, b"", "stderr")


def case_vfork():
    r = run([probe(), "vfork"], output=os.path.join(harness.TMP, "v.tmk"))
    eq(r.returncode, 0, f"status {r.stdout.decode()}")
    d = tmkcat(os.path.join(harness.TMP, "v.tmk"), "-z", "6666:6666")
    clean_trace(d, "vfork parent")
    eq(d.get("end"), "exit", "parent's trace ends normally after its vfork children")
    eq(num(d, "sized_allocs"), 1000, "parent's allocations after the vfork children")
    eq(len(traces()), 1, f"no other trace file: {traces()}")


def case_threads():
    # 4,402 threads over the run (thread numbers are never reused: more than
    # 4,096, which a fixed-size reader table would not hold), 2 of them
    # allocating all along.
    r = run([probe(), "threads", "1100"], output=os.path.join(harness.TMP, "th.tmk"), timeout=60)
    eq(r.returncode, 0, "status")
    started = int(r.stdout.decode().split("=")[1])
    d = tmkcat(os.path.join(harness.TMP, "th.tmk"), "-z", "16:68")
    clean_trace(d, "threads")
    eq(d["end"], "exit", "end")
    eq(num(d, "thread_records"), started + 2, "one THREAD record per thread (+ main, sampler)")
    eq(num(d, "free_unknown"), 0, "free_unknown")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (1100 * 4 * 50,) * 2,
       "the short-lived threads' allocations and frees")


def case_busy_threads():
    # 12 threads allocating at once, each filling several blocks: at most 4
    # (TMK_BIG_BUFFERS, preload/buffer.h) fill their whole 256 KiB
    # buffer, the others 64 KiB blocks; every record is read back.
    path = os.path.join(harness.TMP, "busy.tmk")
    r = run([probe(), "busythreads", "12"], output=path, timeout=60)
    eq(r.returncode, 0, "status")
    d = tmkcat(path, "-z", "700:731")
    clean_trace(d, "busythreads")
    eq(num(d, "free_unknown"), 0, "free_unknown")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (12 * 100000,) * 2,
       "every allocation and free of the 12 threads")
    big = num(d, "threads_over_64k")
    check(1 <= big <= 4, "threads with blocks over 64 KiB: %d, not 1..4" % big)
    check(num(d, "max_block_bytes") <= 256 * 1024,
          "a block of %d bytes of records" % num(d, "max_block_bytes"))


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


def case_exits():
    r = run([probe(), "exit-thread"], output=os.path.join(harness.TMP, "x1.tmk"), timeout=30)
    eq(r.returncode, 7, "exit(7) from a thread")
    d = tmkcat(os.path.join(harness.TMP, "x1.tmk"))
    clean_trace(d, "exit from a thread")
    eq((d["end"], d.get("end_status")), ("exit", "7"), "END of exit(7) from a thread")
    r = run([probe(), "main-pthread-exit"], output=os.path.join(harness.TMP, "x5.tmk"), timeout=10)
    eq(r.returncode, 0, "main's pthread_exit, then the last thread ends")
    d = tmkcat(os.path.join(harness.TMP, "x5.tmk"), "-z", "5432:5432")
    clean_trace(d, "main pthread_exit")
    eq((d["end"], d.get("end_status")), ("exit", "0"), "END after main's pthread_exit")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (1000, 1000), "the last thread's records")
    r = run([probe(), "cancel"], output=os.path.join(harness.TMP, "x6.tmk"), timeout=30)
    eq(r.returncode, 0, f"pthread_cancel of an allocating thread: {r.stdout.decode()}")
    d = tmkcat(os.path.join(harness.TMP, "x6.tmk"))
    clean_trace(d, "cancel")
    eq(d["end"], "exit", "END after a cancelled thread")
    # _exit from a signal handler, wherever the allocating main thread is
    r = run([probe(), "alarm-exit", "3000"], output=os.path.join(harness.TMP, "x8.tmk"), timeout=20)
    eq(r.returncode, 0, "_exit(0) from a SIGALRM handler")
    d = tmkcat(os.path.join(harness.TMP, "x8.tmk"))
    clean_trace(d, "_exit from a handler")
    eq((d["end"], d.get("end_status")), ("exit", "0"), "END of _exit from a handler")
    r = run([probe(), "_exit"], output=os.path.join(harness.TMP, "x2.tmk"))
    eq((r.returncode, r.stdout), (5, b"before _exit\n"), "_exit(5)")
    d = tmkcat(os.path.join(harness.TMP, "x2.tmk"), "-z", "8888:8888")
    clean_trace(d, "_exit")
    eq((d["end"], d.get("end_status")), ("exit", "5"), "END of _exit(5)")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (100, 100), "records before _exit")
    r = run([probe(), "quick_exit"], output=os.path.join(harness.TMP, "x4.tmk"))
    eq(r.returncode, 3, "quick_exit(3)")
    d = tmkcat(os.path.join(harness.TMP, "x4.tmk"), "-z", "4321:4322")
    clean_trace(d, "quick_exit")
    eq((d["end"], d.get("end_status")), ("exit", "3"), "END of quick_exit(3)")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (1001, 1001),
       "records before quick_exit and of its at_quick_exit handler")
    n = run([probe(), "double-free"], preload=False)
    r = run([probe(), "double-free"], output=os.path.join(harness.TMP, "x7.tmk"))
    eq((r.returncode, r.stderr), (n.returncode, n.stderr), "glibc's double-free abort")
    eq(r.returncode, -signal.SIGABRT, "double free aborts")
    d = tmkcat(os.path.join(harness.TMP, "x7.tmk"), "-z", "9999:9999")
    # full mode writes the block's first free by info; the second, of a
    # block no longer live, by address: a free of an address never allocated
    eq(num(d, "free_after_free") + num(d, "free_unknown"), 1, "the trace shows the double free")
    d["free_after_free"] = "0"
    clean_trace(d, "double free")
    eq((d["end"], d.get("end_status")), ("signal", str(int(signal.SIGABRT))), "END of the abort")
    eq(num(d, "sized_allocs"), 100, "records before the double free")
    r = run([probe(), "abort"], output=os.path.join(harness.TMP, "x3.tmk"))
    eq(r.returncode, -signal.SIGABRT, "abort")
    d = tmkcat(os.path.join(harness.TMP, "x3.tmk"), "-z", "9999:9999")
    clean_trace(d, "abort")
    eq((d["end"], d.get("end_status")), ("signal", str(int(signal.SIGABRT))), "END of abort")
    eq((num(d, "sized_allocs"), num(d, "sized_frees")), (100, 100), "records before abort")


def case_getattr_first():
    """A thread whose first allocation is inside pthread_getattr_np (Rust's
    threads): the shim finds its stack bounds at its next allocation, from
    inside the recording, and glibc allocates in there. Those allocations
    are the shim's own, passed to the allocator: they were taken for a
    signal handler's and counted as lost events (9 in every run of a Rust
    program with 3 threads)."""
    for mode in ("full", "tables"):
        out = os.path.join(harness.TMP, f"ga-{mode}.tmk")
        r = run([build_path("tests", "preload", "getattr_thread")], output=out,
                env={"TIDEMARK_MODE": mode, "TIDEMARK_PROBE_MIN": "64"})
        eq((r.returncode, r.stdout), (0, b"ok\n"), f"{mode}: status and output")
        d = tmkcat(out, "-z", "100:100")
        clean_trace(d, mode)
        eq(num(d, "lost"), 0, f"{mode}: events lost")
        eq((num(d, "sized_allocs"), num(d, "sized_frees")), (8, 8),
           f"{mode}: each thread's malloc(100) after the bounds were found")


def case_queued_blocks():
    """Full buffers go to the sampler, which writes them on its own thread
    (buffer.c, "The queued block"): a fork, an exit and a fatal signal that
    come while blocks wait still leave every record once, in seq order
    (tmkcat fails on a gap or a block out of order), and a child never
    writes a block its parent queued. The probe starves the sampler
    (SCHED_IDLE on the probe's CPU), so that blocks do wait."""
    n = 1000000  # ~2 MB of records per phase: some 30 blocks of 256 KiB each
    for rep in range(3):
        for t in traces():
            os.unlink(t)
        r = run([probe(), "queued", str(n)], timeout=120)
        eq(r.returncode, -signal.SIGABRT, f"run {rep}: abort ({r.stderr.decode()})")
        out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
        eq(out["starved"], "1", "the sampler thread found and starved")
        pt = os.path.join(harness.TMP, f"t.{out['parent']}.tmk")
        ct = os.path.join(harness.TMP, f"t.{out['child']}.tmk")
        for path, who, end, sizes in ((pt, "parent", ("signal", str(int(signal.SIGABRT))),
                                       {5555: n, 6666: 0, 7777: n}),
                                      (ct, "child", ("exit", "5"), {5555: 0, 6666: n, 7777: 0})):
            for size, want in sizes.items():
                d = tmkcat(path, "-z", f"{size}:{size}")
                clean_trace(d, f"run {rep} {who}")
                eq((d["end"], d.get("end_status")), end, f"run {rep}: {who}'s END")
                eq((num(d, "sized_allocs"), num(d, "sized_frees")), (want, want),
                   f"run {rep}: {who}'s blocks of {size} bytes")


def case_abort_in_allocator_tables():
    """glibc aborts from inside free with its arena's lock held; tables mode
    passed that free straight through, so the shim's SIGABRT handler ends
    the trace on a thread holding the allocator's lock: it must not ask the
    allocator (mallinfo2) for the heap then. The sampler never read it
    before (a 60 s interval)."""
    n = run([probe(), "double-free-locked"], preload=False)
    eq(n.returncode, -signal.SIGABRT, "natively, glibc aborts")
    path = os.path.join(harness.TMP, "locked.tmk")
    r = run([probe(), "double-free-locked"], output=path, timeout=20,
            env={"TIDEMARK_MODE": "tables", "TIDEMARK_SAMPLE_INTERVAL": "60000"})
    eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, n.stderr),
       "the same abort under tables mode")
    d = tmkcat(path)
    clean_trace(d, "abort inside free")
    eq((d["end"], d.get("end_status")), ("signal", str(int(signal.SIGABRT))), "END of the abort")


def case_exit_in_handler_tables():
    """_exit, quick_exit and exec are async-signal-safe: a handler may call
    them while the main thread is inside glibc's malloc, holding its arena's
    lock (tables mode passes the call straight through, leaving no mark).
    Ending the trace then must not ask the allocator (mallinfo2) for the
    heap. The sampler never read it before (a 60 s interval). Nor may
    exit() from a handler, which is not async-signal-safe but common (a
    SIGTERM handler's cleanup): natively it ends the process, and so must
    the shim's destructor then."""
    for cmd in ("alarm-exit-locked", "alarm-stdexit-locked"):
        for i in range(5):
            path = os.path.join(harness.TMP, f"ae-{cmd}-{i}.tmk")
            r = run([probe(), cmd, "200"], output=path, timeout=20,
                    env={"TIDEMARK_MODE": "tables", "TIDEMARK_SAMPLE_INTERVAL": "60000"})
            eq((r.returncode, r.stdout, r.stderr), (0, b"", b""), f"{cmd}, run {i}")
            d = tmkcat(path)
            clean_trace(d, cmd)
            eq((d["end"], d.get("end_status")), ("exit", "0"), f"END of {cmd}")


def case_kill():
    e = base_env()
    e["LD_PRELOAD"] = shim()
    path = os.path.join(harness.TMP, "k.tmk")
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
    rep = subprocess.run([tidemark(), "report", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eq(rep.returncode, 0, f"report on a truncated trace: {rep.stderr}")
    check("truncated" in (rep.stdout + rep.stderr).lower(), "report says truncated")
    # a program that allocates slowly: its records older than about a second
    # are in the file when it is killed (not only when a buffer fills)
    path = os.path.join(harness.TMP, "k2.tmk")
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
    a, b = os.path.join(harness.TMP, "ga"), os.path.join(harness.TMP, "gb")
    os.mkdir(a)
    os.mkdir(b)
    same(["git", "init"], "git init", cwd_native=a, cwd_shim=b,
         subst=(a.encode(), b.encode()))
    for d in (a, b):
        with open(os.path.join(d, "f.txt"), "wb") as f:
            f.write(lines)
    git_env = {"GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE":
               "2020-01-01T00:00:00Z", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x", "HOME": harness.TMP}
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


EXEC_WAYS = ("execve", "execv", "execl", "execle", "execvp", "execlp", "execvpe", "execveat",
             "fexecve")


def exec_fail_checked(args, env, what):
    """Runs shim_probe exec-fail args natively and under the shim: the same
    status (3), return value and errno; then the one trace of the process:
    complete, ended by its exit with status 3, every block of 1001 and 1002
    bytes in it."""
    native = run([probe(), "exec-fail", *args], preload=False)
    r = run([probe(), "exec-fail", *args], env=env)
    eq((r.returncode, r.stderr), (3, b""), f"{what}: status, stderr ({r.stdout.decode()})")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    want = dict(l.split("=", 1) for l in native.stdout.decode().splitlines() if "=" in l)
    eq((out["rc"], out["errno"]), (want["rc"], want["errno"]), f"{what}: exec's result and errno")
    files = traces()
    eq(files, [os.path.join(harness.TMP, f"t.{out['pid']}.tmk")], f"{what}: one trace")
    return files[0]


def case_exec_fail():
    # An exec* that fails leaves the process traced: the trace ended
    # (END(EXEC)) before the real call goes on in the same file, which ends
    # with the process's exit. Every way to exec, plain and in tables mode.
    for how in EXEC_WAYS:
        for env in ({}, {"TIDEMARK_MODE": "tables", "TIDEMARK_PROBE_MIN": "1000"}):
            what = f"{how} {env.get('TIDEMARK_MODE', 'full')}"
            path = exec_fail_checked([how], env, what)
            for size, n in ((1001, 5), (1002, 7)):
                d = tmkcat(path, "-z", f"{size}:{size}")
                clean_trace(d, what)
                eq((d["end"], d["end_status"]), ("exit", "3"), f"{what}: how the trace ends")
                eq(num(d, "sized_allocs"), n, f"{what}: blocks of {size} bytes")
            os.unlink(path)


def case_exec_fail_threads():
    # The same with a thread allocating all the while, the exec failing 300
    # times: no record lost or written twice around the failed execs.
    # By info (full mode) and by address (every block sampled).
    for how, env in (("execv", {}), ("execvp", {}), ("execv", {"TIDEMARK_SAMPLE_BYTES": "1"})):
        what = f"{how} {env}"
        path = exec_fail_checked([how, "300", "1"], env, what)
        d = tmkcat(path, "-z", "3003:3003")
        clean_trace(d, what)
        eq((d["end"], d["end_status"]), ("exit", "3"), f"{what}: how the trace ends")
        check(num(d, "sized_allocs") >= 300, f"{what}: the churning thread's blocks")
        eq(num(d, "sized_frees"), num(d, "sized_allocs"), f"{what}: each freed once")
        eq(num(d, "free_unknown"), 0, f"{what}: frees of blocks not in the trace")
        eq(num(tmkcat(path, "-z", "1002:1002"), "sized_allocs"), 7, f"{what}: after the execs")
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "process"))
