#!/bin/sh
# Writes a placeholder source file for every target that Cargo.toml declares
# (plus src/main.rs and src/lib.rs), so that `cargo build` can compile the
# dependencies alone. The Dockerfile's dependency layer runs it on a folder
# holding only Cargo.toml, Cargo.lock, build.rs and sql/; that layer stays
# cached until one of those changes. `make docker-mirror` runs the same
# steps here. It never overwrites an existing file.
#
#   docker/stub-sources.sh [DIR]   (default: the current folder)
set -eu
cd "${1:-.}"
[ -f Cargo.toml ] || { echo "stub-sources: no Cargo.toml in $(pwd)" >&2; exit 1; }

# Each declared target's source path: `path = ...` when given, otherwise
# cargo's default for its kind (benches/NAME.rs, tests/NAME.rs, ...).
paths=$(awk '
  function value(line) { sub(/^[^=]*=[ \t]*["\047]/, "", line); sub(/["\047].*$/, "", line); return line }
  function flush() {
    if (kind != "") {
      if (path == "") {
        if (kind == "lib") path = "src/lib.rs"
        else if (kind == "bin") path = "src/bin/" name ".rs"
        else if (kind == "bench") path = "benches/" name ".rs"
        else path = kind "s/" name ".rs"
      }
      print path
    }
    kind = ""; name = ""; path = ""
  }
  /^[ \t]*\[\[(bin|test|bench|example)\]\]/ { flush(); kind = $0; gsub(/[][ \t]/, "", kind); next }
  /^[ \t]*\[lib\]/ { flush(); kind = "lib"; next }
  /^[ \t]*\[/ { flush(); next }
  kind != "" && /^[ \t]*name[ \t]*=/ { name = value($0) }
  kind != "" && /^[ \t]*path[ \t]*=/ { path = value($0) }
  END { flush() }
' Cargo.toml)

for path in src/main.rs src/lib.rs $paths; do
  [ -e "$path" ] && continue
  mkdir -p "$(dirname "$path")"
  case "$path" in
    */lib.rs) printf '//! Placeholder for the dependency-only build.\n' > "$path" ;;
    *) printf '//! Placeholder for the dependency-only build.\nfn main() {}\n' > "$path" ;;
  esac
  echo "stub-sources: $path"
done
