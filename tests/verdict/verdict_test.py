#!/usr/bin/env python3
"""tests/verdict/verdict_test.py - verdicts a team can gate on (issue 12).

    verdict_test.py --build BUILD_DIR --source SOURCE_DIR CASE

Programs of tests/verdict run under the shim (`tidemark run`); the analyzer's
verdicts, gates and outputs are checked against figures computed here from
each table's own rule, never read back from the tool:

  open, chained  an open-addressing table (16-byte slots, doubles at 75% load
                 from 16) and a chained one (8-byte heads, doubles at load 1
                 from 16), with their growth rule and without: filled with no
                 delete they are not oversized and `check` passes; emptied to
                 0.25% they are oversized by exactly held - rule(left)
  annotate_v1    a program built against annotate.h version 1 runs under
                 today's shim (its struct ends at an unreadable page) and is
                 judged by its history; today's program records its rule
  peak           gomap and uthash at their live peak (`--at`): nothing retained
  baseline       the baseline round trip: the same run passes, an increase
                 above --max-increase fails, one below passes, a new
                 oversized table fails; absolute gates only when given
  formats        check --format text|json|github|junit and --junit: JSON
                 parsed, JUnit parsed with xml.etree (testsuites / testsuite /
                 testcase / failure), GitHub lines matched against GitHub's
                 documented `::error file=F,line=L,title=T::MESSAGE` with its
                 escapes; summaries agree with the status
  diff           diff's new/gone tables and --fail-on-increase

Each case works in a temporary directory. Exit 0 pass, 1 fail, 2 bad usage.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from check import Failure, base_env, check, eq  # noqa: E402 (tests/check.py)

ARGS = None
TMP = None

FILL = 393300          # the table: 2^19 x 3/4 = 393,216 < FILL
LEFT = FILL // 400     # emptied to 0.25%: 983 entries


# ---- the tables' own rules ---------------------------------------------------

def open_slots(n):
    """Slots of the open-addressing table grown from 16 for n entries."""
    c = 16
    while n * 4 > c * 3:
        c *= 2
    return c


def chained_heads(n):
    """Heads of the chained table grown from 16 for n entries (load 1)."""
    b = 16
    while n > b:
        b *= 2
    return b


TABLES = {
    # name: (program, label, bytes of one bucket, buckets for n, what it prints)
    "open": ("open_table", "open", 16, open_slots, "slots"),
    "chained": ("chained_table", "chained", 8, chained_heads, "buckets"),
}


# ---- running -----------------------------------------------------------------

def prog(name):
    return os.path.join(ARGS.build, "tests", "verdict", name)


def tidemark(*args, cwd=None):
    return subprocess.run([os.path.join(ARGS.build, "analyzer", "tidemark"), *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd or TMP)


def traced(name, *argv):
    """Runs a program under the shim; returns (trace path, its stdout)."""
    trace = os.path.join(TMP, name + ".tmk")
    if os.path.exists(trace):
        os.unlink(trace)
    r = subprocess.run([os.path.join(ARGS.build, "analyzer", "tidemark"), "run", "--no-summary",
                        "-o", trace, "--", *argv], capture_output=True, text=True,
                       timeout=120, cwd=TMP, env=base_env())
    eq(r.returncode, 0, f"{argv} under the shim (stderr: {r.stderr.strip()})")
    return trace, r.stdout


def report(trace, *flags):
    r = tidemark("report", "--format", "json", "--source-root", ARGS.source, *flags, trace)
    eq(r.returncode, 0, f"report {trace} {flags}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def table(rep, label):
    got = [t for t in rep["tables"] if t["label"] == label]
    eq(len(got), 1, f"tables labelled {label}")
    return got[0]


def commas(n):
    return f"{n:,}"


def source_line(rel, text):
    """The line number of the first line of a source file containing text."""
    with open(os.path.join(ARGS.source, rel)) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise Failure(f"{rel} has no line with {text!r}")


# ---- open, chained -----------------------------------------------------------

def judge_table(kind):
    exe, label, bucket, rule, word = TABLES[kind]
    for flags in ([], ["--no-rule"]):
        what = f"{kind} {' '.join(flags) or 'with its rule'}"
        # full, no delete: holds what it needs
        trace, out = traced(f"{kind}-full", prog(exe), *flags, str(FILL), str(FILL))
        eq(out.split()[:2], [word, str(rule(FILL))], f"{what}: the program's own array")
        t = table(report(trace), label)
        eq((t["held_bytes"], t["retained_bytes"], t["verdict"], t["after_deletes"]),
           (rule(FILL) * bucket, 0, "ok", False), f"{what}, full: held, retained, verdict")
        eq(t["recommendations"], [], f"{what}, full: no advice")
        eq(t["model"], "growth_rule" if not flags else "generic", f"{what}: model")
        eq(t["growth_rule"] is not None, not flags, f"{what}: the rule in the report")
        r = tidemark("check", trace)
        eq(r.returncode, 0, f"{what}, full: check exit ({r.stdout.strip()})")
        check(r.stdout.startswith("check passed: 1 table checked; none is oversized"),
              f"{what}, full: check summary {r.stdout!r}")
        # emptied to 0.25%: retains its array minus what its rule gives
        trace, out = traced(f"{kind}-left", prog(exe), *flags, str(FILL), str(LEFT))
        eq(out.split(), [word, str(rule(FILL)), "bytes", str(rule(FILL) * bucket), "live",
                         str(LEFT)], f"{what}: the program after deletes")
        expect = (rule(FILL) - rule(LEFT)) * bucket
        t = table(report(trace), label)
        eq((t["retained_bytes"], t["needed_bytes"], t["verdict"], t["after_deletes"]),
           (expect, rule(LEFT) * bucket, "oversized", True), f"{what}, emptied")
        eq(t["recommendations"][0]["bytes_saved"], expect, f"{what}, emptied: advice saves")
        r = tidemark("check", "--source-root", ARGS.source, trace)
        eq(r.returncode, 1, f"{what}, emptied: check exit")
        want = (f"FAIL table {t['id']} {t['site']}: oversized, retains {commas(expect)} B of "
                f"{commas(rule(FILL) * bucket)} B held")
        check(r.stdout.startswith(want), f"{what}, emptied: {r.stdout!r} lacks {want!r}")
        check("check failed: 1 of 1 table failed:" in r.stdout and "after deletes" in r.stdout,
              f"{what}: summary {r.stdout!r}")
    print(f"ok: {kind}: full {rule(FILL) * bucket} B needed; emptied to {LEFT} retains "
          f"{(rule(FILL) - rule(LEFT)) * bucket} B, with and without its rule")


def case_open():
    judge_table("open")


def case_chained():
    judge_table("chained")


# ---- annotate.h versions -----------------------------------------------------

def case_annotate_v1():
    trace, out = traced("v1", prog("open_table_v1"), str(FILL), str(LEFT))
    t = table(report(trace), "open")
    eq((t["kind"], t["bucket_size"], t["slots_per_bucket"], t["growth_rule"], t["model"]),
       ("generic", 16, 1, None, "generic"), "version-1 program: what the shim recorded")
    eq((t["retained_bytes"], t["needed_basis"]),
       ((open_slots(FILL) - open_slots(LEFT)) * 16, "history"), "version-1 program: judged")
    trace, _ = traced("v2", prog("open_table"), "100", "100")
    eq(table(report(trace), "open")["growth_rule"],
       {"load_num": 3, "load_den": 4, "factor": 2, "min_buckets": 16}, "version-2 rule")
    print("ok: a version-1 program under today's shim; a version-2 rule recorded")


# ---- at the peak --------------------------------------------------------------

def case_peak():
    n = 200000
    trace, out = traced("peak", prog("peak_tables"), str(n), "300")
    eq(out.split(), ["gomap", "0", "uthash", "1"], "peak_tables")
    end = report(trace)
    check(end["summary"]["verdict"].startswith("2 tables retain"), f"end: {end['summary']}")
    for label in ("peak_gomap", "peak_uthash"):
        t = table(end, label)
        eq(t["live_peak"], n, f"{label}: peak")
        at = [p[0] for p in t["timeline"] if p[2] == n]
        check(at, f"{label}: no timeline point at the peak")
        rep = report(trace, "--at", f"{at[-1]}ns")
        p = table(rep, label)
        eq(p["live"], n, f"{label} at {at[-1]} ns: live")
        check(p["retained_bytes"] <= p["bucket_size"] and p["verdict"] == "ok" and
              not p["after_deletes"], f"{label} at its peak: {p['retained_bytes']} B retained, "
              f"verdict {p['verdict']}, after deletes {p['after_deletes']}")
        check("after deletes" not in rep["summary"]["verdict"],
              f"{label} at its peak: {rep['summary']['verdict']}")
        r = tidemark("check", "--at", f"{at[-1]}ns", trace)
        eq(r.returncode, 0, f"check at the peak of {label}: {r.stdout}")
    print(f"ok: gomap and uthash at their peak of {n} retain nothing")


# ---- baselines ---------------------------------------------------------------

def run_open(name, fill, left):
    trace, _ = traced(name, prog("open_table"), str(fill), str(left))
    return trace


def case_baseline():
    base = run_open("base", FILL, LEFT)
    r = tidemark("report", "--format", "json", "-o", "base.json", base)
    eq(r.returncode, 0, "baseline report")
    retained = (open_slots(FILL) - open_slots(LEFT)) * 16
    # the very run that made the baseline passes: no absolute gate by default
    r = tidemark("check", base, "--baseline", "base.json")
    eq(r.returncode, 0, f"same run against its baseline: {r.stdout}")
    check(r.stdout.startswith("check passed: 1 table checked against the baseline"),
          f"same run: {r.stdout!r}")
    check("FAIL" not in r.stdout, "same run: no FAIL line")
    # the same trace as its own baseline, traces on both sides
    eq(tidemark("check", base, "--baseline", base).returncode, 0, "trace as baseline")
    # below the tolerance: 500 left instead of 983 frees 16 KiB less (+0.1%)
    small = run_open("small", FILL, 500)
    grown = (open_slots(FILL) - open_slots(500)) * 16
    check(grown > retained and (grown - retained) * 10 < retained, "the small increase")
    r = tidemark("check", small, "--baseline", "base.json")
    eq(r.returncode, 0, f"increase below 10%: {r.stdout}")
    r = tidemark("check", small, "--baseline", "base.json", "--max-increase", "1KiB")
    eq(r.returncode, 1, f"increase above --max-increase 1KiB: {r.stdout}")
    check(f"retained {commas(grown)} B, baseline {commas(retained)} B "
          f"(+{commas(grown - retained)} B, +0.1%) > --max-increase 1.0 KiB" in r.stdout,
          f"increase line: {r.stdout!r}")
    # above the tolerance: twice the fill retains twice as much
    big = run_open("big", 2 * FILL, LEFT)
    doubled = (open_slots(2 * FILL) - open_slots(LEFT)) * 16
    r = tidemark("check", big, "--baseline", "base.json")
    eq(r.returncode, 1, f"increase above 10%: {r.stdout}")
    check(f"retained {commas(doubled)} B, baseline {commas(retained)} B" in r.stdout,
          f"figures: {r.stdout!r}")
    check(re.search(r"^check failed: 1 of 1 table failed: table \d+ \S+ retained \+16\.0 MiB "
                    r"over the baseline \(> --max-increase 10%\); total retained", r.stdout, re.M),
          f"summary: {r.stdout!r}")
    eq(tidemark("check", big, "--baseline", "base.json", "--max-increase", "17MiB").returncode,
       0, "an increase within --max-increase 17MiB")
    eq(tidemark("check", big, "--baseline", "base.json", "--max-increase", "150%").returncode,
       0, "an increase within --max-increase 150%")
    # absolute gates apply with a baseline only when given
    eq(tidemark("check", base, "--baseline", "base.json", "--max-retained", "1MiB").returncode,
       1, "--max-retained with a baseline")
    # a new oversized table: the baseline has a full (ok) chained table only
    chained, _ = traced("chained", prog("chained_table"), str(FILL), str(FILL))
    eq(tidemark("report", "--format", "json", "-o", "chained.json", chained).returncode, 0, "")
    r = tidemark("check", base, "--baseline", "chained.json", "--max-increase", "1GiB")
    eq(r.returncode, 1, f"new oversized table: {r.stdout}")
    check(re.search(r"^FAIL table \d+ \S+open_table\.c:\d+: new \(not in the baseline\), "
                    r"oversized, retains " + commas(retained), r.stdout, re.M),
          f"new table line: {r.stdout!r}")
    # ... and a new table that is not oversized passes
    eq(tidemark("check", chained, "--baseline", "base.json", "--max-increase", "1GiB").returncode,
       0, "a new table that is not oversized")
    # the flags that need a baseline
    r = tidemark("check", base, "--max-increase", "10%")
    eq((r.returncode, r.stderr.strip()),
       (2, "tidemark: --max-increase needs --baseline REPORT (it is the increase over the baseline)"),
       "--max-increase without --baseline")
    r = tidemark("check", base, "--baseline", "base.json", "--max-increase", "ten")
    eq(r.returncode, 2, "a bad --max-increase")
    check("--max-increase: bad value 'ten'" in r.stderr, r.stderr)
    print(f"ok: baseline {retained} B: same passes, +{grown - retained} B passes, "
          f"+{doubled - retained} B fails, a new oversized table fails")


# ---- output formats -----------------------------------------------------------

GH_LINE = re.compile(r"^::(error|warning|notice)( (?P<props>[^:]*))?::(?P<msg>.*)$")


def gh_unescape_data(s):
    return s.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def gh_props(s):
    """GitHub's properties: k=v pairs split at ',' (values escape ',' and ':')."""
    out = {}
    for part in s.split(","):
        k, _, v = part.partition("=")
        out[k] = (v.replace("%2C", ",").replace("%3A", ":").replace("%0A", "\n")
                  .replace("%0D", "\r").replace("%25", "%"))
    return out


