#!/usr/bin/env bash
# Fuzzes the code that turns request bytes into validated commands
# (fuzz/fuzz_targets): each target runs for FUZZ_SECONDS (default 60).
# Needs the nightly toolchain (cargo fuzz uses sanitizers); installs
# cargo-fuzz from crates.io when missing. Any finding
# (crash-, oom-, timeout-, leak-, slow-unit- ...) is saved under
# fuzz/artifacts/TARGET/ and fails the run, as does a non-zero exit of the
# fuzzer itself (a build failure, a sanitizer abort): turn a finding into a
# regression test, then delete it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
status=0
for target in request_body list_query; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  cp -n fuzz/seeds/"$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
  # Artifacts left by an earlier run would fail this one: they are findings
  # still to be turned into regression tests, so they stay until handled.
  echo "fuzz: $target for ${seconds}s" >&2
  log="fuzz/artifacts/$target/last-run.log"
  # The whole output goes to a log; the summary lines are printed from it.
  # The fuzzer's own exit status is kept: a build failure, a sanitizer
  # abort, an out-of-memory or a timeout all fail the run, artifact or not.
  rc=0
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Done|error(\[|:))' "$log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $target: cargo fuzz exited with status $rc; the last lines of $log:" >&2
    tail -n 20 "$log" >&2
    status=1
  fi
  # Any file libFuzzer writes is a finding: crash-, oom-, timeout-, leak-,
  # slow-unit-, ... (everything but this script's own log).
  found=$(find "fuzz/artifacts/$target" -maxdepth 1 -type f ! -name last-run.log | sort)
  if [ -n "$found" ]; then
    echo "fuzz: $target left artifacts (turn each into a regression test, then delete it):" >&2
    printf '  %s\n' $found >&2
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
echo "fuzz: no finding in ${seconds}s per target" >&2
