#!/usr/bin/env python3
"""tests/format/doc_test.py - docs/trace-format.md is the format's one
specification and include/tidemark/trace_format.h points into it:

 - every section the header names (docs/trace-format.md#ANCHOR, or #ANCHOR
   alone in a comment of the records' enum) is a heading of the document,
   and so is every #ANCHOR the document links to itself;
 - every record type of the header's enum is in the document's table of
   record types or of extended records, with its number;
 - every file flag, block flag and the probe layouts are in the document
   with their values.

    doc_test.py SOURCE_DIR
"""
import re
import sys


def slug(heading):
    """GitHub's anchor of a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def main():
    src = sys.argv[1]
    doc = open(f"{src}/docs/trace-format.md", encoding="utf-8").read()
    header = open(f"{src}/include/tidemark/trace_format.h", encoding="utf-8").read()
    anchors = {slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", doc, re.M)}
    bad = []

    named = re.findall(r"docs/trace-format\.md#([\w\-]+)", header)
    named += re.findall(r"/\* #([\w\-]+)", header)
    named += re.findall(r", #([\w\-]+)", header)
    named += re.findall(r"\]\(#([\w\-]+)\)", doc)
    for a in named:
        if a not in anchors:
            bad.append(f"#{a} is no heading of docs/trace-format.md")

    enum = re.search(r"enum tmk_record_type \{(.*?)\};", header, re.S).group(1)
    for name, value in re.findall(r"TMK_REC_(\w+) = (0x[0-9a-f]+)", enum):
        if name == "EXTENDED":
            continue
        row = rf"^\| {value}(-0x[0-9a-f]+)? +\| {name} "
        if not re.search(row, doc, re.M):
            bad.append(f"record {name} ({value}) is not in the document's record tables")

    for name, value in re.findall(r"#define (TMK_(?:FILE|BLOCK)_[A-Z_]+) (0x[0-9a-f]{1,2})u", header):
        if not re.search(rf"`{value}` \| `{name}`", doc):
            bad.append(f"flag {name} ({value}) is not in the document")
    for name, value in re.findall(r"(TMK_PROBE_LAYOUT_[A-Z]+) = (\d+)", header):
        if value != "0" and f"{value} `{name}`" not in doc:
            bad.append(f"probe layout {name} ({value}) is not in the document")

    for b in bad:
        print(f"FAIL: {b}")
    if not bad:
        print(f"ok: {len(named)} section pointers, every record type and flag documented")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
