#!/usr/bin/env python3
"""tests/analyzer/bomb_test.py TIDEMARK TRACEGEN - a trace's claims do not size the analyzer.

Decompression bombs from tracegen ("bomb"), each read by `tidemark report`
(and `dump`) in a child whose peak RSS (wait4's ru_maxrss) and wall time are
measured:
  - 64 threads of one 2 KB zstd frame of 64 MiB of zeros, 3.1 and 3.0: once
    4.2 GB of RSS; now a few MiB, well under a second;
  - 64 threads of a frame of 64 MiB of 128-byte extended records (valid, so
    all of them are read: 34 M records; no END): the decoded bytes stream through
    bounded windows, 4 GiB of them in about 60 MiB.
Each run must stay under RSS_LIMIT_MB (SANITIZED_RSS_LIMIT_MB when
TIDEMARK_TEST_SANITIZED=1: ASan keeps freed memory in quarantine) and its
time limit (SANITIZED_SLOWER times longer), exit 0, and say what is wrong
with the trace.
"""
import os
import subprocess
import sys
import tempfile
import time

RSS_LIMIT_MB = 256
SANITIZED_RSS_LIMIT_MB = 1024
SANITIZED_SLOWER = 10

# (name, tracegen bomb arguments, commands, seconds allowed, a warning the report must give)
BOMBS = [
    ("zeros-3.1", ["64", "zeros", "64", "1"], ("report", "dump"), 5,
     "corrupt or cut record at payload byte 0"),
    ("zeros-3.0", ["64", "zeros", "64", "0"], ("report",), 5,
     "corrupt or cut record at payload byte 0"),
    ("ext-3.1", ["64", "ext", "64", "1"], ("report",), 60, "no END record"),
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
    rss_limit = SANITIZED_RSS_LIMIT_MB if sanitized else RSS_LIMIT_MB
    fails = 0
    with tempfile.TemporaryDirectory() as work:
        for name, args, cmds, limit_s, warning in BOMBS:
            limit_s *= SANITIZED_SLOWER if sanitized else 1
            path = os.path.join(work, name + ".tmk")
            subprocess.run([tracegen, "bomb", path, *args], check=True)
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
                    problems.append(f"no warning '{warning}'")
                for p in problems:
                    print(f"FAIL: {name} {cmd}: {p}")
                fails += len(problems)
    print("ok" if not fails else f"FAIL: {fails} problems")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
