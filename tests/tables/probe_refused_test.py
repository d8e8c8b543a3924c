#!/usr/bin/env python3
"""tests/tables/probe_refused_test.py - a seccomp filter forbids
process_vm_readv (sweep 3, F4): the shim cannot read what the tables hold.

seccomp_umap builds an unordered_map of 300,000 entries and erases all but
10, which it keeps, behind a filter that returns EPERM for
process_vm_readv (and once without the filter, for contrast). In full and
tables mode:
  - the trace holds a PROBE_OFF record (why 1, err EPERM) and no PROBE;
  - the text report has a warning line that says the memory could not be
    read; the JSON report has trace.probes_refused "EPERM",
    probes_refused_ns and tables_unread 1;
  - `tidemark check` exits 2 (could not judge) with one line that says
    why, also from the JSON report; with --allow-truncated it judges;
  - without the filter none of this appears.
Skipped (exit 77) where the filter cannot be installed.

usage: probe_refused_test.py --build DIR --program SECCOMP_UMAP
"""
import argparse
import errno
import json
import os
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"FAIL {what}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120, **kw)


def traced(args, tmp, how, mode):
    trace = os.path.join(tmp, f"{how}-{mode}.tmk")
    env = dict(os.environ, LD_PRELOAD=args.shim, TIDEMARK_OUTPUT=trace, TIDEMARK_MODE=mode)
    p = run([args.program, how], env=env)
    if p.returncode == 3:
        print(f"skipped: {p.stdout.strip()}")
        sys.exit(77)
    if p.returncode != 0:
        raise RuntimeError(f"{args.program} {how}: exit {p.returncode}: {p.stderr.strip()}")
    return trace


def tidemark(args, *words):
    return run([args.tidemark, *words])


def refused_case(args, tmp, mode):
    what = f"eperm, {mode} mode"
    trace = traced(args, tmp, "eperm", mode)
    dump = tidemark(args, "dump", trace).stdout
    off = [line for line in dump.splitlines() if " PROBE_OFF " in line]
    check(len(off) == 1 and off[0].endswith(f"why=1 err={errno.EPERM}"),
          f"{what}: one PROBE_OFF why=1 err=EPERM in the trace, got {off}")
    check(" PROBE " not in dump, f"{what}: no PROBE record")
    text = tidemark(args, "report", trace).stdout
    warn = [line for line in text.splitlines()
            if line.startswith("warning: the shim could not read the program's memory")]
    check(len(warn) == 1 and "EPERM" in warn[0] and "1 recognised table judged" in warn[0],
          f"{what}: the text report's warning line, got {warn}")
    js = os.path.join(tmp, f"eperm-{mode}.json")
    check(tidemark(args, "report", "--format", "json", "-o", js,
                   trace).returncode == 0, f"{what}: json report")
    t = json.load(open(js))["trace"]
    check(t["probes_refused"] == "EPERM" and isinstance(t["probes_refused_ns"], int) and
          t["tables_unread"] == 1,
          f"{what}: json trace.probes_refused/_ns/tables_unread, got "
          f"{t['probes_refused']}, {t['probes_refused_ns']}, {t['tables_unread']}")
    for src in (trace, js):
        for extra in ([], ["--until-freed"]):
            c = tidemark(args, "check", *extra, src)
            err = c.stderr.strip().splitlines()
            check(c.returncode == 2 and len(err) == 1 and "could not read the program's memory"
                  in err[0] and "EPERM" in err[0] and "cannot judge" in err[0],
                  f"{what}: check {' '.join(extra)} {os.path.basename(src)} exits 2 with one "
                  f"line, got {c.returncode}: {c.stderr.strip()}")
        c = tidemark(args, "check", "--allow-truncated", src)
        check(c.returncode in (0, 1), f"{what}: check --allow-truncated {os.path.basename(src)}"
              f" judges, got {c.returncode}: {c.stderr.strip()}")
    # as a baseline, it cannot be judged against either
    ok = traced(args, tmp, "none", mode)
    c = tidemark(args, "check", "--baseline", js, ok)
    check(c.returncode == 2 and "the baseline" in c.stderr,
          f"{what}: check --baseline of it exits 2, got {c.returncode}: {c.stderr.strip()}")


def plain_case(args, tmp, mode):
    what = f"no filter, {mode} mode"
    trace = traced(args, tmp, "none", mode)
    dump = tidemark(args, "dump", trace).stdout
    check(" PROBE_OFF " not in dump and " PROBE " in dump, f"{what}: PROBEs, no PROBE_OFF")
    text = tidemark(args, "report", trace).stdout
    check("could not read" not in text, f"{what}: no warning")
    t = json.loads(tidemark(args, "report", "--format", "json", trace).stdout)
    t = t["trace"]
    check(t["probes_refused"] is None and t["probes_refused_ns"] is None and
          t["tables_unread"] == 0, f"{what}: json says nothing was refused")
    c = tidemark(args, "check", trace)
    check(c.returncode in (0, 1), f"{what}: check judges, got {c.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--program", required=True)
    args = ap.parse_args()
    args.shim = os.path.join(args.build, "preload", "libtidemark.so")
    args.tidemark = os.path.join(args.build, "analyzer", "tidemark")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("full", "tables"):
            refused_case(args, tmp, mode)
            plain_case(args, tmp, mode)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
