#!/usr/bin/env python3
"""tests/tables/recognition_test.py - tables nobody annotated, found under the
shim (issue 11's proof).

Each program of this folder (one per implementation, -O0, -O2 and stripped)
runs under libtidemark.so three ways, N entries each:
  keep     fill, delete all but KEEP, keep the table: the report names one
           recognised table whose held bytes are what the program reports for
           its own arrays, retaining at least 90% of them, oversized;
  fix      the same, then the implementation's own cure: the bytes the cure
           freed (measured by the program) are what the report predicted for
           its advice, within 1%;
  healthy  fill, no delete: no oversized table, `tidemark check` passes;
  gone     keep, then the table destroyed 0.3 s before the end: it reads as
           ended (live 0, held 0) at the end, alive just before, "oversized
           until freed" with what it held right before (libstdc++: the KEEP
           nodes its destructor freed); a healthy one destroyed so is never
           "oversized until freed". khash also with its resizes slowed
           (`slow`: its arrays come 5 ms apart, as when preempted).
GLib's tables also end destroyed, cleared, unref'd and removed to 1,000
(check_glib_ends). The -O2 build also runs with the table built and emptied
on a second thread, with the table freed and built again at the same site,
and (the C and C++ programs) with 2 rounds of 3 tables built in turn at one
site, alive together, destroyed last first, before the kept one: 7 tables,
each with the growths of one (full and tables mode; N entries, and 10,000:
one array each). khash and GLib (-O2) also run with a second table filled
in turn with the first on one thread, kept full (check_pair). CPython's dict
runs under Debian's /usr/bin/python3 (stripped, no frame names).

usage: recognition_test.py --build DIR --dir TABLES_BUILD_DIR --programs "a;b"
                           --dict dict_prog.py [CASE...]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

N, KEEP = 200000, 10
failures = []


def fail(what):
    failures.append(what)
    print(f"FAIL {what}", flush=True)


def figures(line):
    """key=value pairs of a program's line."""
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def traced(args, cmd, trace, **extra):
    env = dict(os.environ, LD_PRELOAD=args.shim, TIDEMARK_OUTPUT=trace, **extra)
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {p.returncode}: {p.stderr.strip()}")
    return figures(p.stdout.strip().splitlines()[-1])


def tidemark(args, *words):
    return subprocess.run([args.tidemark, *words], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)


def recognised(args, trace):
    """The report's recognised tables, live at the end."""
    r = tidemark(args, "report", "--format", "json", trace)
    if r.returncode != 0:
        raise RuntimeError(f"report {trace}: {r.stderr.strip()}")
    tables = json.loads(r.stdout)["tables"]
    return [t for t in tables if t["kind"] == "recognised" and t["ended_ns"] is None]


def clone_advice(table):
    """Bytes the table's own advice (the rebuild in its own terms) saves."""
    recs = [r for r in table["recommendations"] if r["kind"] == "clone"]
    return recs[0]["bytes_saved"] if recs else None


