#!/usr/bin/env python3
"""tests/preload/output_test.py - where the trace goes and what the
settings do: TIDEMARK_OUTPUT's names and refusals, the program's own
descriptors (none taken, none disturbed), bad and good TIDEMARK_* values.

    output_test.py --build BUILD_DIR CASE

Helpers: harness.py.
"""
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, eq, probe, run, warned, traces, tmkcat, num, clean_trace  # noqa: E402


def case_output():
    hello = run([probe(), "hello"], preload=False)
    eq(hello.returncode, 0, "hello")
    # mode 0600, %p and %e
    r = run([probe(), "hello"], output=os.path.join(harness.TMP, "o.%e.%p.tmk"))
    eq((r.returncode, r.stdout, r.stderr), (0, hello.stdout, b""), "hello under the shim")
    ts = traces(r"o\.shim_probe\.\d+\.tmk$")
    eq(len(ts), 1, f"%e.%p expanded: {traces()}")
    eq(stat.S_IMODE(os.lstat(ts[0]).st_mode), 0o600, "trace file mode")
    pid = re.match(r".*o\.shim_probe\.(\d+)\.tmk$", ts[0]).group(1)
    eq(tmkcat(ts[0])["pid"], pid, "%p is the pid")
    os.unlink(ts[0])
    r = run([probe(), "hello"], output=os.path.join(harness.TMP, "pct%%.%p.tmk"))
    eq(len(traces(r"pct%\.\d+\.tmk$")), 1, f"%% is a %: {traces()}")
    for t in traces():
        os.unlink(t)
    # an existing file: untouched
    existing = os.path.join(harness.TMP, "exists.tmk")
    with open(existing, "wb") as f:
        f.write(b"precious bytes\n")
    r = run([probe(), "hello"], output=existing)
    eq((r.returncode, r.stdout), (0, hello.stdout), "existing path: program unchanged")
    warned(r, "existing path", "exists")
    with open(existing, "rb") as f:
        eq(f.read(), b"precious bytes\n", "existing file's content")
    check(existing + ".1" in r.stderr.decode(), "the warning names the file written instead")
    clean_trace(tmkcat(existing + ".1"), "trace beside the existing file")
    os.unlink(existing + ".1")
    # a symlink at the path: not followed, target untouched
    target = os.path.join(harness.TMP, "target")
    with open(target, "wb") as f:
        f.write(b"target bytes\n")
    link = os.path.join(harness.TMP, "link.tmk")
    os.symlink(target, link)
    r = run([probe(), "hello"], output=link)
    eq((r.returncode, r.stdout), (0, hello.stdout), "symlink: program unchanged")
    warned(r, "symlink", "symlink")
    with open(target, "rb") as f:
        eq(f.read(), b"target bytes\n", "symlink target's content")
    check(os.path.islink(link), "the symlink is still there")
    dangling = os.path.join(harness.TMP, "dangling.tmk")
    os.symlink(os.path.join(harness.TMP, "nowhere"), dangling)
    r = run([probe(), "hello"], output=dangling)
    eq((r.returncode, r.stdout), (0, hello.stdout), "dangling symlink: program unchanged")
    warned(r, "dangling symlink", "symlink")
    check(not os.path.exists(os.path.join(harness.TMP, "nowhere")), "dangling symlink followed")
    # a missing directory, an unwritable one
    r = run([probe(), "hello"], output=os.path.join(harness.TMP, "missing", "x.tmk"))
    eq((r.returncode, r.stdout), (0, hello.stdout), "missing dir: program unchanged")
    warned(r, "missing directory", "cannot be created")
    r = run([probe(), "hello"], output="/proc/tidemark-test-%p.tmk")
    eq((r.returncode, r.stdout), (0, hello.stdout), "unwritable dir: program unchanged")
    warned(r, "unwritable directory (/proc)", "cannot be created")
    if os.geteuid() != 0:
        ro = os.path.join(harness.TMP, "ro")
        os.mkdir(ro, 0o500)
        r = run([probe(), "hello"], output=os.path.join(ro, "x.tmk"))
        os.chmod(ro, 0o700)
        eq((r.returncode, r.stdout), (0, hello.stdout), "read-only dir: program unchanged")
        warned(r, "read-only directory", "cannot be created")
    # a failing program keeps its status with a bad path
    r = run(["sh", "-c", "echo out; exit 7"], output=os.path.join(harness.TMP, "missing", "y.tmk"))
    eq((r.returncode, r.stdout), (7, b"out\n"), "exit status with a bad path")
    leftovers = [t for t in traces() if not os.path.islink(t) and "exists" not in t]
    eq(leftovers, [], "no trace file was made")


