#!/usr/bin/env bash
# html_report_render_test.sh: renders the HTML stress report of
# write_sample_report in Debian's headless chromium and checks that the
# charts really draw: the DOM holds the four chart <svg> elements (total
# throughput, per-interpreter throughput with line swatches, one arena panel
# per interpreter where the churn interpreter's cycles span its panel,
# occupancy) and the settings block, and the screenshot is not blank
# (non-white share, distinct non-gray colors, and the first three series
# colors filling more than their legend swatches).
# Needs the Debian package `chromium` (./bazelw installs it).
set -euo pipefail

fail() {
  echo "html_report_render_test: FAIL: $*" >&2
  exit 1
}

# Runfiles: Bazel sets TEST_SRCDIR; by hand, run next to the binary.
runfile() {
  local rel="$1" base
  for base in "${TEST_SRCDIR:-}/interpheap" "${RUNFILES_DIR:-}/interpheap" \
      "$0.runfiles/interpheap" "$(pwd)"; do
    if [[ -e "${base}/${rel}" ]]; then
      echo "${base}/${rel}"
      return 0
    fi
  done
  return 1
}

writer="$(runfile tests/stress/write_sample_report)" ||
  fail "runfile tests/stress/write_sample_report not found"
png_stats="$(runfile tests/stress/png_stats.py)" ||
  fail "runfile tests/stress/png_stats.py not found"

chromium="$(command -v chromium || true)"
if [[ -z "${chromium}" && -x /usr/bin/chromium ]]; then
  chromium=/usr/bin/chromium
fi
[[ -n "${chromium}" ]] ||
  fail "chromium not found (Debian package 'chromium'; ./bazelw installs it)"
command -v python3 >/dev/null || fail "python3 not found"

work="${TEST_TMPDIR:-$(mktemp -d)}/render"
rm -rf "${work}"
mkdir -p "${work}/home" "${work}/cache" "${work}/config"
# Chromium writes its profile, font cache and crash data under these.
export HOME="${work}/home"
export XDG_CACHE_HOME="${work}/cache"
export XDG_CONFIG_HOME="${work}/config"

html="${work}/report.html"
png="${work}/report.png"
"${writer}" "${html}" || fail "write_sample_report exited with $?"
[[ -s "${html}" ]] || fail "write_sample_report wrote an empty file"

# One fresh profile per run; no network, no sync, no GPU.
run_chromium() {
  local log="$1"
  shift
  local profile
  profile="$(mktemp -d "${work}/profile.XXXXXX")"
  timeout 120 "${chromium}" --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync \
    --user-data-dir="${profile}" "$@" 2>"${log}"
}

# 1. The DOM as chromium parsed it holds the four charts.
if ! run_chromium "${work}/dump-dom.log" --dump-dom "file://${html}" \
    >"${work}/dom.html"; then
  tail -n 20 "${work}/dump-dom.log" >&2
  fail "chromium --dump-dom failed"
fi
for id in chart-total chart-throughput chart-arenas chart-occupancy; do
  grep -q "id=\"${id}\"" "${work}/dom.html" ||
    fail "chromium's DOM has no element with id=\"${id}\""
done
polylines="$(grep -o '<polyline' "${work}/dom.html" | wc -l)"
echo "dom: 4 chart ids present, ${polylines} polylines"
((polylines >= 7)) ||
  fail "expected >= 7 polylines (total + 2 line charts x 3 slots), got ${polylines}"
grep -q '<table class="settings">' "${work}/dom.html" ||
  fail "no settings block in chromium's DOM"
# The arena chart: one panel per interpreter, each with its own axis, so
# the churn interpreter's allocate/release cycles (1 to 5 arenas) span most
# of its panel instead of hiding under the others' lines.
python3 - "${work}/dom.html" <<'PY' || fail "arena panels check failed"
import re, sys
dom = open(sys.argv[1]).read()
svg = dom[dom.index('id="chart-arenas"'):]
svg = svg[:svg.index("</svg>")]
panels = svg.split('<g class="panel">')[1:]
assert len(panels) == 3, "want 3 arena panels, got %d" % len(panels)
assert "churn-1" in panels[2], "third panel is not churn-1's"
points = re.search(r'points="([^"]*)"', panels[2]).group(1).split()
ys = [float(p.split(",")[1]) for p in points]
span = max(ys) - min(ys)
print("dom: churn-1 arena panel line spans %.1f px" % span)
assert span > 40, "churn cycle spans only %.1f px" % span
swatches = re.findall(r'<line class="swatch"', dom)
assert len(swatches) == 3, "want 3 legend line swatches, got %d" % len(swatches)
PY

# 2. The screenshot.
if ! run_chromium "${work}/screenshot.log" --window-size=1000,2000 \
    --screenshot="${png}" "file://${html}" >/dev/null; then
  tail -n 20 "${work}/screenshot.log" >&2
  fail "chromium --screenshot failed"
fi
[[ -s "${png}" ]] || fail "chromium wrote no screenshot (${png})"

# The first three colors of the report's palette (stress/report.cc).
colors=(1f77b4 ff7f0e 2ca02c)
color_args=()
for c in "${colors[@]}"; do color_args+=(--color "${c}"); done
stats="$(python3 "${png_stats}" "${color_args[@]}" "${png}")" ||
  fail "png_stats.py could not read the screenshot"
echo "screenshot ${png}:"
echo "${stats}" | sed 's/^/  /'

metric() {
  echo "${stats}" | sed -n "s/^$1=//p"
}
non_white_percent="$(metric non_white_percent)"
non_gray="$(metric distinct_non_gray_colors)"
awk -v p="${non_white_percent}" 'BEGIN { exit !(p > 2.0) }' ||
  fail "only ${non_white_percent}% of the screenshot is non-white (want > 2%)"
((non_gray >= 4)) ||
  fail "only ${non_gray} distinct non-gray colors (want >= 4: the series)"
# A legend swatch is 12x12 = 144 pixels, three charts: 432 per color. The
# lines and bars must add far more than that.
for c in "${colors[@]}"; do
  n="$(metric "color_${c}")"
  ((n >= 1500)) ||
    fail "series color #${c} covers ${n} pixels (want >= 1500): chart marks missing"
done

echo "html_report_render_test: PASS"
