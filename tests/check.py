"""tests/check.py - the Python tests' assertions, as tests/check.h is the C
tests': a failed check raises Failure with a message saying what differed;
a test script catches it in its main, prints "FAIL ...: message" and exits 1.
And base_env(), the environment the checked programs run in.

    sys.path.insert(0, <this folder>); from check import Failure, check, eq
"""
import os


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def base_env():
    """This process's environment without tidemark's settings, LD_PRELOAD
    and ASAN_OPTIONS, in the C locale."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("TIDEMARK_") or k in ("LD_PRELOAD", "ASAN_OPTIONS"):
            del env[k]
    env["LC_ALL"] = "C"
    return env