def case_descriptors():
    # The program's own descriptors are the program's: a shell's `exec 3>`,
    # a daemon closing every descriptor, a dup2 onto the trace's descriptor.
    # The program's files must hold only its bytes.
    out = os.path.join(harness.TMP, "out.txt")
    script = f"exec 3>{out}; echo hi >&3; seq 1 20000 | sort -r >&3; exec 3>&-; echo done"
    n = run(["sh", "-c", script], preload=False)
    with open(out, "rb") as f:
        native = f.read()
    os.unlink(out)
    r = run(["sh", "-c", script])
    eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, n.stderr), "sh exec 3>")
    with open(out, "rb") as f:
        eq(f.read(), native, "the file sh wrote through descriptor 3")
    for t in traces():
        clean_trace(tmkcat(t), os.path.basename(t))
        os.unlink(t)
    # none of the shim's descriptors (trace file, libunwind's validation
    # pipe) sits at a low number, where the program's own would land
    for unw in ("libunwind", "fp"):
        n = run([probe(), "fds"], preload=False)
        r = run([probe(), "fds"], env={"TIDEMARK_UNWIND": unw})
        eq(r.stdout.decode(), n.stdout.decode(), f"descriptors 3..99 ({unw})")
    mine = os.path.join(harness.TMP, "mine.txt")
    r = run([probe(), "closefds", mine], output=os.path.join(harness.TMP, "c.tmk"))
    eq(r.returncode, 0, f"closefds status {r.stdout.decode()}")
    with open(mine, "rb") as f:
        eq(f.read(), b"mine\n", "the file of a program that closed every descriptor")
    check(len(r.stderr.decode().splitlines()) <= 1, f"closefds stderr {r.stderr}")
    d = tmkcat(os.path.join(harness.TMP, "c.tmk"), allow_error=True)
    eq(d["rc"], 0, f"closefds trace reads: {d.get('error')}")
    # a program that puts its own file on the trace's number keeps it, and
    # the trace goes on (opened again by its path), silently and complete
    r = run([probe(), "dup2", mine], output=os.path.join(harness.TMP, "d.tmk"))
    eq(r.returncode, 0, f"dup2 status {r.stdout.decode()}")
    with open(mine, "rb") as f:
        eq(f.read(), b"mine\n", "the file a program dup2'ed onto the trace's descriptor")
    eq(r.stderr, b"", "dup2 onto the trace descriptor: nothing on stderr")
    d = tmkcat(os.path.join(harness.TMP, "d.tmk"))
    clean_trace(d, "dup2 trace")
    check(num(d, "allocs") >= 300000, f"every allocation after the dup2 is in the trace: {d['allocs']}")


# Shell programs keeping their own files on numbers all over the descriptor
# space (a sample of 3..1023 and the last ones below a 1024 limit): every
# line must reach the file, and a flock'ed file must stay locked. libunwind's
# memory validation used a pipe of its own, which the shim had put at 100/101:
# the program's file there was closed, or got bytes of process memory.
FD_SAMPLE = (3, 4, 9, 10, 63, 99, 100, 101, 102, 255, 256, 511, 777, 1000, 1008, 1015, 1022, 1023)


def program_fd_script(fd, path, mode):
    redirect = f"{fd}<>" if mode == "rw" else f"{fd}>"
    return (f"exec {redirect}{path}; for i in $(seq 1 200); do a=\"$a$i\"; "
            f"echo \"line $i\" >&{fd}; done; echo ok")


