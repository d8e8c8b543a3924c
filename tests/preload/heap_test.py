#!/usr/bin/env python3
"""tests/preload/heap_test.py - the heap and table records a traced
program leaves, read back with tmkcat: the seed examples' figures (literals
from Go's rules, not read back from the program), uthash's arrays, threads
freeing each other's blocks by the million, the aligned and edge-case
allocators, blocks the full mode's map cannot name (off 16 bytes) or has no
budget for, allocations in a signal handler, byte sampling, tables mode,
and tmkcat on 3.0's heap by info.

    heap_test.py --build BUILD_DIR CASE

Helpers: harness.py.
"""
import collections
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (check, eq, build_path, probe, shim, tidemark, run,  # noqa: E402
                     tmkcat, num, clean_trace)


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
        r = run([exe], output=os.path.join(harness.TMP, name + ".tmk"))
        eq(r.returncode, 0, f"{name} status under the shim")
        eq(r.stderr, b"", f"{name} stderr under the shim")
        out = r.stdout.decode()
        after, peak, peak_arrays, peak_ovf = seed_figures(out)
        eq(after, held, f"{name}: gomap's bytes held after deletes")
        eq(seed_figures(native.stdout.decode()), (after, peak, peak_arrays, peak_ovf),
           f"{name}: gomap's figures with and without the shim")
        d = tmkcat(os.path.join(harness.TMP, name + ".tmk"))
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
        rep = subprocess.run([tidemark(), "report",
                              os.path.join(harness.TMP, name + ".tmk")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        eq(rep.returncode, 0, f"{name}: tidemark report status")
        check(f"{held:,}" in rep.stdout, f"{name}: report does not say {held:,} B:\n{rep.stdout}")


def case_uthash():
    exe = build_path("tests", "preload", "uthash_prog")
    native = run([exe], preload=False)
    r = run([exe], output=os.path.join(harness.TMP, "u.tmk"))
    eq(r.returncode, 0, "status")
    eq(r.stdout, native.stdout, "stdout with and without the shim")
    want = [tuple(l.split()[1:]) for l in r.stdout.decode().splitlines() if l.startswith("array")]
    ended = [l.split()[1] for l in r.stdout.decode().splitlines() if l.startswith("end")]
    check(len(want) > 10, f"too few expansions: {want}")
    d = tmkcat(os.path.join(harness.TMP, "u.tmk"), "-a")
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
    r = run([exe, "threads"], output=os.path.join(harness.TMP, "ut.tmk"),
            env={"TIDEMARK_SAMPLE_INTERVAL": "1"})
    eq(r.returncode, 0, "threads status")
    made = int(r.stdout.split()[1])
    d = tmkcat(os.path.join(harness.TMP, "ut.tmk"))
    clean_trace(d, "uthash threads")
    eq((num(d, "tables"), num(d, "tables_ended")), (made, made), "every table made and ended")
    eq(num(d, "arrays_live"), 0, "no bucket array left")


def case_stress():
    # 8 threads x 1,000,000 allocations, every other block freed by the next
    # thread: counts read back exactly, and in the merged order no free comes
    # before its allocation (alloc_while_live / free_after_free / free_unknown)
    n = 1000000
    for unw in ("libunwind", "fp"):
        t0 = time.time()
        out = os.path.join(harness.TMP, f"s-{unw}.tmk")
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
    out = os.path.join(harness.TMP, "r.tmk")
    r = run([probe(), "rstress", str(n)], output=out, timeout=100)
    eq(r.returncode, 0, f"rstress status ({r.stderr.decode()})")
    d = tmkcat(out, "-z", "700:1923")
    clean_trace(d, "realloc stress")
    eq(num(d, "sized_allocs"), 3 * 4 * n, "malloc + 2 reallocs per block, read back")
    eq(num(d, "sized_frees"), 3 * 4 * n, "their frees (2 by realloc, 1 by free)")
    eq(num(d, "free_unknown"), 0, "frees of unknown addresses")


def case_unaligned():
    # An allocator whose blocks sit 8 bytes off a 16-byte boundary
    # (odd_malloc.c, preloaded behind the shim): full mode's block map names
    # a block by its address >> 4 and refuses these, so every one is written
    # by address, ALLOC and FREE, and the counts read back exactly; glibc's
    # aligned blocks (memalign) stay by info.
    odd = build_path("tests", "preload", "libtmk_odd_malloc.so")
    n = 20000
    out = os.path.join(harness.TMP, "odd.tmk")
    r = run([probe(), "stress", str(n)], output=out, timeout=100,
            env={"LD_PRELOAD": f"{harness.shim()}:{odd}"})
    eq(r.returncode, 0, f"status ({r.stderr.decode()})")
    eq(r.stderr, b"", "stderr")
    d = tmkcat(out, "-e", "-z", "600:631")
    clean_trace(d, "unaligned blocks")
    eq(num(d, "sized_allocs"), 8 * n, "allocations of the workload read back")
    eq(num(d, "sized_frees"), 8 * n, "frees of the workload read back")
    # one block odd_malloc handed out while the shim started (untraced) is
    # freed later by address
    check(num(d, "free_unknown") <= 1, f"frees of unknown addresses: {d['free_unknown']}")
    # odd_malloc's calloc and realloc call malloc from inside the allocator:
    # those inner calls are served apart and counted LOST, a few per thread
    # (its TLS, pthread_getattr_np: 9 for these 9 threads); no block is
    # lost for want of the map
    check(num(d, "lost") <= 4 * 9, f"lost: {d['lost']}")
    addrs = [int(m.group(1), 16) for m in
             (re.match(r"alloc (0x[0-9a-f]+) \d+$", l) for l in d["lines"]) if m]
    check(len(addrs) >= 8 * n, f"{len(addrs)} allocations by address")
    eq([a for a in addrs if a % 16 != 8][:3], [], "every one 8 bytes off 16")
    eq(num(d, "allocs") - num(d, "frees") + num(d, "free_unknown"), num(d, "live_allocs"),
       "allocs - known frees = live")


def case_map_budget():
    # Full mode's block map (preload/ptrmap.c) takes 11 to 16 bytes a live
    # block; past its budget (TIDEMARK_BLOCK_MAP_MIB + 1/64 of the bytes it
    # describes) blocks are written by address. 1,500,000 blocks of 36..43
    # bytes kept, a third freed by another thread: every record read back,
    # whatever the budget, and the shim's memory within issue 13's bound
    # (8 MiB + 2% of the program's) with the default budget, where without
    # the budget it is not.
    n = 1500000
    res = {}
    for mib in ("0", "1", None, "100000"):
        out = os.path.join(harness.TMP, f"keep-{mib}.tmk")
        r = run([probe(), "keep", str(n)], output=out, timeout=100,
                env={"TIDEMARK_BLOCK_MAP_MIB": mib} if mib else None)
        eq(r.returncode, 0, f"map {mib}: status ({r.stdout.decode()})")
        eq(r.stderr, b"", f"map {mib}: stderr")
        d = tmkcat(out, "-z", "36:43")
        clean_trace(d, f"map {mib}")
        eq(num(d, "sized_allocs"), n, f"map {mib}: allocations read back")
        eq(num(d, "sized_frees"), n - 667, f"map {mib}: frees read back (667 left live)")
        eq((num(d, "free_unknown"), num(d, "lost")), (0, 0), f"map {mib}: unknown frees, lost")
        res[mib] = (num(d, "allocs_by_info"), int(re.search(rb"hwm_kib=(\d+)", r.stdout).group(1)))
        rep = subprocess.run([tidemark(), "report", "--format", "json", out],
                             stdout=subprocess.PIPE, check=True).stdout.decode()
        heap = re.search(r'"heap": \{[^[]*', rep).group(0)
        res[mib] += (re.sub(r'"(peak_ns|rss_peak_bytes)": \d+,\s*', "", heap),)
    check(res["0"][0] < 100, f"map 0: {res['0'][0]} allocations by info")
    check(50000 < res["1"][0] < n / 2, f"map 1 MiB: {res['1'][0]} allocations by info")
    check(res["100000"][0] > n, f"no budget: {res['100000'][0]} allocations by info")
    for mib in ("0", "1", None):
        eq(res[mib][2], res["100000"][2], f"map {mib}: the report's heap figures")
    native = run([probe(), "keep", str(n)], preload=False)
    base = int(re.search(rb"hwm_kib=(\d+)", native.stdout).group(1))
    bound = 8192 + base // 50
    check(res[None][1] - base <= bound,
          f"default budget: {res[None][1] - base} KiB over native {base} KiB, bound {bound}")
    check(res["100000"][1] - base > bound,
          f"no budget: {res['100000'][1] - base} KiB over native, within the bound: the test "
          f"no longer shows the budget")


def case_probe_at_free():
    # A block the probes registered (64 KiB or more) is read once more when
    # it is freed, on the freeing thread: a PROBE record right before its
    # FREE, at its time; within 4 x TIDEMARK_PROBE_BYTES a second for all
    # threads; none with 0. 20 blocks of 1 MiB made (one stack), then freed:
    # all but the one made right before the newest from that stack (a
    # resize's old array, its stack read already) are read.
    for budget, lo, hi in ((None, 19, 19), ("1048576", 4, 8), ("0", 0, 0)):
        out = os.path.join(harness.TMP, f"bigfree-{budget}.tmk")
        r = run([probe(), "bigfree", "20"], output=out,
                env={"TIDEMARK_PROBE_BYTES": budget} if budget else None)
        eq(r.returncode, 0, f"budget {budget}: status")
        d = subprocess.run([tidemark(), "dump", out], stdout=subprocess.PIPE, check=True,
                           text=True).stdout.splitlines()
        main = [l.split(None, 2)[2] for l in d if " th=1 " in l]
        at_free = [i for i, l in enumerate(main) if l.startswith("PROBE ")]
        big_frees = [l for l in main if l.startswith("FREE ptr=")]
        check(lo <= len(at_free) <= hi,
              f"budget {budget}: {len(at_free)} probes at free, want {lo}..{hi}")
        check(all(main[i + 1].startswith("FREE ptr=") for i in at_free),
              f"budget {budget}: a probe at free not right before a FREE")
        timed = [l for l in d if " th=1 " in l]
        check(all(timed[i].split()[0] == timed[i + 1].split()[0] for i in at_free),
              f"budget {budget}: a probe at free not at its FREE's time")
        check(len(big_frees) >= 20, f"budget {budget}: {len(big_frees)} frees by address")
    # buffers filled with one byte whose 2-bit pairs look like khash's flags
    # (00 live, 01 deleted, 10 empty): read at free, they are no table
    for byte in ("0x02", "0xaa", "0x20", "0x09"):
        out = os.path.join(harness.TMP, f"fill-{byte}.tmk")
        r = run([probe(), "fillfree", byte], output=out)
        eq(r.returncode, 0, f"fillfree {byte}: status")
        rep = subprocess.run([tidemark(), "report", "--format", "json", out],
                             stdout=subprocess.PIPE, check=True).stdout.decode()
        check('"tables": []' in rep, f"fillfree {byte}: a table found in plain buffers")
    # a block with an unreadable page inside, freed: the read at free gets
    # EFAULT (no PROBE), the program runs as it does natively
    for mode in ("full", "tables"):
        out = os.path.join(harness.TMP, f"guard-{mode}.tmk")
        r = run([probe(), "guardfree"], output=out, env={"TIDEMARK_MODE": mode})
        eq((r.returncode, r.stdout, r.stderr), (0, b"freed\n", b""), f"{mode}: guarded block freed")
        clean_trace(tmkcat(out), f"guardfree {mode}")


def case_aligned():
    native = run([probe(), "aligned"], preload=False)
    r = run([probe(), "aligned"], output=os.path.join(harness.TMP, "a.tmk"))
    eq(r.returncode, 0, f"status: {r.stdout.decode()}")
    bad = [l for l in r.stdout.decode().splitlines() if l.startswith("aligned_alloc_bad")]
    eq(bad, [l for l in native.stdout.decode().splitlines()
             if l.startswith("aligned_alloc_bad")], "aligned_alloc(3, 12) as glibc answers it")
    d = tmkcat(os.path.join(harness.TMP, "a.tmk"), "-e")
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
    r = run([probe(), "aligned"], output=os.path.join(harness.TMP, "a1.tmk"),
            env={"TIDEMARK_SAMPLE_BYTES": "1"})
    eq(r.returncode, 0, f"sampled status: {r.stdout.decode()}")
    d = tmkcat(os.path.join(harness.TMP, "a1.tmk"), "-e")
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
    r = run([probe(), "edge"], output=os.path.join(harness.TMP, "e.tmk"))
    eq(r.returncode, 0, f"status: {r.stdout.decode()}")
    for unw in ("fp",):
        r2 = run([probe(), "edge"], output=os.path.join(harness.TMP, "e2.tmk"),
                 env={"TIDEMARK_UNWIND": unw})
        eq(r2.returncode, 0, f"status with TIDEMARK_UNWIND={unw}: {r2.stdout.decode()}")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    d = tmkcat(os.path.join(harness.TMP, "e.tmk"), "-e")
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


def case_sigalrm():
    # The handler mallocs, frees, reallocs and callocs, and frees blocks the
    # main loop allocated, while the main loop is in malloc/free: no
    # deadlock, no crash, and the trace stays consistent (no free recorded
    # for an allocation that was not, none lost for one that was).
    for unw in ("libunwind", "fp"):
        out = os.path.join(harness.TMP, f"sa-{unw}.tmk")
        r = run([probe(), "sigalrm", "0.8"], output=out, timeout=30,
                env={"TIDEMARK_UNWIND": unw})
        eq(r.returncode, 0, f"{unw}: status {r.stdout.decode()} {r.stderr.decode()}")
        d = tmkcat(out)
        clean_trace(d, f"sigalrm {unw}")
        eq(d["end"], "exit", f"{unw}: end")
        eq(num(d, "free_unknown"), 0, f"{unw}: frees of allocations not in the trace")


def case_sigalrm_keep():
    # Handlers that allocate inside malloc and keep their blocks: more than
    # sigalloc.c's 1,024 mappings, so the rest come from the real allocator.
    # Every such allocation is LOST, and its free (in the handler, deferred,
    # or by the main thread at the end) is not recorded either: no free of a
    # block the trace never allocated. Each handler call makes a 5001 and a
    # 5002 byte block: traced ones + lost ones = 2 per call, exactly (the
    # LOST counts of the end, and of a thread that ended, are written too).
    for how in ("main", "thread"):
        sigalrm_keep(how)


def sigalrm_keep(how):
    out = os.path.join(harness.TMP, f"sk-{how}.tmk")
    r = run([probe(), "sigalrm-keep", "12000", how], output=out, timeout=60)
    eq(r.returncode, 0, f"status {r.stdout.decode()} {r.stderr.decode()}")
    calls = int(re.search(r"signals=(\d+)", r.stdout.decode()).group(1))
    d = tmkcat(out)
    clean_trace(d, f"sigalrm-keep {how}")
    eq(num(d, "free_unknown"), 0, f"{how}: frees of blocks the trace never allocated")
    a = tmkcat(out, "-z", "5001:5001")
    b = tmkcat(out, "-z", "5002:5002")
    eq(num(a, "sized_frees"), num(a, "sized_allocs"), f"{how}: the traced 5001-byte blocks freed")
    eq(num(b, "sized_frees"), num(b, "sized_allocs"), f"{how}: the kept 5002-byte blocks freed")
    lost = num(d, "lost")
    eq(num(a, "sized_allocs") + num(b, "sized_allocs") + lost, 2 * calls,
       f"{how}: every handler allocation traced or counted lost")
    check(calls - num(b, "sized_allocs") > 1100,
          f"{how}: only {calls - num(b, 'sized_allocs')} kept blocks lost: "
          "sigalloc.c's mappings never ran out")
    rep = subprocess.run([tidemark(), "report", "--format", "json", out],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eq(rep.returncode, 0, f"{how}: report {rep.stderr}")
    trace = json.loads(rep.stdout)["trace"]
    eq(trace["lost_events"], lost, f"{how}: the report's lost events")
    eq([w for w in trace["warnings"] if "never allocated" in w], [], f"{how}: report warnings")


def case_sampled():
    n = 1000000
    out = os.path.join(harness.TMP, "s.tmk")
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
    out = os.path.join(harness.TMP, "g.tmk")
    r = run([build_path("examples", "seed_grow")], output=out,
            env={"TIDEMARK_SAMPLE_BYTES": "1000000"})
    eq(r.returncode, 0, "seed status")
    d = tmkcat(out)
    clean_trace(d, "sampled seed")
    eq(d["table.1.arrays"], "1,18,0,0,0,38038,0", "every bucket array, never sampled")
    eq(num(d, "table.1.held"), 307494912, "bytes held after deletes")
    eq(num(d, "free_unknown"), 0, "frees of blocks not sampled")


def case_tables_mode():
    out = os.path.join(harness.TMP, "tm.tmk")
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


def case_tables_crossings():
    # tables mode's pass-through (hooks.c): a block that grows past
    # TIDEMARK_PROBE_MIN by realloc is recorded at its new address, one that
    # shrinks below it is recorded freed, calloc's big blocks too; the
    # 100,000 small blocks leave no record at all. (A signal handler that
    # allocates while the program is in malloc meets glibc as without the
    # shim in a process with two threads: shim_probe sigalrm, which aborts
    # natively, hangs in this mode, as it does natively beside any thread.)
    out = os.path.join(harness.TMP, "tc.tmk")
    r = run([probe(), "crossings"], output=out, env={"TIDEMARK_MODE": "tables"})
    eq(r.returncode, 0, f"status: {r.stdout.decode()} {r.stderr.decode()}")
    eq(r.stderr, b"", "stderr")
    got = {k: int(v, 16) for k, v in
           (l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)}
    d = tmkcat(out, "-e")
    clean_trace(d, "tables crossings")
    lines = [" ".join(l.split()[:3]) for l in d["lines"] if l.startswith(("alloc ", "free "))]
    want = [f"alloc {got['up']:#x} 100000", f"free {got['down']:#x}",
            f"alloc {got['calloc']:#x} 80000", f"free {got['calloc']:#x}",
            f"alloc {got['bigger']:#x} 300000", f"free {got['bigger']:#x}",
            f"alloc {got['memalign']:#x} 70000", f"free {got['memalign']:#x}"]
    eq(lines, want, "the big blocks' records, in order, and no other")
    eq(num(d, "free_unknown"), 0, "frees of unknown addresses")


def case_fronts_frameless():
    # tables mode's pass-through costs a compare and a jump because the
    # exported fronts have no frame (TMK_FRAMELESS): whichever compiler built
    # the optimized shim, malloc, free, calloc and realloc push nothing. At
    # -O0 (a front that calls) they keep their frame (preload.fp_frames).
    for lib in (shim(), build_path("tests", "preload", "libtidemark_O0.so")):
        for fn in ("malloc", "free", "calloc", "realloc"):
            p = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--disassemble={fn}", lib],
                               stdout=subprocess.PIPE, text=True)
            eq(p.returncode, 0, f"objdump {fn}")
            body = [l.split("\t", 1)[1] for l in p.stdout.splitlines()
                    if re.match(r"^\s+[0-9a-f]+:\t", l)]
            check(body, f"{fn}: no instructions in {p.stdout!r}")
            if any(i.startswith("call") for i in body):
                check(body[0].startswith("push") and "%rbp" in body[0],
                      f"{os.path.basename(lib)}: {fn}'s front calls without a frame: {body}")
            else:
                pushes = [i for i in body if i.startswith("push")]
                eq(pushes, [], f"{os.path.basename(lib)}: {fn}'s front pushes: {body}")


def case_tmkcat_info():
    # tmkcat on 3.0's heap by info (tracegen's traces; no shim): the same
    # figures as the 1.1 twin's by address
    gen = build_path("tests", "format", "tracegen")
    d = {}
    for s in ("info", "info1", "infolate"):
        out = os.path.join(harness.TMP, s + ".tmk")
        subprocess.run([gen, s, out], check=True)
        d[s] = tmkcat(out, "-z", "4096:4096")
    clean_trace(d["info"], "3.0 info scenario")
    clean_trace(d["info1"], "its 1.1 twin")
    eq(num(d["info"], "allocs_by_info"), 4, "ALLOC_INFO records")
    eq(num(d["info"], "ticks"), 4, "TICK records")
    for k in ("allocs", "frees", "live_allocs", "sized_allocs", "sized_frees", "arrays",
              "array_held", "table.1.peak_held", "table.1.held"):
        eq(num(d["info"], k), num(d["info1"], k), f"{k}: 3.0 by info = 1.1 by address")
    eq((num(d["info"], "allocs"), num(d["info"], "frees"), num(d["info"], "live_allocs")),
       (4, 3, 1), "allocations, frees, live at the end")
    eq(num(d["infolate"], "free_before_alloc"), 1, "a free by info a whole slot before its allocation")


def case_realloc_fail():
    # A realloc (or reallocarray) that fails leaves its block as it was: one
    # allocation at its malloc, of its size, and one free when the program
    # frees it (or a later realloc moves it); no record of the failed call.
    # In every mode: full by info, full by address (no block map), a probed
    # block (by address in full mode too), sampled, tables.
    modes = {"full": {}, "no map": {"TIDEMARK_BLOCK_MAP_MIB": "0"},
             "no probes": {"TIDEMARK_PROBE_MIN": "0"}, "sampled": {"TIDEMARK_SAMPLE_BYTES": "1"},
             "tables": {"TIDEMARK_MODE": "tables", "TIDEMARK_PROBE_MIN": "4096"}}
    for name, env in modes.items():
        out = os.path.join(harness.TMP, name.replace(" ", "_") + ".tmk")
        r = run([probe(), "realloc-fail"], output=out, env=env)
        eq(r.returncode, 0, f"{name}: status {r.stdout.decode()} {r.stderr.decode()}")
        eq(r.stderr, b"", f"{name}: stderr")
        for lo in (5001, 70001):
            d = tmkcat(out, "-z", f"{lo}:{lo + 3}")
            clean_trace(d, f"{name} {lo}")
            eq((num(d, "sized_allocs"), num(d, "sized_frees")), (3, 2),
               f"{name}: allocations and frees of {lo}..{lo + 3} bytes (a, b, b moved; a, b freed)")
            eq(num(d, "free_unknown"), 0, f"{name}: frees of unknown blocks")
        d = tmkcat(out, "-z", "5005:70000")
        eq(num(d, "sized_allocs"), 0, f"{name}: an allocation of a usable size (5016, 70008...)")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "heap"))
