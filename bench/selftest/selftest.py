#!/usr/bin/env python3
"""bench/selftest/selftest.py - the benchmark scripts checked on small cases.

    selftest.py --build BUILD_DIR summarize|runsh

 - summarize: bench/summarize.py on made-up results: full mode's overhead
   as a fraction of heaptrack's (wall and CPU) and its PASS/FAIL at 0.5,
   tables mode at 1.05x native (wall, and instructions with --callgrind:
   the program's threads, and all threads with the shim's sampler),
   the shim's memory against 8 MiB + 2% of the program, the Markdown tables.
 - runsh: bench/run.sh -n 1 on tiny runs of every workload under native,
   full, fullnoprobe and tables: a row for each, one checksum per workload
   across configs, each workload's own peak RSS read; fullnoprobe really
   turns the probes off (full mode writes W5's bucket arrays of 64 KiB and
   more by address, fullnoprobe none); bad --configs/--only names refused.
"""
import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def summarize(*args):
    r = subprocess.run([sys.executable, os.path.join(BENCH, "summarize.py"), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    check(r.returncode == 0, f"summarize.py {args} exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout.decode()


def write_results(path, rows):
    cols = ["workload", "config", "rep", "wall_s", "rss_kib", "cpu_s", "trace_bytes", "events",
            "checksum", "prog_rss_kib"]
    with open(path, "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(str(r.get(c, 0)) for c in cols) + "\n")


def row(wl, cfg, rep, wall, cpu, prog_mib, rss_mib=None):
    return {"workload": wl, "config": cfg, "rep": rep, "wall_s": wall, "cpu_s": cpu,
            "rss_kib": int((rss_mib or prog_mib) * 1024), "prog_rss_kib": int(prog_mib * 1024),
            "trace_bytes": 0, "events": 1000, "checksum": "abc"}


def line_with(out, *words):
    for l in out.splitlines():
        if all(w in l for w in words):
            return l
    raise Failure(f"no line with {words} in:\n{out}")


def case_summarize(tmp):
    rows = []
    for rep, jitter in ((1, 0.0), (2, 0.02), (3, -0.02)):
        # w3: heaptrack's overhead 2.0 s; full 0.8 s (0.40: PASS), fullnoprobe 1.2 s (FAIL)
        rows += [row("w3", "native", rep, 1.0 + jitter, 1.0, 10.0),
                 row("w3", "heaptrack", rep, 3.0 + jitter, 5.0, 12.0, rss_mib=110.0),
                 row("w3", "full", rep, 1.8 + jitter, 1.8, 17.0),
                 row("w3", "fullnoprobe", rep, 2.2 + jitter, 3.6, 30.0),
                 row("w3", "tables", rep, 1.04 + jitter, 1.0, 10.5),
                 row("w4", "native", rep, 2.0, 2.0, 100.0),
                 row("w4", "tables", rep, 2.2, 2.2, 101.0)]
    res = os.path.join(tmp, "results.tsv")
    write_results(res, rows)
    out = summarize(res)
    l = line_with(out, "w3", "full overhead <= 1/2")
    check("(full/heaptrack overhead = 0.40)" in l and l.endswith("PASS"), l)
    l = line_with(out, "w3", "fullnoprobe overhead <= 1/2")
    check("= 0.60)" in l and "FAIL" in l, l)
    l = line_with(out, "w3", "same in CPU time", "fullnoprobe")
    check("overhead 2.600 s, half of heaptrack's 2.000 s -> FAIL" in l, l)
    l = line_with(out, "w3", "same in CPU time", "full overhead")
    check("overhead 0.800 s" in l and l.endswith("PASS"), l)
    l = line_with(out, "w3", "tables <= 1.05")
    check("1.000 x" in l or "1.040 x" in l, l)
    check("PASS" in l, l)
    l = line_with(out, "w4", "tables <= 1.05")
    check("1.100 x" in l and "FAIL" in l, l)
    # memory: the bound is 8 MiB + 2% of native's program RSS (10 MiB: 8.2 MiB)
    l = line_with(out, "w3", "full ", "shim memory")
    check("+7.0 MiB" in l and "bound 8.2 MiB" in l and "PASS" in l, l)
    check("heaptrack: program +2.0 MiB, largest process +100.0 MiB" in l, l)
    l = line_with(out, "w3", "fullnoprobe", "shim memory")
    check("+20.0 MiB" in l and "FAIL" in l, l)
    # instructions
    cg = os.path.join(tmp, "callgrind.tsv")
    with open(cg, "w") as f:
        # all threads, then the program's alone (the sampler thread left out)
        f.write("workload\tconfig\tinstructions\tprog_instructions\n"
                "w3\tnative\t1000000\t1000000\nw3\ttables\t1100000\t1040000\n"
                "w3\tfull\t3200000\t3000000\n"
                "w4\tnative\t1000000\t1000000\nw4\ttables\t1410000\t1200000\n")
    out = summarize("--callgrind", cg)
    l = line_with(out, "w3 ", "tables <= 1.05 x native (instructions, program's threads)")
    check("1.0400 -> PASS (all threads: 1.1000 -> FAIL)" in l, l)
    l = line_with(out, "w4 ", "tables <= 1.05 x native (instructions, program's threads)")
    check("1.2000 -> FAIL (all threads: 1.4100 -> FAIL)" in l, l)
    md = summarize("--markdown", res, cg)
    check("| full | 1.800 | 1.80 |" in md and "| 3,000,000 | 3.000 | 3.200 | 17.0 | +7.0 |" in md,
          md)
    check("Overhead as a fraction of heaptrack's (target <= 0.5): full 0.40 wall, 0.20 CPU; "
          "fullnoprobe 0.60 wall, 0.65 CPU" in md, md)


def run_sh(args, tmp, *argv):
    return subprocess.run(["bash", os.path.join(BENCH, "run.sh"), *argv],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=280,
                          cwd=tmp)


def case_runsh(args, tmp):
    for bad in (["--configs", "native,nosuch"], ["--only", "w9"]):
        r = run_sh(args, tmp, *bad, "--no-build", "-b", args.build)
        check(r.returncode == 2 and b"unknown" in r.stderr, f"{bad}: {r.returncode} {r.stderr!r}")
    out = os.path.join(tmp, "out")
    configs = ["native", "full", "fullnoprobe", "tables"]
    r = run_sh(args, tmp, "-n", "1", "--no-build", "-b", args.build, "-o", out,
               "--only", "w1,w2,w3,w4,w5", "--configs", ",".join(configs),
               "--w1-allocs", "20000", "--w2-args", "--cycles 1 --peak 20000 --low 200",
               "--w3-args", "--allocs 20000", "--w4-args", "--allocs 20000 --peak 10000 --low 100",
               "--w5-args", "--allocs 100000 --peak 100000 --low 10")
    check(r.returncode == 0, f"run.sh exit {r.returncode}: {r.stderr.decode()[-2000:]}")
    with open(os.path.join(out, "results.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    have = {(x["workload"], x["config"]) for x in rows}
    for wl in ("w1", "w2", "w3", "w4", "w5"):
        for cfg in configs:
            check((wl, cfg) in have, f"no result for {wl} {cfg}: {sorted(have)}")
        sums = {x["checksum"] for x in rows if x["workload"] == wl}
        check(len(sums) == 1 and "none" not in sums, f"{wl}: checksums {sums}")
    for x in rows:
        check(int(x["prog_rss_kib"]) > 0, f"no program RSS: {x}")
        check(x["workload"] == "w2" or int(x["events"]) > 0, f"no events: {x}")
    text = r.stdout.decode()
    check("w5   full        shim memory" in text, text)
    tidemark = os.path.join(args.build, "analyzer", "tidemark")

    def by_address_sizes(trace):
        d = subprocess.run([tidemark, "dump", trace], stdout=subprocess.PIPE, timeout=60)
        check(d.returncode == 0, f"tidemark dump {trace}: exit {d.returncode}")
        return [int(s) for s in re.findall(rb" ALLOC ptr=\S+ size=(\d+)", d.stdout)]
    full = by_address_sizes(os.path.join(out, "w5-full.tmk"))
    check(any(s >= 65536 for s in full), f"full mode wrote no W5 bucket array by address: {full}")
    noprobe = by_address_sizes(os.path.join(out, "w5-fullnoprobe.tmk"))
    check(not any(s >= 65536 for s in noprobe),
          f"fullnoprobe wrote blocks by address: {noprobe}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("case", choices=("summarize", "runsh"))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix=f"tmk-bench-{args.case}-")
    try:
        if args.case == "summarize":
            case_summarize(tmp)
        else:
            case_runsh(args, tmp)
    except Failure as e:
        print(f"FAIL bench.{args.case}: {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"ok bench.{args.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
