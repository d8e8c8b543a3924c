"""tests/tables/table_rules.py - each implementation's sizing rules, written
from its source's growth and shrink logic, so that a program's printed
figures can be checked against what the implementation must hold (not
against a recording of an earlier run). Used by run_programs.py.

Every simulate_* function grows a table from empty by N single inserts
exactly as the implementation does and returns its size figure; the
check_* functions take the parsed line of a program (table_cli.h) and the
case (n, keep, words) and return a list of error strings.
"""
import ctypes
import functools
import math


def pow2(x):
    return x > 0 and x & (x - 1) == 0


def expected_live(case):
    return case["n"] if "healthy" in case["words"] else min(case["keep"], case["n"])


def deleted(case):
    return case["n"] - expected_live(case)


def key_values(case):
    """The keys a C program inserts (table_cli.h), for the GLib width rule."""
    if "dense" in case["words"]:
        return range(case["n"])
    return None  # mixed/random: 64-bit keys, some above 2**32 for any n >= 2


def expect(errors, what, got, want):
    if got != want:
        errors.append("%s = %s, the rules give %s" % (what, got, want))


# --- libstdc++ unordered_map: _Prime_rehash_policy, max load 1.0 ----------

_FAST_BKT = [2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13]
_primes = None


def libstdcxx_primes():
    """std::__detail::__prime_list, read from libstdc++.so.6 itself."""
    global _primes
    if _primes is None:
        lib = ctypes.CDLL("libstdc++.so.6")
        base = ctypes.addressof(ctypes.c_ulong.in_dll(lib, "_ZNSt8__detail12__prime_listE"))
        out = []  # increasing, then the last prime once more (a sentinel)
        for i in range(1024):
            v = ctypes.c_ulong.from_address(base + 8 * i).value
            if out and v < out[-1]:
                raise RuntimeError("libstdc++ prime list: no sentinel")
            out.append(v)
            if len(out) > 1 and v == out[-2]:
                break
        if out[-1] < 1 << 63:
            raise RuntimeError("libstdc++ prime list did not end near 2**64")
        _primes = out
    return _primes


class PrimePolicy:
    """_Prime_rehash_policy (libstdc++ 12): _M_next_bkt and _M_need_rehash."""

    def __init__(self):
        self.next_resize = 0

    def next_bkt(self, n):
        if n < len(_FAST_BKT):
            if n == 0:
                return 1
            self.next_resize = _FAST_BKT[n]
            return _FAST_BKT[n]
        primes = libstdcxx_primes()
        last = len(primes) - 2  # __prime_list + __n_primes - 1
        lo, hi = 6, last
        while lo < hi:  # lower_bound over [6, last)
            mid = (lo + hi) // 2
            if primes[mid] < n:
                lo = mid + 1
            else:
                hi = mid
        self.next_resize = (1 << 64) - 1 if lo == last else primes[lo]
        return primes[lo]

    def need_rehash(self, n_bkt, n_elt, n_ins):
        """The new bucket count, or None."""
        if n_elt + n_ins <= self.next_resize:
            return None
        min_bkts = max(n_elt + n_ins, 0 if self.next_resize else 11)
        if min_bkts >= n_bkt:
            return self.next_bkt(max(min_bkts + 1, n_bkt * 2))
        self.next_resize = n_bkt
        return None


@functools.lru_cache(maxsize=None)
def simulate_unordered_map(n):
    policy, bkt = PrimePolicy(), 1
    for elt in range(n):
        new = policy.need_rehash(bkt, elt, 1)
        if new is not None:
            bkt = new
    return bkt


def check_unordered_map(f, case):
    errors = []
    live = expected_live(case)
    bkt = simulate_unordered_map(case["n"])
    if "fix" in case["words"]:  # rehash(0): max(bkt_for_elements(size+1), 0)
        bkt = PrimePolicy().next_bkt(live + 1)
    expect(errors, "buckets", f["buckets"], bkt)
    if f["buckets"] > 1 and f["buckets"] not in set(libstdcxx_primes()):
        errors.append("buckets %d is not in libstdc++'s __prime_list" % f["buckets"])
    if f["buckets"] < live:
        errors.append("load factor above 1.0")
    expect(errors, "held", f["held"], 8 * f["buckets"] if f["buckets"] > 1 else 0)
    expect(errors, "bucket_bytes", f["bucket_bytes"], f["held"])
    nz = f["nonempty"]
    if not (min(live, 1) <= nz <= live):
        errors.append("nonempty %d outside [1, live]" % nz)
    if "dense" in case["words"] and f["buckets"] > case["n"]:
        expect(errors, "nonempty (identity hash, keys < buckets)", nz, live)
    elif live >= 10000:  # hashed keys: the occupancy expectation, within 1%
        b = f["buckets"]
        want = b * (1 - math.exp(-live / b))
        if abs(nz - want) > 0.01 * want:
            errors.append("nonempty %d, expected about %.0f for %d keys" % (nz, want, live))
    return errors


