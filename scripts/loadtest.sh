#!/usr/bin/env bash
# The load test: the real server in production configuration against the
# floor (examples/floor.rs), same machine, same database, same run.
#
#   scripts/loadtest.sh            quick mode (5 s per measurement, ~4 min)
#   LOADTEST_SECONDS=20 scripts/loadtest.sh
#   LOADTEST_VARIANTS="auth" scripts/loadtest.sh   (default "auth tracing metrics"; "" for none)
#   LOADTEST_ROUNDS=5 scripts/loadtest.sh          (rounds of the variants, default 3)
#
# Per endpoint (GET by random id, first list page, create) and server:
# requests/s at saturation (64 connections), p50/p99/p99.9 at a fixed
# moderate rate, errors, server CPU-seconds per 1,000 requests (from
# /proc/PID/stat), peak RSS, and time to ready. Writes target/loadtest/report.md.
#
# The variants are the backend with one feature on, each its own process
# beside the others, measured on GET by id in rounds that alternate them
# with the plain backend:
#   auth     AUTH_MODE=oidc; every request carries a bearer token (RS256)
#            from the local OpenID Provider tools/oidc-provider (Node.js),
#            whose discovery and JWKS the server fetches over http on
#            127.0.0.1. Prod requires https URLs for both and the server
#            trusts only the webpki roots, so this variant runs with
#            APP_ENV=dev and every other setting whose default depends on
#            APP_ENV set to its prod value.
#   tracing  OTEL_TRACES_SAMPLER=always_on, exported over OTLP/HTTP to
#            scripts/loadtest/otlp_sink.py on 127.0.0.1, which counts the
#            spans it receives (the endpoint also turns on OTLP metrics).
#   metrics  METRICS_ADDR: the instruments and the /metrics listener.
set -euo pipefail
cd "$(dirname "$0")/.."
variants=${LOADTEST_VARIANTS-auth tracing metrics}
for v in $variants; do
  case $v in auth | tracing | metrics) ;; *) echo "loadtest: unknown variant $v (auth, tracing, metrics)" >&2; exit 2 ;; esac
done
wants() { [[ " $variants " == *" $1 "* ]]; }
root=$(pwd)
seconds=${LOADTEST_SECONDS:-5}
rounds=${LOADTEST_ROUNDS:-3}         # of the variants, alternated with the plain backend
rate=${LOADTEST_RATE:-2000}          # fixed moderate rate, requests/s in total
paced_connections=16
out=target/loadtest
mkdir -p "$out"

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
  else
    echo "loadtest: wrk is needed (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)" >&2
    exit 1
  fi
fi

echo "loadtest: building release binaries" >&2
cargo build --release --locked --quiet --bin backend --example floor

dir=$(mktemp -d "${TMPDIR:-/tmp}/backend-load-pg.XXXXXX")
chmod 755 "$dir"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg.sh stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
admin=$(scripts/pg.sh start "$dir")
scripts/pg.sh createdb "$dir" load
url="${admin%/postgres}/load"

DATABASE_URL=$url LOG_LEVEL=warn target/release/backend migrate up >/dev/null
# 10,000 users with UUIDv7 ids (time-ordered, as the service issues them).
psql "$url" -q -c "
  INSERT INTO users (id, email, email_key, full_name)
  SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint - 20000 + i), 12, '0')
          || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text || 'x'), 1, 15))::uuid,
         'seed' || i || '@example.com', 'seed' || i || '@example.com', 'Seed User ' || i
  FROM generate_series(1, 10000) AS i"
psql "$url" -At -c "SELECT id FROM users" > "$out/ids.txt"
export LOADTEST_IDS="$root/$out/ids.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

# wrk_result FIELD LINE: one field of a RESULT line of common.lua (or of the
# sink's stats)
wrk_result() { sed -E "s/(^|.* )$1=([0-9]+).*/\\2/" <<<"$2"; }