def check_github(text, want_errors):
    errors = []
    lines = text.splitlines()
    for line in lines[:-1]:
        m = GH_LINE.match(line)
        check(m, f"not a workflow command: {line!r}")
        check(not re.search(r"%(?!25|0A|0D)", m.group("msg")), f"unescaped % in {line!r}")
        props = gh_props(m.group("props") or "")
        eq(props.get("title"), "tidemark", f"title of {line!r}")
        if m.group(1) == "error":
            errors.append((props, gh_unescape_data(m.group("msg"))))
    check(not lines[-1].startswith("::"), "the summary is a plain line")
    eq(len(errors), want_errors, f"::error lines in {text!r}")
    return errors, lines[-1]


def check_junit(path_or_text, tests, failures):
    root = (ET.parse(path_or_text).getroot() if os.path.exists(path_or_text)
            else ET.fromstring(path_or_text))
    eq(root.tag, "testsuites", "JUnit root")
    suites = root.findall("testsuite")
    eq(len(suites), 1, "testsuites")
    cases = suites[0].findall("testcase")
    eq(len(cases), tests, "testcases")
    got = [c for c in cases if c.find("failure") is not None]
    eq(len(got), failures, "failed testcases")
    eq((int(root.get("tests")), int(root.get("failures"))), (tests, failures), "counts")
    eq((int(suites[0].get("tests")), int(suites[0].get("failures"))), (tests, failures), "counts")
    for c in cases:
        check(c.get("classname", "").startswith("tidemark") and c.get("name"),
              f"testcase attributes {c.attrib}")
    return cases


