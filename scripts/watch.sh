#!/usr/bin/env bash
# Live reload without extra tools: rebuild and restart the server whenever a
# file under src/, sql/ or Cargo.toml changes (polled once a second).
#
#   scripts/watch.sh [cargo run arguments...]
#
# Portable: GNU stat (Linux) and BSD stat (macOS) spell the format options
# differently, so the one at hand is detected once; if neither works, or the
# file list cannot be read later, the watcher stops with a message instead
# of never reloading.
set -uo pipefail
cd "$(dirname "$0")/.."

die() { echo "watch: $*" >&2; exit 1; }

# Name, modification time and size of a file, one line each.
if stat -c '%n %Y %s' Cargo.toml >/dev/null 2>&1; then
  stat_args=(-c '%n %Y %s')   # GNU coreutils, busybox
elif stat -f '%N %m %z' Cargo.toml >/dev/null 2>&1; then
  stat_args=(-f '%N %m %z')   # BSD, macOS
else
  die "stat knows neither -c '%Y' (GNU) nor -f '%m' (BSD): cannot see changes"
fi

watched=()
for p in src sql Cargo.toml Cargo.lock build.rs; do
  [ -e "$p" ] && watched+=("$p")
done

fingerprint() {
  find "${watched[@]}" -type f -exec stat "${stat_args[@]}" {} + | LC_ALL=C sort | cksum
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

# The fingerprint, retried briefly: a file that an editor deletes between
# find and stat (swap and temporary files) makes one attempt fail. A failure
# that lasts would compare equal forever and never reload: stop loudly.
snapshot() {
  local out
  for _ in 1 2 3; do
    if out=$(fingerprint 2>/dev/null); then printf '%s\n' "$out"; return 0; fi
    sleep 0.3
  done
  fingerprint >/dev/null
  die "cannot read the modification times of ${watched[*]}; live reload is off"
}

while true; do
  seen=$(snapshot) || exit 1
  echo "watch: building and starting the server" >&2
  cargo run "$@" &
  pid=$!
  changed=
  while now=$(snapshot); do
    if [ "$now" != "$seen" ]; then changed=1; break; fi
    sleep 1
  done
  [ -n "$changed" ] || { stop; exit 1; }
  echo "watch: change detected; restarting" >&2
  stop
done
