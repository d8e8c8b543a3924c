#!/usr/bin/python3
"""bench/ab.py - an interleaved A/B of one command under several preloads.

    bench/ab.py REPS "COMMAND ARGS" NAME:PRELOAD[:ENV=V,ENV=V] ...

PRELOAD '-' runs the command as it is (native). Every config runs once per
round, in the order given, REPS rounds; each run's trace goes to a scratch
directory and is deleted. Prints per config the median wall time (from
time.perf_counter: sub-millisecond, unlike /usr/bin/time's %e), the median
CPU time of the child (user + sys), the ratio of the medians to the first
config's, and the spread (max - min) / median. For two builds of the shim
side by side (bench/run.sh compares configs of one build).
"""
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip().split("\n\n")[1])
    reps, cmd, configs = int(sys.argv[1]), shlex.split(sys.argv[2]), sys.argv[3:]
    walls = {c.split(":")[0]: [] for c in configs}
    cpus = {c.split(":")[0]: [] for c in configs}
    scratch = tempfile.mkdtemp(prefix="tidemark-ab.")
    for _ in range(reps):
        for config in configs:
            name, preload, *rest = config.split(":")
            env = dict(os.environ)
            if preload != "-":
                env["LD_PRELOAD"] = preload
                env["TIDEMARK_OUTPUT"] = os.path.join(scratch, "trace.tmk")
            for pair in rest[0].split(",") if rest and rest[0] else []:
                key, value = pair.split("=", 1)
                env[key] = value
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
            walls[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            for f in os.listdir(scratch):
                os.unlink(os.path.join(scratch, f))
    os.rmdir(scratch)
    base = None
    for name in walls:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        base = base or wall
        spread = (max(walls[name]) - min(walls[name])) / wall * 100
        print(f"{name:12s} wall {wall * 1000:8.1f} ms  cpu {cpu * 1000:8.1f} ms  "
              f"x{wall / base:.3f}  spread {spread:.0f}%")


if __name__ == "__main__":
    main()
