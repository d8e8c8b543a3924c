#!/usr/bin/env python3
"""tests/preload/frame_sizes.py - no frame of the shim's takes more than
about 1 KiB of the program's stack, which RLIMIT_STACK may hold to 20 KiB
(the shim's start had 13 KiB of path buffers in one frame, and died there).

    frame_sizes.py DIR

DIR holds the .su files gcc's -fstack-usage wrote for the shim's sources
(tests/preload/CMakeLists.txt, target tidemark_frames). Exit 1 naming every
frame over the limit that is not allowed below, with the reason.
"""
import os
import sys

LIMIT = 1400  # bytes: 1 KiB and a little

# Frames allowed over the limit, and why.
ALLOWED = {
    # libunwind's unw_context_t and unw_cursor_t: TIDEMARK_UNWIND=libunwind's
    # caller cache, on a miss only
    "unwind_steps": 2200,
}


def main():
    root = sys.argv[1]
    files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".su")]
    if len(files) < 20:
        print(f"FAIL: {len(files)} .su files under {root}: was the shim compiled with -fstack-usage?")
        return 1
    bad = []
    for path in files:
        with open(path) as f:
            for line in f:
                where, size, _kind = line.rstrip("\n").split("\t")
                func = where.rsplit(":", 1)[-1].split(".")[0]  # drop .constprop, .part
                if int(size) > ALLOWED.get(func, LIMIT):
                    bad.append(f"{where}: {size} bytes")
    if bad:
        print(f"FAIL: frames over {LIMIT} bytes on the program's stack:\n  " + "\n  ".join(sorted(bad)))
        return 1
    print(f"ok: {len(files)} files, no frame over {LIMIT} bytes but {sorted(ALLOWED)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
