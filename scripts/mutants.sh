#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of every source file under src/, chosen
# by glob, not by name: a new module (a new resource's rules, a new layer)
# is mutated without editing this script. Only the files in `skip` below
# are left out, each with its reason.
#
#   scripts/mutants.sh                       every mutant of those files
#   MUTANTS_JOBS=2 scripts/mutants.sh        two at a time (a quiet machine)
#   MUTANTS_BASE=main scripts/mutants.sh     only mutants on lines changed
#                                            since that git revision
#   MUTANTS_PASS=1 scripts/mutants.sh        only one of the two passes below
#   MUTANTS_FILES='src/timestamp.rs' scripts/mutants.sh
#                                            only the files matching these
#                                            git pathspecs (a quick check)
#
# Two passes, chosen by what can kill a mutant:
#   1. files with unit tests (a `mod tests` in the file) against the unit
#      tests only (`cargo test --lib`, built and run): each mutant rebuilds
#      one test binary and runs in seconds. The mutants matched by
#      `integration_only` below are left to pass 2.
#   2. files without unit tests (the middleware's layers, the handlers, SQL,
#      the accept loop, ...) and the `integration_only` mutants, against the
#      whole integration suite (`cargo test --test api`) on a throwaway
#      PostgreSQL: about a minute per mutant on two cores.
# A full run takes hours on two cores; the CI workflow runs it weekly (and
# on demand) and keeps the survivors' list. Reports land in
# target/mutants/{rules,db}/mutants.out (caught.txt, missed.txt,
# timeout.txt, unviable.txt). A full run rewrites the mutants section of
# docs/quality.md. Exits non-zero if any mutant survives: kill it with a
# sharper test, or, if it is truly equivalent, add it to `equivalent` below
# with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MUTANTS_VERSION=27.1.0
jobs=${MUTANTS_JOBS:-1}
out=target/mutants

# The only files left out, each with its reason. Keep this list short.
skip=(
  # Documentation only: `#[cfg(doc)]` guide modules, no code.
  '^src/guide\.rs$'
  # The process entry (argument parsing, exit codes, signal set-up): its
  # behaviour is asserted on the spawned binary (tests/api/cli.rs,
  # lifecycle.rs), and what it calls lives in the library files mutated
  # here; mutating it would rebuild and rerun everything for a thin layer.
  '^src/main\.rs$'
)

join() { local IFS='|'; echo "$*"; }

if [ -n "${MUTANTS_FILES:-}" ]; then
  # shellcheck disable=SC2086 # pathspecs, split on purpose
  mapfile -t candidates < <(git ls-files -- $MUTANTS_FILES | grep -E '^src/.*\.rs$' || true)
else
  mapfile -t candidates < <(git ls-files -- 'src/*.rs')
fi
files=()
for f in "${candidates[@]}"; do
  printf '%s\n' "$f" | grep -Eq "$(join "${skip[@]}")" || files+=("$f")