# --- CPython 3.11 dict: keys object -------------------------------------

def usable_fraction(size):
    return (2 * size) // 3


def index_width(log2):
    return 1 if log2 <= 7 else 2 if log2 <= 15 else 4 if log2 <= 31 else 8


def calculate_log2_keysize(minsize):
    return (((minsize | 8) - 1) | 7).bit_length()


def keys_bytes(log2, kind):
    size = 1 << log2
    return 32 + size * index_width(log2) + usable_fraction(size) * (24 if kind == 0 else 16)


@functools.lru_cache(maxsize=None)
def simulate_dict(n):
    """log2 size after n inserts from {} (insert_to_emptydict, then
    insertion_resize with GROWTH_RATE = used * 3)."""
    if n == 0:
        return None
    log2, nentries = 3, 0
    for used in range(n):
        if nentries >= usable_fraction(1 << log2):
            log2, nentries = calculate_log2_keysize(used * 3), used
        nentries += 1
    return log2


def check_python_dict(f, case):
    errors = []
    live, n = expected_live(case), case["n"]
    kind = 1 if "str" in case["words"] else 0
    want_log2, want_nentries = simulate_dict(n), n
    if live == 0 and (n == 0 or "fix" in case["words"]):  # the shared empty keys
        expect(errors, "held", f["held"], 0)
        expect(errors, "getsizeof", f["getsizeof"], 64)
        return errors
    if "fix" in case["words"]:
        # dict(d), dict_merge into an empty dict: a clean table (no deleted
        # entries) that is either minimal or more than half used is cloned;
        # otherwise dictresize(estimate_log2_keysize(used)) and reinsertion.
        clean = want_nentries == live
        if not (clean and (want_log2 == 3 or usable_fraction((1 << want_log2) // 2) < live)):
            want_log2 = calculate_log2_keysize((live * 3 + 1) // 2)
        want_nentries = live
    expect(errors, "kind", f["kind"], kind)
    expect(errors, "log2_size", f["log2_size"], want_log2)
    expect(errors, "index_bytes", f["index_bytes"], index_width(f["log2_size"]))
    expect(errors, "held", f["held"], keys_bytes(f["log2_size"], kind))
    expect(errors, "getsizeof", f["getsizeof"], f["held"] + 64)
    expect(errors, "nentries", f["nentries"], want_nentries)
    expect(errors, "usable + nentries", f["usable"] + f["nentries"],
           usable_fraction(1 << f["log2_size"]))
    expect(errors, "indices_live", f["indices_live"], live)
    expect(errors, "indices_dummy", f["indices_dummy"], f["nentries"] - live)
    return errors


# --- GLib GHashTable (2.74) ----------------------------------------------

def ghash_size_for(nnodes):
    """g_hash_table_set_shift_from_size(nnodes * 1.333), at least 2**3."""
    n, shift = int(nnodes * 1.333), 0
    while n:
        n >>= 1
        shift += 1
    return 1 << max(shift, 3)


@functools.lru_cache(maxsize=None)
def simulate_ghash(n, removes=0):
    """size after n inserts, then `removes` g_hash_table_remove calls."""
    size, nnodes, noccupied = 8, 0, 0

    def maybe_resize():
        nonlocal size, noccupied
        if (size > nnodes * 4 and size > 8) or size <= noccupied + noccupied // 16:
            size, noccupied = ghash_size_for(nnodes), nnodes

    for _ in range(n):
        nnodes += 1
        noccupied += 1
        maybe_resize()
    for _ in range(removes):
        nnodes -= 1  # the slot becomes a tombstone: noccupied stays
        maybe_resize()
    return size


def check_ghash(f, case):
    errors = []
    live, n = expected_live(case), case["n"]
    if "fix" in case["words"]:
        want = simulate_ghash(live)
    elif f["impl"] == "ghash_remove":
        want = simulate_ghash(n, n - live)
    else:
        want = simulate_ghash(n)
    expect(errors, "size", f["size"], want)
    expect(errors, "nnodes", f["nnodes"], live)
    if f["impl"] == "ghash" and "fix" not in case["words"]:
        expect(errors, "noccupied (iter_remove leaves tombstones)", f["noccupied"], n)
        expect(errors, "hashes_tomb", f["hashes_tomb"], n - live)
    keys = key_values(case)
    big = int(n >= 1) if keys is None else int(n > 0 and max(keys) > 0xFFFFFFFF)
    if "fix" in case["words"]:  # the rebuilt table saw only the live keys
        big = int(live >= 1) if keys is None else int(live > 0 and live - 1 > 0xFFFFFFFF)
    expect(errors, "big_keys", f["big_keys"], big)
    expect(errors, "big_values", f["big_values"], 0)
    expect(errors, "keys_bytes", f["keys_bytes"], f["size"] * (8 if big else 4))
    expect(errors, "hashes_bytes", f["hashes_bytes"], f["size"] * 4)
    # A new table is a set (values aliases keys) until a key arrives with a
    # different value; these programs' values (i + 1) always differ.
    inserted = live if "fix" in case["words"] else n
    expect(errors, "values_bytes", f["values_bytes"], f["size"] * 4 if inserted else 0)
    expect(errors, "held", f["held"], f["keys_bytes"] + f["hashes_bytes"] + f["values_bytes"])
    expect(errors, "hashes_live", f["hashes_live"], live)
    return errors


# --- khash 0.2.8 (libhts-dev) --------------------------------------------

def khash_upper(nb):
    return int(nb * 0.77 + 0.5)


def khash_resize(state, new):
    """kh_resize: round up to a power of two (at least 4); refused when the
    live entries would already reach the new upper bound."""
    new = 1 << max(new - 1, 0).bit_length() if new > 1 else 1
    new = max(new, 4)
    if state["size"] >= khash_upper(new):
        return
    state.update(n_buckets=new, upper=khash_upper(new), n_occupied=state["size"])


@functools.lru_cache(maxsize=None)
def simulate_khash_fill(n):
    s = {"n_buckets": 0, "size": 0, "n_occupied": 0, "upper": 0}
    for _ in range(n):
        if s["n_occupied"] >= s["upper"]:
            if s["n_buckets"] > s["size"] * 2:
                khash_resize(s, s["n_buckets"] - 1)
            else:
                khash_resize(s, s["n_buckets"] + 1)
        s["size"] += 1
        s["n_occupied"] += 1
    return tuple(sorted(s.items()))


def simulate_khash(n):
    return dict(simulate_khash_fill(n))


def check_khash(f, case):
    errors = []
    live, n = expected_live(case), case["n"]
    s = simulate_khash(n)
    if "fix" in case["words"]:
        s["size"] = live
        khash_resize(s, live)
    nb = s["n_buckets"]
    expect(errors, "n_buckets", f["n_buckets"], nb)
    expect(errors, "flags_bytes", f["flags_bytes"], (1 if nb < 16 else nb >> 4) * 4 if nb else 0)
    expect(errors, "keys_bytes", f["keys_bytes"], nb * 8)
    expect(errors, "vals_bytes", f["vals_bytes"], nb * 8)
    expect(errors, "held", f["held"], f["flags_bytes"] + f["keys_bytes"] + f["vals_bytes"])
    expect(errors, "flags_live", f["flags_live"], live)
    tomb = 0 if "fix" in case["words"] else n - live
    expect(errors, "flags_deleted", f["flags_deleted"], tomb)
    expect(errors, "flags_empty", f["flags_empty"], nb - live - tomb)
    return errors


# --- uthash 2.3.0 ----------------------------------------------------------

def check_uthash(f, case):
    errors = []
    live, n = expected_live(case), case["n"]
    nb = f["num_buckets"]
    if live and not (pow2(nb) and nb >= 32):
        errors.append("num_buckets %d is not a power of two >= 32" % nb)
    expect(errors, "bucket_size", f["bucket_size"], 16)
    expect(errors, "held", f["held"], nb * 16)
    expect(errors, "count_sum", f["count_sum"], live)
    if not (min(live, 1) <= f["heads"] <= live):
        errors.append("heads %d outside [1, live]" % f["heads"])
    if "fix" in case["words"]:
        expect(errors, "num_buckets (10 items never expand 32 buckets)", nb,
               32 if 0 < live < 10 * 2 else nb)
    elif n and nb and n / nb > 10:
        errors.append("%d items in %d buckets: chains above the expand threshold" % (n, nb))
    if live >= 10000:
        want = nb * (1 - math.exp(-live / nb))
        if abs(f["heads"] - want) > 0.02 * want:
            errors.append("heads %d, expected about %.0f" % (f["heads"], want))
    return errors


# --- Abseil flat_hash_map (20220623, SSE2 group of 16) ---------------------

ABSL_WIDTH = 16


def absl_growth(cap):
    return cap - cap // 8


def absl_lowerbound_capacity(growth):
    return growth + (growth - 1) // 7


def absl_normalize(n):
    return (1 << n.bit_length()) - 1 if n else 1


def absl_alloc(cap, slot=16, align=8):
    return ((cap + 1 + ABSL_WIDTH - 1 + align - 1) & ~(align - 1)) + cap * slot if cap else 0


@functools.lru_cache(maxsize=None)
def simulate_absl(n):
    cap, size, growth_left = 0, 0, 0
    for _ in range(n):
        if growth_left == 0:
            if cap == 0:
                cap = 1
            elif cap > ABSL_WIDTH and size * 32 <= cap * 25:
                pass  # drop_deletes_without_resize: no tombstones while filling
            else:
                cap = cap * 2 + 1
            growth_left = absl_growth(cap) - size
        size += 1
        growth_left -= 1
    return cap


def check_absl(f, case):
    errors = []
    live = expected_live(case)
    cap = simulate_absl(case["n"])
    if "fix" in case["words"]:  # rehash(0)
        cap = absl_normalize(absl_lowerbound_capacity(live)) if live else 0
    expect(errors, "capacity", f["capacity"], cap)
    expect(errors, "bucket_count", f["bucket_count"], f["capacity"])
    expect(errors, "slot_size", f["slot_size"], 16)
    expect(errors, "group_width", f["group_width"], ABSL_WIDTH)
    expect(errors, "held", f["held"], absl_alloc(f["capacity"]))
    return errors


# --- Rust std HashMap (hashbrown 0.12, Debian rustc 1.63) ------------------

RUST_WIDTH = 16


def rust_full_capacity(buckets):
    return max(buckets - 1, 0) if buckets < 8 else buckets // 8 * 7


def rust_buckets_for(cap):
    if cap < 8:
        return 4 if cap < 4 else 8
    return 1 << (cap * 8 // 7 - 1).bit_length()


def rust_alloc(buckets, slot=16):
    return ((slot * buckets + RUST_WIDTH - 1) & ~(RUST_WIDTH - 1)) + buckets + RUST_WIDTH \
        if buckets else 0


@functools.lru_cache(maxsize=None)
def simulate_rust(n):
    buckets, items, growth_left = 0, 0, 0
    for _ in range(n):
        if growth_left == 0:  # reserve_rehash(1)
            full = rust_full_capacity(buckets)
            if items + 1 <= full // 2:
                growth_left = full - items  # rehash in place
            else:
                buckets = rust_buckets_for(max(items + 1, full + 1))
                growth_left = rust_full_capacity(buckets) - items
        items += 1
        growth_left -= 1
    return buckets


def check_rust(f, case):
    errors = []
    live, n = expected_live(case), case["n"]
    b = simulate_rust(n)
    if "fix" in case["words"]:  # shrink_to_fit: shrink_to(0)
        b = rust_buckets_for(live) if live and rust_buckets_for(live) < b else (b if live else 0)
    expect(errors, "buckets", f["buckets"], b)
    expect(errors, "held", f["held"], rust_alloc(f["buckets"]))
    full = rust_full_capacity(f["buckets"])
    expect(errors, "capacity + tombstones", f["capacity"] + f["tombstones"], full)
    if deleted(case) == 0 or "fix" in case["words"]:
        expect(errors, "tombstones", f["tombstones"], 0)
    elif f["tombstones"] > deleted(case):
        errors.append("tombstones %d above the %d removes" % (f["tombstones"], deleted(case)))
    return errors


CHECKS = {
    "unordered_map": check_unordered_map,
    "python_dict": check_python_dict,
    "ghash": check_ghash,
    "ghash_remove": check_ghash,
    "khash": check_khash,
    "uthash": check_uthash,
    "absl_flat_hash_map": check_absl,
    "rust_hashmap": check_rust,
}