def case_formats():
    trace = run_open("emptied", FILL, LEFT)
    full = run_open("full", FILL, FILL)
    retained = (open_slots(FILL) - open_slots(LEFT)) * 16
    line = source_line("tests/verdict/open_table.c", "tmk_table_new(t, info)")
    root = ["--source-root", ARGS.source]
    # text: FAIL line, summary naming it
    r = tidemark("check", *root, trace)
    eq(r.returncode, 1, "text")
    eq(r.stdout.splitlines()[-1][:len("check failed: ")], "check failed: ", "text summary")
    # json
    r = tidemark("check", *root, "--format", "json", trace)
    eq(r.returncode, 1, "json exit")
    j = json.loads(r.stdout)
    eq((j["schema"], j["status"], j["exit_status"], j["failed"], j["tables"]),
       ("tidemark.check/1", "failed", 1, 1, 1), "json head")
    res = j["results"][0]
    eq((res["gate"], res["status"], res["file"], res["line"], res["table"]["retained_bytes"]),
       ("oversized", "failed", "tests/verdict/open_table.c", line, retained), "json result")
    check(j["summary"].startswith("check failed: "), j["summary"])
    j = json.loads(tidemark("check", *root, "--format", "json", full).stdout)
    eq((j["status"], j["results"][0]["status"]), ("passed", "passed"), "json, passing")
    # github: file relative to the source root, the line of tmk_table_new
    r = tidemark("check", *root, "--format", "github", trace)
    eq(r.returncode, 1, "github exit")
    errors, summary = check_github(r.stdout, 1)
    props, msg = errors[0]
    eq((props.get("file"), props.get("line")), ("tests/verdict/open_table.c", str(line)),
       "github file and line")
    check(f"retains {commas(retained)} B" in msg and "(100.0%)" not in msg, msg)
    check(summary.startswith("check failed: "), summary)
    # outside the source root: no file=, the absolute path stays in the message
    r = tidemark("check", "--source-root", TMP, "--format", "github", trace)
    errors, _ = check_github(r.stdout, 1)
    check("file" not in errors[0][0] and os.path.join(ARGS.source, "tests/verdict/open_table.c")
          in errors[0][1], f"outside the root: {errors}")
    r = tidemark("check", *root, "--format", "github", full)
    eq(r.returncode, 0, "github, passing")
    check_github(r.stdout, 0)
    # junit on stdout and beside the text
    r = tidemark("check", *root, "--format", "junit", trace)
    eq(r.returncode, 1, "junit exit")
    cases = check_junit(r.stdout, 1, 1)
    eq((cases[0].get("file"), cases[0].get("line")), ("tests/verdict/open_table.c", str(line)),
       "junit file")
    eq(cases[0].find("failure").get("type"), "oversized", "failure type")
    r = tidemark("check", *root, "--junit", "out.xml", "--baseline", trace, trace)
    eq(r.returncode, 0, f"--junit beside the text: {r.stdout}")
    check(r.stdout.startswith("check passed: "), r.stdout)
    check_junit(os.path.join(TMP, "out.xml"), 2, 0)  # the table's increase and the total
    # escaping: a report whose label and sites hold %, CR, LF, ',' ':' '<' '&'
    rep = report(trace)
    t = rep["tables"][0]
    t["label"] = "50%\r\nx<&>\"'"
    t["site"] = "src/a,b:c.c:12"
    rep["tables"].append(dict(t, id=99, site="/abs/elsewhere.c:7", label="\u00e9\x01"))
    rep["summary"]["tables"] = 2
    with open(os.path.join(TMP, "odd.json"), "w") as f:
        json.dump(rep, f)
    r = tidemark("check", "--format", "github", "odd.json")
    errors, _ = check_github(r.stdout, 2)
    eq((errors[0][0].get("file"), errors[0][0].get("line")), ("src/a,b:c.c", "12"),
       "escaped file property")
    check("file" not in errors[1][0], "an absolute site has no file=")
    r = tidemark("check", "--format", "junit", "odd.json")
    cases = check_junit(r.stdout, 2, 2)
    check('"50%\r\nx<&>"\'"' in cases[0].get("name") and cases[0].get("file") == "src/a,b:c.c",
          f"junit escapes: {cases[0].attrib}")
    j = json.loads(tidemark("check", "--format", "json", "odd.json").stdout)
    eq(j["results"][0]["table"]["label"], "50%\r\nx<&>\"'", "json escapes")
    r = tidemark("check", "--format", "pdf", trace)
    eq((r.returncode, r.stderr.strip()),
       (2, "tidemark: --format: expected text, json, github or junit, got 'pdf'"), "bad format")
    r = tidemark("check", "--junit", "/nonexistent/dir/x.xml", trace)
    eq(r.returncode, 2, "unwritable --junit")
    print("ok: text, json, github, junit (stdout and --junit), escapes, source root")