done
[ ${#files[@]} -gt 0 ] || { echo "mutants: no source file selected" >&2; exit 2; }
unit=() integration=()
for f in "${files[@]}"; do
  if grep -q 'mod tests' "$f"; then unit+=("$f"); else integration+=("$f"); fi
done
echo "mutants: ${#files[@]} files: ${#unit[@]} with unit tests, ${#integration[@]} reached by the integration tests only" >&2

# Mutants in files that have unit tests but that only PostgreSQL or the
# real process reaches (SQL, the runner's I/O, driver errors, .env): pass 2
# tests them, pass 1 leaves them out. Paths are patterns, so a module that
# moves (error.rs -> error/mod.rs) keeps its entry.
integration_only=(
  '^src/db/migrate[^:]*:.*(replace|in) (begin|end|up|upgrade_legacy|apply_pending|down|revert_last|status|connect)( |$)'
  '^src/db/migrate[^:]*:.*(MigrateError::is_unreachable|impl std::error::Error for MigrateError)'
  '^src/error[^:]*:.*(From<tokio_postgres::Error> for AppError|error_has_io_source|PoolError::Backend)'
  '^src/users/service[^:]*:.*(replace|in) (email_taken|create|get|list|update|delete)( |$)'
  '^src/config[^:]*:.*(Settings::from_env|port_from_env)'
)

# Mutants that cannot change behaviour, each with the reason. Keep this
# list short and argued: anything else that survives needs a test.
equivalent=(
  # Router::poll_ready: `Poll::Ready(Ok(()))` -> `Poll::from(Ok(()))` is the
  # same value (From<T> for Poll<T> is Ready).
  '^src/router[^:]*:.*poll_ready -> .* with Poll::from\(Ok\(\(\)\)\)'
  # JsonObject's Visitor::expecting: the text only reaches serde's "invalid
  # type" errors, which parse_object replaces with a fixed message.
  '^src/http/body[^:]*:.*ObjectVisitor>::expecting'
  # percent_decode: `hi << 4 | lo` -> `^`: the low nibble of `hi << 4` is
  # zero, so OR and XOR give the same byte.
  '^src/http/query[^:]*:.*replace \| with \^ in percent_decode'
  # next_random: `(out << 64) | low` -> `^`: the low 64 bits of `out << 64`
  # are zero, so OR and XOR give the same value.
  '^src/middleware/request_id[^:]*:.*replace \| with \^ in next_random'
)

if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install --locked "cargo-mutants@$CARGO_MUTANTS_VERSION"
fi

# Each mutant is a rebuild: debug info would only slow it down.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0

common=(--jobs "$jobs" --no-shuffle)
if [ -n "${MUTANTS_BASE:-}" ]; then
  mkdir -p "$out"
  git diff "$MUTANTS_BASE" -- "${files[@]}" > "$out/changes.diff"
  common+=(--in-diff "$out/changes.diff")
fi
file_args() { local f; for f in "$@"; do printf -- '--file\n%s\n' "$f"; done; }

mkdir -p "$out/rules" "$out/db"
rm -rf "$out/rules/mutants.out" "$out/db/mutants.out"
pass=${MUTANTS_PASS:-all}
status=0
if [ "$pass" != 2 ] && [ ${#unit[@]} -gt 0 ]; then
  echo "mutants: pass 1, files with unit tests against the unit tests" >&2
  mapfile -t args < <(file_args "${unit[@]}")
  cargo mutants "${common[@]}" "${args[@]}" --output "$out/rules" --cargo-arg=--lib \
    --exclude-re "$(join "${integration_only[@]}" "${equivalent[@]}")" || status=$?
fi
if [ "$pass" != 1 ]; then
  echo "mutants: pass 2, the rest against the integration tests" >&2
  # Every mutant of the files without unit tests, and the integration-only
  # mutants of the others.
  re=()
  for f in "${integration[@]}"; do re+=("^$(printf '%s' "$f" | sed 's/[.]/\\./g'):"); done
  re+=("${integration_only[@]}")
  mapfile -t args < <(file_args "${files[@]}")
  scripts/with-test-db.sh cargo mutants "${common[@]}" "${args[@]}" --output "$out/db" --cargo-arg=--test=api \
    --re "$(join "${re[@]}")" --exclude-re "$(join "${equivalent[@]}")" \
    || status=$((status > 0 ? status : $?))
fi

count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }
total() { echo $(( $(count "$out/rules/mutants.out/$1") + $(count "$out/db/mutants.out/$1") )); }
caught=$(total caught.txt) missed=$(total missed.txt)
timeouts=$(total timeout.txt) unviable=$(total unviable.txt)
tested=$((caught + missed + timeouts + unviable))
viable=$((caught + missed + timeouts))
mapfile -t args < <(file_args "${files[@]}")
excluded=$(cargo mutants --list "${args[@]}" --re "$(join "${equivalent[@]}")" | grep -c . || true)
score=$(awk -v c="$caught" -v v="$viable" 'BEGIN { printf "%.1f", v ? 100 * c / v : 100 }')
summary="$tested tested: $caught caught, $missed missed, $timeouts timeouts, $unviable unviable; score ${score}% (caught / viable); excluded as equivalent: $excluded"
echo "mutants: $summary"
cat "$out"/{rules,db}/mutants.out/{missed,timeout}.txt 2>/dev/null > "$out/survivors.txt" || true
if [ -s "$out/survivors.txt" ]; then
  echo "survivors ($out/survivors.txt):"
  sed 's/^/  /' "$out/survivors.txt"
fi

# Only a full run speaks for the project: a restricted one is not recorded.
if [ -z "${MUTANTS_FILES:-}${MUTANTS_BASE:-}" ] && [ "$pass" = all ]; then
  scripts/quality-doc.sh mutants <<DOC
## Mutation testing

| files | mutants tested | caught | missed | timeouts | unviable | score (caught / viable) | excluded as equivalent |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| ${#files[@]} | $tested | $caught | $missed | $timeouts | $unviable | ${score} % | $excluded |

$(scripts/quality-doc.sh stamp) Command: \`make mutants\`
(\`scripts/mutants.sh\`, MUTANTS_JOBS=$jobs: every \`src/**/*.rs\` but
the files its \`skip\` list names). Survivors:
$(if [ -s "$out/survivors.txt" ]; then sed 's/^/- /' "$out/survivors.txt"; else echo none.; fi)
DOC
else
  echo "mutants: a restricted run (MUTANTS_FILES, MUTANTS_BASE or MUTANTS_PASS): docs/quality.md left as it is" >&2
fi
exit "$status"
