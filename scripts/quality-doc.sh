#!/usr/bin/env bash
# Rewrites one section of docs/quality.md with what is on stdin, so the
# figures there come from the recipes that measured them, never typed:
#
#   ... | scripts/quality-doc.sh coverage    (scripts/coverage.sh)
#   ... | scripts/quality-doc.sh mutants     (scripts/mutants.sh)
#
# A section sits between `<!-- BEGIN name -->` and `<!-- END name -->`; the
# file (and a missing section) is created when absent. `quality-doc.sh
# stamp` prints the line naming the commit measured and the date, for the
# callers.
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/quality.md

if [ "${1:-}" = stamp ]; then
  commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  # Uncommitted changes to what is measured make the figures not the commit's.
  if [ -n "$(git status --porcelain -- src tests sql Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    commit="$commit plus uncommitted changes"
  fi
  echo "Measured on commit \`$commit\`, $(date -u +%Y-%m-%d) (UTC)."
  exit 0
fi

section=${1:?usage: quality-doc.sh coverage|mutants|stamp}
body=$(mktemp)
trap 'rm -f "$body" "$body.new"' EXIT
cat > "$body"

if [ ! -f "$doc" ]; then
  cat > "$doc" <<'HEAD'
# Quality figures

The last coverage and mutation-testing figures, each with the commit it was
measured on and the command. Written by `scripts/coverage.sh` and
`scripts/mutants.sh` (through `scripts/quality-doc.sh`) at the end of a
run; a mutants run may cover only some of its shards, and its section
says how many. Do not edit the sections by hand: run the recipe and commit
the result.

HEAD
fi
if ! grep -q "^<!-- BEGIN $section -->\$" "$doc"; then
  printf '<!-- BEGIN %s -->\n<!-- END %s -->\n\n' "$section" "$section" >> "$doc"
fi
awk -v begin="<!-- BEGIN $section -->" -v end="<!-- END $section -->" -v body="$body" '
  $0 == begin { print; while ((getline line < body) > 0) print line; skipping = 1; next }
  $0 == end { skipping = 0 }
  !skipping { print }
' "$doc" > "$body.new"
mv "$body.new" "$doc"
echo "quality: $doc section '$section' rewritten" >&2
