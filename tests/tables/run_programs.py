#!/usr/bin/env python3
"""tests/tables/run_programs.py - the table programs' self-test (CTest
tables.programs, label tables): every program of tests/tables, without
any profiler, at N=200000 KEEP=10 in its modes and flavours, its printed
figures checked against the implementation's own sizing rules
(table_rules.py). Also: a bad command line exits 2 with a usage line.

  run_programs.py --dir BUILD_DIR --programs "umap;khash_prog;..." \
                  --dict dict_prog.py [--python /usr/bin/python3] [--n N --keep K]

The python cases run only when --python is CPython 3.11 (Debian's); they
are skipped with a note otherwise. Exit 0 when every case passes.
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import table_rules  # noqa: E402

IMPL = {
    "umap": "unordered_map",
    "khash_prog": "khash",
    "uthash_plain": "uthash",
    "ghash_prog": "ghash",
    "absl_map": "absl_flat_hash_map",
    "rust_map": "rust_hashmap",
}

# (binary suffix, words) for every compiled program.
COMPILED_CASES = [
    ("O2", []), ("O2", ["fix"]), ("O2", ["healthy"]),
    ("O2", ["thread"]), ("O2", ["twice"]), ("O2", ["fix", "thread", "twice"]),
    ("O2", ["random"]), ("O2", ["dense"]), ("O2", ["dense", "fix"]),
    ("O0", []), ("O0", ["fix"]),
    ("O2_stripped", []), ("O2_stripped", ["fix"]),
]
EXTRA_CASES = {"ghash_prog": [("O2", ["remove"]), ("O2", ["remove", "dense"])]}
DICT_CASES = [[], ["fix"], ["healthy"], ["str"], ["str", "fix"], ["thread"], ["twice"],
              ["dense"]]


def parse_line(out):
    lines = out.strip().splitlines()
    if len(lines) != 1:
        raise ValueError("expected one line on stdout, got %d" % len(lines))
    fields = {}
    for pair in lines[0].split():
        k, sep, v = pair.partition("=")
        if not sep:
            raise ValueError("not key=value: %r" % pair)
        fields[k] = int(v) if v.isdigit() else v
    return fields


def common_errors(f, case):
    errors = []
    words = case["words"]
    mode = "healthy" if "healthy" in words else "fix" if "fix" in words else "keep"
    flavour = "+".join(w for w in ("thread", "twice") if w in words) or "plain"
    keys = "dense" if "dense" in words else "random" if "random" in words else "mixed"
    if "str" in words:
        keys += "_str"
    impl = case["impl"] + ("_remove" if "remove" in words else "")
    for name, want in (("impl", impl), ("mode", mode), ("flavour", flavour), ("keys", keys),
                       ("live", table_rules.expected_live(case))):
        table_rules.expect(errors, name, f.get(name), want)
    return errors


def run_case(case):
    """Runs one case; returns (name, [errors])."""
    name = " ".join(os.path.basename(a) for a in case["argv"])
    try:
        p = subprocess.run(case["argv"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return name, ["timed out"]
    if p.returncode != 0:
        return name, ["exit status %d: %s" % (p.returncode, p.stderr.strip()[:300])]
    if p.stderr.strip():
        return name, ["stderr: %s" % p.stderr.strip()[:300]]
    try:
        f = parse_line(p.stdout)
    except ValueError as e:
        return name, [str(e)]
    errors = common_errors(f, case)
    if not errors:
        errors = table_rules.CHECKS[f["impl"]](f, case)
    return name, errors


def usage_case(argv):
    p = subprocess.run(argv + ["1", "1", "bogus"], capture_output=True, text=True, timeout=30)
    name = os.path.basename(argv[-1]) + " 1 1 bogus"
    errors = []
    if p.returncode != 2:
        errors.append("exit status %d, want 2" % p.returncode)
    if p.stdout or "usage:" not in p.stderr or len(p.stderr.strip().splitlines()) != 1:
        errors.append("want one usage line on stderr and nothing on stdout")
    return name, errors


def python_is_311(python):
    try:
        out = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return False
    return out.strip() == "(3, 11)"


def build_cases(args):
    cases, usages = [], []
    for prog in [p for p in args.programs.split(";") if p]:
        for suffix, words in COMPILED_CASES + EXTRA_CASES.get(prog, []):
            binary = os.path.join(args.dir, "%s_%s" % (prog, suffix))
            cases.append({"impl": IMPL[prog], "n": args.n, "keep": args.keep, "words": words,
                          "argv": [binary, str(args.n), str(args.keep)] + words})
        usages.append([os.path.join(args.dir, prog + "_O2")])
    if python_is_311(args.python):
        for words in DICT_CASES:
            cases.append({"impl": "python_dict", "n": args.n, "keep": args.keep,
                          "words": words,
                          "argv": [args.python, args.dict, str(args.n), str(args.keep)] + words})
        usages.append([args.python, args.dict])
    else:
        print("note: %s is not CPython 3.11, dict cases skipped" % args.python)
    return cases, usages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--programs", required=True)
    ap.add_argument("--dict", required=True)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--keep", type=int, default=10)
    args = ap.parse_args()
    cases, usages = build_cases(args)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run_case, cases)) + list(pool.map(usage_case, usages))
    for name, errors in results:
        for e in errors:
            print("FAIL %s: %s" % (name, e))
        failed += bool(errors)
    print("%d of %d cases passed" % (len(results) - failed, len(results)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
