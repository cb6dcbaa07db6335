#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: the server and
# the floor (examples/floor.rs) each answer GET /api/v1/users/{id} under
# callgrind, and the count is divided by the requests answered. Unlike wall
# time, this is repeatable on a shared, noisy machine.
#
#   scripts/instructions.sh [get|list|create]
#
# Builds a release variant with line tables into target/profiling; reports
# the share spent in log events too. Needs valgrind and wrk.
#
# Requests are paced (INSTRUCTIONS_PACE_MS per request and connection,
# default 2: at most about 1,000 a second), so every run answers about the
# same number in its 8 seconds whatever else the machine is doing: the
# server's background work (the log writer's flushes, timers) is then spread
# over the same count, and runs taken under different load compare.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
endpoint=${1:-get}
command -v valgrind >/dev/null || { echo "instructions: valgrind is needed" >&2; exit 1; }
command -v wrk >/dev/null || { echo "instructions: wrk is needed" >&2; exit 1; }

CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_PROFILE_RELEASE_LTO=thin \
  cargo build --release --locked --quiet --bin backend --example floor --target-dir target/profiling
out=target/profiling/callgrind
mkdir -p "$out"

dir=$(mktemp -d "${TMPDIR:-/tmp}/backend-cg-pg.XXXXXX")
chmod 755 "$dir"
trap 'scripts/pg.sh stop "$dir" || true; rm -rf "$dir"' EXIT
admin=$(scripts/pg.sh start "$dir")
scripts/pg.sh createdb "$dir" cg
url="${admin%/postgres}/cg"
DATABASE_URL=$url LOG_LEVEL=warn target/profiling/release/backend migrate up >/dev/null
psql "$url" -q -c "
  INSERT INTO users (id, email, email_key)
  SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint - 20000 + i), 12, '0')
          || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text || 'x'), 1, 15))::uuid,
         'seed' || i || '@example.com', 'seed' || i || '@example.com'
  FROM generate_series(1, 2000) AS i"
psql "$url" -At -c "SELECT id FROM users" > "$out/ids.txt"
export LOADTEST_IDS="$root/$out/ids.txt"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

measure() {
  local name=$1 binary=$2 p
  p=$(port)
  rm -f "$out/$name".*
  DATABASE_URL=$url PORT=$p APP_ENV=prod AUTH_MODE=none LOG_FORMAT=json LOG_LEVEL=info \
    valgrind --tool=callgrind --callgrind-out-file="$out/$name" "$binary" serve >/dev/null 2>"$out/$name.valgrind.log" &
  local vpid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$p/api/v1/users"; do sleep 0.2; done
  export LOADTEST_PACE_MS=${INSTRUCTIONS_PACE_MS:-2}
  LOADTEST_RUN=warm$RANDOM wrk -t1 -c2 -d3s -s "scripts/loadtest/$endpoint.lua" "http://127.0.0.1:$p" >/dev/null
  callgrind_control --zero "$vpid" >/dev/null
  local n
  n=$(LOADTEST_RUN=cg$RANDOM wrk -t1 -c2 -d8s -s "scripts/loadtest/$endpoint.lua" "http://127.0.0.1:$p" | sed -nE 's/^RESULT requests=([0-9]+).*/\1/p')
  callgrind_control --dump "$vpid" >/dev/null
  sleep 1
  kill "$vpid"; wait "$vpid" 2>/dev/null || true
  local dump total logging
  dump=$(ls -t "$out/$name".* | grep -v valgrind | head -1)
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  logging=$(callgrind_annotate --inclusive=yes "$dump" 2>/dev/null \
    | awk '/tracing_core::event::Event::dispatch \[/ && !done {gsub(",", "", $1); print $1; done = 1}')
  echo "$name $endpoint: $n requests, $((total / n)) instructions per request, $(( ${logging:-0} / n )) in log events"
}

[ "${2:-both}" = backend ] || measure floor target/profiling/release/examples/floor
[ "${2:-both}" = floor ] || measure backend target/profiling/release/backend
