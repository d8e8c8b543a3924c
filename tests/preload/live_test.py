#!/usr/bin/env python3
"""tests/preload/live_test.py - traces of processes that are still running:
every thread's records on disk within about a second (the handoff,
preload/buffer.c), `tidemark report` and `top` on a live trace, a trace cut
by SIGKILL, and TIDEMARK_MAX_BYTES.

    live_test.py --build BUILD_DIR CASE

Uses harness.py's helpers (running under the shim, tmkcat). The programs
are tests/preload/idle_prog.c; each case takes a few seconds.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Failure, check, eq, tmkcat  # noqa: E402


def idle_prog():
    return harness.build_path("tests", "preload", "idle_prog")


def start(cmd, path, env=None, preload=True):
    """Starts cmd under the shim writing `path`; returns it once it said ready."""
    e = harness.base_env()
    if preload:
        e["LD_PRELOAD"] = harness.shim()
    e["TIDEMARK_OUTPUT"] = path
    e.update(env or {})
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, cwd=harness.TMP)
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
        return subprocess.run([harness.tidemark(), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout,
                              env=harness.base_env())
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
    path = os.path.join(harness.TMP, "states.tmk")
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
    return harness.num(d, "blocks")


def case_idle_states():
    idle_states()


def case_idle_fenced():
    """The same without membarrier(2): the owners fence, the sampler still
    takes the buffers."""
    idle_states(prefix=(harness.build_path("tests", "preload", "nomembarrier"), harness.shim()))


# ---- 2. the server: a table, its thread blocked in epoll_wait --------------

def json_report(path):
    r = tidemark("report", "--no-symbols", "--format", "json", path)
    eq(r.returncode, 0, f"report --format json: {r.stderr}")
    return json.loads(r.stdout)


def sessions(rep, what):
    ts = [t for t in rep["tables"] if t["label"] == "sessions"]
    eq(len(ts), 1, f"{what}: the table 'sessions' in {[t['label'] for t in rep['tables']]}")
    t = ts[0]
    # 300,000 entries then 1,000: B=16 (65,536 + 4,096 buckets of 528 bytes) held
    eq((t["live"], t["held_bytes"]), (1000, 36765696), f"{what}: live, held")
    check(t["retained_bytes"] > 36000000 and t["verdict"] == "oversized",
          f"{what}: retained {t['retained_bytes']}, {t['verdict']}")
    return t


def server(path, seconds="30", env=None):
    return start([idle_prog(), "server", seconds], path, env)


def case_live_report():
    """report, check and diff on a trace whose process runs: the state as of
    about 1.5 s ago, one line saying so, no truncation."""
    path = os.path.join(harness.TMP, "server.tmk")
    p = server(path)
    try:
        time.sleep(2.5)
        text = tidemark("report", "--no-symbols", path)
        rep = json_report(path)
        chk = tidemark("check", "--no-symbols", path)
        diff = tidemark("diff", "--no-symbols", path, path)
    finally:
        kill(p)
    eq(text.returncode, 0, f"report: {text.stderr}")
    line = rf"process {p.pid} still running; as of \d+\.\d+ s"
    check(re.search("^" + line + "$", text.stdout, re.M), f"the running line:\n{text.stdout}")
    check("warning" not in text.stdout and "truncated" not in text.stdout and not text.stderr,
          f"no warning on a live trace:\n{text.stdout}{text.stderr}")
    check(re.search(r"^1 +gomap .* 1000 +300000 +69632 +35\.1 MiB .* 34\.9 MiB +oversized",
                    text.stdout, re.M), f"the table's row:\n{text.stdout}")
    tr = rep["trace"]
    eq((tr["running"], tr["truncated"], tr["warnings"], tr["ended"]), (True, False, [], False),
       "json: running, not truncated, no warning")
    check(re.match(line, tr["notices"][0]), f"json notices {tr['notices']}")
    check(tr["at_ns"] <= tr["duration_ns"] and tr["at_ns"] > 0, f"at {tr['at_ns']}")
    sessions(rep, "live report")
    # check judges it (a gate fails: the table is oversized), it does not refuse
    eq(chk.returncode, 1, f"check: {chk.stdout}{chk.stderr}")
    # the notice goes to stderr: check's stdout may be JSON, JUnit or GitHub lines
    check(re.search(f"^{re.escape(path)}: " + line + "$", chk.stderr, re.M),
          f"check:\n{chk.stderr}")
    eq(diff.returncode, 0, f"diff: {diff.stderr}")
    eq(len(re.findall(line, diff.stderr)), 2, f"diff names both sides:\n{diff.stderr}")


def case_live_kill():
    """SIGKILL while the table's thread sleeps in epoll_wait: the trace still
    names the table (its records were written by the sampler)."""
    path = os.path.join(harness.TMP, "killed.tmk")
    p = server(path)
    time.sleep(1.5)
    kill(p)
    rep = json_report(path)
    sessions(rep, "killed trace")
    tr = rep["trace"]
    eq((tr["running"], tr["ended"]), (False, False), "killed: not running, no END")
    text = tidemark("report", "--no-symbols", path)
    check(not re.search(r"^process \d+ still running", text.stdout, re.M),
          "no running line for a dead process")
    check("no END record" in text.stdout, f"a killed trace says it was cut short:\n{text.stdout}")


# ---- 3. tidemark top ------------------------------------------------------------------

def case_top():
    path = os.path.join(harness.TMP, "top.tmk")
    # --iterations: two refreshes, then it stops although the program runs on
    p = server(path)
    try:
        t0 = time.time()
        r = tidemark("top", "--interval", "1", "--iterations", "2", path, timeout=20)
        took = time.time() - t0
        eq(r.returncode, 0, f"top --iterations 2: {r.stderr}")
        shots = r.stdout.split("\n\ntidemark top: ")
        eq(len(shots), 2, f"two snapshots separated by a blank line:\n{r.stdout}")
        check("\033" not in r.stdout, "no escape codes when stdout is not a terminal")
        check(0.9 < took < 5, f"two refreshes 1 s apart took {took:.1f} s")
        check(f"pid {p.pid} (running)" in shots[0], f"running:\n{shots[0]}")
    finally:
        kill(p)
    # until the program ends: started before it is ready, it ends with it
    path = os.path.join(harness.TMP, "top2.tmk")
    p = server(path, seconds="3.5")
    t0 = time.time()
    r = tidemark("top", "--interval", "1", path, timeout=30)
    took = time.time() - t0
    p.wait()
    p.stdout.close()
    eq(r.returncode, 0, f"top: {r.stderr}")
    check(took < 6, f"top ended {took:.1f} s after it started, the program after 3.5 s")
    last = r.stdout.split("\n\ntidemark top: ")[-1]
    check(re.search(r"^1 +gomap +sessions +1000 +300000 +35\.1 MiB +143\.9 KiB +34\.9 MiB$",
                    last, re.M), f"the table in the last snapshot:\n{last}")
    check("(ended)" in last and last.rstrip().endswith("the program ended"),
          f"the last snapshot says the program ended:\n{last}")
    check(r.stdout.count("tidemark top: ") >= 2, f"refreshed:\n{r.stdout}")
    bad = tidemark("top", "--interval", "10ms", path)
    eq(bad.returncode, 2, "--interval below 100ms")
    check(bad.stderr.startswith("tidemark: --interval: bad value"), bad.stderr)


# ---- 4. TIDEMARK_MAX_BYTES ------------------------------------------------------------

MIB = 1 << 20


def dump_lines(path):
    r = tidemark("dump", path)
    eq(r.returncode, 0, f"dump: {r.stderr}")
    return r.stdout.splitlines()


def case_cap_full():
    # Raw blocks of 256 KiB from the one churning thread: past 7/8 of 4.5
    # MiB heap records stop, tables go on, and the last eighth (576 KiB) has
    # room for the blocks still in the buffers: the program ends inside the
    # bound (were a buffer larger than that, the bound would stop the trace:
    # said so, and checked below).
    path = os.path.join(harness.TMP, "capped.tmk")
    bound = 4718592
    p = start([idle_prog(), "churn", "2"], path,
              {"TIDEMARK_MAX_BYTES": str(bound), "TIDEMARK_COMPRESS": "0"})
    p.wait()
    p.stdout.close()
    eq(p.returncode, 0, "churn under the bound")
    size = os.path.getsize(path)
    check(size <= bound, f"file {size} bytes, bound {bound}")
    rep = json_report(path)
    tr = rep["trace"]
    eq((tr["max_bytes"], tr["truncated"], tr["warnings"]), (bound, False, []),
       "bound reached, the trace whole")
    check(tr["ended"] or tr["bound_stop_ns"] is not None, "END, or the stop at the bound")
    soft = tr["bound_soft_ns"]
    check(soft is not None and soft > 0, f"bound_soft_ns {soft}")
    check(any(n.startswith("the trace passed 7/8 of TIDEMARK_MAX_BYTES (4.5 MiB) at ") and
              "no heap records after that" in n for n in tr["notices"]), f"notices {tr['notices']}")
    if tr["ended"]:
        check(any(t["created_ns"] > soft for t in rep["tables"]), "tables created after the bound")
    text = tidemark("report", "--no-symbols", path)
    check("the trace passed 7/8 of TIDEMARK_MAX_BYTES" in text.stdout, text.stdout[:600])
    late = [l for l in dump_lines(path)
            if re.match(r"\d+ th=\d+ ALLOC ptr=0x8", l) and int(l.split()[0]) > soft]
    eq(late[:3], [], "no heap record by info after the soft bound")
    d = tmkcat(path)
    harness.clean_trace(d, "capped trace")
    # a 1 MiB bound: blocks stay 64 KiB (a sixteenth of the bound; 256 KiB
    # blocks jumped from below 7/8 past the bound), so the soft bound comes
    # first; the table events then fill the last eighth, and a stop block
    # takes the place of the block that would pass the bound
    path = os.path.join(harness.TMP, "stopped.tmk")
    p = start([idle_prog(), "churn", "2"], path,
              {"TIDEMARK_MAX_BYTES": str(MIB), "TIDEMARK_COMPRESS": "0"})
    p.wait()
    p.stdout.close()
    eq(p.returncode, 0, "the program runs on after tracing stopped")
    size = os.path.getsize(path)
    check(size <= MIB, f"file {size} bytes, bound {MIB}")
    tr = json_report(path)["trace"]
    eq((tr["truncated"], tr["warnings"], tr["ended"]), (False, [], False),
       "a stopped trace is whole, without END")
    check(tr["bound_stop_ns"] is not None, "bound_stop_ns")
    check(tr["bound_soft_ns"] is not None and tr["bound_soft_ns"] < tr["bound_stop_ns"],
          f"the soft bound ({tr['bound_soft_ns']}) before the stop ({tr['bound_stop_ns']})")
    check(any(n.startswith("the trace reached TIDEMARK_MAX_BYTES (1.0 MiB) at ") and
              n.endswith("nothing was recorded after that") for n in tr["notices"]),
          f"notices {tr['notices']}")
    d = tmkcat(path)
    eq(harness.num(d, "truncated"), 0, "tmkcat: no cut")
    # settings: 0 or at least 1 MiB
    r = harness.run([idle_prog(), "tables", "0"], env={"TIDEMARK_MAX_BYTES": "1000"})
    harness.warned(r, "TIDEMARK_MAX_BYTES=1000",
              r"TIDEMARK_MAX_BYTES=1000 is not 0 or a byte count of at least 1048576; using 0")


def case_cap_tables():
    """tables mode goes on past the soft bound (table records only), up to
    the bound itself."""
    path = os.path.join(harness.TMP, "tables.tmk")
    p = start([idle_prog(), "tables", "2"], path,
              {"TIDEMARK_MAX_BYTES": str(MIB), "TIDEMARK_MODE": "tables"})
    p.wait()
    p.stdout.close()
    eq(p.returncode, 0, "tables program")
    size = os.path.getsize(path)
    check(size <= MIB, f"file {size} bytes, bound {MIB}")
    rep = json_report(path)
    tr = rep["trace"]
    eq((tr["truncated"], tr["warnings"], tr["running"]), (False, [], False), "whole, not running")
    check(tr["bound_stop_ns"] is not None, f"stopped at the bound: {tr}")
    if tr["bound_soft_ns"] is not None:
        check(tr["bound_soft_ns"] <= tr["bound_stop_ns"], "soft before stop")
    kept = [t for t in rep["tables"] if t["label"] == "kept"]
    eq(len(kept), 1, "the kept table")
    check(len(rep["tables"]) > 100, f"tables recorded up to the bound: {len(rep['tables'])}")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "live"))
