#!/usr/bin/env python3
"""check_examples.py - runs one example and checks the figures it prints.

Usage: check_examples.py BINDIR CHECK [--no-heap]

Expected bucket bytes are computed here from Go 1.19's rules (runtime/map.go
makemap/makeBucketArray/overLoadFactor, runtime/msize.go roundupsize,
runtime/sizeclasses.go), independently of gomap's code; the seed's figures
are also asserted as literals. Heap figures (glibc mallinfo2) are checked
against the bucket bytes with a small margin; --no-heap skips them (a
sanitizer's allocator does not go through glibc's arenas).
Exit status: 0 pass, 1 a check failed, 2 bad usage.
"""
import re
import subprocess
import sys

# --- Go 1.19's rules -------------------------------------------------------

# runtime/sizeclasses.go class_to_size (classes 1..67).
SIZE_CLASSES = [
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240,
    256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024,
    1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096,
    4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288,
    13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
]
PAGE = 8192
MIB = 1024 * 1024


def bucket_size(key, value):
    """8 tophash bytes, 8 keys, 8 values, an overflow pointer; > 128 bytes is
    stored as an 8-byte pointer."""
    slot = lambda s: 8 if s > 128 else s
    return 8 + 8 * slot(key) + 8 * slot(value) + 8


def over_load_factor(count, B):
    return count > 8 and count > 13 * ((1 << B) // 2)


def b_for_hint(hint):
    B = 0
    while over_load_factor(hint, B):
        B += 1
    return B


def roundupsize(size):
    if size < 32768:
        return next(c for c in SIZE_CLASSES if size <= c)
    return (size + PAGE - 1) // PAGE * PAGE


def array_bytes(B, bsize):
    """makeBucketArray: 2^B buckets, + 2^(B-4) overflow buckets for B >= 4,
    and the size-class slack turned into more overflow buckets."""
    nbuckets = 1 << B
    if B >= 4:
        nbuckets += 1 << (B - 4)
        up = roundupsize(nbuckets * bsize)
        nbuckets = up // bsize
    return nbuckets * bsize


def bytes_for_count(count, bsize):
    """What a fresh map for `count` entries holds: make(map, 0) allocates no
    bucket until the first insert."""
    return 0 if count == 0 else array_bytes(b_for_hint(count), bsize)


# --- running and reading an example ---------------------------------------

PHASE = re.compile(r"^(?P<phase>[a-z ]+):\s+heap\s+(?P<heap_mib>\d+) MiB \(\s*(?P<heap>\d+) bytes\)"
                   r"\s+buckets\s+(?P<b_mib>\d+) MiB \(\s*(?P<buckets>\d+) bytes\)$")
PEAK = re.compile(r"^peak:\s+buckets\s+(?P<b_mib>\d+) MiB \(\s*(?P<buckets>\d+) bytes\)"
                  r" = arrays (?P<arrays>\d+) \+ overflow (?P<overflow>\d+) bytes$")
SHAPE = re.compile(r"^map: (?P<live>\d+) live, B=(?P<B>\d+): array of (?P<nb>\d+) buckets .* = "
                   r"(?P<array>\d+) bytes, \+ (?P<extra>\d+) overflow buckets allocated on their "
                   r"own \((?P<extra_bytes>\d+) bytes\)$")

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL: " + what)
    else:
        print("ok:   " + what)


def run(bindir, name, *args):
    cmd = [f"{bindir}/{name}", *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print("$ " + " ".join(cmd))
    print(out.stdout, end="")
    if out.stderr:
        print(out.stderr, end="", file=sys.stderr)
    check(out.returncode == 0, f"{name} exits 0 (got {out.returncode})")
    phases = {"shapes": []}
    for line in out.stdout.splitlines():
        m = PHASE.match(line) or PEAK.match(line)
        if m:
            d = {k: int(v) for k, v in m.groupdict().items() if k != "phase"}
            phase = m.groupdict().get("phase", "peak")
            check((d.get("heap_mib", 0) == d.get("heap", 0) // MIB) and d["b_mib"] == d["buckets"] // MIB,
                  f"{phase}: MiB figures are bytes / 2^20")
            phases[phase] = d
        m = SHAPE.match(line)
        if m:
            phases["shapes"].append({k: int(v) for k, v in m.groupdict().items()})
        m = re.match(r"^map: (\d+) live, no bucket array$", line)
        if m:
            phases["shapes"].append({"live": int(m[1]), "B": 0, "array": 0, "extra": 0,
                                     "extra_bytes": 0})
    return phases, out.stdout


def check_heap_near(p, phase, floor, margin, heap_ok):
    if not heap_ok:
        return
    heap = p[phase]["heap"]
    check(floor <= heap <= floor + margin,
          f"{phase}: heap {heap} within [{floor}, {floor} + {margin}]")


HEAP_MARGIN = 1 * MIB  # the map struct, stdio, a page per mmapped chunk


def check_seed(bindir, name, value_size, presized, heap_ok):
    n = 1000000
    bs = bucket_size(8, value_size)
    p, _ = run(bindir, name)
    final = array_bytes(b_for_hint(n), bs)
    expect_literal = {128: 307494912, 129: 40108032}[value_size]
    check(final == expect_literal, f"Go's rules give {expect_literal} bytes for B={b_for_hint(n)}")
    check(p["after deletes"]["buckets"] == final,
          f"after deletes: {final} bucket bytes (got {p['after deletes']['buckets']})")
    check(p["after inserts"]["buckets"] == final, "after inserts: the same bucket bytes")
    made = final if presized else 0
    check(p["after make"]["buckets"] == made, f"after make: {made} bucket bytes")
    if presized:
        peak_arrays = final
    else:
        B = b_for_hint(n)
        peak_arrays = array_bytes(B - 1, bs) + array_bytes(B, bs)
        if value_size == 128:
            check(peak_arrays == 461242368, "Go's rules give 461242368 bytes for B=17 + B=18")
    check(p["peak"]["arrays"] == peak_arrays,
          f"peak: arrays {peak_arrays} bytes (got {p['peak']['arrays']})")
    check(p["peak"]["buckets"] == p["peak"]["arrays"] + p["peak"]["overflow"],
          "peak: buckets = arrays + overflow")
    shape = p["shapes"][0]
    check(shape["B"] == b_for_hint(n) and shape["array"] == final and shape["extra"] == 0,
          f"after inserts: B={b_for_hint(n)}, one array of {final} bytes, no overflow bucket "
          "of its own")

    check_heap_near(p, "after make", made, HEAP_MARGIN, heap_ok)
    check_heap_near(p, "after deletes", final, HEAP_MARGIN, heap_ok)
    if value_size > 128:
        # each value a separate malloc(129): a 144-byte glibc chunk
        if heap_ok:
            heap = p["after inserts"]["heap"]
            lo, hi = final + n * value_size, final + n * 144 + HEAP_MARGIN
            check(lo <= heap <= hi, f"after inserts: heap {heap} within [{lo}, {hi}]")
    else:
        check_heap_near(p, "after inserts", final, HEAP_MARGIN, heap_ok)


def check_pointer_values(bindir, heap_ok):
    n = 1000000
    bs = bucket_size(8, 8)
    check(bs == 144, "a bucket of int64 -> pointer is 144 bytes")
    p, out = run(bindir, "fix_pointer_values")
    final = array_bytes(b_for_hint(n), bs)
    check(final == 278528 * 144, "B=18: 2^18 + 2^14 buckets of 144 bytes")
    check(p["after deletes"]["buckets"] == final, f"after deletes: {final} bucket bytes")
    check_heap_near(p, "after deletes", final, HEAP_MARGIN, heap_ok)
    if heap_ok:
        heap = p["after inserts"]["heap"]
        lo = final + n * 128
        check(lo <= heap <= lo + n * 16 + HEAP_MARGIN, f"after inserts: heap {heap} ~ buckets + values")
    check("check: 0 of 0 kept entries" in out, "nothing kept")


def check_rebuild(bindir, name, cure_phase, n, keep, heap_ok):
    bs = bucket_size(8, 128)
    p, out = run(bindir, name, "--n", n, "--keep", keep)
    grown = array_bytes(b_for_hint(n), bs)
    held = p["after inserts"]["buckets"]
    check(p["shapes"][0]["array"] == grown, f"after inserts: an array of {grown} bytes")
    check(held == grown + p["shapes"][0]["extra_bytes"], "after inserts: array + overflow buckets")
    check(p["after deletes"]["buckets"] == held, f"after deletes: still {held} bucket bytes")
    cured = bytes_for_count(keep, bs)
    got = p[cure_phase]["buckets"]
    # The cured map is a fresh map for `keep` entries: its array is exactly
    # Go's, plus any overflow buckets the entries needed beyond those
    # preallocated (none for 0 or 1,000 entries with the examples' hash).
    shape = p["shapes"][-1]
    check(shape["live"] == keep, f"{cure_phase}: {keep} live")
    check(got == cured + shape["extra_bytes"],
          f"{cure_phase}: {cured} bucket bytes, Go's rules for {keep} live (got {got})")
    if keep:
        check(shape["B"] == b_for_hint(keep) and shape["array"] == cured,
              f"{cure_phase}: B={b_for_hint(keep)}, array of {cured} bytes")
    check_heap_near(p, cure_phase, got, HEAP_MARGIN, heap_ok)
    check(f"check: {keep} of {keep} kept entries found" in out, "kept entries intact")


def check_session_cache(bindir, heap_ok):
    line = re.compile(r"^t=\s*(\d+)s (.+?)\s+live\s+(\d+)\s+heap\s+(\d+) bytes\s+index buckets\s+(\d+)"
                      r" bytes\s+sessions buckets\s+(\d+) bytes$")
    bs = bucket_size(8, 8)
    for cure in (False, True):
        args = ["--peak-rate", 2000, "--tail-hours", 2] + (["--cure"] if cure else [])
        _, out = run(bindir, "session_cache", *args)
        rows = {m[2]: [int(x) for x in (m[1], m[3], m[4], m[5], m[6])]
                for m in map(line.match, out.splitlines()) if m}
        check({"warm-up", "end of peak", "peak expired", "end of day"} <= rows.keys(),
              "all checkpoints printed")
        peak = rows["end of peak"]
        check(peak[1] >= 2000 * 300 * 9 // 10, f"peak live {peak[1]} ~ 600,000")
        grown = array_bytes(b_for_hint(peak[1]), bs)
        check(peak[3] >= grown, f"index grown for the peak: >= {grown} bucket bytes")
        end = rows["end of day"]
        check(end[1] < 5000, f"a few thousand live at the end ({end[1]})")
        if not cure:
            check(end[3] >= grown, "the index kept its peak buckets")
            check(end[4] == peak[4], "the sessions table kept its peak buckets")
            check(end[3] > 10 * bytes_for_count(end[1], bs), "index holds > 10x what it needs")
        else:
            cured = rows["cured"]
            fresh = bytes_for_count(cured[1], bs)
            # a fresh array, plus the few overflow buckets its entries need
            check(fresh <= cured[3] <= fresh * 11 // 10,
                  f"cured index: {cured[3]} bytes ~ Go's rules for {cured[1]} live ({fresh})")
            check(cured[4] < peak[4] // 8, "cured sessions table much smaller")
            check(end[3] < peak[3] // 10, "the cure holds")
        if heap_ok:
            check(peak[2] > peak[1] * 128, "heap at the peak holds the sessions")


def check_bad_args(bindir):
    """A bad command line: exit status 2 and one line on stderr, no output."""
    cases = [("seed_grow", "--n"), ("seed_grow", "--n", "x"), ("seed_grow", "--n", "10", "--keep", "11"),
             ("fix_copy", "--n", "10", "--keep", "11"), ("fix_shrink", "--n", "-1"),
             ("session_cache", "--peak-rate"), ("session_cache", "--bogus"),
             ("session_cache", "--tail-hours", "99999")]
    for name, *args in cases:
        out = subprocess.run([f"{bindir}/{name}", *args], capture_output=True, text=True,
                             timeout=60)
        lines = out.stderr.splitlines()
        check(out.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"{bindir}/{name}: ")
              and out.stdout == "", f"{name} {' '.join(args)}: exit 2, one line: {lines}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    bindir, what = sys.argv[1], sys.argv[2]
    heap_ok = "--no-heap" not in sys.argv[3:]
    checks = {
        "seed_grow": lambda: check_seed(bindir, "seed_grow", 128, False, heap_ok),
        "seed_presized": lambda: check_seed(bindir, "seed_presized", 128, True, heap_ok),
        "seed_indirect": lambda: check_seed(bindir, "seed_indirect", 129, False, heap_ok),
        "fix_pointer_values": lambda: check_pointer_values(bindir, heap_ok),
        "fix_copy": lambda: check_rebuild(bindir, "fix_copy", "after copy", 200000, 0, heap_ok),
        "fix_copy_keep": lambda: check_rebuild(bindir, "fix_copy", "after copy", 200000, 1000, heap_ok),
        "fix_shrink": lambda: check_rebuild(bindir, "fix_shrink", "after shrink", 200000, 0, heap_ok),
        "fix_shrink_keep": lambda: check_rebuild(bindir, "fix_shrink", "after shrink", 200000, 1000, heap_ok),
        "session_cache": lambda: check_session_cache(bindir, heap_ok),
        "bad_args": lambda: check_bad_args(bindir),
    }
    if what not in checks:
        print(f"check_examples.py: unknown check '{what}'", file=sys.stderr)
        return 2
    checks[what]()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
