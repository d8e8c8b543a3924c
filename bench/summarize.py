#!/usr/bin/env python3
"""bench/summarize.py - turns bench/run.sh's raw tables into medians, ratios
to native and PASS/FAIL per target (the targets of issues 4 and 5).

  summarize.py RESULTS.tsv [ANALYZER.tsv]     timing summary
  summarize.py --callgrind CALLGRIND.tsv      instruction-count summary
"""
import csv
import statistics
import sys

MIB = 1024 * 1024


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
    """(workload, config) -> lists of wall, rss, trace bytes, events, checksums."""
    g = {}
    for r in rows:
        e = g.setdefault((r["workload"], r["config"]),
                         {"wall": [], "rss": [], "cpu": [], "bytes": [], "events": 0,
                          "sums": set()})
        e["wall"].append(float(r["wall_s"]))
        e["cpu"].append(float(r.get("cpu_s") or 0))
        e["rss"].append(int(r["rss_kib"]))
        e["bytes"].append(int(r["trace_bytes"]))
        e["events"] = max(e["events"], int(r["events"]))
        e["sums"].add(r["checksum"])
    return g


def print_table(g):
    print("%-5s %-9s %4s %9s %8s %7s %8s %8s %9s %10s %10s %8s" %
          ("wl", "config", "reps", "wall_s", "x_native", "spread", "cpu_s", "x_native",
           "rss_MiB", "+rss_MiB", "trace_MiB", "B/event"))
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
        print("%-5s %-9s %4d %9.3f %8.2f %6.1f%% %8.2f %8.2f %9.1f %10.1f %10.1f %8s" %
              (wl, cfg, len(e["wall"]), t, ratio, 100 * spread(e["wall"]), cpu, cratio, rss,
               drss, tb / MIB, bpe))


def check_checksums(g):
    by_wl = {}
    for (wl, _), e in g.items():
        by_wl.setdefault(wl, set()).update(e["sums"])
    for wl, sums in sorted(by_wl.items()):
        if len(sums) != 1:
            print("WARNING: %s checksums differ across configs: %s" % (wl, sorted(sums)))


def target_w1(g, wl, full="full"):
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


def target_w2(g):
    if ("w2", "native") not in g or ("w2", "tables") not in g:
        return
    nat, tab = g[("w2", "native")]["wall"], g[("w2", "tables")]["wall"]
    tn, tt = statistics.median(nat), statistics.median(tab)
    noise = max(spread(nat), spread(tab))
    print("  w2   tables <= 1.05 x native: %.3f x (spread native %.1f%%, tables %.1f%%) -> %s" %
          (tt / tn, 100 * spread(nat), 100 * spread(tab),
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
    for wl, cfg in (("w1", "full"), ("w1", "fullfp"), ("w1mt", "full"), ("w1mt", "fullfp"),
                    ("w2", "tables"), ("w2", "full")):
        if (wl, cfg) in g and (wl, "native") in g:
            d = (statistics.median(g[(wl, cfg)]["rss"]) -
                 statistics.median(g[(wl, "native")]["rss"])) / 1024
            ht = ""
            if (wl, "heaptrack") in g:
                dh = (statistics.median(g[(wl, "heaptrack")]["rss"]) -
                      statistics.median(g[(wl, "native")]["rss"])) / 1024
                ht = " (heaptrack: %+.1f MiB, largest of its processes)" % dh
            print("  %-4s %-6s shim memory: %+.1f MiB max RSS over native%s" % (wl, cfg, d, ht))


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


def callgrind(path):
    rows = read_tsv(path)
    ir = {(r["workload"], r["config"]): int(r["instructions"] or 0) for r in rows}
    print("Instruction counts (valgrind callgrind, deterministic):")
    for (wl, cfg), n in ir.items():
        nat = ir.get((wl, "native"))
        print("  %-4s %-7s %15d  %6.3f x native" % (wl, cfg, n, n / nat if nat else float("nan")))
    if ("w2", "tables") in ir and ir.get(("w2", "native")):
        r = ir[("w2", "tables")] / ir[("w2", "native")]
        print("  w2 tables <= 1.05 x native (instructions): %.4f -> %s" %
              (r, "PASS" if r <= 1.05 else "FAIL"))


def main(argv):
    if len(argv) >= 2 and argv[0] == "--callgrind":
        callgrind(argv[1])
        return 0
    if not argv:
        print("usage: summarize.py RESULTS.tsv [ANALYZER.tsv] | --callgrind FILE", file=sys.stderr)
        return 2
    g = group(read_tsv(argv[0]))
    if g:
        print("Shim overhead (medians; spread = (max-min)/median of the reps):")
        print_table(g)
        check_checksums(g)
        print("\nTargets:")
        for wl in ("w1", "w1mt"):
            target_w1(g, wl)
            target_w1(g, wl, "fullfp")
            target_w1(g, wl, "fullnc")
        target_w2(g)
        target_trace_bytes(g, "w1")
        target_trace_bytes(g, "w1mt")
        shim_memory(g)
    if len(argv) > 1:
        analyzer(read_tsv(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
