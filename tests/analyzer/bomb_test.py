#!/usr/bin/env python3
"""tests/analyzer/bomb_test.py TIDEMARK TRACEGEN - a trace's claims do not size the analyzer.

Traces from tracegen, each read by `tidemark report` (and `dump`) in a child
whose peak RSS (wait4's ru_maxrss, which counts the Python process it was
forked from: about 15 MiB) and wall time are measured:
  - decompression bombs ("bomb"): 64 threads of one 2 KB zstd frame of 64
    MiB of zeros, 3.1 and 3.0: once 4.2 GB of RSS; now a few MiB, well
    under a second;
  - 64 threads of a frame of 64 MiB of 128-byte extended records (valid, so
    all of them are read: 34 M records; no END): 4 GiB of records stream
    through bounded windows;
  - 64 threads one after the other ("serial"), each one block of 960 KiB of
    records: a thread's block is read when the merge reaches its time, and
    its memory goes with its last block, so they are not held all at once
    (64 MiB before).
Each run must stay under its RSS bound (SANITIZED_RSS_LIMIT_MB when
TIDEMARK_TEST_SANITIZED=1: ASan keeps freed memory in quarantine) and its
time limit (SANITIZED_SLOWER times longer), exit 0, and give its warning.
"""
import os
import subprocess
import sys
import tempfile
import time

SANITIZED_RSS_LIMIT_MB = 1024
SANITIZED_SLOWER = 10

# (name, tracegen arguments, commands, seconds allowed, MiB of RSS allowed,
#  what the report must say)
BOMBS = [
    ("zeros-3.1", ["bomb", "64", "zeros", "64", "1"], ("report", "dump"), 5, 64,
     "corrupt or cut record at payload byte 0"),
    ("zeros-3.0", ["bomb", "64", "zeros", "64", "0"], ("report",), 5, 64,
     "corrupt or cut record at payload byte 0"),
    ("ext-3.1", ["bomb", "64", "ext", "64", "1"], ("report",), 60, 128, "no END record"),
    ("serial-3.1", ["serial", "64", "960"], ("report",), 30, 40, "10485760 frees"),
]


def measured(cmd, limit_s):
    """Runs cmd; returns (status, stdout, stderr, peak RSS in MiB, seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        deadline = start + limit_s * 4  # far past the limit: stop, do not hang the suite
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        secs = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return (os.waitstatus_to_exitcode(status), out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), usage.ru_maxrss / 1024, secs)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    tidemark, tracegen = sys.argv[1:]
    sanitized = os.environ.get("TIDEMARK_TEST_SANITIZED") == "1"
    fails = 0
    with tempfile.TemporaryDirectory() as work:
        for name, args, cmds, limit_s, rss_limit, warning in BOMBS:
            limit_s *= SANITIZED_SLOWER if sanitized else 1
            rss_limit = SANITIZED_RSS_LIMIT_MB if sanitized else rss_limit
            path = os.path.join(work, name + ".tmk")
            subprocess.run([tracegen, args[0], path, *args[1:]], check=True)
            for cmd in cmds:
                argv = [tidemark, cmd, path] if cmd == "dump" else [tidemark, cmd, "--no-symbols", path]
                rc, out, err, rss, secs = measured(argv, limit_s)
                print(f"{name} ({os.path.getsize(path)} bytes) {cmd}: exit {rc}, "
                      f"peak RSS {rss:.1f} MiB, {secs:.2f} s")
                problems = []
                if rc != 0:
                    problems.append(f"exit {rc}: {err.strip()[:200]}")
                if rss > rss_limit:
                    problems.append(f"peak RSS {rss:.0f} MiB over {rss_limit} MiB")
                if secs > limit_s:
                    problems.append(f"{secs:.1f} s over {limit_s} s")
                if warning not in out:
                    problems.append(f"the report does not say '{warning}'")
                for p in problems:
                    print(f"FAIL: {name} {cmd}: {p}")
                fails += len(problems)
    print("ok" if not fails else f"FAIL: {fails} problems")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
