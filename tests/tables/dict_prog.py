#!/usr/bin/python3
"""tests/tables/dict_prog.py - a CPython 3.11 dict grown to N entries,
emptied to KEEP with `del d[k]` (the keys object keeps its size until
dk_usable runs out), optionally cured with `d = dict(d)`. Run it with
Debian's /usr/bin/python3 (3.11). The CLI of the C programs
(tests/tables/table_cli.h), plus the word "str": str keys (dk_kind 1,
16-byte entries) instead of int keys (dk_kind 0, 24-byte entries).

  dict_prog.py N KEEP [fix|healthy] [dense|random] [str] [thread] [twice] [gone] [idle]

Prints: impl=python_dict ... live= held= getsizeof= log2_size= index_bytes=
        kind= usable= nentries= indices_live= indices_dummy= keys_addr=
  getsizeof  sys.getsizeof(d): the dict object (48 bytes) + the GC header
             (16) + the keys object when the dict owns it (dk_refcnt 1)
  held       the keys object, one malloc'd block, read through ctypes from
             its own header: 32 + 2**log2_size * index_bytes
             + usable_fraction * entry_size, with usable_fraction =
             (2 * 2**log2_size) // 3; must equal getsizeof - 64. 0 when
             the dict has no keys object of its own (dk_refcnt != 1: the
             shared empty keys of an empty dict)
  indices_*  indices >= 0 (live entries) and == -2 (DKIX_DUMMY): the exact
             live count a reader of the block sees
"""
import ctypes
import os
import sys
import threading
import time

DICT_OBJECT = 48 + 16  # PyDictObject + PyGC_Head on 64-bit CPython 3.11
KEYS_HEADER = 32       # dk_refcnt, log2 sizes, kind, version, usable, nentries


def mix64(x):
    """splitmix64's finaliser, as in table_cli.h."""
    m = (1 << 64) - 1
    x = (x + 0x9e3779b97f4a7c15) & m
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & m
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & m
    return x ^ (x >> 31)


def usage():
    print("usage: dict_prog.py N KEEP [fix|healthy] [dense|random] [str] [thread] [twice] [gone] [idle]",
          file=sys.stderr)
    sys.exit(2)


def parse(argv):
    if len(argv) < 3 or not argv[1].isdigit() or not argv[2].isdigit():
        usage()
    a = {"n": int(argv[1]), "keep": int(argv[2]), "seed": 0}
    words = {"fix", "healthy", "dense", "random", "str", "thread", "twice", "gone", "idle"}
    for w in words:
        a[w] = False
    for w in argv[3:]:
        if w not in words:
            usage()
        a[w] = True
    if (a["fix"] and a["healthy"]) or (a["dense"] and a["random"]):
        usage()
    if a["healthy"] or a["keep"] > a["n"]:
        a["keep"] = a["n"]
    if a["random"]:
        a["seed"] = mix64(time.time_ns())
    return a


def key(a, i):
    k = i if a["dense"] else mix64(i ^ a["seed"])
    return "k%d" % k if a["str"] else k


def build(a, out):
    d = {}
    for i in range(a["n"]):
        d[key(a, i)] = i
    for i in range(a["keep"], a["n"]):
        del d[key(a, i)]
    if a["fix"]:
        d = dict(d)
    out[0] = d


def run(a, out):
    if not a["thread"]:
        build(a, out)
        return
    t = threading.Thread(target=build, args=(a, out))
    t.start()
    t.join()


def keys_object(d):
    """The dict's keys object, read from its own header (CPython 3.11)."""
    ma_keys = ctypes.c_void_p.from_address(id(d) + 32).value
    refcnt = ctypes.c_ssize_t.from_address(ma_keys).value
    hdr = (ctypes.c_uint8 * 16).from_address(ma_keys)
    log2_size, log2_index_bytes, kind = hdr[8], hdr[9], hdr[10]
    size = 1 << log2_size
    index_bytes = 1 << (log2_index_bytes - log2_size)
    usable = ctypes.c_ssize_t.from_address(ma_keys + 16).value
    nentries = ctypes.c_ssize_t.from_address(ma_keys + 24).value
    entry = 16 if kind in (1, 2) else 24
    fraction = (2 * size) // 3
    signed = {1: ctypes.c_int8, 2: ctypes.c_int16, 4: ctypes.c_int32, 8: ctypes.c_int64}
    indices = (signed[index_bytes] * size).from_address(ma_keys + KEYS_HEADER)
    values = list(indices)
    owned = refcnt == 1  # else the shared, static empty keys: not the dict's
    return {
        "addr": ma_keys, "log2_size": log2_size, "index_bytes": index_bytes, "kind": kind,
        "usable": usable, "nentries": nentries,
        "bytes": KEYS_HEADER + size * index_bytes + fraction * entry if owned else 0,
        "live": sum(1 for v in values if v >= 0),
        "dummy": sum(1 for v in values if v == -2),
    }


def main():
    a = parse(sys.argv)
    out = [None]
    for _ in range(2 if a["twice"] else 1):
        out[0] = None  # the first dict is freed before the second is built
        run(a, out)
    d = out[0]
    k = keys_object(d)
    if sys.getsizeof(d) - DICT_OBJECT != k["bytes"]:
        print("python_dict: layout assumption broken: getsizeof - 64 != keys object",
              file=sys.stderr)
        sys.exit(3)
    mode = "healthy" if a["healthy"] else "fix" if a["fix"] else "keep"
    flavour = "+".join(f for f in ("thread", "twice") if a[f]) or "plain"
    keys = ("dense" if a["dense"] else "random" if a["random"] else "mixed") + \
        ("_str" if a["str"] else "")
    print("impl=python_dict mode=%s flavour=%s keys=%s live=%d held=%d getsizeof=%d "
          "log2_size=%d index_bytes=%d kind=%d usable=%d nentries=%d indices_live=%d "
          "indices_dummy=%d keys_addr=%#x"
          % (mode, flavour, keys, len(d), k["bytes"], sys.getsizeof(d), k["log2_size"],
             k["index_bytes"], k["kind"], k["usable"], k["nentries"], k["live"],
             k["dummy"], k["addr"]), flush=True)
    if a["idle"]:
        time.sleep(1.2)  # a probe pass reads it kept
    if a["gone"]:
        del d
        out[0] = None  # the dict freed 0.3 s before the end
    time.sleep(0.3)
    os._exit(0)  # the dict still allocated at the end, as a server keeps it


if __name__ == "__main__":
    main()
