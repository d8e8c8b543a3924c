#!/usr/bin/env python3
"""tests/analyzer/flip_test.py TIDEMARK TRACEGEN - damage never changes a figure silently.

Flips one byte at every k-th offset (FLIPS of them, each with another bit
mask) of a small 3.1 trace, uncompressed and compressed (tracegen's "mixed"),
and runs `tidemark report --format json` on each flipped copy. Each flip must
be reported - exit 2 with one line on stderr, or a report marked truncated
with a warning - or leave the report byte-identical. A silent change of the
report, another exit status, or a run over the time limit fails the test.

`--survey` also flips 3.0 traces (no checksums) and prints how many changed
the report silently, without failing: the problem 3.1 fixes.
"""
import json
import os
import subprocess
import sys
import tempfile

FLIPS = 300
TIMEOUT = 20  # seconds per report: a hang is a failure, not a stuck test


def report(tidemark, path):
    p = subprocess.run([tidemark, "report", "--no-symbols", "--format", "json", path],
                       capture_output=True, text=True, timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def flip_outcome(tidemark, path, clean):
    """'error', 'warned', 'same', or a string starting with 'FAIL'."""
    rc, out, err = report(tidemark, path)
    if rc == 2:
        lines = err.strip().splitlines()
        if len(lines) == 1 and lines[0].startswith("tidemark: "):
            return "error"
        return f"FAIL: exit 2 without one error line: {err!r}"
    if rc != 0:
        return f"FAIL: exit {rc}: {err.strip()}"
    if out == clean:
        return "same"
    trace = json.loads(out)["trace"]
    if trace["truncated"] and trace["warnings"]:
        return "warned"
    return "FAIL: the report changed without a warning"


def flip_all(tidemark, original, work, name):
    data = open(original, "rb").read()
    path = os.path.join(work, name)  # the report names its path: one path for all
    with open(path, "wb") as f:
        f.write(data)
    rc, clean, err = report(tidemark, path)
    if rc != 0 or json.loads(clean)["trace"]["warnings"]:
        return {"FAIL: the undamaged trace": 1}, [f"{name}: rc {rc}, {err.strip()}"]
    step = max(1, len(data) // FLIPS)
    counts, failures = {}, []
    for i in range(FLIPS):
        off = (i * step) % len(data)
        damaged = bytearray(data)
        damaged[off] ^= 1 << (i % 8)
        with open(path, "wb") as f:
            f.write(damaged)
        try:
            what = flip_outcome(tidemark, path, clean)
        except subprocess.TimeoutExpired:
            what = f"FAIL: no answer in {TIMEOUT} s"
        key = what if not what.startswith("FAIL") else "FAIL"
        counts[key] = counts.get(key, 0) + 1
        if what.startswith("FAIL"):
            failures.append(f"{name}: byte {off} ^ 0x{1 << (i % 8):02x}: {what}")
    return counts, failures


def main():
    args = [a for a in sys.argv[1:] if a != "--survey"]
    survey = "--survey" in sys.argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tidemark, tracegen = args
    cases = [("raw-3.1", "1", "0"), ("zstd-3.1", "1", "1")]
    if survey:
        cases += [("raw-3.0", "0", "0"), ("zstd-3.0", "0", "1")]
    bad = []
    with tempfile.TemporaryDirectory() as work:
        for name, minor, zstd in cases:
            original = os.path.join(work, name + ".orig")
            subprocess.run([tracegen, "mixed", original, minor, zstd], check=True)
            counts, failures = flip_all(tidemark, original, work, name + ".tmk")
            print(f"{name}: {os.path.getsize(original)} bytes, {FLIPS} flips: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            if minor == "1":
                bad += failures
    for line in bad[:20]:
        print(line)
    print(f"{'FAIL' if bad else 'ok'}: {len(bad)} silent or wrong outcomes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
