#!/bin/sh
# Open an HTML report of `mutorch report` in headless Chromium, as a person
# would, and check it: the page loads from the file with no network, logs
# nothing on the console (no script error, no failed load), its charts are
# in the rendered DOM, and, when the page holds the Stryker viewer, the
# viewer is defined and has its report, and #stryker opens its tab. With
# SCREENSHOT, also save a PNG.
#   scripts/check-report-browser.sh REPORT.html [SCREENSHOT.png]
# Exit status: 0 ok, 1 a check failed (reasons on stderr), 2 usage,
# 77 no Chromium here (CHROMIUM names another binary).
set -u
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -f "$1" ]; then
  echo "usage: $0 REPORT.html [SCREENSHOT.png]" >&2
  exit 2
fi
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
  echo "check-report-browser: no chromium (install Debian's chromium: scripts/setup.sh does)" >&2
  exit 77
fi
page="file://$(realpath "$1")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The machine notes' flags; a fresh profile each time. Every host name
# resolves to nothing, so a page that reached for the network would fail
# to load something, and Chromium logs that on the console.
run() {
  rm -rf "$tmp/profile"
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/profile" --host-resolver-rules="MAP * ~NOTFOUND" \
    --enable-logging=stderr --v=0 --virtual-time-budget=10000 "$@" "${url:-$page}"
}
run --dump-dom >"$tmp/dom.html" 2>"$tmp/log"
rc=$?
fail=0
if [ $rc -ne 0 ]; then
  echo "check-report-browser: chromium exited with $rc" >&2
  tail -20 "$tmp/log" >&2
  exit 1
fi
# The page logs nothing itself: any console message is a script error, a
# failed load or a warning of the viewer.
if grep -q ':CONSOLE' "$tmp/log"; then
  echo "check-report-browser: console messages:" >&2
  grep ':CONSOLE' "$tmp/log" >&2
  fail=1
fi
# The sections of each level the page says it has.
sections=""
grep -q '<body[^>]*data-model="1"' "$tmp/dom.html" &&
  sections="summary scores heatmap ks1 accuracy survivors minimise prioritise lcr"
grep -q '<body[^>]*data-source="1"' "$tmp/dom.html" && sections="$sections source"
grep -q '<body[^>]*data-history="1"' "$tmp/dom.html" && sections="$sections history"
for id in $sections; do
  if ! grep -q "<section id=\"$id\"" "$tmp/dom.html"; then
    echo "check-report-browser: the rendered page has no section '$id'" >&2
    fail=1
  fi
done
if ! grep -q '<svg' "$tmp/dom.html"; then
  echo "check-report-browser: the rendered page has no chart (no <svg>)" >&2
  fail=1
fi
if grep -q '<mutation-test-report-app' "$tmp/dom.html" &&
   ! grep -q 'data-viewer="ready"' "$tmp/dom.html"; then
  echo "check-report-browser: the Stryker viewer did not start (no data-viewer=\"ready\")" >&2
  fail=1
fi
# #stryker in the address opens the Stryker tab, although the viewer
# rewrites the address's fragment as it starts.
if grep -q '<mutation-test-report-app' "$tmp/dom.html"; then
  url="$page#stryker"
  run --dump-dom >"$tmp/dom2.html" 2>"$tmp/log3"
  url=""
  if ! grep -q '<main class="tab" id="tab-report" hidden' "$tmp/dom2.html" ||
     grep -q '<div class="tab" id="tab-stryker" hidden' "$tmp/dom2.html"; then
    echo "check-report-browser: $1#stryker does not open the Stryker tab" >&2
    fail=1
  fi
fi
if [ $# -eq 2 ]; then
  if ! run --window-size=1280,6000 --hide-scrollbars --screenshot="$2" >/dev/null 2>"$tmp/log2" ||
     [ ! -s "$2" ]; then
    echo "check-report-browser: no screenshot" >&2
    tail -5 "$tmp/log2" >&2
    fail=1
  fi
fi
[ $fail -eq 0 ] && echo "check-report-browser: $1: loaded offline, no console message, charts rendered"
exit $fail
