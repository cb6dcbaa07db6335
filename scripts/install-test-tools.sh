#!/usr/bin/env bash
# Installs the programs some integration tests start themselves, when they
# are missing: PgBouncer (transaction-pooling tests), HAProxy (the
# rolling-restart test) and Redis (the JOBS_BROKER=redis tests). As root
# with apt-get (CI, containers) they are installed from Debian's packages;
# elsewhere this prints how, and those tests skip with one line saying what
# is missing (with CI=true or in .ci/run they fail).
set -euo pipefail

missing=()
for tool in pgbouncer haproxy redis-server; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: installing ${missing[*]} (Debian packages)" >&2
  apt-get update -qq
  # Packages only: their services are started by the tests that need them.
  RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: ${missing[*]} not found; the tests that need them are skipped" \
    "(Debian/Ubuntu: sudo apt-get install ${missing[*]}; macOS: brew install ${missing[*]})" >&2
fi