def case_program_fds():
    for unwind in ("libunwind", "fp"):
        for limit in ("20000", "1024"):
            for fd in FD_SAMPLE:
                for mode in ("w", "rw"):
                    out = os.path.join(harness.TMP, "out.txt")
                    if mode == "rw":
                        with open(out, "wb") as f:
                            f.write(b"hello\n")
                    script = f"ulimit -n {limit}; " + program_fd_script(fd, out, mode)
                    what = f"fd {fd} ({mode}, limit {limit}, {unwind})"
                    r = run(["bash", "-c", script], env={"TIDEMARK_UNWIND": unwind},
                            output=os.path.join(harness.TMP, "p.tmk"))
                    eq((r.returncode, r.stdout, r.stderr), (0, b"ok\n", b""), what)
                    with open(out, "rb") as f:
                        lines = f.read().decode(errors="replace").splitlines()
                    eq(lines, [f"line {i}" for i in range(1, 201)], f"{what}: the file")
                    clean_trace(tmkcat(os.path.join(harness.TMP, "p.tmk")), what)
                    for t in traces():
                        os.unlink(t)
                    os.unlink(out)
    # the flock idiom: while this shell holds the lock on its descriptor,
    # a second locker is refused
    lock = os.path.join(harness.TMP, "lock")
    for fd in (100, 101, 1023):
        script = (f"exec {fd}>{lock}; flock -n {fd} || exit 9; "
                  f"for i in $(seq 1 300); do a=\"$a$i\"; done; "
                  f"flock -n {lock} true && echo second-got || echo second-refused")
        n = run(["bash", "-c", script], preload=False)
        eq(n.stdout, b"second-refused\n", "flock without the shim")
        r = run(["bash", "-c", script], output=os.path.join(harness.TMP, "l.%p.tmk"))
        eq((r.returncode, r.stdout, r.stderr), (n.returncode, n.stdout, n.stderr),
           f"flock on descriptor {fd}")
        for t in traces():
            os.unlink(t)


def case_settings():
    hello = run([probe(), "hello"], preload=False)
    for var, val, pat in (("TIDEMARK_DEPTH", "abc", "TIDEMARK_DEPTH=abc"),
                          ("TIDEMARK_DEPTH", "0", "TIDEMARK_DEPTH=0"),
                          ("TIDEMARK_MODE", "foo", "TIDEMARK_MODE=foo"),
                          ("TIDEMARK_UNWIND", "dwarf", "TIDEMARK_UNWIND=dwarf"),
                          ("TIDEMARK_UNWIND_VERIFY", "yes", "TIDEMARK_UNWIND_VERIFY=yes"),
                          ("TIDEMARK_SAMPLE_INTERVAL", "-5", "TIDEMARK_SAMPLE_INTERVAL=-5"),
                          ("TIDEMARK_SAMPLE_BYTES", "1k", "TIDEMARK_SAMPLE_BYTES=1k"),
                          ("TIDEMARK_STACK_CACHE", "on", "TIDEMARK_STACK_CACHE=on"),
                          ("TIDEMARK_COMPRESS", "yes", "TIDEMARK_COMPRESS=yes"),
                          ("TIDEMARK_PROBE_MIN", "64k", "TIDEMARK_PROBE_MIN=64k"),
                          ("TIDEMARK_PROBE_BYTES", "-1", "TIDEMARK_PROBE_BYTES=-1"),
                          ("TIDEMARK_BLOCK_MAP_MIB", "4M", "TIDEMARK_BLOCK_MAP_MIB=4M"),
                          ("TIDEMARK_BLOCK_MAP_MIB", "2000000",
                           "TIDEMARK_BLOCK_MAP_MIB=2000000")):
        out = os.path.join(harness.TMP, "set.tmk")
        r = run([probe(), "hello"], output=out, env={var: val})
        eq((r.returncode, r.stdout), (0, hello.stdout), f"{var}={val}: program unchanged")
        warned(r, f"{var}={val}", re.escape(pat))
        d = tmkcat(out)
        clean_trace(d, f"{var}={val}")
        eq((d["max_depth"], d["flags"], d["sample_interval"]), ("32", "0", "0"),
           f"{var}={val}: defaults used")
        os.unlink(out)
    # TIDEMARK_QUIET=1: nothing on stderr, even for a bad value
    out = os.path.join(harness.TMP, "set.tmk")
    r = run([probe(), "hello"], output=out, env={"TIDEMARK_QUIET": "1", "TIDEMARK_MODE": "foo"})
    eq((r.returncode, r.stdout, r.stderr), (0, hello.stdout, b""), "TIDEMARK_QUIET=1")
    clean_trace(tmkcat(out), "quiet")
    os.unlink(out)
    # an empty TIDEMARK_OUTPUT: one line, the default name in the working directory
    r = run([probe(), "hello"], output="")
    eq((r.returncode, r.stdout), (0, hello.stdout), "TIDEMARK_OUTPUT=''")
    warned(r, "TIDEMARK_OUTPUT=''", "TIDEMARK_OUTPUT")
    ts = traces(r"tidemark\.\d+\.tmk$")
    eq(len(ts), 1, f"default trace name: {traces()}")
    clean_trace(tmkcat(ts[0]), "default name")
    os.unlink(ts[0])
    r = run([probe(), "hello"], output=out, env={"TIDEMARK_DEPTH": "5"})
    eq(r.stderr, b"", "a good setting says nothing")
    d = tmkcat(out)
    eq(d["max_depth"], "5", "TIDEMARK_DEPTH=5 in the header")
    check(num(d, "max_depth_seen") <= 5, "no stack deeper than TIDEMARK_DEPTH")
    # TIDEMARK_COMPRESS: zstd blocks by default in full mode, raw with 0 and
    # in tables mode; the same records either way
    counts = {}
    for env, zstd in (({}, True), ({"TIDEMARK_COMPRESS": "0"}, False),
                      ({"TIDEMARK_MODE": "tables"}, False),
                      ({"TIDEMARK_MODE": "tables", "TIDEMARK_COMPRESS": "1"}, True)):
        out = os.path.join(harness.TMP, "z.tmk")
        r = run([probe(), "stress", "20000"], output=out, env=env)
        eq(r.returncode, 0, f"{env}: status")
        d = tmkcat(out)
        clean_trace(d, f"{env}")
        check((num(d, "zstd_blocks") > 0) == zstd, f"{env}: zstd blocks {d['zstd_blocks']}")
        counts.setdefault(env.get("TIDEMARK_MODE", "full"), []).append(
            (num(d, "allocs"), num(d, "frees")))
        os.unlink(out)
    eq(counts["full"][0], counts["full"][1], "full mode: the same counts raw and compressed")