# ---- diff --------------------------------------------------------------------

def case_diff():
    base = run_open("base", FILL, LEFT)
    big = run_open("big", 2 * FILL, LEFT)
    chained, _ = traced("chained", prog("chained_table"), str(FILL), str(LEFT))
    r = tidemark("diff", base, big)
    eq(r.returncode, 0, "diff without a gate")
    r = tidemark("diff", base, big, "--fail-on-increase", "10%")
    eq(r.returncode, 1, f"diff --fail-on-increase 10%: {r.stdout}")
    check(re.search(r"^increase: \S+open_table\.c:\d+ retained \+16\.0 MiB, \+100\.\d% > "
                    r"--fail-on-increase 10%$", r.stdout, re.M), r.stdout)
    eq(tidemark("diff", base, big, "--fail-on-increase", "20MiB").returncode, 0, "within 20MiB")
    eq(tidemark("diff", big, base, "--fail-on-increase", "0").returncode, 0, "a decrease")
    # a table on one side only: new / gone, never "0 B -> 0 B", never "+100.0%"
    r = tidemark("diff", base, chained, "--fail-on-increase", "1MiB")
    eq(r.returncode, 1, f"a new table past the tolerance: {r.stdout}")
    new = [l for l in r.stdout.splitlines() if "chained_table.c" in l and "[new]" in l]
    gone = [l for l in r.stdout.splitlines() if "open_table.c" in l and "[gone]" in l]
    check(len(new) == 1 and re.search(r"\[new\]\s+- ->\s+4\.0 MiB \(new\)  held - -> 4\.0 MiB",
                                      new[0]), f"new: {r.stdout}")
    check(len(gone) == 1 and re.search(r"\(gone\)  held 16\.0 MiB -> -$", gone[0]), f"gone: {r.stdout}")
    check("0 B -> 0 B" not in r.stdout and "+100.0%" not in r.stdout, r.stdout)
    check(re.search(r"^increase: new table \S+chained_table\.c:\d+ retained \+4\.0 MiB > "
                    r"--fail-on-increase 1\.0 MiB$", r.stdout, re.M), r.stdout)
    r = tidemark("diff", base, big, "--fail-on-increase", "lots")
    eq(r.returncode, 2, "bad --fail-on-increase")
    print("ok: diff marks new and gone tables, --fail-on-increase exits 1")


CASES = {
    "open": case_open, "chained": case_chained, "annotate_v1": case_annotate_v1,
    "peak": case_peak, "baseline": case_baseline, "formats": case_formats, "diff": case_diff,
}


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    ARGS = ap.parse_args()
    ARGS.source = os.path.realpath(ARGS.source)
    ARGS.build = os.path.realpath(ARGS.build)
    TMP = os.path.realpath(tempfile.mkdtemp(prefix="tmk-verdict-"))
    try:
        CASES[ARGS.case]()
        return 0
    except Failure as e:
        print(f"FAIL: {ARGS.case}: {e}")
        return 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
