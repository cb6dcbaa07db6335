#!/usr/bin/env bash
# Installs the programs some integration tests start themselves, when they
# are missing: PgBouncer (transaction-pooling tests), HAProxy (the
# rolling-restart test) and Redis (the JOBS_BROKER=redis tests). As root or
# with password-less sudo (CI, containers) they are installed from Debian's
# packages with apt-get; elsewhere this prints how, and those tests skip
# with one line saying what is missing (with CI=true or in .ci/run they
# fail).
set -euo pipefail

missing=()
for tool in pgbouncer haproxy redis-server; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

# As root, or with password-less sudo (GitHub's runners): apt-get.
as_root=()
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
fi
if { [ "$(id -u)" = 0 ] || [ ${#as_root[@]} -gt 0 ]; } && command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: installing ${missing[*]} (Debian packages)" >&2
  "${as_root[@]}" apt-get update -qq
  # Packages only: their services are started by the tests that need them.
  "${as_root[@]}" env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: ${missing[*]} not found; the tests that need them are skipped" \
    "(Debian/Ubuntu: sudo apt-get install ${missing[*]}; macOS: brew install ${missing[*]})" >&2
fi