def case_relative():
    # A relative TIDEMARK_OUTPUT is resolved against the working directory
    # once, when tracing starts: a child forked after chdir writes beside
    # its parent's trace, and the ".N" check runs there. The environment the
    # program sees is left as it was.
    sub = os.path.join(harness.TMP, "sub")
    os.mkdir(sub)
    for tmpl, child_name in (("rel.tmk", "rel.tmk.{c}"), ("rel.%p.tmk", "rel.{c}.tmk")):
        r = run([probe(), "chdir-fork", "sub"], output=tmpl)
        eq((r.returncode, r.stderr), (0, b""), f"{tmpl}: status, stderr {r.stdout.decode()}")
        out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
        eq((out["env"], out["childenv"]), (tmpl, tmpl), f"{tmpl}: TIDEMARK_OUTPUT as set")
        p, c = out["parent"], out["forked"]
        top = os.path.join(harness.TMP, tmpl.replace("%p", p))
        eq(tmkcat(top)["pid"], p, f"{tmpl}: the parent's trace")
        d = tmkcat(os.path.join(harness.TMP, child_name.format(c=c)), "-z", "2222:2222")
        clean_trace(d, f"{tmpl}: the child's trace")
        eq((d["pid"], d["ppid"], num(d, "sized_allocs")), (c, p, 10), f"{tmpl}: the child's trace")
        eq(os.listdir(sub), [], f"{tmpl}: nothing written in the directory the program went to")
        for t in traces():
            os.unlink(t)
    # a trace already there: the process the user started takes ".1" in
    # the directory it started in, its child its own name there
    existing = os.path.join(harness.TMP, "rel.tmk")
    with open(existing, "wb") as f:
        f.write(b"kept\n")
    with open(os.path.join(sub, "rel.tmk"), "wb") as f:
        f.write(b"kept too\n")
    r = run([probe(), "chdir-fork", "sub"], output="rel.tmk")
    eq(r.returncode, 0, f"existing: status {r.stdout.decode()}")
    warned(r, "existing", re.escape(f"{existing} exists, left as it is; writing {existing}.1"))
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    eq(tmkcat(existing + ".1")["pid"], out["parent"], "the parent's trace at .1")
    eq(tmkcat(f"{existing}.{out['forked']}")["pid"], out["forked"], "the child's trace")
    eq(sorted(os.listdir(sub)), ["rel.tmk"], "nothing written in the directory the program went to")
    # a '%' in the directory's name is the directory's, not a template's
    pct = os.path.join(harness.TMP, "in%p%e%%")
    os.mkdir(pct)
    r = run([probe(), "chdir-fork", ".."], output="rel.%p.tmk", cwd=pct)
    eq((r.returncode, r.stderr), (0, b""), f"'%' in the directory: {r.stdout.decode()}")
    out = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
    eq(sorted(os.listdir(pct)), sorted(f"rel.{out[k]}.tmk" for k in ("parent", "forked")),
       "'%' in the directory: both traces there")


if __name__ == "__main__":
    sys.exit(harness.main(globals(), "output"))
