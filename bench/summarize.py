#!/usr/bin/env python3
"""bench/summarize.py - turns bench/run.sh's raw tables into medians, ratios
to native and PASS/FAIL per target (the targets of issues 4, 5 and 13).

  summarize.py RESULTS.tsv [ANALYZER.tsv]     timing summary
  summarize.py --callgrind CALLGRIND.tsv      instruction-count summary
  summarize.py --markdown RESULTS.tsv [CALLGRIND.tsv]
                                              one Markdown table per workload
                                              (bench/RESULTS.md's form)
"""
import csv
import statistics
import sys

MIB = 1024 * 1024
WORKLOADS = ("w1", "w1mt", "w2", "w3", "w4", "w5", "w6", "w7")
CONFIGS = ("native", "nativethread", "heaptrack", "full", "fullfp", "fulllu", "fullnc", "fullnoprobe", "tables")
FULL_VARIANTS = ("full", "fullfp", "fullnc", "fullnoprobe")
# Issue 13: shim memory <= 8 MiB + 2% of the program's heap (the program's
# native peak RSS stands for its heap, which it bounds from above).
SHIM_MEMORY_FIXED_MIB = 8.0
SHIM_MEMORY_SHARE = 0.02


def read_tsv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    except FileNotFoundError:
        return []


def spread(xs):
    """(max - min) / median: how noisy the repetitions were."""
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else 0.0


def verdict(ok, margin, noise):
    """PASS/FAIL, flagged when the margin is smaller than the noise."""
    word = "PASS" if ok else "FAIL"
    return word + (" (within noise)" if abs(margin) < noise else "")


def group(rows):
    """(workload, config) -> lists of wall, cpu, rss (largest process), prog
    (the program's own peak RSS, when the workload printed it), trace bytes;
    events and checksums."""
    g = {}
    for r in rows:
        e = g.setdefault((r["workload"], r["config"]),
                         {"wall": [], "rss": [], "cpu": [], "prog": [], "bytes": [],
                          "events": 0, "sums": set()})
        e["wall"].append(float(r["wall_s"]))
        e["cpu"].append(float(r.get("cpu_s") or 0))
        e["rss"].append(int(r["rss_kib"]))
        if int(r.get("prog_rss_kib") or 0):
            e["prog"].append(int(r["prog_rss_kib"]))
        e["bytes"].append(int(r["trace_bytes"]))
        e["events"] = max(e["events"], int(r["events"]))
        e["sums"].add(r["checksum"])
    return dict(sorted(g.items(), key=lambda kv: order_key(*kv[0])))


def order_key(wl, cfg):
    return (WORKLOADS.index(wl) if wl in WORKLOADS else len(WORKLOADS), wl,
            CONFIGS.index(cfg) if cfg in CONFIGS else len(CONFIGS), cfg)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def prog_mib(e):
    """The program's own peak RSS in MiB; the largest process's without it."""
    return med(e["prog"] or e["rss"]) / 1024


def print_table(g):
    print("%-5s %-11s %4s %9s %8s %7s %8s %8s %9s %10s %9s %10s %8s" %
          ("wl", "config", "reps", "wall_s", "x_native", "spread", "cpu_s", "x_native",
           "rss_MiB", "+rss_MiB", "prog_MiB", "trace_MiB", "B/event"))
    for (wl, cfg), e in g.items():
        nat = g.get((wl, "native"))
        t = statistics.median(e["wall"])
        rss = statistics.median(e["rss"]) / 1024
        ratio = t / statistics.median(nat["wall"]) if nat else float("nan")
        cpu = statistics.median(e["cpu"])
        cratio = cpu / statistics.median(nat["cpu"]) if nat and statistics.median(nat["cpu"]) \
            else float("nan")
        drss = rss - statistics.median(nat["rss"]) / 1024 if nat else float("nan")
        tb = statistics.median(e["bytes"])
        events = nat["events"] if nat else e["events"]
        bpe = "%.2f" % (tb / events) if tb and events else "-"
        print("%-5s %-11s %4d %9.3f %8.2f %6.1f%% %8.2f %8.2f %9.1f %10.1f %9.1f %10.1f %8s" %
              (wl, cfg, len(e["wall"]), t, ratio, 100 * spread(e["wall"]), cpu, cratio, rss,
               drss, prog_mib(e), tb / MIB, bpe))


def check_checksums(g):
    by_wl = {}
    for (wl, _), e in g.items():
        by_wl.setdefault(wl, set()).update(e["sums"])
    for wl, sums in sorted(by_wl.items()):
        if len(sums) != 1:
            print("WARNING: %s checksums differ across configs: %s" % (wl, sorted(sums)))


