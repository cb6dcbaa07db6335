#!/usr/bin/env bash
# Property-based contract test: Schemathesis, driven only by the served
# OpenAPI document, with every check on (schema conformance, status codes,
# negative-data rejection, positive-data acceptance, stateful links…),
# against the real server on a throwaway PostgreSQL. Bounded run time.
#
#   scripts/contract.sh [max examples per operation, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-100}

if ! command -v st >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi
cargo build --locked --quiet
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

run() {
  PORT=$port DATABASE_URL=${TEST_DATABASE_URL%/postgres}/postgres LOG_LEVEL=warn MIGRATE_ON_START=true \
    target/debug/backend serve &
  server=$!
  trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
  # One worker: Schemathesis' coverage phase trips a CPython 3.11 AST bug
  # when several workers describe strategies at once.
  timeout 600 st run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --checks all --max-examples "$examples" --workers 1 --no-color
}
export -f run
export port examples
scripts/with-test-db.sh bash -c run
