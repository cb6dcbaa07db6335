#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the modules that hold the rules:
# validation and the domain types, cursor encoding, settings parsing, the
# error -> problem mapping, the request-id rules, the router's 404/405/Allow
# logic, the migration runner's drift and version checks, and the parsing of
# bodies, query strings and path parameters.
#
#   scripts/mutants.sh                     every mutant of those files
#   MUTANTS_JOBS=2 scripts/mutants.sh      two at a time (a quiet machine)
#   MUTANTS_BASE=main scripts/mutants.sh   only mutants on lines changed
#                                          since that git revision
#   MUTANTS_PASS=1 scripts/mutants.sh      only one of the two passes below
#
# Two passes keep it within about half an hour on two cores:
#   1. the pure rules, against the unit tests only (`cargo test --lib`,
#      built and run): each mutant rebuilds one test binary, runs in a
#      second;
#   2. the functions only a database or the process reaches (SQL, the
#      runner's I/O, driver-error classification, .env), against the
#      integration tests that exercise them (`cargo test --test api` with
#      a filter), on a throwaway PostgreSQL.
# Reports land in target/mutants/{rules,db}/mutants.out (caught.txt,
# missed.txt, timeout.txt, unviable.txt). Exits non-zero if any mutant
# survives: kill it with a sharper test, or, if it is truly equivalent,
# add it to `equivalent` below with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MUTANTS_VERSION=27.1.0
jobs=${MUTANTS_JOBS:-1}
out=target/mutants

files=(
  src/users/model.rs
  src/users/service.rs
  src/users/cursor.rs
  src/config.rs
  src/error.rs
  src/middleware/request_id.rs
  src/router.rs
  src/db/migrate.rs
  src/http/query.rs
  src/http/path.rs
  src/http/body.rs
)

# Mutants of code that only runs against PostgreSQL or in the real process:
# pass 2 tests these, pass 1 leaves them out.
db_only=(
  '^src/db/migrate\.rs:.*(replace|in) (begin|end|up|apply_pending|down|revert_last|status|connect)( |$)'
  '^src/db/migrate\.rs:.*(MigrateError::is_unreachable|impl std::error::Error for MigrateError)'
  '^src/error\.rs:.*(From<tokio_postgres::Error> for AppError|error_has_io_source|PoolError::Backend)'
  '^src/users/service\.rs:.*(replace|in) (email_taken|create|get|list|update|delete)( |$)'
  '^src/config\.rs:.*(Settings::from_env|port_from_env)'
)
# The integration tests that reach them.
db_tests=(migrations:: migration_runner:: driver_errors:: users_ cli:: settings::)

# Mutants that cannot change behaviour, each with the reason. Keep this
# list short and argued: anything else that survives needs a test.
equivalent=(
  # Router::poll_ready: `Poll::Ready(Ok(()))` -> `Poll::from(Ok(()))` is the
  # same value (From<T> for Poll<T> is Ready).
  '^src/router\.rs:.*poll_ready -> .* with Poll::from\(Ok\(\(\)\)\)'
  # JsonObject's Visitor::expecting: the text only reaches serde's "invalid
  # type" errors, which parse_object replaces with a fixed message.
  '^src/http/body\.rs:.*ObjectVisitor>::expecting'
  # percent_decode: `hi << 4 | lo` -> `^`: the low nibble of `hi << 4` is
  # zero, so OR and XOR give the same byte.
  '^src/http/query\.rs:.*replace \| with \^ in percent_decode'
  # next_random: `(out << 64) | low` -> `^`: the low 64 bits of `out << 64`
  # are zero, so OR and XOR give the same value.
  '^src/middleware/request_id\.rs:.*replace \| with \^ in next_random'
)

join() { local IFS='|'; echo "$*"; }

if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install --locked "cargo-mutants@$CARGO_MUTANTS_VERSION"
fi

# Each mutant is a rebuild: debug info would only slow it down.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0

common=(--jobs "$jobs" --no-shuffle)
for f in "${files[@]}"; do common+=(--file "$f"); done
if [ -n "${MUTANTS_BASE:-}" ]; then
  mkdir -p "$out"
  git diff "$MUTANTS_BASE" -- "${files[@]}" > "$out/changes.diff"
  common+=(--in-diff "$out/changes.diff")
fi

mkdir -p "$out/rules" "$out/db"
pass=${MUTANTS_PASS:-all}
status=0
if [ "$pass" != 2 ]; then
  echo "mutants: pass 1, the rules against the unit tests" >&2
  rm -rf "$out/rules/mutants.out"
  cargo mutants "${common[@]}" --output "$out/rules" --cargo-arg=--lib \
    --exclude-re "$(join "${db_only[@]}" "${equivalent[@]}")" || status=$?
fi
if [ "$pass" != 1 ]; then
  echo "mutants: pass 2, database and process code against the integration tests" >&2
  rm -rf "$out/db/mutants.out"
  scripts/with-test-db.sh cargo mutants "${common[@]}" --output "$out/db" --cargo-arg=--test=api \
    --re "$(join "${db_only[@]}")" --exclude-re "$(join "${equivalent[@]}")" \
    -- -- "${db_tests[@]}" || status=$((status > 0 ? status : $?))
fi

count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }
total() { echo $(( $(count "$out/rules/mutants.out/$1") + $(count "$out/db/mutants.out/$1") )); }
caught=$(total caught.txt) missed=$(total missed.txt)
timeouts=$(total timeout.txt) unviable=$(total unviable.txt)
tested=$((caught + missed + timeouts + unviable))
viable=$((caught + missed + timeouts))
excluded=0
for f in "${files[@]}"; do
  n=$(cargo mutants --list --file "$f" --re "$(join "${equivalent[@]}")" | grep -c . || true)
  excluded=$((excluded + n))
done
score=$(awk -v c="$caught" -v v="$viable" 'BEGIN { printf "%.1f", v ? 100 * c / v : 100 }')
echo "mutants: $tested tested: $caught caught, $missed missed, $timeouts timeouts, $unviable unviable; score ${score}% (caught / viable); excluded as equivalent: $excluded"
for f in "$out"/{rules,db}/mutants.out/{missed,timeout}.txt; do
  [ -s "$f" ] && { echo "${f#"$out"/}:"; sed 's/^/  /' "$f"; }
done
exit "$status"
