#!/usr/bin/env python3
"""tests/preload/signal_test.py - signals that end a traced process
(preload/signals.c), run with signal_probe and read back with tmkcat and the
analyzer.

    signal_test.py --build BUILD_DIR CASE

SIGTERM, SIGINT and SIGHUP end the trace as exit does (END(SIGNAL, sig),
every thread's records) and the process dies of the signal as without the
shim; what sigaction() and friends show, the program's own handlers, ignored
and blocked signals are the same with and without the shim; `tidemark run`
leaves Ctrl-C to the program and relays a signal sent to it alone. One CASE
per CTest test (tests/preload/CMakeLists.txt); the helpers are
harness.py's.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Failure, check, eq, num, tmkcat, clean_trace, tidemark  # noqa: E402

K = 1000  # signal_probe's known allocations per size
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def sprobe():
    return harness.build_path("tests", "preload", "signal_probe")


def path(name):
    return os.path.join(harness.TMP, name)


def shim_env(output):
    e = harness.base_env()
    e["LD_PRELOAD"] = harness.shim()
    e["TIDEMARK_OUTPUT"] = output
    return e


def start(cmd, env, **kw):
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=harness.TMP, **kw)


def wait_ready(p, what):
    line = p.stdout.readline()
    eq(line, b"ready\n", f"{what}: ready")


def finish(p, what, timeout=30):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise Failure(f"{what}: did not end in {timeout} s")
    return out, err


def read_counts(f):
    """signal_probe's count file: snapshot pair, then the live pair."""
    with open(f, "rb") as fh:
        return struct.unpack("4Q", fh.read(32))


def sized(trace, lo, hi=None):
    return num(tmkcat(trace, "-z", f"{lo}:{hi or lo}"), "sized_allocs")