def target_full(g, wl, full="full"):
    keys = [(wl, c) for c in ("native", "heaptrack", full)]
    if not all(k in g for k in keys):
        return
    walls = [g[k]["wall"] for k in keys]
    tn, th, tf = (statistics.median(x) for x in walls)
    allowed = 0.5 * (th - tn)
    noise = max(spread(x) * statistics.median(x) for x in walls)
    print("  %-4s %s overhead <= 1/2 heaptrack's: t_full-t_native = %.3f s, "
          "0.5*(t_heaptrack-t_native) = %.3f s (full/heaptrack overhead = %.2f) -> %s" %
          (wl, full, tf - tn, allowed, (tf - tn) / (th - tn) if th != tn else float("nan"),
           verdict(tf - tn <= allowed, allowed - (tf - tn), noise)))
    cn, ch, cf = (statistics.median(g[k]["cpu"]) for k in keys)
    if ch > cn:
        print("  %-4s   same in CPU time (user+sys, all processes): %s overhead %.3f s, "
              "half of heaptrack's %.3f s -> %s" %
              (wl, full, cf - cn, 0.5 * (ch - cn), "PASS" if cf - cn <= 0.5 * (ch - cn) else "FAIL"))


def target_tables(g, wl):
    if (wl, "native") not in g or (wl, "tables") not in g:
        return
    nat, tab = g[(wl, "native")]["wall"], g[(wl, "tables")]["wall"]
    tn, tt = statistics.median(nat), statistics.median(tab)
    noise = max(spread(nat), spread(tab))
    print("  %-4s tables <= 1.05 x native: %.3f x (spread native %.1f%%, tables %.1f%%) -> %s" %
          (wl, tt / tn, 100 * spread(nat), 100 * spread(tab),
           verdict(tt <= 1.05 * tn, 1.05 - tt / tn, noise)))


def target_trace_bytes(g, wl, full="full"):
    if (wl, full) not in g or (wl, "heaptrack") not in g:
        return
    events = g[(wl, "native")]["events"] if (wl, "native") in g else 0
    if not events:
        return
    bf = statistics.median(g[(wl, full)]["bytes"]) / events
    bh = statistics.median(g[(wl, "heaptrack")]["bytes"]) / events
    print("  %-4s trace bytes/event: tidemark %s %.2f vs heaptrack compressed %.2f -> %s" %
          (wl, full, bf, bh, "PASS" if bf <= bh else "FAIL"))


def shim_memory(g):
    """Each shim config's program peak RSS over native's, against issue 13's
    bound; heaptrack's program, and its largest process, for comparison."""
    for wl in WORKLOADS:
        nat = g.get((wl, "native"))
        if not nat:
            continue
        base = prog_mib(nat)
        bound = SHIM_MEMORY_FIXED_MIB + SHIM_MEMORY_SHARE * base
        ht = ""
        if (wl, "heaptrack") in g:
            h = g[(wl, "heaptrack")]
            ht = " (heaptrack: program %+.1f MiB, largest process %+.1f MiB)" % (
                prog_mib(h) - base, (med(h["rss"]) - med(nat["rss"])) / 1024)
        for cfg in ("full", "fullfp", "fullnc", "fullnoprobe", "tables"):
            if (wl, cfg) in g:
                d = prog_mib(g[(wl, cfg)]) - base
                print("  %-4s %-11s shim memory: %+.1f MiB over native's %.1f MiB "
                      "(bound %.1f MiB) -> %s%s" %
                      (wl, cfg, d, base, bound, "PASS" if d <= bound else "FAIL", ht))
                ht = ""


def analyzer(rows):
    if not rows:
        return
    by = {}
    for r in rows:
        e = by.setdefault(r["tool"], {"wall": [], "rss": [], "cpu": []})
        e["wall"].append(float(r["wall_s"]))
        e["rss"].append(int(r["rss_kib"]))
        e["cpu"].append(float(r.get("cpu_s") or 0))
    print("\nAnalyzer on the W1 traces (median of reps):")
    for tool, e in by.items():
        print("  %-16s %8.3f s (spread %.1f%%)  %8.1f MiB max RSS  cpu %.2f s" %
              (tool, statistics.median(e["wall"]), 100 * spread(e["wall"]),
               statistics.median(e["rss"]) / 1024, statistics.median(e["cpu"])))
    if "tidemark_report" in by and "heaptrack_print" in by:
        tr, hp = by["tidemark_report"], by["heaptrack_print"]
        t, h = statistics.median(tr["wall"]), statistics.median(hp["wall"])
        mr, mh = statistics.median(tr["rss"]), statistics.median(hp["rss"])
        noise = max(spread(tr["wall"]), spread(hp["wall"])) * (t / h)
        print("  time: report/print = %.3f (target <= 0.333) -> %s" %
              (t / h, verdict(t <= h / 3, 1 / 3 - t / h, noise)))
        ct, ch = statistics.median(tr["cpu"]), statistics.median(hp["cpu"])
        if ch:
            print("    same in CPU time (user+sys): report/print = %.3f -> %s" %
                  (ct / ch, "PASS" if ct <= ch / 3 else "FAIL"))
        print("  memory: report/print = %.3f (target <= 1) -> %s" %
              (mr / mh, "PASS" if mr <= mh else "FAIL"))


