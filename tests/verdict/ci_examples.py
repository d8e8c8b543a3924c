#!/usr/bin/env python3
"""tests/verdict/ci_examples.py - README.md's CI examples, run as written.

    ci_examples.py --build BUILD_DIR --source SOURCE_DIR --cc CC

README.md marks three blocks with `<!-- ci-example: NAME -->`: `baseline` (a
shell block: accept today's state), `github` (a workflow: the `run:` of the
step named "tidemark gate") and `gitlab` (a job: its `script:` lines). This
builds a checkout in a temporary directory: src/service.c (the
open-addressing table of tests/verdict/open_table.c), build/my-service
compiled from it with debug info, `tidemark` on the PATH; then runs

  1. the baseline block, with the service retaining 16 MiB after deletes;
  2. the GitHub and GitLab commands on the same service: exit 0, JUnit
     written with its testcases passed;
  3. the same commands with a service that retains twice as much: exit 1,
     one `::error file=src/service.c,line=N,title=tidemark::...` pointing at
     the line that creates the table, JUnit with the failure.

Commands run as the CI runs them: GitHub's `bash -e` on the whole `run:`
script with RUNNER_TEMP set, GitLab's script lines one by one in the project
directory, stopping at the first that fails. Exit 0 pass, 1 fail.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from check import Failure, base_env, check  # noqa: E402 (tests/check.py)

FILL, LEFT = 393300, 983  # tests/verdict/verdict_test.py's table

SELFTEST_MAIN = r"""
/* The service's --selftest: fills and empties its table (open_table.c's
 * main, renamed by -Dmain=table_main) as FILL and LEFT in the environment say. */
#include <stdlib.h>
int table_main(int argc, char **argv);
int main(int argc, char **argv)
{
    (void)argc;
    char *args[] = {argv[0], getenv("FILL"), getenv("LEFT"), NULL};
    return table_main(3, args);
}
"""


def blocks(readme):
    """{name: text} of the blocks after each `<!-- ci-example: NAME -->`."""
    out = {}
    for m in re.finditer(r"<!-- ci-example: (\w+) -->\s*```\w*\n(.*?)```", readme, re.S):
        out[m.group(1)] = m.group(2)
    return out


def github_gate_script(workflow):
    """The `run: |` script of the step named "tidemark gate"."""
    lines = workflow.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*- name: tidemark gate\s*$", line):
            for j in range(i + 1, len(lines)):
                m = re.match(r"(\s*)run: \|\s*$", lines[j])
                if m:
                    indent = len(m.group(1))
                    body = []
                    for k in range(j + 1, len(lines)):
                        if lines[k].strip() and len(lines[k]) - len(lines[k].lstrip()) <= indent:
                            break
                        body.append(lines[k])
                    return "\n".join(body) + "\n"
    raise Failure("README's GitHub example has no step 'tidemark gate' with `run: |`")


def gitlab_script(job):
    """The job's `script:` items, joined with their continuation lines."""
    items, inside = [], False
    for line in job.splitlines():
        if re.match(r"\s*script:\s*$", line):
            inside = True
            continue
        if inside:
            m = re.match(r"\s*- (.*)$", line)
            if m:
                items.append(m.group(1))
            elif line.strip() and not re.match(r"\s{6,}", line):
                break
    check(items, "README's GitLab example has no script lines")
    return items


def make_checkout(args, work):
    os.makedirs(os.path.join(work, "src"))
    os.makedirs(os.path.join(work, "build"))
    os.makedirs(os.path.join(work, "ci"))
    shutil.copy(os.path.join(args.source, "tests", "verdict", "open_table.c"),
                os.path.join(work, "src", "service.c"))
    with open(os.path.join(work, "src", "selftest.c"), "w") as f:
        f.write(SELFTEST_MAIN)
    subprocess.run([args.cc, "-g", "-O1", "-Dmain=table_main", "-I",
                    os.path.join(args.source, "include"), "-c", "src/service.c", "-o",
                    "build/service.o"], cwd=work, check=True)
    subprocess.run([args.cc, "-g", "-o", "build/my-service", "src/selftest.c", "build/service.o",
                    "-ldl"], cwd=work, check=True)


def service_env(args, work, fill):
    e = base_env()
    e["PATH"] = os.path.join(args.build, "analyzer") + os.pathsep + e.get("PATH", "")
    e["RUNNER_TEMP"] = os.path.join(work, "runner-temp")
    e["FILL"], e["LEFT"] = str(fill), str(LEFT)
    return e


