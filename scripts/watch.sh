#!/usr/bin/env bash
# Live reload without extra tools: rebuild and restart the server whenever a
# file under src/, sql/ or Cargo.toml changes (polled once a second).
#
#   scripts/watch.sh [cargo run arguments...]
set -uo pipefail
cd "$(dirname "$0")/.."

fingerprint() {
  find src sql Cargo.toml Cargo.lock build.rs -type f 2>/dev/null -exec stat -c '%n %Y %s' {} + | sort | cksum
}

pid=
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  pid=
}
trap 'stop; exit 0' INT TERM

while true; do
  seen=$(fingerprint)
  echo "watch: building and starting the server" >&2
  cargo run "$@" &
  pid=$!
  while [ "$(fingerprint)" = "$seen" ]; do
    sleep 1
  done
  echo "watch: change detected; restarting" >&2
  stop
done
