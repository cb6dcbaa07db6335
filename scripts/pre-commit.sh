#!/usr/bin/env bash
# The checks of .pre-commit-config.yaml for machines without the pre-commit
# tool (no Python): `make pre-commit-install` installs a git hook that runs
# this script. Like pre-commit, it checks what is staged, not the work tree:
# the index is checked out into target/pre-commit/tree (a fixed path, so
# cargo reuses its build there) and the checks run on that copy, with the
# repository's target/ as the shared CARGO_TARGET_DIR (dependencies already
# built for the work tree are reused).
#
#   scripts/pre-commit.sh    (also fine to run by hand before staging more)
#
# Checks: whitespace errors in the staged lines and a missing final newline
# in staged text files; YAML syntax (when python3 has PyYAML; otherwise
# said and skipped); then `make format-check lint typecheck` on the copy.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
failed=0
fail() { echo "pre-commit: $*" >&2; failed=1; }
# What cargo reads: sources, manifests, the migrations build.rs embeds.
# Byte-exact data the whitespace and end-of-file checks leave alone (the
# exclude of .pre-commit-config.yaml).
EXCLUDE='^(fuzz/seeds/|fuzz/corpus/|\.schemathesis/)'
RUST_FILES='(\.rs|^Cargo\.(toml|lock)|^(rust-toolchain|clippy)\.toml|^sql/.*)$'

# The staged files that exist after the commit (added, copied, modified;
# a rename counts as an addition), and below, the text ones among them
# (numstat says - for binary files).
staged=()
while IFS= read -r -d '' f; do staged+=("$f"); done \
  < <(git diff --cached --name-only -z --no-renames --diff-filter=ACM)
if [ ${#staged[@]} -eq 0 ]; then
  echo "pre-commit: nothing staged" >&2
  exit 0
fi

# Trailing whitespace, space before tab, blank lines at the end: git's own
# check of the staged lines.
git diff --cached --check -- . ':!fuzz/seeds' ':!fuzz/corpus' ':!.schemathesis' || fail "whitespace errors in the staged lines (above)"

tree="$root/target/pre-commit/tree"
rm -rf "$tree"
mkdir -p "$tree"
git checkout-index --all --prefix="$tree/"

text=()
while IFS=$'\t' read -r -d '' added _ path; do
  [ "$added" = - ] || text+=("$path")
done < <(git diff --cached --numstat -z --no-renames --diff-filter=ACM)

yaml=()
for f in "${text[@]}"; do
  [[ $f =~ $EXCLUDE ]] && continue
  if [ -s "$tree/$f" ] && [ -n "$(tail -c 1 "$tree/$f")" ]; then
    fail "$f: no newline at the end of the file"
  fi
  case "$f" in *.yml|*.yaml) yaml+=("$f") ;; esac
done

if [ ${#yaml[@]} -gt 0 ]; then
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null; then
    (cd "$tree" && python3 -c '
import sys, yaml
bad = 0
for name in sys.argv[1:]:
    try:
        with open(name) as f:
            list(yaml.safe_load_all(f))
    except yaml.YAMLError as e:
        print(f"{name}: {e}", file=sys.stderr); bad = 1
sys.exit(bad)' "${yaml[@]}") || fail "YAML syntax errors (above)"
  else
    echo "pre-commit: YAML check skipped (no python3 with PyYAML): ${yaml[*]}" >&2
  fi
fi

# Format, clippy and typecheck on the staged copy, when a file that cargo
# reads is staged (the same filter as .pre-commit-config.yaml).
rust=no
for f in "${staged[@]}"; do
  if [[ $f =~ $RUST_FILES ]]; then rust=yes; break; fi
done
if [ "$rust" = yes ]; then
  CARGO_TARGET_DIR="$root/target" make -C "$tree" --no-print-directory format-check lint typecheck \
    || fail "format check, clippy or typecheck failed on the staged files (above)"
fi

if [ "$failed" -ne 0 ]; then
  echo "pre-commit: commit refused; fix and stage, or commit with --no-verify to skip" >&2
  exit 1
fi