def report_json(trace):
    r = subprocess.run([tidemark(), "report", "--no-symbols", "--format", "json", trace],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eq(r.returncode, 0, f"report {trace}: {r.stderr}")
    return json.loads(r.stdout)


def find_key(obj, key):
    """The first value of key anywhere in a JSON document."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            got = find_key(v, key)
            if got is not None:
                return got
    return None


def check_ended_by(trace, sig, what, busy_counts=None):
    """END(SIGNAL, sig), the known allocations of every thread, and for a busy
    run every allocation the threads counted before the signal was sent."""
    d = tmkcat(trace)
    clean_trace(d, what)
    eq((d["end"], d.get("end_status")), ("signal", str(int(sig))), f"{what}: END")
    for size in (3001, 3002, 3003):
        eq(sized(trace, size), K, f"{what}: allocations of {size} bytes (one thread's)")
    if busy_counts:
        for i, before in enumerate(busy_counts):
            got = sized(trace, 3100 + i)
            check(got >= before, f"{what}: thread {i}'s loop: {got} allocations in the trace, "
                                 f"{before} made before the signal was sent")
    rep = report_json(trace)
    eq((find_key(rep, "end_why"), find_key(rep, "end_status")), ("signal", int(sig)),
       f"{what}: the report's end")
    allocs = find_key(find_key(rep, "heap"), "allocs")
    want = 3 * K + sum(busy_counts or ())
    check(allocs is not None and allocs >= want,
          f"{what}: the report counts {allocs} allocations, at least {want} expected")


# ---- SIGTERM, SIGINT, SIGHUP end the trace -------------------------------------

def kill_run(sig, mode, how, what):
    """signal_probe kill MODE: how = 'external' (the test sends sig to the
    process), 'self' (kill(getpid)) or 'thread' (tgkill at a busy thread).
    Returns (returncode, trace, counts before the signal)."""
    trace, counts = path(f"{what}.tmk"), path(f"{what}.counts")
    arg = {"external": 0, "self": int(sig), "thread": -int(sig)}[how]
    p = start([sprobe(), "kill", mode, str(arg), counts], shim_env(trace))
    wait_ready(p, what)
    before = None
    if how == "external":
        time.sleep(0.3 if mode == "busy" else 0.05)
        live = read_counts(counts)[2:]
        before = live if mode == "busy" else None
        p.send_signal(sig)
    out, err = finish(p, what)
    if how != "external" and mode == "busy":
        before = read_counts(counts)[:2]
    eq(err, b"", f"{what}: stderr")
    return p.returncode, trace, before


def case_kill():
    for sig in STOP_SIGNALS:
        name = signal.Signals(sig).name
        # the same wait status as without the shim
        n = subprocess.Popen([sprobe(), "kill", "idle", "0", path("native.counts")],
                             stdout=subprocess.PIPE, env=harness.base_env())
        wait_ready(n, f"native {name}")
        n.send_signal(sig)
        n.communicate()
        eq(n.returncode, -sig, f"native {name}: status")
        for mode, how in (("idle", "external"), ("busy", "external"), ("busy", "self"),
                          ("idle", "self"), ("busy", "thread")):
            what = f"{name}-{mode}-{how}"
            rc, trace, before = kill_run(sig, mode, how, what)
            eq(rc, -sig, f"{what}: the process dies of {name}")
            check_ended_by(trace, sig, what, before)


def case_threadkill():
    # A signal at a thread busy inside the shim, which may hold the writer
    # mid-flush: the trace still ends (the signal comes back a moment later).
    for i in range(12):
        sig = STOP_SIGNALS[i % 3]
        what = f"thread-{i}-{signal.Signals(sig).name}"
        rc, trace, before = kill_run(sig, "busy", "thread", what)
        eq(rc, -sig, f"{what}: status")
        check_ended_by(trace, sig, what, before)


# ---- what the program sees ------------------------------------------------------

def same(cmd, what, env_extra=None, signal_after_ready=None):
    """Runs cmd without and with the shim; stdout, stderr, status identical."""
    results = []
    for preload in (False, True):
        e = shim_env(path(f"{what.replace(' ', '_')}.%p.tmk")) if preload else harness.base_env()
        if env_extra:
            e.update(env_extra)
        p = start(cmd, e)
        if signal_after_ready:
            wait_ready(p, what)
            time.sleep(0.1)
            p.send_signal(signal_after_ready)
        out, err = finish(p, what)
        results.append((p.returncode, out, err))
    n, s = results
    eq(s[0], n[0], f"{what}: status")
    eq(s[1], n[1], f"{what}: stdout")
    eq(s[2], n[2], f"{what}: stderr")
    return n


def traces_of(what):
    prefix = what.replace(" ", "_") + "."
    return [t for t in harness.traces() if os.path.basename(t).startswith(prefix)]


def check_exit_traces(what, status=0):
    """Every trace of the run is clean; the last image's ends with
    END(EXIT, status), an image that exec'ed with END(EXEC)."""
    ts = traces_of(what)
    check(ts, f"{what}: no trace")
    ends = []
    for t in ts:
        d = tmkcat(t)
        clean_trace(d, f"{what} {os.path.basename(t)}")
        ends.append((d["end"], d.get("end_status")))
    eq(sorted(ends), sorted([("exec", "0")] * (len(ts) - 1) + [("exit", str(status))]),
       f"{what}: ENDs of {[os.path.basename(t) for t in ts]}")


def case_view():
    n = same([sprobe(), "view"], "view")
    eq(n[0], 0, "view: status")
    out = n[1].decode()
    for name in ("Terminated", "Interrupt", "Hangup", "Segmentation fault", "Bus error",
                 "Floating point exception", "Illegal instruction", "Aborted"):
        check(f"start {name}: rc=0 DFL flags=0 restorer=null mask= blocked=0\n" in out,
              f"view: {name} at start is not the pristine SIG_DFL:\n{out[:2000]}")
    check("exec Terminated: rc=0 IGN" in out, "view: SIG_IGN kept across exec")
    check("exec Hangup: rc=0 DFL" in out, "view: a handler is SIG_DFL after exec")
    eq(len(traces_of("view")), 3, "view: traces of the program, its child, its exec'ed image")
    n = same([sprobe(), "vfork"], "vfork")
    check(b"vfork child: HUP DFL, TERM was own, INT was DFL\n" in n[1] and
          b"parent Terminated: rc=0 own" in n[1] and b"parent Interrupt: rc=0 DFL" in n[1],
          f"vfork: {n[1].decode()}")
    n = same([sprobe(), "race"], "race")
    check(n[1].endswith(b"unexpected dispositions seen: 0\n"), f"race: {n[1].decode()}")


def case_own():
    for sig in STOP_SIGNALS:
        name = signal.Signals(sig).name
        for how in ("sigaction", "norestart", "signal"):
            what = f"own {name} {how}"
            n = same([sprobe(), "own", str(int(sig))] + ([how] if how != "sigaction" else []),
                     what)
            eq(n[0], 0, f"{what}: status")
            line = n[1].decode()
            check(line.startswith("handled=1 "), f"{what}: the program's handler ran: {line}")
            want_read = "read=-1 EINTR" if how == "norestart" else "read=1"
            check(want_read in line, f"{what}: {line}")
            if how != "signal":
                check("user=1 self=1 mask=1" in line, f"{what}: siginfo and mask: {line}")
            check_exit_traces(what)


def case_ignored():
    for sig in STOP_SIGNALS:
        name = signal.Signals(sig).name
        what = f"ignored {name} trap"
        n = same(["sh", "-c", f"trap '' {name[3:]}; exec {sprobe()} ignored {int(sig)}"], what)
        eq(n[0], 0, f"{what}: status")
        check(b" IGN " in n[1] and b"survived" in n[1], f"{what}: {n[1]!r}")
        check_exit_traces(what)
        what = f"ignored {name} exec"
        n = same([sprobe(), "ignore-exec", str(int(sig))], what)
        eq(n[0], 0, f"{what}: status")
        check(b" IGN " in n[1] and b"survived" in n[1], f"{what}: {n[1]!r}")
        check_exit_traces(what)


def case_blocked():
    for how, sig in (("sigfd", signal.SIGTERM), ("sigfd", signal.SIGINT),
                     ("sigwait", signal.SIGHUP), ("sigwait", signal.SIGTERM)):
        what = f"blocked {how} {signal.Signals(sig).name}"
        n = same([sprobe(), how, str(int(sig))], what, signal_after_ready=sig)
        eq(n[0], 0, f"{what}: status")
        check(b"still blocked=1" in n[1], f"{what}: {n[1]!r}")
        check_exit_traces(what)


def case_fork():
    what = "fork"
    n = same([sprobe(), "fork-term"], what)
    eq(n[1], b"child signaled=1 sig=Terminated core=0\n", "fork: the child's end")
    ts = traces_of(what)
    eq(len(ts), 2, f"fork: traces {ts}")
    ends = sorted((tmkcat(t)["end"], tmkcat(t).get("end_status"), sized(t, 3008)) for t in ts)
    eq(ends, [("exit", "0", 0), ("signal", str(int(signal.SIGTERM)), K)],
       "fork: parent END(EXIT 0); child END(SIGNAL 15) with its allocations")


# ---- tidemark run -----------------------------------------------------------------

def run_under_tidemark(name, args, act):
    """tidemark run in a session of its own (so a signal can go to the whole
    group, as a terminal sends Ctrl-C)."""
    trace = path(f"{name}.tmk")
    p = subprocess.Popen([tidemark(), "run", "-o", trace, "--", sprobe()] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=harness.TMP,
                         env=harness.base_env(), start_new_session=True)
    if act:
        wait_ready(p, name)
        time.sleep(0.3)
        act(p)
    out, err = finish(p, name)
    return p.returncode, out, err.decode(), trace


def check_summary(err, trace, what):
    check(f"trace written to {trace}" in err and "full report: tidemark report" in err,
          f"{what}: run's summary:\n{err}")
    check("truncated" not in err, f"{what}: run says truncated:\n{err}")


def case_run():
    # Ctrl-C: the terminal sends SIGINT to the whole foreground group
    rc, out, err, trace = run_under_tidemark(
        "ctrlc", ["kill", "busy", "0", path("c.counts")],
        lambda p: os.killpg(p.pid, signal.SIGINT))
    eq(rc, 130, f"Ctrl-C: run's status (128 + SIGINT):\n{err}")
    check_summary(err, trace, "Ctrl-C")
    check_ended_by(trace, signal.SIGINT, "Ctrl-C")
    # SIGTERM and SIGHUP to run alone are relayed to the program
    for sig in (signal.SIGTERM, signal.SIGHUP):
        name = signal.Signals(sig).name
        rc, out, err, trace = run_under_tidemark(
            f"relay-{name}", ["kill", "idle", "0", path("r.counts")],
            lambda p, sig=sig: p.send_signal(sig))
        eq(rc, 128 + sig, f"{name} to run: status:\n{err}")
        check_summary(err, trace, f"{name} to run")
        check_ended_by(trace, sig, f"{name} to run")
    # a signal the program's group got is not sent again: one SIGTERM
    rc, out, err, trace = run_under_tidemark("group", ["group-term"], None)
    eq((rc, out), (0, b"sigterm count=1\n"), f"kill(0, SIGTERM) from the program:\n{err}")


def case_sigjmp():
    """A handler that siglongjmp's out of the shim or the real allocator
    (sweep 3, F11; review F1, F2): the program runs to its end, and malloc
    never returns NULL. Tracing, the thread's calls after a jump out of the
    shim are served apart and counted as lost (its guard stays set: the
    jumped-out call may have held a lock of the shim's or of glibc's, which
    the sampler thread makes it take); not tracing (the trace could not be
    created), a jump out of the real allocator leaves nothing behind and
    the program keeps its speed."""
    prog = harness.build_path("tests", "preload", "sigjmp_prog")
    n = 200000

    def run(interval, name, env=None):
        # A jump out of glibc's malloc is undefined: glibc itself may crash
        # afterwards, natively too (6 runs in 40 at a 200 us timer); five tries.
        for attempt in range(5):
            out = path(f"{attempt}{name}")
            t0 = time.monotonic()
            r = harness.run([prog, str(n), str(interval)], output=out, env=env, timeout=120)
            took = time.monotonic() - t0
            if r.returncode != -signal.SIGSEGV or interval == 0:
                break
        eq(r.returncode, 0, f"sigjmp_prog {interval} us ({name}): exit status\n{r.stderr}")
        got = dict(kv.split("=") for kv in r.stdout.decode().split())
        eq(int(got["nulls"]), 0, f"{name}: malloc returned NULL {got['nulls']} times")
        return took, int(got["jumps"]), out

    calm, _, _ = run(0, "calm.tmk")
    took, jumps, out = run(1000, "jumps.tmk")
    check(jumps >= 1, f"{jumps} jumps: the timer did not interrupt the loop")
    d = tmkcat(out)
    check(num(d, "allocs") + num(d, "lost") >= 1, "the trace is empty")
    off = {"TIDEMARK_OUTPUT": "/nonexistent/dir/x.tmk", "TIDEMARK_QUIET": "1"}
    calm_off, _, _ = run(0, "calm_off.tmk", off)
    took_off, jumps_off, _ = run(500, "off.tmk", off)
    check(took_off < 5 * calm_off + 1.0,
          f"not tracing: {took_off:.2f} s with {jumps_off} jumps, {calm_off:.2f} s without")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "sig"))
