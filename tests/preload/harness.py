"""tests/preload/harness.py - what the shim's test scripts share: running a
program under libtidemark.so, reading its traces back with tmkcat (the
independent reader, tests/format), the checks (tests/check.py), and each
script's main.

Every script here is

    SCRIPT.py --build BUILD_DIR CASE

with one function `case_CASE()` per case; tests/preload/CMakeLists.txt
registers one CTest test per `def case_` it finds in the script. A case
works in its own temporary directory (TMP), removed at the end, and fails
with a message naming what differed (Failure).
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# tests/check.py; the scripts take these from here
from check import Failure, base_env, check, eq  # noqa: E402,F401

BUILD = None  # the build directory (--build)
TMP = None    # the running case's temporary directory


# ---- the build's programs -------------------------------------------------------

def build_path(*parts):
    return os.path.join(BUILD, *parts)


def shim():
    return build_path("preload", "libtidemark.so")


def probe():
    return build_path("tests", "preload", "shim_probe")


def tidemark():
    return build_path("analyzer", "tidemark")


# ---- running ---------------------------------------------------------------------

def run(cmd, preload=True, output=None, env=None, timeout=60, input=None, cwd=None, limits=None):
    """Runs cmd (list); returns CompletedProcess with bytes stdout/stderr.
    limits: {resource.RLIMIT_*: soft limit} set in the child before the exec."""
    e = base_env()
    if preload:
        e["LD_PRELOAD"] = shim()
        e["TIDEMARK_OUTPUT"] = output if output is not None else os.path.join(TMP, "t.%p.tmk")
    if env:
        e.update(env)
    def set_limits():
        for which, soft in (limits or {}).items():
            resource.setrlimit(which, (soft, resource.getrlimit(which)[1]))
    try:
        return subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, input=input, cwd=cwd or TMP,
                              preexec_fn=set_limits if limits else None)
    except subprocess.TimeoutExpired:
        raise Failure(f"{cmd} did not finish in {timeout} s (deadlock?)")


def warned(r, what, pattern):
    """r's stderr is one line of the shim's, matching pattern."""
    lines = r.stderr.decode().splitlines()
    eq(len(lines), 1, f"{what}: stderr lines {lines}")
    check(lines[0].startswith("tidemark: ") and re.search(pattern, lines[0]),
          f"{what}: stderr {lines[0]!r}")


# ---- traces ------------------------------------------------------------------------

def traces(pattern=r".*\.tmk(\.\d+)*$", where=None):
    where = where or TMP
    return sorted(os.path.join(where, f) for f in os.listdir(where) if re.match(pattern, f))


def tmkcat(path, *flags, allow_error=False):
    """Parses tmkcat's key=value lines; other lines go to d['lines']."""
    p = subprocess.run([build_path("tests", "format", "tmkcat"), *flags, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    d = {"lines": [], "rc": p.returncode}
    for line in p.stdout.splitlines():
        m = re.match(r"^([a-z_.0-9]+)=(.*)$", line)
        if m and not line.startswith(("alloc ", "free ", "array ")):
            d[m.group(1)] = m.group(2)
        else:
            d["lines"].append(line)
    if not allow_error:
        check(p.returncode == 0, f"tmkcat {path}: rc {p.returncode}: {d.get('error')} "
                                 f"{p.stderr.strip()}")
    return d


def num(d, key):
    check(key in d, f"tmkcat printed no {key}")
    return int(d[key])


def clean_trace(d, what):
    """The invariants every complete trace must hold."""
    for k in ("alloc_while_live", "free_after_free", "free_before_alloc", "stacks_undefined",
              "stack_redefined", "time_backwards", "frames_outside_modules", "truncated"):
        eq(num(d, k), 0, f"{what}: {k}")
    check("error" not in d, f"{what}: tmkcat error {d.get('error')}")


# ---- main ------------------------------------------------------------------------

def main(namespace, prefix):
    """Runs the case named on the command line among namespace's case_*
    functions (a script's globals()) in a new TMP named tmk-PREFIX-CASE-*;
    prints "ok CASE" or "FAIL CASE: why" and returns the exit status."""
    global BUILD, TMP
    cases = {name[5:]: fn for name, fn in namespace.items() if name.startswith("case_")}
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("case", choices=sorted(cases))
    args = ap.parse_args()
    BUILD = os.path.abspath(args.build)
    TMP = tempfile.mkdtemp(prefix=f"tmk-{prefix}-{args.case}-")
    t0 = time.time()
    try:
        cases[args.case]()
    except Failure as e:
        print(f"FAIL {args.case}: {e}")
        return 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"ok {args.case} ({time.time() - t0:.1f} s)")
    return 0