# measure ROUND NAME ENDPOINT [WRK_ARG...]: a warm-up (unless ROUND is 2 or
# more), saturation with CPU ticks counted, then the paced run for latency;
# appends a row to $out/rows.tsv and adds every request sent to served[NAME]
measure() {
  local round=$1 name=$2 endpoint=$3
  shift 3
  local pid=${pid_of[$name]} target="http://127.0.0.1:${port_of[$name]}" script="scripts/loadtest/$endpoint.lua"
  local warm="RESULT requests=0" before after saturated paced
  if [ "$round" = - ] || [ "$round" = 1 ]; then
    export LOADTEST_RUN="$name-$endpoint-$RANDOM"
    warm=$(LOADTEST_PACE_MS=0 wrk -t2 -c64 -d2s "$@" -s "$script" "$target" | grep '^RESULT')
  fi
  before=$(cpu_ticks "$pid")
  export LOADTEST_RUN="$name-$endpoint-sat-$RANDOM"
  saturated=$(LOADTEST_PACE_MS=0 wrk -t2 -c64 -d"${seconds}s" "$@" -s "$script" "$target" | grep '^RESULT')
  after=$(cpu_ticks "$pid")
  export LOADTEST_RUN="$name-$endpoint-paced-$RANDOM"
  paced=$(LOADTEST_PACE_MS=$(( paced_connections * 1000 / rate )) wrk -t2 -c$paced_connections -d"${seconds}s" "$@" \
    -s "$script" "$target" | grep '^RESULT')
  local n
  for n in "$warm" "$saturated" "$paced"; do
    served[$name]=$(( ${served[$name]:-0} + $(wrk_result requests "$n") ))
  done
  local requests rps cpu errors
  requests=$(wrk_result requests "$saturated")
  rps=$(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.0f", r / s}')
  cpu=$(awk -v b="$before" -v a="$after" -v t="$ticks" -v r="$requests" 'BEGIN {printf "%.4f", (a - b) / t / r * 1000}')
  errors=$(( $(wrk_result errors "$saturated") + $(wrk_result errors "$paced") ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$endpoint" "$name" "$rps" \
    "$(wrk_result p50 "$paced")" "$(wrk_result p99 "$paced")" "$(wrk_result p999 "$paced")" "$errors" "$cpu" \
    "$requests" "$(( after - before ))" >> "$out/rows.tsv"
  local label=$endpoint
  if [ "$round" != - ]; then label+=" (round $round)"; fi
  echo "loadtest: $name $label: $rps req/s, p99 $(wrk_result p99 "$paced") us, cpu $cpu s/1k" >&2
}

reset_writes() {
  psql "$url" -q -c "DELETE FROM users WHERE email LIKE '%@load.example'" -c "VACUUM ANALYZE users"
}

# start NAME PROBE COMMAND... : runs COMMAND with PORT set, its output in
# $out/NAME.log, and waits for a 200 from PROBE
start() {
  local name=$1 probe=$2
  shift 2
  local port started
  port=$(free_port)
  started=$(now_ms)
  env PORT="$port" "$@" > "$out/$name.log" 2>&1 &
  pid_of[$name]=$!
  port_of[$name]=$port
  pids+=("$!")
  until curl -sf -o /dev/null "http://127.0.0.1:$port$probe"; do
    kill -0 "${pid_of[$name]}" 2>/dev/null || { echo "loadtest: $name exited; see $out/$name.log" >&2; exit 1; }
    sleep 0.002
  done
  ready[$name]=$(( $(now_ms) - started ))
}

# stop NAME: SIGTERM, and wait until it has exited (it flushes what it holds)
stop() {
  local pid=${pid_of[$1]} kept=() p
  kill -TERM "$pid"
  wait "$pid" || true
  for p in "${pids[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  pids=("${kept[@]}")
}

: > "$out/rows.tsv"
: > "$out/meta.tsv"
note() { printf '%s\t%s\n' "$1" "$2" >> "$out/meta.tsv"; }
note "load before" "$(cut -d' ' -f1 /proc/loadavg)"
declare -A pid_of port_of ready served rss
backend=(target/release/backend serve)
# The production configuration; the variants add to it.
prod=(DATABASE_URL="$url" APP_ENV=prod AUTH_MODE=none LOG_FORMAT=json LOG_LEVEL=info)
# The same with APP_ENV=dev, where http identity providers are allowed: every
# setting whose default depends on APP_ENV is set to its prod default.
prod_but_dev=(DATABASE_URL="$url" APP_ENV=dev LOG_FORMAT=json LOG_LEVEL=info MIGRATE_ON_START=false
  WORKER_IN_PROCESS=false WEBHOOK_ALLOW_PRIVATE_NETWORKS=false SHUTDOWN_DELAY_MS=3000)
audience=urn:backend:api

start floor /api/v1/users DATABASE_URL="$url" target/release/examples/floor
start backend /readyz "${prod[@]}" "${backend[@]}"

if wants auth && ! command -v node >/dev/null 2>&1; then
  echo "loadtest: no Node.js: the auth variant is skipped (its OpenID Provider is tools/oidc-provider)" >&2
  note skipped "the bearer-token variant (no Node.js for tools/oidc-provider)"
  variants=${variants//auth/}
fi
if wants auth; then
  [ -d tools/oidc-provider/node_modules/oidc-provider ] ||
    npm ci --prefix tools/oidc-provider --no-audit --no-fund --loglevel=error
  start oidc-provider /.well-known/openid-configuration AUDIENCE=$audience node tools/oidc-provider/server.mjs
  issuer="http://127.0.0.1:${port_of[oidc-provider]}"
  start backend-auth /readyz "${prod_but_dev[@]}" AUTH_MODE=oidc OIDC_ISSUER="$issuer" OIDC_AUDIENCE=$audience "${backend[@]}"
fi
if wants tracing; then
  sink_port=$(free_port)
  python3 scripts/loadtest/otlp_sink.py "$sink_port" &
  pids+=("$!")
  until curl -sf -o /dev/null "http://127.0.0.1:$sink_port/stats"; do sleep 0.01; done
  span_queue=65536
  start backend-tracing /readyz "${prod[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" \
    OTEL_TRACES_SAMPLER=always_on OTEL_BSP_MAX_QUEUE_SIZE=$span_queue "${backend[@]}"
fi
if wants metrics; then
  metrics_port=$(free_port)
  start backend-metrics /readyz "${prod[@]}" METRICS_ADDR="127.0.0.1:$metrics_port" "${backend[@]}"
fi

# new_token: a bearer token from the provider (client credentials), in $token;
# each lives 300 s, so every round of the variants gets a fresh one
new_token() {
  token=$(curl -sf -u backend-cli:backend-cli-secret -d grant_type=client_credentials -d scope=users:read \
    "$issuer/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
}

# check_auth: backend-auth refuses a request without a token and, once it
# has loaded the provider's keys, answers one with a token
check_auth() {
  local base code
  base="http://127.0.0.1:${port_of[backend-auth]}/api/v1/users/$(head -1 "$LOADTEST_IDS")"
  new_token
  code=$(curl -s -o /dev/null -w '%{http_code}' "$base")
  [ "$code" = 401 ] || { echo "loadtest: backend-auth answered $code without a token, not 401" >&2; exit 1; }
  for _ in $(seq 500); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$base")
    [ "$code" = 200 ] && break
    sleep 0.02
  done
  [ "$code" = 200 ] || { echo "loadtest: backend-auth answered $code with a token, not 200" >&2; exit 1; }
  local alg
  alg=$(python3 -c 'import base64, json, sys; h = sys.argv[1].split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"])' "$token")
  note "note backend-auth" "one $alg token per round (client credentials, scope users:read) from tools/oidc-provider on 127.0.0.1, whose discovery and JWKS the server fetched over http, sent with every request: verified once, then found in the verified-token cache, the usual case for a client reusing its token (\`cargo bench --bench auth\` measures verifying every time). APP_ENV=dev, with every other setting whose default depends on APP_ENV set to its prod value: prod requires https for OIDC_ISSUER and OIDC_JWKS_URL. Checked: 401 without the token, 200 with it."
}

# measure_variants: GET by id on the plain backend and on each variant in
# turn, $rounds times, each round in a rotated order: the machine's other
# load drifts, and alternating puts every variant beside the backend
measure_variants() {
  local round order i name
  order=(backend)
  for v in $variants; do order+=("backend-$v"); done
  for round in $(seq "$rounds"); do
    for i in "${!order[@]}"; do
      name=${order[$(( (i + round - 1) % ${#order[@]} ))]}
      if [ "$name" = backend-auth ]; then
        new_token
        measure "$round" "$name" get -H "authorization: Bearer $token"
      else
        measure "$round" "$name" get
      fi
    done
  done
}

# note_tracing: stops backend-tracing, so it exports its last spans, and
# compares what the sink received with what was served
note_tracing() {
  rss[backend-tracing]=$(peak_rss_kib "${pid_of[backend-tracing]}")
  stop backend-tracing
  local stats spans posts
  stats=$(curl -sf "http://127.0.0.1:$sink_port/stats")
  spans=$(wrk_result spans "$stats")
  posts=$(wrk_result traces_posts "$stats")
  [ "$spans" -gt 0 ] || { echo "loadtest: the OTLP sink received no span ($stats)" >&2; exit 1; }
  note "note backend-tracing" "every request traced (OTEL_TRACES_SAMPLER=always_on) and exported over OTLP/HTTP protobuf to scripts/loadtest/otlp_sink.py on 127.0.0.1 (which answers 200 and counts the spans); the endpoint also turns on OTLP metrics. OTEL_BSP_MAX_QUEUE_SIZE=$span_queue: with the SDK's default queue of 2,048 spans the exporter drops spans at saturation on this machine, and a cost measured with spans dropped is not that of tracing every request. The sink received $spans spans in $posts POSTs for ${served[backend-tracing]} GETs: $(awk -v s="$spans" -v r="${served[backend-tracing]}" 'BEGIN {printf "%.2f", s / r}') per request (a GET has 3: the server span, the pool wait, the SELECT)."
}

# note_metrics: reads the request count off /metrics
note_metrics() {
  local counted
  counted=$(curl -sf "http://127.0.0.1:$metrics_port/metrics" |
    awk '/^http_server_request_duration[a-z_]*_count/ {n += $NF} END {print n + 0}')
  [ "$counted" -gt 0 ] || { echo "loadtest: /metrics counted no request" >&2; exit 1; }
  note "note backend-metrics" "the instruments on and the /metrics listener (METRICS_ADDR) up, no OTLP; /metrics counted $counted requests for the ${served[backend-metrics]} GETs sent."
}

if wants auth; then check_auth; fi
# Each endpoint is measured on the floor, then on the backend, from the same
# database state; GET by id then on the variants.
for endpoint in get list create; do
  for name in floor backend; do
    if [ "$endpoint" = create ]; then reset_writes; fi
    measure - "$name" "$endpoint"
  done
  if [ "$endpoint" = get ] && [ -n "${variants// /}" ]; then measure_variants; fi
done
for name in floor backend backend-auth backend-metrics; do
  if [ -n "${pid_of[$name]:-}" ]; then rss[$name]=$(peak_rss_kib "${pid_of[$name]}"); fi
done
if wants tracing; then note_tracing; fi
if wants metrics; then note_metrics; fi
for name in "${!rss[@]}"; do note "rss $name" "${rss[$name]}"; done
note "ready backend" "${ready[backend]}"
note seconds "$seconds"
note rate "$rate"
note rounds "$rounds"
note ticks "$ticks"
note "load after" "$(cut -d' ' -f1 /proc/loadavg)"

python3 scripts/loadtest/report.py "$out/rows.tsv" "$out/meta.tsv" > "$out/report.md"
cat "$out/report.md"
