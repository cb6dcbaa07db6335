#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL server.
#
# If TEST_DATABASE_URL or DATABASE_URL is set, that server is used as it is.
# Otherwise a throwaway server is started in a temporary directory and
# stopped and deleted when the command ends, whatever its outcome, so no
# process or data is left behind. With PG_PASSWORD=SECRET that server
# checks passwords (scram-sha-256) and is reached over TCP with an admin
# URL that carries the password, like the CI workflow's service (see
# scripts/pg.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi
if [ -n "${DATABASE_URL:-}" ]; then
  export TEST_DATABASE_URL=$DATABASE_URL
  exec "$@"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/backend-test-pg.XXXXXX")
cleanup() {
  "$here/pg.sh" stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$dir"
TEST_DATABASE_URL=$("$here/pg.sh" start "$dir")
export TEST_DATABASE_URL
echo "with-test-db: throwaway PostgreSQL at $dir" >&2
"$@"