def check_keep(args, what, cmd, tmp):
    trace = os.path.join(tmp, "keep.tmk")
    own = traced(args, cmd + [str(N), str(KEEP)], trace)
    found = sorted(recognised(args, trace), key=lambda t: -t["held_bytes"])
    # CPython keeps dicts of its own (modules' namespaces) beside the program's
    want = 1 if what != "python_dict" else len(found)
    if not found or len(found) != want:
        fail(f"{what}: {len(found)} recognised tables live at the end, want 1: "
             f"{[(t['label'], t['held_bytes']) for t in found]}")
        return None
    t = found[0]
    held = int(own["held"])
    if t["held_bytes"] != held:
        fail(f"{what}: held {t['held_bytes']} B, the program's arrays are {held} B")
    if t["retained_bytes"] < 0.9 * held or t["verdict"] != "oversized":
        fail(f"{what}: retained {t['retained_bytes']} of {held} B, verdict {t['verdict']}")
    if t["live"] < KEEP or t["live_low"] > KEEP:
        fail(f"{what}: live {t['live_low']}..{t['live']}, the program keeps {KEEP}")
    if t["live_peak"] > N:
        fail(f"{what}: peak live {t['live_peak']}, more than the {N} entries ever inserted")
    if not t["rule"]:
        fail(f"{what}: no rule named")
    # at its first array, before any probe or growth counted it, its live
    # count is not known: no verdict of oversized (it read live 0, oversized)
    first = json.loads(tidemark(args, "report", "--format", "json", "--at",
                                f"{t['created_ns']}ns", trace).stdout)
    early = [b for b in first["tables"] if b["id"] == t["id"] and b["verdict"] == "oversized"]
    if early:
        fail(f"{what}: at its first array ({t['created_ns']} ns) already oversized: "
             f"live {early[0]['live']}, held {early[0]['held_bytes']}")
    if what.startswith("khash") and (t["live_peak"] < N // 2 or not t["after_deletes"]):
        # its first flags array past the probe size (262,144 buckets) came
        # with keys and values twice their size: a growth, counted by the
        # rule (the peak was whatever a pass read during the fill, or KEEP)
        fail(f"{what}: peak live {t['live_peak']}, after deletes {t['after_deletes']}")
    if what.startswith("umap"):
        # its counts between growths are estimates (the Poisson upper end of
        # the non-empty buckets, capped at the buckets): never said as ">="
        peak = [ln for ln in tidemark(args, "report", trace).stdout.splitlines()
                if ln.startswith("  peak: ")]
        if t["live_peak"] > t["buckets_peak"] or not peak or not peak[0].startswith("  peak: ~"):
            fail(f"{what}: peak live {t['live_peak']} of {t['buckets_peak']} buckets, said {peak}")
    check_site(what, t)
    check_names(args, what, trace)
    check_top(args, what, trace, t)
    return t


def check_top(args, what, trace, t):
    """`tidemark top` on the finished trace shows the recognised tables as
    report does: every one, the kept one with the report's held, needed and
    retained (sweep 4: top showed "tables: 0" where report had 32.5 MiB)."""
    r = tidemark(args, "top", "--iterations", "1", trace)
    if r.returncode != 0:
        fail(f"{what}: top exit {r.returncode}: {r.stderr.strip()}")
        return
    doc = json.loads(tidemark(args, "report", "--format", "json", trace).stdout)
    want = [x for x in doc["tables"] if x["kind"] == "recognised"]
    rows = [ln for ln in r.stdout.splitlines() if re.match(r"^\d+ +recognised ", ln)]
    if len(rows) != len(want):
        fail(f"{what}: top shows {len(rows)} recognised tables, report {len(want)}:\n{r.stdout}")
    if not re.search(rf"^tables: {len(want)}, retaining .* \({len(want)} recognised, as of ",
                     r.stdout, re.M):
        fail(f"{what}: top's header:\n{r.stdout}")
    mine = [ln.split() for ln in rows if ln.split()[0] == str(t["id"])]
    text = [" ".join(ln.split()) for ln in tidemark(args, "report", trace).stdout.splitlines()
            if re.match(rf"^{t['id']} +recognised ", ln)]
    # held, needed, retained: the row's last six words ("32.5 MiB 260 B 32.5 MiB")
    if not mine or not text or " ".join(mine[0][-6:]) not in text[0]:
        fail(f"{what}: top's row {mine} is not report's {text}")


def check_names(args, what, trace):
    """Every frame of every stack in its language's words: Rust's legacy
    symbols decoded (no $LT$, no ::h<hash>), LLVM's .llvm.N suffix gone."""
    r = tidemark(args, "report", "--format", "collapsed", "--weight", "allocs", trace)
    raw = re.compile(r"\$LT\$|\$u[0-9a-f]{2}\$|::h[0-9a-f]{16}\b|\.llvm\.[0-9]")
    bad = sorted({f for line in r.stdout.splitlines() for f in line.rsplit(" ", 1)[0].split(";")
                  if raw.search(f)})
    if r.returncode != 0 or bad:
        fail(f"{what}: frames not demangled: {bad[:3]} (exit {r.returncode})")


def check_site(what, t):
    """A site is the program's own code, in its own language's words: not a
    thread's start in glibc, not the allocator's or the map's plumbing, not a
    Rust symbol's escapes ($LT$) or hash (::h0123456789abcdef)."""
    site = t["site"]
    bad = ("pthread_create.c", "start_thread", "__clone", "clone3", "$LT$", "$u20$")
    plumbing = ("alloc::", "<alloc::", "hashbrown::", "<hashbrown::", "core::", "<core::")
    if (any(b in site for b in bad) or site.startswith(plumbing)
            or re.search(r"::h[0-9a-f]{16}\b", site)):
        fail(f"{what}: the table's site is {site!r}")
    # built with -g: the call in the program's own source, through the
    # std and hashbrown code inlined into it (sweep 4, finding 5: newer
    # rustc inlines across codegen units, as report.symbols_lto does in C)
    if what.startswith("rust_map") and "_stripped" not in what and \
            not re.match(r"(.*/)?rust_map\.rs:[0-9]+$", site):
        fail(f"{what}: the table's site is {site!r}, not a line of rust_map.rs")
    # ... and its frames named by their paths (hashbrown::raw::...), which
    # the rule's frame globs match, not DWARF's last segment alone
    if what.startswith("rust_map") and "_stripped" not in what and \
            t["rule"] != "rust-hashbrown":
        fail(f"{what}: recognised by {t['rule']!r}, not by its hashbrown frames")


def check_fix(args, what, cmd, tmp, kept):
    trace = os.path.join(tmp, "fix.tmk")
    fixed = traced(args, cmd + [str(N), str(KEEP), "fix"], trace)
    predicted = clone_advice(kept)
    measured = kept["held_bytes"] - int(fixed["held"])
    if predicted is None or abs(predicted - measured) > 0.01 * measured:
        fail(f"{what}: the advice predicted {predicted} B saved, the fix saved {measured} B")
    over = [t for t in recognised(args, trace) if t["verdict"] == "oversized"]
    if over:
        fail(f"{what}: after the fix still oversized: {[t['held_bytes'] for t in over]}")
    # an in-place cure (rehash(0), kh_resize, shrink_to_fit) shrinks the table
    # below the arrays followed: shrunk, not "oversized until freed", and the
    # stricter gate passes (a copy-and-free cure frees an oversized table).
    # A stripped build's arrays are known by layout or size: its shrink's
    # small array (another call site) cannot be told from other allocations.
    if what.startswith(("umap", "khash", "absl", "rust")) and not what.endswith("_stripped"):
        doc = json.loads(tidemark(args, "report", "--format", "json", trace).stdout)
        ended = [t for t in doc["tables"] if t["kind"] == "recognised" and t["ended_ns"]]
        if any(not t["shrunk"] for t in ended):
            fail(f"{what}: after its in-place fix, ended not shrunk: "
                 f"{[(t['last_live'], t['last_held_bytes']) for t in ended if not t['shrunk']]}")
        r = tidemark(args, "check", "--until-freed", trace)
        if r.returncode != 0:
            fail(f"{what}: after its in-place fix, check --until-freed exit {r.returncode}: "
                 f"{r.stdout.strip()}")


def check_gone(args, what, cmd, tmp, extra=()):
    """The table destroyed 0.3 s before the process ends: the report at the
    end says it ended then (live 0, nothing held, verdict ended), and the
    report just before that sees it alive with its arrays."""
    trace = os.path.join(tmp, "-".join(("gone", *extra)) + ".tmk")
    own = traced(args, cmd + [str(N), str(KEEP), "gone", *extra], trace)
    # known by its layout only (stripped, CPython's dict): maybe not yet before
    # the probe at its free, when no pass came while it lived (a loaded machine)
    stripped = what.endswith("_stripped") or what == "python_dict"
    what = " ".join((what, *extra))
    r = tidemark(args, "report", "--format", "json", trace)
    doc = json.loads(r.stdout)
    ended = [t for t in doc["tables"] if t["kind"] == "recognised" and t["ended_ns"] is not None
             and t["live_peak"] >= KEEP]
    alive = [t for t in doc["tables"] if t["kind"] == "recognised" and t["ended_ns"] is None
             and t["held_bytes"] >= int(own["held"])]
    if len(ended) != 1 or alive:
        fail(f"{what} gone: {len(ended)} ended tables, {len(alive)} alive at the end")
        return
    t = ended[0]
    if (t["live"], t["held_bytes"], t["verdict"]) != (0, 0, "ended"):
        fail(f"{what} gone: live {t['live']}, held {t['held_bytes']}, verdict {t['verdict']}")
    # what it kept until then: counted at its free where the implementation
    # leaves its array as it was, and for libstdc++ (which clears its
    # buckets first) from the KEEP nodes its destructor freed right before
    # (GLib clears its arrays and frees nothing per entry; plain uthash is
    # emptied item by item, its array freed with the last: no claim there)
    if what.startswith("umap") and t["last_live"] != KEEP:
        fail(f"{what} gone: right before its end {t['last_live']} live, its destructor freed "
             f"{KEEP} nodes")
    if what.startswith("umap"):
        # tables mode has no small frees: the frees before the array (an old
        # array's, one resize ago) say nothing, and no claim is made of them
        tables = os.path.join(tmp, "gone-tables.tmk")
        traced(args, cmd + [str(N), str(KEEP), "gone"], tables, TIDEMARK_MODE="tables")
        doc_t = json.loads(tidemark(args, "report", "--format", "json", tables).stdout)
        lows = [x["last_live"] for x in doc_t["tables"]
                if x["ended_ns"] is not None and x["last_oversized_since_ns"] is not None
                and x["last_live"] < KEEP]
        if lows:
            fail(f"{what} gone, tables mode: right before its end {lows} live (KEEP {KEEP})")
    if not what.startswith(("ghash", "uthash")):
        if (not 0 < t["last_live"] <= KEEP or
                t["last_retained_bytes"] < 0.9 * int(own["held"])):
            fail(f"{what} gone: right before its end {t['last_live']} live, retained "
                 f"{t['last_retained_bytes']} B of {own['held']}")
        line = tidemark(args, "report", trace).stdout.splitlines()[0]
        if "oversized until freed" not in line:
            fail(f"{what} gone: the verdict line says {line!r}")
        # the CI gate: not oversized at the end. With --until-freed (from the
        # trace and from its JSON report), judged by what it kept until freed
        # only when it was seen oversized before it was freed: destroyed
        # right after its deletes (as a copy that replaces it, the advice of
        # several implementations, is), it retained nothing for any time
        report = os.path.join(tmp, "gone.json")
        tidemark(args, "report", "--format", "json", "-o", report, trace)
        seen = t["last_oversized_since_ns"] < t["ended_ns"]  # a pass came in between
        got = [tidemark(args, "check", *flags, src).returncode
               for flags in ((), ("--until-freed",)) for src in (trace, report)]
        if got != [0, 0, int(seen), int(seen)]:
            fail(f"{what} gone: check, check --until-freed (trace, report) exit {got}, "
                 f"seen oversized before its end: {seen}")
        kept = os.path.join(tmp, "gone-idle.tmk")
        traced(args, cmd + [str(N), str(KEEP), "gone", "idle", *extra], kept)
        got = [tidemark(args, "check", *flags, kept).returncode
               for flags in ((), ("--until-freed",))]
        if got != [0, 1]:
            fail(f"{what} gone after 1.2 s kept: check, check --until-freed exit {got}")
    if t["ended_ns"] > doc["trace"]["duration_ns"] - 200000000:
        fail(f"{what} gone: ended at {t['ended_ns']} ns, the trace lasts "
             f"{doc['trace']['duration_ns']} ns: not 0.3 s before its end")
    if stripped:
        return  # known by its layout only: maybe not yet, before the probe at its free
    before = json.loads(tidemark(args, "report", "--format", "json", "--at",
                                 f"{t['ended_ns'] - 1000000}ns", trace).stdout)
    same = [b for b in before["tables"] if b["id"] == t["id"]]
    if not same or same[0]["ended_ns"] is not None or same[0]["held_bytes"] != int(own["held"]):
        fail(f"{what} gone: just before its end: "
             f"{[(b['ended_ns'], b['held_bytes']) for b in same]}, held {own['held']}")


def check_ptrkeys(args, what, cmd, tmp):
    """GLib with heap-pointer keys (a string-keyed table's shape): its keys
    array, as large as the next size's hashes while a resize runs, is no
    count array (its u32ge2 counts each pointer twice: the peak read double
    what was ever inserted)."""
    trace = os.path.join(tmp, "ptrkeys.tmk")
    own = traced(args, cmd + [str(N), str(KEEP), "ptrkeys"], trace)
    found = recognised(args, trace)
    if [t["held_bytes"] for t in found] != [int(own["held"])]:
        fail(f"{what} ptrkeys: recognised tables hold {[t['held_bytes'] for t in found]}, "
             f"the program's arrays {own['held']}")
    for t in found:
        if t["live_peak"] > N or t["live"] > KEEP:
            fail(f"{what} ptrkeys: peak {t['live_peak']}, live {t['live']} "
                 f"({N} inserted, {KEEP} kept)")


def glib_ended(args, what, cmd, tmp, name, words):
    """The program run with words; its one recognised table that ended
    (JSON), or None after a failure."""
    trace = os.path.join(tmp, f"{name}.tmk")
    traced(args, cmd + [str(N), *words], trace)
    doc = json.loads(tidemark(args, "report", "--format", "json", trace).stdout)
    ended = [t for t in doc["tables"] if t["kind"] == "recognised" and t["ended_ns"] is not None]
    if len(ended) != 1:
        fail(f"{what} {name}: {len(ended)} recognised tables ended, want 1")
        return None
    return ended[0]


def check_glib_ends(args, what, cmd, tmp):
    """How a GLib table ends (review 7, F5):
    destroyed  filled, g_hash_table_destroy (which empties the table, so
               shrinks it to 8 slots, then frees it): ended, not shrunk by
               its owner; also after 80 threads each freed a large block
               and ended;
    cleared    filled, g_hash_table_remove_all, kept: shrunk;
    unref      filled, freed and built again at the same site, freed with
               g_hash_table_unref: no count above the N entries ever in it
               (its keys' and values' new slots are not cleared, and read
               as counts they said up to 230,290); and filled, freed with
               g_hash_table_unref, a small table made right after: ended
               with N live, not shrunk;
    removed    removed to 1,000 with g_hash_table_remove (GLib shrinks it
               below the probe size on the way), then destroyed or unref'd:
               shrunk, and its last count within 5% of the 1,000 left (not
               the 4,095 left when it went below the probe size)."""
    t = glib_ended(args, what, cmd, tmp, "destroyed", ["0", "healthy", "gone"])
    if t and t["shrunk"]:
        fail(f"{what} destroyed: reads shrunk by its owner")
    # after 80 threads that each freed a large block and ended: the watches
    # opened at those frees once stayed open for good (no new one past 64)
    t = glib_ended(args, what, cmd, tmp, "destroyed-exits", ["0", "healthy", "gone", "exits"])
    if t and t["shrunk"]:
        fail(f"{what} destroyed after 80 threads ended: reads shrunk by its owner")
    t = glib_ended(args, what, cmd, tmp, "cleared", ["0", "healthy", "clear"])
    if t and not t["shrunk"]:
        fail(f"{what} cleared: g_hash_table_remove_all, kept, does not read shrunk")
    trace = os.path.join(tmp, "unref.tmk")
    traced(args, cmd + [str(N), "0", "healthy", "twice", "gone", "unref"], trace)
    doc = json.loads(tidemark(args, "report", "--format", "json", trace).stdout)
    over = [(t["live_peak"], t["last_live"]) for t in doc["tables"]
            if t["kind"] == "recognised" and max(t["live_peak"], t["last_live"]) > N]
    if over:
        fail(f"{what} unref: peak, last live {over}, {N} ever inserted")
    t = glib_ended(args, what, cmd, tmp, "unref-renew", ["0", "healthy", "gone", "unref", "renew"])
    if t and (t["shrunk"] or t["last_live"] != N):
        fail(f"{what} unref, renewed: shrunk {t['shrunk']}, last live {t['last_live']}")
    for end in ("destroy", "unref"):
        words = ["1000", "remove", "gone"] + (["unref"] if end == "unref" else [])
        t = glib_ended(args, what, cmd, tmp, f"removed-{end}", words)
        if t and (not t["shrunk"] or abs(t["last_live"] - 1000) > 50):
            fail(f"{what} removed to 1000, {end}: shrunk {t['shrunk']}, last live "
                 f"{t['last_live']}")


def check_dense(args, what, cmd, tmp):
    """Dense integer keys, which std::hash (the identity) puts each in a
    bucket of its own: the non-empty buckets are the count, exactly (the
    estimate for random hashes read 296,041 of 200,000)."""
    trace = os.path.join(tmp, "dense.tmk")
    traced(args, cmd + [str(N), "0", "healthy", "dense"], trace)
    for t in recognised(args, trace):
        if t["live"] != N or t["live_peak"] != N:
            fail(f"{what} dense: live {t['live']}, peak {t['live_peak']}, {N} inserted")


def check_glib_twice_tables(args, what, cmd, tmp):
    """Tables mode, the table built twice at one site: the kept one counts
    its KEEP entries from its hashes, not from its values array of the same
    size (32-bit integers), whose new slots GLib does not clear (it read 40
    of 10)."""
    trace = os.path.join(tmp, "twice-tables.tmk")
    traced(args, cmd + [str(N), str(KEEP), "twice"], trace, TIDEMARK_MODE="tables")
    lives = [t["live"] for t in recognised(args, trace)]
    if lives != [KEEP]:
        fail(f"{what} twice, tables mode: live {lives}, the program keeps {KEEP}")


def check_lowload(args, what, cmd, tmp):
    """libstdc++ with max_load_factor(0.25), filled, nothing deleted: its
    growths are not counted by the default load's rule (which read four
    times its entries), so it is never said to retain "after deletes"; it is
    sized at the load it grows at (it was "oversized", holding the four
    times the buckets its owner asked for). Erased to KEEP, it is."""
    trace = os.path.join(tmp, "lowload.tmk")
    traced(args, cmd + [str(N), "0", "healthy", "lowload"], trace)
    r = tidemark(args, "report", trace)
    line = r.stdout.splitlines()[0] if r.stdout else ""
    found = recognised(args, trace)
    after = [t["after_deletes"] for t in found]
    if "after deletes" in line or any(after) or not after:
        fail(f"{what} lowload: {line!r}, after_deletes {after}")
    for t in found:  # an estimate from non-empty buckets: within 1%
        if t["live_peak"] > N * 1.01:
            fail(f"{what} lowload: peak {t['live_peak']}, {N} inserted")
        if t["verdict"] != "ok":
            fail(f"{what} lowload: verdict {t['verdict']}, held {t['held_bytes']}, "
                 f"needed {t['needed_bytes']}")
    kept = os.path.join(tmp, "lowload-keep.tmk")
    traced(args, cmd + [str(N), str(KEEP), "lowload"], kept)
    found = recognised(args, kept)
    if [t["verdict"] for t in found] != ["oversized"] or not all(t["after_deletes"] for t in found):
        fail(f"{what} lowload keep: {[(t['verdict'], t['after_deletes']) for t in found]}")


def check_slow_rehash(args, what, cmd, tmp):
    """A full map's last growth slowed to over a second (its hasher
    sleeps): a probe pass reads the new array while the nodes move into it
    and counts part of them, which is no count of the table's (it read
    "retains ... after deletes" with none made, once the old array was
    freed, until the next pass). Never oversized right after a resize's
    end, nor at the end."""
    trace = os.path.join(tmp, "slow.tmk")
    traced(args, cmd + [str(N), "0", "healthy", "slow"], trace)
    dump = tidemark(args, "dump", trace).stdout.splitlines()
    sizes = {}
    for line in dump:
        m = re.search(r" ALLOC ptr=(\S+) size=(\d+)", line)
        if m:
            sizes[m.group(1)] = int(m.group(2))
    ends = [int(line.split()[0]) for line in dump
            if " FREE " in line and sizes.get(line.split("ptr=")[1].split()[0], 0) >= 65536]
    if not any(" PROBE " in line for line in dump):
        fail(f"{what} slow: no probe")
    for t in ends + [None]:
        at = ["--at", f"{t + 1000000}ns"] if t is not None else []
        doc = json.loads(tidemark(args, "report", "--format", "json", *at, trace).stdout)
        over = [(x["live"], x["held_bytes"]) for x in doc["tables"]
                if x["kind"] == "recognised" and x["verdict"] == "oversized"]
        if over:
            fail(f"{what} slow: oversized at {t} ns + 1 ms: live, held {over}")


def check_dupkeys(args, what, cmd, tmp):
    """A std::unordered_multimap filled with N entries on N/200 keys, nothing
    deleted: its non-empty buckets count its distinct keys, not its
    entries, and do not grow with its growths; they are no count. It is
    never oversized, never "after deletes" (not when kept, not at --at
    while it lived, not until freed when destroyed), and its peak is never
    read under what its growth rule says (over half of N)."""
    trace = os.path.join(tmp, "dupkeys.tmk")
    traced(args, cmd + [str(N), "0", "healthy", "dupkeys"], trace)
    found = recognised(args, trace)
    if not found:
        fail(f"{what} dupkeys: no recognised table")
    for t in found:
        if t["verdict"] == "oversized" or t["after_deletes"] or t["live_peak"] < N // 2:
            fail(f"{what} dupkeys: verdict {t['verdict']}, after_deletes "
                 f"{t['after_deletes']}, peak {t['live_peak']} ({N} inserted)")
    gone = os.path.join(tmp, "dupkeys-gone.tmk")
    traced(args, cmd + [str(N), "0", "healthy", "dupkeys", "gone"], gone)
    r = tidemark(args, "check", "--until-freed", gone)
    if r.returncode != 0:
        fail(f"{what} dupkeys gone: check --until-freed exit {r.returncode}: {r.stdout}")
    end = json.loads(tidemark(args, "report", "--format", "json", gone).stdout)["trace"]
    at = tidemark(args, "report", "--at", f"{(end['duration_ns'] - 350000000) // 1000000}ms",
                  gone).stdout.splitlines()
    if at and "after deletes" in at[0]:
        fail(f"{what} dupkeys gone: at its end {at[0]!r}")


def check_empty_gone(args, what, cmd, tmp):
    """Emptied (KEEP 0), kept past a probe pass, then destroyed: it held
    its arrays with nothing in them until it was freed, which is "oversized
    until freed" (a last count of 0 was once never a claim, for fear of a
    destructor's clearing read: only one in the last 10 ms before the end
    is not)."""
    trace = os.path.join(tmp, "empty-gone.tmk")
    traced(args, cmd + [str(N), "0", "gone", "idle"], trace)
    r = tidemark(args, "check", "--until-freed", trace)
    if r.returncode != 1:
        fail(f"{what} empty gone: check --until-freed exit {r.returncode}, not 1: {r.stdout}")
    ended = [t for t in json.loads(tidemark(args, "report", "--format", "json", trace).stdout)
             ["tables"] if t["kind"] == "recognised" and t["ended_ns"] is not None]
    if not ended or any(t["last_live"] != 0 or t["last_oversized_since_ns"] is None for t in ended):
        fail(f"{what} empty gone: {[(t['last_live'], t['last_oversized_since_ns']) for t in ended]}")


def check_healthy_gone(args, what, cmd, tmp):
    """A full table destroyed 0.3 s before the end: ended, and never
    called oversized until freed (a resize's old array, read as it is freed,
    once made it one entry short of its peak)."""
    trace = os.path.join(tmp, "healthy-gone.tmk")
    traced(args, cmd + [str(N), "0", "healthy", "gone"], trace)
    line = tidemark(args, "report", trace).stdout.splitlines()[0]
    r = tidemark(args, "check", "--until-freed", trace)
    if "until freed" in line or r.returncode != 0:
        fail(f"{what} healthy gone: {line!r}, check --until-freed exit {r.returncode}")


def check_healthy(args, what, cmd, tmp):
    trace = os.path.join(tmp, "healthy.tmk")
    traced(args, cmd + [str(N), "0", "healthy"], trace)
    over = [t for t in recognised(args, trace) if t["verdict"] == "oversized"]
    if over:
        fail(f"{what} healthy: oversized {[(t['held_bytes'], t['needed_bytes']) for t in over]}")
    r = tidemark(args, "check", trace)
    if r.returncode != 0:
        fail(f"{what} healthy: check exit {r.returncode}: {r.stdout}{r.stderr}")
    check_healthy_growths(args, what, trace)


def check_healthy_growths(args, what, trace):
    """Nothing deleted, so never oversized, not even right after a growth,
    before a probe counted the new array (a uthash table's new array, whose
    growth the rule cannot count, read live 0, then the count from before
    the growth, and "oversized")."""
    dump = tidemark(args, "dump", trace).stdout.splitlines()
    grown = [int(line.split()[0]) for line in dump
             if " ALLOC " in line and int(re.search(r"size=(\d+)", line).group(1)) >= 65536]
    for t in grown[-6:]:
        doc = json.loads(tidemark(args, "report", "--format", "json", "--at", f"{t + 500000}ns",
                                  trace).stdout)
        over = [x["live"] for x in doc["tables"]
                if x["kind"] == "recognised" and x["verdict"] == "oversized"]
        if over:
            fail(f"{what} healthy: oversized right after a growth at {t} ns, live {over}")


SEVERAL_PROGRAMS = ("umap", "ghash", "khash", "absl", "uthash")  # through table_cli.h
SEVERAL = 2 * 3 + 1  # table_cli.h's "several": 2 rounds of 3, then the kept one
SEVERAL_SMALL = 10000  # one array followed a table (khash's flags not: held less)


def check_several(args, what, cmd, tmp):
    """Tables made at one site, alive together and destroyed and made again
    in a row (a destroyed table's last array freed right before the next
    one's first comes, of the same rule and thread; with SEVERAL_SMALL
    entries a table's only array allocated right before another's free):
    each is a table of its own, with the held peak of one and the growths
    of one, never those of several (the growths counted by the arrays read
    as count arrays, which a loaded machine's late probes can change by one
    or two: under twice the kept one's)."""
    for n, mode in ((N, "full"), (N, "tables"), (SEVERAL_SMALL, "full"),
                    (SEVERAL_SMALL, "tables")):
        trace = os.path.join(tmp, f"several-{n}-{mode}.tmk")
        own = traced(args, cmd + [str(n), str(KEEP), "several"], trace, TIDEMARK_MODE=mode)
        doc = json.loads(tidemark(args, "report", "--format", "json", trace).stdout)
        found = [t for t in doc["tables"] if t["kind"] == "recognised"]
        alive = [t for t in found if t["ended_ns"] is None]
        got = [(t["growths"], t["held_peak_bytes"], t["ended_ns"] is None) for t in found]
        held = alive[0]["held_bytes"] if len(alive) == 1 else None
        if (len(found) != SEVERAL or held is None or held > int(own["held"]) or
                (n == N and held != int(own["held"]))):
            fail(f"{what} several ({n}, {mode} mode): {len(found)} recognised tables, want "
                 f"{SEVERAL} (one alive, holding {own['held']} B): (growths, held peak, alive) "
                 f"{got}")
            continue
        growths, peak = alive[0]["growths"], alive[0]["held_peak_bytes"]
        odd = [g for g in got if g[1] != peak or g[0] >= max(2 * growths, 1)]
        if odd:
            fail(f"{what} several ({n}, {mode} mode): (growths, held peak) {odd}, each table "
                 f"grew as the kept one: ({growths}, {peak})")


PAIR_N = 300000


def check_pair(args, what, cmd, tmp):
    """Two tables at one site filled in turn on one thread (they resize
    together: khash's new flags of one come right after the other's old
    flags were freed, GLib's arrays of one right after the other's), the
    first emptied to KEEP, the second kept full: two recognised tables,
    each with its own arrays, the first oversized with KEEP live, the
    second not (full mode: they were cross-linked; tables mode: merged
    into one healthy-looking table). PAIR_N dense keys: at N, khash's last
    flags arrays happened to link right; GLib's keys below 2^32 make its
    three arrays one size."""
    for mode in ("full", "tables"):
        trace = os.path.join(tmp, f"pair-{mode}.tmk")
        own = traced(args, cmd + [str(PAIR_N), str(KEEP), "pair", "dense"], trace,
                     TIDEMARK_MODE=mode)
        found = sorted(recognised(args, trace), key=lambda t: t["live"])
        got = [(t["live"], t["held_bytes"], t["verdict"]) for t in found]
        want = [(KEEP, int(own["held"]), "oversized"),
                (int(own["pair_live"]), int(own["pair_held"]), "ok")]
        if len(found) != 2 or found[0]["live_low"] > KEEP or \
                [(g[1], g[2]) for g in got] != [(w[1], w[2]) for w in want] or \
                got[0][0] < KEEP or got[1][0] < 0.9 * want[1][0]:
            fail(f"{what} pair ({mode} mode): (live, held, verdict) {got}, want {want}")


def programs(args):
    """(name, command) of every build of every program."""
    out = []
    for name in filter(None, args.programs.split(";")):
        for level in ("O0", "O2", "O2_stripped"):
            path = os.path.join(args.dir, f"{name}_{level}")
            if os.path.exists(path):
                out.append((f"{name}_{level}", [path]))
    if args.dict and os.path.exists("/usr/bin/python3"):
        out.append(("python_dict", ["/usr/bin/python3", args.dict]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--programs", default="")
    ap.add_argument("--dict")
    ap.add_argument("only", nargs="*")
    args = ap.parse_args()
    args.shim = os.path.join(args.build, "preload", "libtidemark.so")
    args.tidemark = os.path.join(args.build, "analyzer", "tidemark")
    runs = 0
    for what, cmd in programs(args):
        if args.only and not any(o in what for o in args.only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                kept = check_keep(args, what, cmd, tmp)
                if kept:
                    check_fix(args, what, cmd, tmp, kept)
                check_healthy(args, what, cmd, tmp)
                check_gone(args, what, cmd, tmp)
                if what.startswith("khash"):  # a resize's arrays 5 ms apart
                    check_gone(args, what, cmd, tmp, ("slow",))
                if what.startswith(("khash", "ghash")) and what.endswith("_O2"):
                    check_pair(args, what, cmd, tmp)
                if what.startswith("ghash"):
                    check_ptrkeys(args, what, cmd, tmp)
                    check_glib_ends(args, what, cmd, tmp)
                if what.startswith("umap"):
                    check_lowload(args, what, cmd, tmp)
                    check_dupkeys(args, what, cmd, tmp)
                    check_dense(args, what, cmd, tmp)
                    if what.endswith("_O2"):
                        check_slow_rehash(args, what, cmd, tmp)
                check_healthy_gone(args, what, cmd, tmp)
                # uthash frees its buckets with its last item: never held empty
                if (what.endswith("_O2") or what == "python_dict") and \
                        not what.startswith("uthash"):
                    check_empty_gone(args, what, cmd, tmp)
                if what.endswith("_O2") and what.startswith(SEVERAL_PROGRAMS):
                    check_several(args, what, cmd, tmp)
                if what.endswith("_O2"):
                    for flavour in ("thread", "twice"):
                        trace = os.path.join(tmp, f"{flavour}.tmk")
                        own = traced(args, cmd + [str(N), str(KEEP), flavour], trace)
                        found = recognised(args, trace)
                        helds = [t["held_bytes"] for t in found]
                        if helds != [int(own["held"])]:
                            fail(f"{what} {flavour}: recognised tables hold {helds}, "
                                 f"the program's arrays {own['held']}")
                        for t in found:
                            check_site(f"{what} {flavour}", t)
                    if what.startswith("ghash"):
                        check_glib_twice_tables(args, what, cmd, tmp)
            except (RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
                fail(f"{what}: {e}")
        runs += 1
        print(f"ok {what}" if not any(f.startswith(what) for f in failures) else f"-- {what}",
              flush=True)
    if runs == 0:
        print("no program was built: nothing to test")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
