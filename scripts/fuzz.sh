#!/usr/bin/env bash
# Fuzzes the code that turns request bytes into validated commands
# (fuzz/fuzz_targets): each target runs for FUZZ_SECONDS (default 60).
# Needs the nightly toolchain (cargo fuzz uses sanitizers); installs
# cargo-fuzz from crates.io when missing. A crash is saved under
# fuzz/artifacts/ and fails the run: turn it into a regression test.
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
for target in request_body list_query; do
  mkdir -p "fuzz/corpus/$target"
  cp -n fuzz/seeds/"$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s" >&2
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Done)' || true
  if ls fuzz/artifacts/"$target"/crash-* >/dev/null 2>&1; then
    echo "fuzz: $target found a crash: fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzz: no crash in ${seconds}s per target" >&2
