#!/usr/bin/env bash
# The load test: the real server in production configuration against the
# floor (examples/floor.rs), same machine, same database, same run.
#
#   scripts/loadtest.sh            quick mode (5 s per measurement, < 2 min)
#   LOADTEST_SECONDS=20 scripts/loadtest.sh
#
# Per endpoint (GET by random id, first list page, create) and server:
# requests/s at saturation (64 connections), p50/p99/p99.9 at a fixed
# moderate rate, errors, server CPU-seconds per 1,000 requests (from
# /proc/PID/stat), peak RSS, and time to ready. Writes target/loadtest/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${LOADTEST_SECONDS:-5}
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

# measure NAME PID PORT ENDPOINT -> appends a row to $out/rows.tsv
measure() {
  local name=$1 pid=$2 port=$3 endpoint=$4
  export LOADTEST_RUN="$name-$endpoint-$RANDOM"
  LOADTEST_PACE_MS=0 wrk -t2 -c64 -d2s -s "scripts/loadtest/$endpoint.lua" "http://127.0.0.1:$port" >/dev/null
  local before after saturated paced
  before=$(cpu_ticks "$pid")
  export LOADTEST_RUN="$name-$endpoint-sat-$RANDOM"
  saturated=$(LOADTEST_PACE_MS=0 wrk -t2 -c64 -d"${seconds}s" -s "scripts/loadtest/$endpoint.lua" "http://127.0.0.1:$port" | grep '^RESULT')
  after=$(cpu_ticks "$pid")
  local pace_ms=$(( paced_connections * 1000 / rate ))
  export LOADTEST_RUN="$name-$endpoint-paced-$RANDOM"
  paced=$(LOADTEST_PACE_MS=$pace_ms wrk -t2 -c$paced_connections -d"${seconds}s" -s "scripts/loadtest/$endpoint.lua" "http://127.0.0.1:$port" | grep '^RESULT')
  local requests errors p50 p99 p999 perrors
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$saturated")
  errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$saturated")
  perrors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$paced")
  p50=$(sed -E 's/.*p50=([0-9]+).*/\1/' <<<"$paced")
  p99=$(sed -E 's/.*p99=([0-9]+).*/\1/' <<<"$paced")
  p999=$(sed -E 's/.*p999=([0-9]+).*/\1/' <<<"$paced")
  local rps cpu
  rps=$(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.0f", r / s}')
  cpu=$(awk -v b="$before" -v a="$after" -v t="$ticks" -v r="$requests" 'BEGIN {printf "%.3f", (a - b) / t / r * 1000}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$endpoint" "$name" "$rps" "$p50" "$p99" "$p999" "$((errors + perrors))" "$cpu" >> "$out/rows.tsv"
  echo "loadtest: $name $endpoint: $rps req/s, p99 ${p99} us, cpu $cpu s/1k" >&2
}

reset_writes() {
  psql "$url" -q -c "DELETE FROM users WHERE email LIKE '%@load.example'" -c "VACUUM ANALYZE users"
}

: > "$out/rows.tsv"
declare -A pid_of port_of rss ready
# Both servers run side by side; each endpoint is measured on the floor,
# then on the backend, from the same database state.
for name in floor backend; do
  port=$(free_port)
  started=$(now_ms)
  if [ "$name" = floor ]; then
    DATABASE_URL=$url PORT=$port target/release/examples/floor &
  else
    DATABASE_URL=$url PORT=$port APP_ENV=prod AUTH_MODE=none LOG_FORMAT=json LOG_LEVEL=info \
      target/release/backend serve > "$out/backend.log" &
  fi
  pid_of[$name]=$!
  port_of[$name]=$port
  pids+=("$!")
  probe=/readyz
  [ "$name" = floor ] && probe=/api/v1/users
  until curl -sf -o /dev/null "http://127.0.0.1:$port$probe"; do sleep 0.002; done
  ready[$name]=$(( $(now_ms) - started ))
done
for endpoint in get list create; do
  for name in floor backend; do
    [ "$endpoint" = create ] && reset_writes
    measure "$name" "${pid_of[$name]}" "${port_of[$name]}" "$endpoint"
  done
done
for name in floor backend; do
  rss[$name]=$(peak_rss_kib "${pid_of[$name]}")
done

python3 - "$out/rows.tsv" "${rss[floor]}" "${rss[backend]}" "${ready[backend]}" "$seconds" "$rate" > "$out/report.md" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rss_floor, rss_backend, ready_ms, seconds, rate = sys.argv[2:7]
data = {(r[0], r[1]): r for r in rows}
out = []
out.append(f"| endpoint | server | req/s (64 conns) | × floor | p50 µs | p99 µs | p99.9 µs | p99 × floor | errors | CPU s / 1k req | × floor |")
out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for endpoint in ["get", "list", "create"]:
    f = data[(endpoint, "floor")]
    for server in ["floor", "backend"]:
        r = data[(endpoint, server)]
        ratio = lambda i, fmt="{:.2f}": fmt.format(float(r[i]) / float(f[i])) if float(f[i]) else "-"
        out.append(f"| {endpoint} | {server} | {r[2]} | {ratio(2)} | {r[3]} | {r[4]} | {r[5]} | {ratio(4)} | {r[6]} | {r[7]} | {ratio(7)} |")
out.append("")
out.append(f"Peak RSS: backend {int(rss_backend)/1024:.1f} MiB, floor {int(rss_floor)/1024:.1f} MiB. "
           f"Backend ready (first 200 from /readyz) {ready_ms} ms after start. "
           f"{seconds} s per measurement; latency at a paced {rate} req/s over 16 connections; "
           f"saturation with 64 connections, wrk -t2.")
print("\n".join(out))
PY
cat "$out/report.md"