def read_callgrind(path):
    """(workload, config) -> (all instructions, the program's threads' alone:
    without the shim's sampler thread, which works by the clock and so is
    over-weighted by valgrind's slowdown; the total when not recorded)."""
    rows = read_tsv(path) if path else []
    ir = {}
    for r in rows:
        total = int(r["instructions"] or 0)
        ir[(r["workload"], r["config"])] = (total, int(r.get("prog_instructions") or 0) or total)
    return dict(sorted(ir.items(), key=lambda kv: order_key(*kv[0])))


def callgrind(path):
    ir = read_callgrind(path)
    print("Instruction counts (valgrind callgrind, deterministic; 'program' leaves out the "
          "shim's sampler thread):")
    print("  %-4s %-11s %15s %8s %15s %8s" % ("wl", "config", "all threads", "x_native",
                                                "program", "x_native"))
    for (wl, cfg), (n, p) in ir.items():
        nat = ir.get((wl, "native"))
        print("  %-4s %-11s %15d %8.3f %15d %8.3f" %
              (wl, cfg, n, n / nat[0] if nat else float("nan"), p,
               p / nat[1] if nat else float("nan")))
    for wl in WORKLOADS:
        if (wl, "tables") in ir and (wl, "native") in ir:
            (n, p), (nn, pn) = ir[(wl, "tables")], ir[(wl, "native")]
            print("  %-4s tables <= 1.05 x native (instructions, program's threads): %.4f -> %s "
                  "(all threads: %.4f -> %s)" %
                  (wl, p / pn, "PASS" if p <= 1.05 * pn else "FAIL", n / nn,
                   "PASS" if n <= 1.05 * nn else "FAIL"))
            if (wl, "nativethread") in ir:
                pt = ir[(wl, "nativethread")][1]
                print("  %-4s   of which any second thread (nativethread): %.4f x native; "
                      "the shim beyond it: %.4f x" % (wl, pt / pn, p / pt))


def markdown(results, callgrind_path):
    """One table per workload: each config's medians, ratios to native,
    instructions, and the program's peak RSS over native's."""
    g = group(read_tsv(results))
    ir = read_callgrind(callgrind_path)
    for wl in WORKLOADS:
        nat = g.get((wl, "native"))
        if not nat:
            continue
        tn, cn, pn = med(nat["wall"]), med(nat["cpu"]), prog_mib(nat)
        irn = ir.get((wl, "native"), (0, 0))
        print("\n%s (%d reps; native: %.3f s wall, %.2f s CPU, %.1f MiB):\n" %
              (wl, len(nat["wall"]), tn, cn, pn))
        print("| config | wall s | x native | spread | CPU s | x native | instructions "
              "(program) | x native | all threads x native | program RSS MiB | + over native |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for cfg in CONFIGS:
            e = g.get((wl, cfg))
            if not e:
                continue
            t, c, pm = med(e["wall"]), med(e["cpu"]), prog_mib(e)
            n, p = ir.get((wl, cfg), (0, 0))
            print("| %s | %.3f | %.2f | %.0f%% | %.2f | %.2f | %s | %s | %s | %.1f | %+.1f |" %
                  (cfg, t, t / tn, 100 * spread(e["wall"]), c, c / cn if cn else float("nan"),
                   "{:,}".format(p) if p else "-",
                   "%.3f" % (p / irn[1]) if p and irn[1] else "-",
                   "%.3f" % (n / irn[0]) if n and irn[0] else "-", pm, pm - pn))
        h = g.get((wl, "heaptrack"))
        if h and med(h["wall"]) > tn:
            parts = []
            for cfg in FULL_VARIANTS:
                if (wl, cfg) in g:
                    f = g[(wl, cfg)]
                    cw = (med(f["wall"]) - tn) / (med(h["wall"]) - tn)
                    cc = ((med(f["cpu"]) - cn) / (med(h["cpu"]) - cn)
                          if med(h["cpu"]) > cn else float("nan"))
                    parts.append("%s %.2f wall, %.2f CPU" % (cfg, cw, cc))
            print("\nOverhead as a fraction of heaptrack's (target <= 0.5): " + "; ".join(parts))


def main(argv):
    if len(argv) >= 2 and argv[0] == "--callgrind":
        callgrind(argv[1])
        return 0
    if len(argv) >= 2 and argv[0] == "--markdown":
        markdown(argv[1], argv[2] if len(argv) > 2 else None)
        return 0
    if not argv:
        print("usage: summarize.py RESULTS.tsv [ANALYZER.tsv] | --callgrind FILE | "
              "--markdown RESULTS.tsv [CALLGRIND.tsv]", file=sys.stderr)
        return 2
    g = group(read_tsv(argv[0]))
    if g:
        print("Shim overhead (medians; spread = (max-min)/median of the reps):")
        print_table(g)
        check_checksums(g)
        print("\nTargets:")
        for wl in WORKLOADS:
            for full in FULL_VARIANTS:
                target_full(g, wl, full)
            target_tables(g, wl)
        target_trace_bytes(g, "w1")
        target_trace_bytes(g, "w1mt")
        shim_memory(g)
    if len(argv) > 1:
        analyzer(read_tsv(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
