#!/usr/bin/env python3
"""tests/e2e/same_reports.py - do two builds of `tidemark` say the same thing?

For a change that must not change behaviour (a restructure, a faster data
structure): records a set of traces once, then runs every report, check and
diff command on each trace with both binaries and compares stdout, stderr,
the exit status and the files written (-o), byte for byte.

  same_reports.py --build BUILD --before OLD_TIDEMARK [--after NEW_TIDEMARK]
                  [--work DIR] [--reuse] [--skip-programs] [--jobs N]

The traces (in WORK/traces, kept; --reuse takes them as they are):
  - tracegen's scenarios (the tests' synthetic traces, every version);
  - the fuzz seeds (BUILD/tests/fuzz/seeds) and tests/fuzz/regress;
  - the seed examples and their cures (BUILD/examples), full and tables mode;
  - tests/tables' programs (unannotated tables, O2 and stripped) and
    dict_prog.py under python3;
  - real programs: git (log, status) and python3;
  - damaged copies of two of them: cut at a third and two thirds, one byte
    flipped in a middle block.
Recording uses NEW's `tidemark run` (the shim beside it). Programs that are
missing are skipped with a note. Exit 0 when every output is identical, 1
when one differs (the first lines of each difference are printed), 2 on a
usage error.
"""
import argparse
import concurrent.futures
import difflib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))

TRACEGEN = [["seed"], ["seedovf"], ["presized"], ["indirect"], ["two"], ["threads"],
            ["info"], ["info1"], ["infolate"], ["noend"], ["mixed", "0"], ["mixed", "1"],
            ["mixed", "1", "1"], ["serial", "8", "64"]]
EXAMPLES = ["seed_grow", "seed_indirect", "seed_presized", "fix_copy", "fix_pointer_values",
            "fix_shrink", "session_cache"]
TABLE_PROGRAMS = ["umap", "khash_prog", "uthash_plain", "ghash_prog", "absl_map", "rust_map"]


def note(msg):
    print("same_reports: " + msg, file=sys.stderr, flush=True)


def find_exe(build, name):
    for root, _, files in os.walk(build):
        if name in files and os.access(os.path.join(root, name), os.X_OK):
            return os.path.join(root, name)
    return None


def record(tidemark, out, argv, mode="full", env=None, cwd=None):
    """`tidemark run` of argv into out; True when a trace was written."""
    cmd = [tidemark, "run", "-o", out, "--mode", mode, "--"] + argv
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, cwd=cwd, timeout=600)
    if not os.path.exists(out):
        note("no trace from %s (exit %d)" % (" ".join(argv), p.returncode))
        return False
    return True