def clean(work):
    for p in (os.path.join(work, "run.tmk"), os.path.join(work, "tidemark-junit.xml")):
        if os.path.exists(p):
            os.unlink(p)
    shutil.rmtree(os.path.join(work, "runner-temp"), ignore_errors=True)
    os.makedirs(os.path.join(work, "runner-temp"))


def run_github(script, work, env):
    clean(work)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)


def run_gitlab(items, work, env):
    clean(work)
    out = ""
    for item in items:
        r = subprocess.run(["bash", "-e", "-c", item], cwd=work, env=env, capture_output=True,
                           text=True, timeout=120)
        out += r.stdout
        if r.returncode:
            return r.returncode, out, r.stderr
    return 0, out, ""


def junit(path, failures):
    root = ET.parse(path).getroot()
    check(root.tag == "testsuites", f"{path}: root {root.tag}")
    cases = [c for s in root.findall("testsuite") for c in s.findall("testcase")]
    failed = [c for c in cases if c.find("failure") is not None]
    check(len(cases) == 2 and len(failed) == failures,
          f"{path}: {len(cases)} testcases, {len(failed)} failed, want 2 and {failures}")
    return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--cc", required=True)
    args = ap.parse_args()
    args.build, args.source = os.path.realpath(args.build), os.path.realpath(args.source)
    with open(os.path.join(args.source, "README.md")) as f:
        ex = blocks(f.read())
    work = os.path.realpath(tempfile.mkdtemp(prefix="tmk-ci-"))
    try:
        check(set(ex) >= {"baseline", "github", "gitlab"}, f"README's ci-example blocks: {sorted(ex)}")
        make_checkout(args, work)
        with open(os.path.join(work, "src", "service.c")) as f:
            line = next(n for n, l in enumerate(f, 1) if "tmk_table_new(t, info)" in l)
        gh, gl = github_gate_script(ex["github"]), gitlab_script(ex["gitlab"])
        # 1. the baseline, as the README says to make it
        clean(work)
        base = [l for l in ex["baseline"].splitlines() if l.startswith("tidemark ")]
        check(len(base) == 2, f"baseline block: {base}")
        for cmd in base:
            r = subprocess.run(["bash", "-e", "-c", cmd], cwd=work, env=service_env(args, work, FILL),
                               capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, f"{cmd}: exit {r.returncode}: {r.stderr}")
        check(os.path.exists(os.path.join(work, "ci", "tidemark-baseline.json")), "no baseline")
        # 2. the same service passes, on both CIs
        r = run_github(gh, work, service_env(args, work, FILL))
        check(r.returncode == 0, f"GitHub, unchanged: exit {r.returncode}\n{r.stdout}{r.stderr}")
        check("::error" not in r.stdout and "\ncheck passed: " in r.stdout, r.stdout)
        junit(os.path.join(work, "runner-temp", "tidemark-junit.xml"), 0)
        rc, out, err = run_gitlab(gl, work, service_env(args, work, FILL))
        check(rc == 0 and "\ncheck passed: " in out, f"GitLab, unchanged: {rc}\n{out}{err}")
        junit(os.path.join(work, "tidemark-junit.xml"), 0)
        # 3. twice the fill: its table retains twice as much, on both CIs
        r = run_github(gh, work, service_env(args, work, 2 * FILL))
        check(r.returncode == 1, f"GitHub, regressed: exit {r.returncode}\n{r.stdout}{r.stderr}")
        errors = [l for l in r.stdout.splitlines() if l.startswith("::error ")]
        want = f"::error file=src/service.c,line={line},title=tidemark::table "
        check(errors and errors[0].startswith(want), f"GitHub annotation {errors}, want {want}...")
        check(r.stdout.splitlines()[-1].startswith("check failed: "), r.stdout)
        failed = junit(os.path.join(work, "runner-temp", "tidemark-junit.xml"), 2)
        check(failed[0].get("file") == "src/service.c", f"JUnit file {failed[0].attrib}")
        rc, out, err = run_gitlab(gl, work, service_env(args, work, 2 * FILL))
        check(rc == 1 and "\ncheck failed: " in out, f"GitLab, regressed: {rc}\n{out}{err}")
        junit(os.path.join(work, "tidemark-junit.xml"), 2)
        print(f"ok: README's baseline, GitHub and GitLab examples: pass unchanged, fail on a "
              f"regression at src/service.c:{line}")
        return 0
    except (Failure, subprocess.CalledProcessError) as e:
        print(f"FAIL: ci_examples: {e}")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
