#!/usr/bin/env python3
"""tests/tables/check_layouts.py - the layout claims of
docs/unannotated-tables.md, measured (CTest tables.layouts, labels tables
and nosan): each table program runs under blockdump.so (large allocations
logged with call and stack, live blocks dumped at the program's sleep), and
the table's array(s) must be live blocks of exactly the size the program
printed, allocated by the documented call from the documented frames, with
contents that give the program's live count by the documented rule.

  check_layouts.py --dir BUILD_DIR --programs "umap;..." --dict dict_prog.py \
                   --blockdump libtables_blockdump.so [--python /usr/bin/python3]
                   [--n N --keep K] [--show]

--show prints each case's table block(s) and their frames (for the doc).
"""
import argparse
import concurrent.futures
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_programs  # noqa: E402  (parse_line, python_is_311)

MASK64 = (1 << 64) - 1


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class Block:
    def __init__(self, fields, data):
        self.seq = int(fields["seq"])
        self.call = fields["call"]
        self.size = int(fields["size"])
        self.frames = fields["frames"].split("|")
        self.data = data


def parse_log_line(line):
    kind, _, rest = line.partition(" ")
    fields = {}
    for pair in rest.split(" "):
        k, _, v = pair.partition("=")
        fields[k] = v
    return kind, fields