def damage(src, dst_prefix):
    """Cut and flipped copies of src."""
    data = open(src, "rb").read()
    made = []
    for k in (1, 2):
        path = "%s-cut%d.tmk" % (dst_prefix, k)
        with open(path, "wb") as f:
            f.write(data[:len(data) * k // 3])
        made.append(path)
    path = dst_prefix + "-flip.tmk"
    b = bytearray(data)
    if len(b) > 200:
        b[len(b) // 2] ^= 0x10
    with open(path, "wb") as f:
        f.write(bytes(b))
    made.append(path)
    return made


def make_traces(args, tdir):
    os.makedirs(tdir, exist_ok=True)
    tm = args.after
    tracegen = find_exe(os.path.join(args.build, "tests"), "tracegen")
    if tracegen:
        for sc in TRACEGEN:
            out = os.path.join(tdir, "tg-%s.tmk" % "-".join(sc))
            subprocess.run([tracegen, sc[0], out] + sc[1:], check=True)
    else:
        note("no tracegen under %s/tests: its scenarios skipped" % args.build)
    for d in [os.path.join(args.build, "tests", "fuzz", "seeds"),
              os.path.join(SOURCE, "tests", "fuzz", "regress")]:
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                if f.endswith(".tmk"):
                    shutil.copy(os.path.join(d, f), os.path.join(tdir, "fuzz-" + f))
    if args.skip_programs:
        return
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    for ex in EXAMPLES:
        exe = os.path.join(args.build, "examples", ex)
        if os.access(exe, os.X_OK):
            record(tm, os.path.join(tdir, "ex-%s.tmk" % ex), [exe], env=env)
    exe = os.path.join(args.build, "examples", "seed_grow")
    if os.access(exe, os.X_OK):
        record(tm, os.path.join(tdir, "ex-seed_grow-tables.tmk"), [exe], mode="tables", env=env)
    for prog in TABLE_PROGRAMS:
        for flavour in ("O2", "O2_stripped"):
            exe = os.path.join(args.build, "tests", "tables", "%s_%s" % (prog, flavour))
            if os.access(exe, os.X_OK):
                record(tm, os.path.join(tdir, "tab-%s_%s.tmk" % (prog, flavour)),
                       [exe, "200000", "10"], env=env)
    py = shutil.which("python3")
    if py:
        record(tm, os.path.join(tdir, "tab-dict_prog.tmk"),
               [py, os.path.join(SOURCE, "tests", "tables", "dict_prog.py"), "200000", "10"],
               env=env)
        record(tm, os.path.join(tdir, "prog-python3.tmk"),
               [py, "-c", "import json, collections\n"
                "d = {i: str(i) * 3 for i in range(300000)}\n"
                "for i in range(0, 300000, 2): del d[i]\n"
                "print(len(json.dumps(collections.Counter(v[-1] for v in d.values()))))"],
               env=env)
    git = shutil.which("git")
    if git and os.path.exists(os.path.join(SOURCE, ".git")):
        record(tm, os.path.join(tdir, "prog-git-log.tmk"),
               [git, "-C", SOURCE, "log", "--stat", "-n", "300"], env=env)
        record(tm, os.path.join(tdir, "prog-git-status.tmk"), [git, "-C", SOURCE, "status"],
               env=env)
    for src in ("ex-seed_grow.tmk", "tg-mixed-1-1.tmk", "prog-python3.tmk"):
        p = os.path.join(tdir, src)
        if os.path.exists(p):
            damage(p, os.path.join(tdir, "dmg-" + src[:-4]))


def commands(trace, other):
    """(name, argv after the binary, output file or None) per run."""
    out = "@OUT@"
    runs = [("text", ["report", trace], None),
            ("text-all", ["report", trace, "--top", "0"], None),
            ("json", ["report", trace, "--format", "json"], None),
            ("json-at", ["report", trace, "--format", "json", "--at", "2ms"], None),
            ("json-nosym", ["report", trace, "--format", "json", "--no-symbols"], None),
            ("html", ["report", trace, "--format", "html", "-o", out], out),
            ("pprof", ["report", trace, "--format", "pprof", "-o", out], out),
            ("openmetrics", ["report", trace, "--format", "openmetrics"], None)]
    for w in ("peak", "end", "alloc_bytes", "allocs", "retained"):
        runs.append(("collapsed-" + w, ["report", trace, "--format", "collapsed",
                                        "--weight", w], None))
    runs += [("check", ["check", trace], None),
             ("check-json", ["check", trace, "--format", "json"], None),
             ("check-junit", ["check", trace, "--format", "junit"], None),
             ("diff-self", ["diff", trace, trace], None),
             ("diff-other", ["diff", other, trace], None)]
    return runs


def run_one(binary, argv, outfile):
    """Exit status, stdout, stderr and the file written to outfile (the
    same path for both binaries: a report may name it)."""
    if outfile:
        argv = [a.replace("@OUT@", outfile) for a in argv]
    p = subprocess.run([binary] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=900, env=dict(os.environ, TZ="UTC"))
    data = b""
    if outfile and os.path.exists(outfile):
        data = open(outfile, "rb").read()
        os.unlink(outfile)
    return p.returncode, p.stdout, p.stderr, data


def compare(args, trace, other, scratch):
    diffs, n = [], 0
    base = os.path.basename(trace)
    for name, argv, out in commands(trace, other):
        n += 1
        o = os.path.join(scratch, "%s.%s" % (base, name)) if out else None
        before = run_one(args.before, argv, o)
        after = run_one(args.after, argv, o)
        if before == after:
            continue
        what = []
        if before[0] != after[0]:
            what.append("exit %d -> %d" % (before[0], after[0]))
        for i, label in ((1, "stdout"), (2, "stderr"), (3, "file")):
            if before[i] != after[i]:
                a = before[i].decode("utf-8", "replace").splitlines()
                b = after[i].decode("utf-8", "replace").splitlines()
                d = list(difflib.unified_diff(a, b, "before", "after", lineterm="", n=0))
                what.append("%s differs:\n    " % label + "\n    ".join(d[:12]))
        diffs.append("%s %s: %s" % (base, name, "; ".join(what)))
    return n, diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after")
    ap.add_argument("--work", default="/tmp/tidemark-same-reports")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--skip-programs", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    args.after = args.after or os.path.join(args.build, "analyzer", "tidemark")
    for b in (args.before, args.after):
        if not os.access(b, os.X_OK):
            print("same_reports: %s: not an executable" % b, file=sys.stderr)
            return 2
    tdir = os.path.join(args.work, "traces")
    if not (args.reuse and os.path.isdir(tdir)):
        shutil.rmtree(tdir, ignore_errors=True)
        make_traces(args, tdir)
    traces = sorted(os.path.join(tdir, f) for f in os.listdir(tdir) if f.endswith(".tmk"))
    if not traces:
        print("same_reports: no trace to compare", file=sys.stderr)
        return 2
    scratch = os.path.join(args.work, "scratch")
    os.makedirs(scratch, exist_ok=True)
    total, diffs = 0, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        jobs = [ex.submit(compare, args, t, traces[i - 1], scratch)
                for i, t in enumerate(traces)]
        for j in jobs:
            n, d = j.result()
            total += n
            diffs += d
    for d in diffs:
        print("DIFFERENT " + d)
    print("same_reports: %d traces, %d runs per binary: %s" %
          (len(traces), total, "all identical" if not diffs else "%d differ" % len(diffs)))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
