#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: the server and
# the floor (examples/floor.rs) each answer GET /api/v1/users/{id} under
# callgrind, and the count is divided by the requests answered. Unlike wall
# time, this is repeatable on a shared, noisy machine.
#
#   scripts/instructions.sh [get|list|create] [SERVERS]
#
# SERVERS (default "floor backend"; "both" is the same) may also name the
# load test's variants of the backend (scripts/loadtest.sh), for GET by id:
# backend-auth (AUTH_MODE=oidc, a bearer token from tools/oidc-provider on
# every request; APP_ENV=dev with prod's other defaults, as there),
# backend-tracing (always_on, OTLP/HTTP to scripts/loadtest/otlp_sink.py)
# and backend-metrics (METRICS_ADDR), e.g.
#
#   scripts/instructions.sh get "backend backend-auth backend-tracing backend-metrics"
#
# Builds a release variant with line tables into target/profiling; reports
# the share spent in log events too. Needs valgrind and wrk (and Node.js for
# backend-auth).
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
servers=${2:-both}
[ "$servers" = both ] && servers="floor backend"
helpers=()
cleanup() {
  local h
  for h in "${helpers[@]}"; do kill "$h" 2>/dev/null || true; done
  scripts/pg.sh stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
prod=(DATABASE_URL="$url" APP_ENV=prod AUTH_MODE=none LOG_FORMAT=json LOG_LEVEL=info)
if [[ " $servers " == *" backend-auth "* ]]; then
  [ -d tools/oidc-provider/node_modules/oidc-provider ] ||
    npm ci --prefix tools/oidc-provider --no-audit --no-fund --loglevel=error
  provider_port=$(port)
  PORT=$provider_port AUDIENCE=urn:backend:api node tools/oidc-provider/server.mjs > "$out/oidc-provider.log" 2>&1 &
  helpers+=("$!")
  issuer="http://127.0.0.1:$provider_port"
  until curl -sf -o /dev/null "$issuer/.well-known/openid-configuration"; do sleep 0.1; done
fi
if [[ " $servers " == *" backend-tracing "* ]]; then
  sink_port=$(port)
  python3 scripts/loadtest/otlp_sink.py "$sink_port" &
  helpers+=("$!")
  until curl -sf -o /dev/null "http://127.0.0.1:$sink_port/stats"; do sleep 0.1; done
fi

# measure NAME: NAME under callgrind, paced, its count divided by the requests
measure() {
  local name=$1 binary=target/profiling/release/backend p
  local settings=("${prod[@]}") wrk_args=()
  case $name in
    floor) binary=target/profiling/release/examples/floor settings=(DATABASE_URL="$url") ;;
    backend) ;;
    backend-auth)
      settings=(DATABASE_URL="$url" APP_ENV=dev LOG_FORMAT=json LOG_LEVEL=info MIGRATE_ON_START=false
        WORKER_IN_PROCESS=false WEBHOOK_ALLOW_PRIVATE_NETWORKS=false SHUTDOWN_DELAY_MS=3000
        AUTH_MODE=oidc OIDC_ISSUER="$issuer" OIDC_AUDIENCE=urn:backend:api)
      wrk_args=(-H "authorization: Bearer $(curl -sf -u backend-cli:backend-cli-secret \
        -d grant_type=client_credentials -d scope=users:read "$issuer/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')")
      ;;
    backend-tracing)
      settings+=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_TRACES_SAMPLER=always_on
        OTEL_BSP_MAX_QUEUE_SIZE=65536) ;;
    backend-metrics) settings+=(METRICS_ADDR="127.0.0.1:$(port)") ;;
    *) echo "instructions: unknown server $name" >&2; exit 2 ;;
  esac
  p=$(port)
  rm -f "$out/$name".*
  env PORT="$p" "${settings[@]}" \
    valgrind --tool=callgrind --callgrind-out-file="$out/$name" "$binary" serve >/dev/null 2>"$out/$name.valgrind.log" &
  local vpid=$!
  # Any answer will do (backend-auth refuses this one until it has a token).
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/api/v1/users")" != 000 ]; do sleep 0.2; done
  export LOADTEST_PACE_MS=${INSTRUCTIONS_PACE_MS:-2}
  LOADTEST_RUN=warm$RANDOM wrk -t1 -c2 -d3s "${wrk_args[@]}" -s "scripts/loadtest/$endpoint.lua" "http://127.0.0.1:$p" >/dev/null
  callgrind_control --zero "$vpid" >/dev/null
  local result n errors
  result=$(LOADTEST_RUN=cg$RANDOM wrk -t1 -c2 -d8s "${wrk_args[@]}" -s "scripts/loadtest/$endpoint.lua" "http://127.0.0.1:$p" | grep '^RESULT')
  n=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$result")
  errors=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$result")
  callgrind_control --dump "$vpid" >/dev/null
  sleep 1
  kill "$vpid"; wait "$vpid" 2>/dev/null || true
  local dump total logging
  dump=$(find "$out" -maxdepth 1 -name "$name.*" ! -name '*valgrind*' -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2)
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  logging=$(callgrind_annotate --inclusive=yes "$dump" 2>/dev/null \
    | awk '/tracing_core::event::Event::dispatch \[/ && !done {gsub(",", "", $1); print $1; done = 1}')
  echo "$name $endpoint: $n requests ($errors errors), $((total / n)) instructions per request, $(( ${logging:-0} / n )) in log events"
}

for name in $servers; do measure "$name"; done
