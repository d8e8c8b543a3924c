#!/usr/bin/env python3
"""formats.py - every report format on real traces agrees with the report.

Usage: formats.py TIDEMARK SEED_PROGRAM INLINE_PROGRAM WORKDIR

Runs the seed (examples/seed.c, a gomap that retains 293 MiB) and a C++
program with inlined calls (tests/e2e/inline_cxx.cpp, -O2 -g) under the shim,
then for each trace:
  - text: the heap's exact totals (peak, in use, bytes and allocations made);
  - collapsed: one line per stack that allocated (--weight allocs, against
    `tidemark dump`); for each --weight, the lines sum to the report's total, the
    stacks include main (and, for C++, build;fill_values in that order,
    innermost last, and operator new demangled), never the shim's
    wrapped_main; an empty weight warns;
  - json: every stack_id of tables and sites resolves in `stacks`, whose
    frames include main (and the inlined fill_values, marked inlined);
  - pprof: `go tool pprof -raw` (Debian's golang-go) loads the file and each
    sample type sums to the text report's total (retained: the json's);
    skipped with a message when `go` is not installed;
  - openmetrics: parsed by prometheus_client's OpenMetrics parser (Debian's
    python3-prometheus-client; this interpreter's or /usr/bin/python3's), the
    gauges equal the json's figures.
Exit status: 0 pass, 1 a check failed, 2 bad usage.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

failures = []


def check(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=300, **kw)


def trace_of(tidemark, prog, work, name):
    trace = os.path.join(work, name + ".tmk")
    if os.path.exists(trace):
        os.unlink(trace)
    r = run([tidemark, "run", "--no-summary", "-o", trace, "--", prog])
    check(r.returncode == 0 and os.path.exists(trace), f"{name}: traced (exit {r.returncode})")
    return trace


def num(s):
    return int(s.replace(",", ""))


def text_totals(tidemark, trace):
    """The heap's exact totals as the text report states them."""
    text = run([tidemark, "report", trace], text=True).stdout
    peak = re.search(r"\n  peak .*? \(([\d,]+) B\) at .*?; in use .*? \(([\d,]+) B\), "
                     r"(\d+) allocations live now\n", text)
    made = re.search(r"\n  (\d+) allocations made \(.*?, ([\d,]+) B\), \d+ frees\n", text)
    check(peak is not None and made is not None, "text: the heap's totals are stated exactly")
    check("allocations made  site" in text, "text: the heap lists name their count")
    if not peak or not made:
        return None
    return {"peak": num(peak.group(1)), "end": num(peak.group(2)),
            "allocs": int(made.group(1)), "alloc_bytes": num(made.group(2))}


def allocating_stacks(tidemark, trace):
    """Distinct stack ids of the trace's ALLOC and ALLOC_INFO records, from
    `tidemark dump`."""
    dump = run([tidemark, "dump", trace], text=True).stdout
    return set(re.findall(r" ALLOC(?:_INFO)? .*?stack=(\d+)", dump))


def check_collapsed(tidemark, trace, name, totals, cxx):
    allocs = run([tidemark, "report", trace, "--format", "collapsed", "--weight", "allocs"],
                 text=True).stdout.splitlines()
    want = len(allocating_stacks(tidemark, trace))
    check(len(allocs) == want,
          f"{name}: collapsed --weight allocs: {len(allocs)} lines, one per stack that "
          f"allocated ({want} in the dump)")
    for weight in ("peak", "end", "alloc_bytes", "allocs", "retained"):
        r = run([tidemark, "report", trace, "--format", "collapsed", "--weight", weight],
                text=True)
        lines = r.stdout.splitlines()
        total = sum(int(l.rsplit(" ", 1)[1]) for l in lines)
        check(total == totals[weight],
              f"{name}: collapsed --weight {weight} sums to {total}, report says {totals[weight]}")
        check(all(";wrapped_main;" not in l for l in lines),
              f"{name}: collapsed --weight {weight} has no shim frame")
        if totals[weight] == 0:
            check(r.returncode == 0 and "is empty" in r.stderr,
                  f"{name}: an empty --weight {weight} warns: {r.stderr.strip()!r}")
            continue
        check(any(";main;" in l for l in lines), f"{name}: collapsed --weight {weight} has main")
        if cxx and weight != "end":  # the vector is gone at the end
            check(any(";main;build;fill_values;" in l for l in lines),
                  f"{name}: collapsed --weight {weight} has main;build;fill_values (inlined)")
            check(any(";operator new" in l for l in lines) and not any("_Znwm" in l for l in lines),
                  f"{name}: collapsed --weight {weight}: operator new demangled")
    default = run([tidemark, "report", trace, "--format", "collapsed"], text=True).stdout
    check(default.strip() != "" and default == run(
        [tidemark, "report", trace, "--format", "collapsed", "--weight", "peak"],
        text=True).stdout, f"{name}: collapsed's default weight is peak, not empty")


