#!/usr/bin/env bash
# tests/report/test_html_screenshot.sh TEST_HTML OUTDIR - renders the fixture
# report (test_html OUT.html) and opens it in headless Chromium, offline:
#  1. the DOM Chromium builds has no <script> element and shows the hostile
#     label as text (escaping holds in a real parser);
#  2. a 1200x1600 screenshot is written and is not blank (a blank page
#     compresses to a few KiB). Look at OUTDIR/report.png yourself.
# Exit 77 (skipped) when chromium is not installed.
set -euo pipefail
test_html=$1 outdir=$2
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium not installed; the HTML screenshot test needs it" >&2
  exit 77
fi
mkdir -p "$outdir"
html=$outdir/report.html png=$outdir/report.png
rm -f "$png"
"$test_html" "$html"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$profile")

dom=$(timeout 90 "$browser" "${flags[@]}" --dump-dom "file://$html" 2>/dev/null)
if grep -qi '<script' <<<"$dom"; then
  echo "FAIL: Chromium's DOM has a <script> element" >&2; exit 1
fi
grep -qF '&lt;script&gt;alert("x")&lt;/script&gt; &amp;' <<<"$dom" ||
  { echo "FAIL: the hostile label is not shown as text" >&2; exit 1; }

timeout 90 "$browser" "${flags[@]}" --screenshot="$png" --window-size=1200,1600 \
  "file://$html" >/dev/null 2>&1 || true
[ -s "$png" ] || { echo "FAIL: no screenshot written" >&2; exit 1; }
python3 - "$png" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
w, h = struct.unpack('>II', data[16:24])
assert (w, h) == (1200, 1600), f'screenshot is {w}x{h}'
assert len(data) > 30000, f'screenshot is nearly blank ({len(data)} bytes)'
print(f'screenshot {w}x{h}, {len(data)} bytes: {sys.argv[1]}')
PY
