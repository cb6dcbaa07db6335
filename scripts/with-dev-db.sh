#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a PostgreSQL server.
#
# If DATABASE_URL is set (in the environment or in .env), that server is
# used. Otherwise a project-private server is started under .data/postgres
# (created on first use; data persists between runs), the `backend`
# database is created if missing, and the server is stopped again when the
# command ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

if [ -n "${DATABASE_URL:-}" ] || { [ -f "$root/.env" ] && grep -Eq '^[[:space:]]*(export[[:space:]]+)?DATABASE_URL=.' "$root/.env"; }; then
  exec "$@"
fi

dir="$root/.data/postgres"
mkdir -p "$dir"
started=yes
if "$here/pg.sh" status "$dir"; then
  started=no
fi
admin=$("$here/pg.sh" start "$dir")
"$here/pg.sh" createdb "$dir" backend
if [ "$started" = yes ]; then
  trap '"$here/pg.sh" stop "$dir"' EXIT
fi
export DATABASE_URL="${admin%/postgres}/backend"
echo "with-dev-db: private PostgreSQL under .data/postgres (DATABASE_URL=$DATABASE_URL)" >&2
"$@"