def check_json(tidemark, trace, name, cxx):
    r = run([tidemark, "report", trace, "--format", "json", "--top", "0"], text=True)
    j = json.loads(r.stdout)
    stacks = {s["id"]: s["frames"] for s in j["stacks"]}
    ids = [t["stack_id"] for t in j["tables"]]
    ids += [s["stack_id"] for k in ("top_by_peak", "top_at_end") for s in j["heap"][k]]
    missing = [i for i in ids if i and i not in stacks]
    check(ids and not missing, f"{name}: json: all {len(ids)} stack_ids resolve ({missing})")
    funcs = [f["function"] for fr in stacks.values() for f in fr]
    check("main" in funcs and "wrapped_main" not in funcs,
          f"{name}: json frames include main, not wrapped_main")
    if cxx:
        inl = [f for fr in stacks.values() for f in fr if f["function"] == "fill_values"]
        check(inl and all(f["inlined"] for f in inl), f"{name}: json: fill_values, inlined")
    check(j["schema_minor"] >= 1, f"{name}: json schema minor {j['schema_minor']}")
    return j


def pprof_raw_totals(path):
    """Per sample type, the sum over `go tool pprof -raw`'s samples."""
    r = run(["go", "tool", "pprof", "-raw", path], text=True)
    check(r.returncode == 0, f"go tool pprof -raw loads {path}: {r.stderr.strip()[:200]!r}")
    out = r.stdout
    head = out.split("Samples:\n", 1)[1].split("\n", 1)
    types = [t.split("/")[0] for t in head[0].split()]
    sums = [0] * len(types)
    for line in head[1].split("Locations\n", 1)[0].splitlines():
        m = re.match(r"^\s*(-?\d+(?:\s+-?\d+)*): ", line)
        if m:
            for i, v in enumerate(m.group(1).split()):
                sums[i] += int(v)
    return dict(zip(types, sums)), out


def check_pprof(tidemark, trace, name, totals, work, cxx):
    path = os.path.join(work, name + ".pb.gz")
    r = run([tidemark, "report", trace, "--format", "pprof", "-o", path])
    check(r.returncode == 0, f"{name}: pprof written")
    with gzip.open(path) as f:
        check(len(f.read()) > 0, f"{name}: pprof is gzipped")
    if not shutil.which("go"):
        print(f"skip: {name}: go is not installed (Debian golang-go): pprof not loaded")
        return
    sums, raw = pprof_raw_totals(path)
    want = {"alloc_objects": totals["allocs"], "alloc_space": totals["alloc_bytes"],
            "inuse_space": totals["end"], "peak_space": totals["peak"],
            "retained_space": totals["retained"]}
    for t, v in want.items():
        check(sums.get(t) == v, f"{name}: pprof {t} sums to {sums.get(t)}, report says {v}")
    check(re.search(r"\n\s+\d+: 0x[0-9a-f]+ M=\d+ main ", raw) is not None,
          f"{name}: pprof locations include main")
    check(re.search(r"\n1: .* [0-9a-f]{40} \[FN\]\[FL\]\[LN\]\[IN\]\n", raw) is not None,
          f"{name}: pprof's first mapping has a build-id and inline frames")
    if cxx:
        check(re.search(r" fill_values [^\n]*\n\s+build ", raw) is not None,
              f"{name}: pprof: fill_values inlined into build, one location")


PARSE = r"""
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.setdefault(s.name, []).append([s.labels, s.value])
print(json.dumps(out))
"""


def parser_python():
    for py in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(py) and run([py, "-c", "import prometheus_client"]).returncode == 0:
            return py
    return None


def check_openmetrics(tidemark, trace, name, j):
    r = run([tidemark, "report", trace, "--format", "openmetrics"], text=True)
    check(r.stdout.endswith("# EOF\n"), f"{name}: openmetrics ends in # EOF")
    py = parser_python()
    if not py:
        check(False, "prometheus_client is installed (Debian python3-prometheus-client)")
        return
    p = run([py, "-c", PARSE], input=r.stdout, text=True)
    check(p.returncode == 0, f"{name}: openmetrics parses: {p.stderr.strip()[-300:]!r}")
    if p.returncode:
        return
    got = json.loads(p.stdout)
    h = j["heap"]
    for metric, v in (("tidemark_heap_peak_bytes", h["peak_bytes"]),
                      ("tidemark_heap_in_use_bytes", h["in_use_bytes"]),
                      ("tidemark_heap_allocations", h["allocs"]),
                      ("tidemark_retained_bytes", j["summary"]["retained_bytes"])):
        check(got.get(metric) == [[{}, v]], f"{name}: {metric} = {got.get(metric)}, json {v}")
    for key, metric in (("held_bytes", "tidemark_table_held_bytes"),
                        ("needed_bytes", "tidemark_table_needed_bytes"),
                        ("retained_bytes", "tidemark_table_retained_bytes"),
                        ("live", "tidemark_table_live")):
        want = sorted((str(t["id"]), t["kind"], t["site"], t["label"], t[key]) for t in j["tables"])
        have = sorted((l["id"], l["kind"], l["site"], l["label"], v)
                      for l, v in got.get(metric, []))
        check(have == want, f"{name}: {metric} per table (kind, site, label) = json's")


def main():
    if len(sys.argv) != 5:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    tidemark, seed, cxx_prog, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    for name, prog, cxx in (("seed", seed, False), ("inline_cxx", cxx_prog, True)):
        trace = trace_of(tidemark, prog, work, name)
        totals = text_totals(tidemark, trace)
        if totals is None:
            continue
        j = check_json(tidemark, trace, name, cxx)
        totals["retained"] = j["summary"]["retained_bytes"]
        check((totals["retained"] > 0) == (not cxx), f"{name}: retained {totals['retained']}")
        check_collapsed(tidemark, trace, name, totals, cxx)
        check_pprof(tidemark, trace, name, totals, work, cxx)
        check_openmetrics(tidemark, trace, name, j)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