def run_dumped(argv, blockdump, min_size):
    """Runs argv under blockdump.so; returns (printed fields, live blocks, log)."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, LD_PRELOAD=blockdump, TABLES_DUMP_DIR=d,
                   TABLES_DUMP_MIN=str(min_size))
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        if p.returncode != 0:
            raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.strip()[:300]))
        printed = run_programs.parse_line(p.stdout)
        blocks = []
        live_log = os.path.join(d, "live.log")
        for line in open(live_log) if os.path.exists(live_log) else []:
            _, f = parse_log_line(line.rstrip("\n"))
            with open(os.path.join(d, f["file"]), "rb") as fh:
                blocks.append(Block(f, fh.read()))
        with open(os.path.join(d, "allocs.log")) as fh:
            log = [parse_log_line(line.rstrip("\n")) for line in fh]
        return printed, blocks, log


def u32s(data):
    return struct.unpack("<%dI" % (len(data) // 4), data[:len(data) // 4 * 4])


def u64s(data):
    return struct.unpack("<%dQ" % (len(data) // 8), data[:len(data) // 8 * 8])


def sized(blocks, size):
    return [b for b in blocks if b.size == size]


# --- the content rules, one per implementation -----------------------------
# Each takes the printed fields and the live blocks, and returns
# (errors, the table's blocks).

def layout_unordered_map(f, blocks):
    for b in sized(blocks, f["held"]):
        nonzero = sum(1 for w in u64s(b.data) if w)
        if nonzero == f["nonempty"]:
            return [], [b]
    return ["no live block of %d bytes with %d non-NULL buckets" % (f["held"], f["nonempty"])], []


def layout_python_dict(f, blocks):
    for b in sized(blocks, f["held"]):
        refcnt, log2, log2_index, kind = struct.unpack_from("<qBBB", b.data)
        usable, nentries = struct.unpack_from("<qq", b.data, 16)
        if (refcnt, log2, kind, usable, nentries) != (1, f["log2_size"], f["kind"],
                                                     f["usable"], f["nentries"]):
            continue
        w = 1 << (log2_index - log2)
        fmt = {1: "b", 2: "h", 4: "i", 8: "q"}[w]
        idx = struct.unpack_from("<%d%s" % (1 << log2, fmt), b.data, 32)
        live, dummy = sum(1 for i in idx if i >= 0), sum(1 for i in idx if i == -2)
        if (live, dummy) == (f["live"], f["indices_dummy"]):
            return [], [b]
        return ["keys object: %d live, %d dummy indices" % (live, dummy)], [b]
    return ["no live block of %d bytes with the keys object's header" % f["held"]], []


def layout_ghash(f, blocks):
    found = []
    for b in sized(blocks, f["hashes_bytes"]):
        h = u32s(b.data)
        if sum(1 for x in h if x >= 2) == f["live"] and sum(1 for x in h if x == 1) == f["hashes_tomb"]:
            found.append(b)
            break
    if not found:
        return ["no hashes block of %d bytes with %d hashes >= 2" % (f["hashes_bytes"], f["live"])], []
    rest = [b for b in blocks if b is not found[0]]
    for size in (f["keys_bytes"], f["values_bytes"]):
        match = [b for b in sized(rest, size) if b.call == "realloc"]
        if not match:
            return ["no realloc'd block of %d bytes beside the hashes" % size], found
        found.append(match[0])
        rest.remove(match[0])
    return [], found


def layout_khash(f, blocks):
    for b in sized(blocks, f["flags_bytes"]):
        c = [0, 0, 0, 0]
        for word in u32s(b.data):
            for i in range(16):
                c[(word >> (2 * i)) & 3] += 1
        c[2] -= len(u32s(b.data)) * 16 - f["n_buckets"]  # pairs past n_buckets
        if c[:3] == [f["flags_live"], f["flags_deleted"], f["flags_empty"]]:
            arrays = [x for x in sized(blocks, f["keys_bytes"]) if x.call == "realloc"]
            if len(arrays) < 2:
                return ["flags found but not two realloc'd %d-byte arrays" % f["keys_bytes"]], [b]
            return [], [b] + arrays[:2]
    return ["no flags block of %d bytes with %d live pairs" % (f["flags_bytes"], f["live"])], []


def layout_uthash(f, blocks):
    for b in sized(blocks, f["held"]):
        w = u64s(b.data)
        heads = sum(1 for i in range(0, len(w), 2) if w[i])
        counts = sum(w[i] & 0xFFFFFFFF for i in range(1, len(w), 2))
        if (heads, counts) == (f["heads"], f["live"]):
            return [], [b]
    return ["no bucket array of %d bytes whose counts sum to %d" % (f["held"], f["live"])], []


def swiss_counts(ctrl, n):
    full = sum(1 for c in ctrl[:n] if c < 0x80)
    return full, ctrl[:n].count(0x80), ctrl[:n].count(0xFE), ctrl[:n].count(0xFF)


def slots_hold_keys(data, offsets, seed_mixed):
    """Every (key, value) slot at the given offsets has key == mix64(value)."""
    for off in offsets:
        k, v = struct.unpack_from("<QQ", data, off)
        if seed_mixed and k != mix64(v):
            return False
    return True


def layout_absl(f, blocks):
    cap = f["capacity"]
    for b in sized(blocks, f["held"]):
        ctrl = b.data[:cap + 16]
        full, empty, deleted, sentinel = swiss_counts(ctrl, cap)
        errors = []
        if full != f["live"]:
            continue
        if ctrl[cap] != 0xFF:
            errors.append("ctrl[capacity] = %#x, not the sentinel 0xff" % ctrl[cap])
        if ctrl[cap + 1:cap + 16] != ctrl[:15]:
            errors.append("the 15 bytes after the sentinel do not clone ctrl[0..15)")
        if empty + deleted != cap - full or sentinel:
            errors.append("ctrl bytes other than full/0x80/0xfe below capacity")
        slot0 = (cap + 16 + 7) & ~7
        full_idx = [i for i in range(cap) if ctrl[i] < 0x80]
        if not slots_hold_keys(b.data, [slot0 + 16 * i for i in full_idx], True):
            errors.append("a full slot does not hold (mix64(v), v)")
        b.note = "full=%d empty(0x80)=%d deleted(0xfe)=%d" % (full, empty, deleted)
        return errors, [b]
    return ["no block of %d bytes with %d full control bytes" % (f["held"], f["live"])], []


def layout_rust(f, blocks):
    nb = f["buckets"]
    for b in sized(blocks, f["held"]):
        base = 16 * nb
        ctrl = b.data[base:base + nb + 16]
        full, deleted, _, empty = swiss_counts(ctrl, nb)  # 0x80 DELETED, 0xff EMPTY here
        if full != f["live"]:
            continue
        errors = []
        if deleted != f["tombstones"]:
            errors.append("%d DELETED (0x80) bytes, capacity() says %d tombstones"
                          % (deleted, f["tombstones"]))
        if full + deleted + empty != nb:
            errors.append("ctrl bytes other than full/0x80/0xff")
        mirror = ctrl[nb:nb + 16] if nb >= 16 else ctrl[16:16 + nb]
        if mirror != ctrl[:min(nb, 16)]:
            errors.append("the trailing group does not mirror the first bytes")
        full_idx = [i for i in range(nb) if ctrl[i] < 0x80]
        if not slots_hold_keys(b.data, [base - 16 * (i + 1) for i in full_idx], True):
            errors.append("a full bucket's slot (below ctrl, reversed) does not hold (mix64(v), v)")
        b.note = "full=%d deleted(0x80)=%d empty(0xff)=%d" % (full, deleted, empty)
        return errors, [b]
    return ["no block of %d bytes with %d full control bytes" % (f["held"], f["live"])], []


LAYOUTS = {
    "unordered_map": layout_unordered_map, "python_dict": layout_python_dict,
    "ghash": layout_ghash, "khash": layout_khash, "uthash": layout_uthash,
    "absl_flat_hash_map": layout_absl, "rust_hashmap": layout_rust,
}

# The allocator call and the frames (substrings of "name+off@module"; a
# tuple: any one of them) that the table's first block must show, per
# implementation and build. libstdc++'s _M_rehash_aux is inlined into
# _M_rehash by g++ -O2 and kept by clang++ -O2.
# uthash: malloc + memset; at -O2 GCC merges the pair into calloc at some
# call sites and not at others (the first array of rebuild()'s table stays
# malloc), so both are accepted there.
CALLS = {"unordered_map": "malloc", "python_dict": "malloc", "ghash": "realloc",
         "khash": "malloc", "uthash": {"O0": "malloc", "O2": ("calloc", "malloc")},
         "absl_flat_hash_map": "malloc", "rust_hashmap": "malloc"}
FRAMES = {
    ("unordered_map", "O2"): ["_Znwm+", ("9_M_rehashEmRKm", "13_M_rehash_aux")],
    ("unordered_map", "O0"): ["_Znwm+", "_M_allocate_buckets"],
    ("ghash", "O2"): ["g_realloc+", "g_hash_table_insert+"],
    ("khash", "O2"): ["kh_resize_m64+"], ("khash", "O0"): ["kh_resize_m64+"],
    ("uthash", "O2"): ["build+"], ("uthash", "O0"): ["build+"],
    ("absl_flat_hash_map", "O2"): ["_Znwm+", "raw_hash_set", "6resizeEm+"],
    ("absl_flat_hash_map", "O0"): ["_Znwm+", "16initialize_slotsEv+"],
    ("rust_hashmap", "O2"): ["_ZN9hashbrown3raw21RawTable$LT$T$C$A$GT$14reserve_rehash17h"],
    ("rust_hashmap", "O0"): ["_ZN5alloc5alloc5alloc17h",
                             "_ZN9hashbrown3raw22RawTableInner$LT$A$GT$22fallible_with_capacity17h"],
}
# Smallest block logged in fix mode: below the cured table's arrays, above
# the per-entry nodes (unordered_map 24 bytes, uthash items 72).
FIX_MIN = {"umap": 80, "uthash_plain": 256, "khash_prog": 4, "ghash_prog": 64,
           "absl_map": 64, "rust_map": 64}
FIX_FRAMES = {
    ("unordered_map", "O2"): [("9_M_rehashEmRKm", "13_M_rehash_aux")],
    ("absl_flat_hash_map", "O2"): ["6resizeEm+"],
    ("rust_hashmap", "O2"): ["_ZN9hashbrown3raw21RawTable$LT$T$C$A$GT$9shrink_to17h"],
    ("khash", "O2"): ["kh_resize_m64+"],
}


def check_case(case, args):
    printed, blocks, log = run_dumped(case["argv"], args.blockdump, case["min"])
    impl, level, fix = printed["impl"], case["level"], "fix" in case["argv"]
    errors, found = LAYOUTS[impl](printed, blocks)
    if found:
        want_call = CALLS[impl]
        if isinstance(want_call, dict):
            want_call = want_call[level.split("_")[0]]
        if found[0].call not in (want_call if isinstance(want_call, tuple) else (want_call,)):
            errors.append("allocated by %s, documented %s" % (found[0].call, want_call))
        frames = "|".join(found[0].frames[1:])  # after the hook itself
        table = FIX_FRAMES if fix else FRAMES
        for want in table.get((impl, level), []):
            if not any(w in frames for w in (want if isinstance(want, tuple) else (want,))):
                errors.append("no frame with %r: %s" % (want, frames[:400]))
        if fix:  # the cure freed the grown array(s)
            grown = FRAMES.get((impl, level), [])
            for b in blocks:
                text = "|".join(b.frames)
                if b.size >= 65536 and grown and all(
                        any(x in text for x in (w if isinstance(w, tuple) else (w,)))
                        for w in grown):
                    errors.append("a %d-byte block from the growth frames is still live" % b.size)
        if level == "O2_stripped":
            own = [fr for fr in found[0].frames if "@" + os.path.basename(case["argv"][0]) in fr]
            named = [fr for fr in own if not fr.startswith("?@")]
            if named:
                errors.append("a stripped program's frame has a name: %s" % named[0])
    shown = []
    if args.show:
        shown.append("== %s" % " ".join(os.path.basename(a) for a in case["argv"]))
        shown.append("   printed: %s" % " ".join("%s=%s" % kv for kv in printed.items()))
        for b in found:
            shown.append("   block seq=%d call=%s size=%d %s" % (b.seq, b.call, b.size,
                                                               getattr(b, "note", "")))
            shown.extend("     " + fr for fr in b.frames[:12])
        grown = [fl for kind, fl in log if kind == "alloc" and int(fl["size"]) >= case["min"]]
        shown.append("   allocations >= %d: %s" % (case["min"], " ".join(
            "%s:%s" % (fl["call"], fl["size"]) for fl in grown[-8:])))
    return errors, shown


def run_one(case, args):
    """(case name, errors, lines to show) for one case."""
    name = " ".join(os.path.basename(a) for a in case["argv"])
    try:
        errors, shown = check_case(case, args)
    except (RuntimeError, ValueError, OSError) as e:
        errors, shown = [str(e)], []
    return name, errors, shown


def build_cases(args):
    cases = []
    n, keep = str(args.n), str(args.keep)
    for prog in [p for p in args.programs.split(";") if p]:
        for level in ("O2", "O0", "O2_stripped"):
            binary = os.path.join(args.dir, "%s_%s" % (prog, level))
            cases.append({"argv": [binary, n, keep], "level": level, "min": 4096})
        binary = os.path.join(args.dir, "%s_O2" % prog)
        cases.append({"argv": [binary, n, keep, "fix"], "level": "O2", "min": FIX_MIN[prog]})
    if run_programs.python_is_311(args.python):
        for words in ([], ["str"]):
            cases.append({"argv": [args.python, args.dict, n, keep] + words,
                          "level": "Debian", "min": 4096})
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--programs", required=True)
    ap.add_argument("--dict", required=True)
    ap.add_argument("--blockdump", required=True)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--keep", type=int, default=10)
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    failed = 0
    cases = build_cases(args)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: run_one(c, args), cases))
    for name, errors, shown in results:
        for line in shown:
            print(line)
        for e in errors:
            print("FAIL %s: %s" % (name, e))
        failed += bool(errors)
    print("%d of %d cases passed" % (len(cases) - failed, len(cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
