#!/usr/bin/env bash
# Measures line and region coverage of src/ with cargo-llvm-cov, running the
# same unit and integration tests as `make test` against the same throwaway
# PostgreSQL (scripts/with-test-db.sh), including the real `backend` binary
# the integration tests start as a child process.
#
#   scripts/coverage.sh
#
# Writes the HTML report to target/coverage/html/index.html and the summary
# table to target/coverage/summary.txt, prints one summary line, rewrites
# the coverage section of docs/quality.md (the figures, the commit, the
# command), and exits non-zero when line coverage of src/ is below the
# number in .coverage-threshold or region coverage below the number in
# .coverage-threshold-regions (each set just below a measured figure: a
# drop fails, a rise is a reason to raise it). Installs cargo-llvm-cov and the llvm-tools component
# (llvm-profdata and llvm-cov matching rustc's LLVM) when they are missing.
# The instrumented build lives in target/llvm-cov-target, apart from the
# normal one.
set -euo pipefail
cd "$(dirname "$0")/.."

LLVM_COV_VERSION=0.9.1
out=target/coverage
threshold=$(tr -d '[:space:]' < .coverage-threshold)
region_threshold=$(tr -d '[:space:]' < .coverage-threshold-regions)

# Everything the report leaves out, one place, one reason each. Only files
# under src/ count; cargo-llvm-cov already leaves out tests/, benches/,
# examples/ and dependencies.
ignore=(
  # Documentation only: the guides are `#[cfg(doc)]` modules with no code.
  'src/guide\.rs$'
)
ignore_regex=$(IFS='|'; echo "${ignore[*]}")

if ! cargo llvm-cov --version >/dev/null 2>&1; then
  cargo install --locked "cargo-llvm-cov@$LLVM_COV_VERSION"
fi
if [ -z "${LLVM_PROFDATA:-}" ] && command -v rustup >/dev/null 2>&1 \
    && ! rustup component list --installed | grep -q '^llvm-tools'; then
  rustup component add llvm-tools-preview
fi

# COVERAGE_REPORT_ONLY=1 reports (and checks, and records) the profiles of
# the last run again without running the tests: after a threshold change.
if [ "${COVERAGE_REPORT_ONLY:-}" != 1 ]; then
  # Old profiles from an earlier run would be merged into this one.
  cargo llvm-cov clean --workspace
  # The tests' own children (the `backend` binary) inherit LLVM_PROFILE_FILE,
  # whose `%p` gives each process a file of its own (tests/api/common/binary.rs
  # passes it through its cleared environment).
  scripts/with-test-db.sh cargo llvm-cov --locked --no-report --no-fail-fast
fi

mkdir -p "$out"
cargo llvm-cov report --ignore-filename-regex "$ignore_regex" \
  --html --output-dir "$out"
cargo llvm-cov report --ignore-filename-regex "$ignore_regex" \
  --summary-only > "$out/summary.txt"

# The TOTAL row: regions, missed regions, cover, functions, missed
# functions, executed, lines, missed lines, cover, ...
read -r regions regions_missed region_cover lines lines_missed line_cover < <(
  awk '$1 == "TOTAL" { print $2, $3, $4, $8, $9, $10 }' "$out/summary.txt"
)
if [ -z "${line_cover:-}" ]; then
  echo "coverage: no TOTAL row in $out/summary.txt" >&2
  exit 1
fi
line_cover=${line_cover%\%}
region_cover=${region_cover%\%}
echo "coverage: lines ${line_cover}% ($((lines - lines_missed))/$lines), regions ${region_cover}% ($((regions - regions_missed))/$regions) of src/; thresholds ${threshold}% lines, ${region_threshold}% regions; report $out/html/index.html"

scripts/quality-doc.sh coverage <<DOC
## Coverage

| | covered | total | cover | threshold |
| --- | ---: | ---: | ---: | ---: |
| lines of \`src/\` | $((lines - lines_missed)) | $lines | ${line_cover} % | ${threshold} % (\`.coverage-threshold\`) |
| regions of \`src/\` | $((regions - regions_missed)) | $regions | ${region_cover} % | ${region_threshold} % (\`.coverage-threshold-regions\`) |

$(scripts/quality-doc.sh stamp) Command: \`make coverage\`
(\`scripts/coverage.sh\`: every unit and integration test, the spawned
\`backend\` binary included, against a throwaway PostgreSQL).
DOC

status=0
if awk -v got="$line_cover" -v min="$threshold" 'BEGIN { exit !(got + 0 < min + 0) }'; then
  echo "coverage: line coverage ${line_cover}% is below the threshold of ${threshold}% (.coverage-threshold)" >&2
  status=1
fi
if awk -v got="$region_cover" -v min="$region_threshold" 'BEGIN { exit !(got + 0 < min + 0) }'; then
  echo "coverage: region coverage ${region_cover}% is below the threshold of ${region_threshold}% (.coverage-threshold-regions)" >&2
  status=1
fi
exit "$status"
