#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of every source file under src/, chosen
# by glob, not by name: a new module (a new resource's rules, a new layer)
# is mutated without editing this script. Only the files in `skip` below
# are left out, each with its reason.
#
#   scripts/mutants.sh                       every mutant of those files
#   MUTANTS_SHARD=3/16 scripts/mutants.sh    shard 3 (of 0..15): every 16th
#                                            mutant of each pass, from the
#                                            4th; the 16 shards of one
#                                            commit make the full run
#   MUTANTS_JOBS=2 scripts/mutants.sh        two at a time (a quiet machine)
#   MUTANTS_BASE=main scripts/mutants.sh     only mutants on lines changed
#                                            since that git revision
#   MUTANTS_PASS=1 scripts/mutants.sh        only one of the two passes below
#   MUTANTS_FILES='src/timestamp.rs' scripts/mutants.sh
#                                            only the files matching these
#                                            git pathspecs (a quick check)
#   scripts/mutants.sh report                only the report below, from the
#                                            shards already in target/mutants
#
# Two passes, chosen by what can kill a mutant:
#   1. files with unit tests (a `mod tests` in the file) against the unit
#      tests only (`cargo nextest run --lib`): each mutant rebuilds one test
#      binary and runs in seconds. The mutants matched by `integration_only`
#      below are left to pass 2.
#   2. files without unit tests (the middleware's layers, the handlers, SQL,
#      the accept loop, ...) and the `integration_only` mutants, against the
#      whole integration suite (`cargo nextest run --test api`) on a
#      throwaway PostgreSQL.
# nextest stops at the first failing test, so a caught mutant costs its
# build and the tests up to the one that catches it; a surviving one costs
# the whole suite. A full run still takes many hours on two cores: the CI
# workflow runs it weekly (and on demand) as 16 shards in parallel and
# merges them with `report`.
#
# Each run keeps its outcomes in target/mutants/shards/K-of-N: what cargo
# mutants wrote ({rules,retry,db}/mutants.out), each pass's settled outcomes
# (final/{rules,db}: caught.txt, missed.txt, timeout.txt, unviable.txt), with a
# `scope` file (the commit, the shard, the size of each pass). The report
# adds up every shard of the current commit and rewrites the mutants
# section of docs/quality.md, saying how many of the shards it covers (a
# shard is a spread sample: every N-th mutant of each list). A restricted
# run (MUTANTS_FILES, MUTANTS_BASE, MUTANTS_PASS) is not a sample of the
# whole and is not reported. Exits non-zero if any mutant survives: kill it
# with a sharper test, or, if it is truly equivalent, add it to `equivalent`
# below with the reason.
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
  # poll_ready -> `Poll::from(Ok(()))` (Ready): every service here is ready
  # at once. The Router and hyper-util's HttpConnector always are, and each
  # layer only passes on its inner service's readiness (the webhook
  # client's guarded connector returns Ready itself), so Ready is what each
  # returns anyway.
  'poll_ready -> .* with Poll::from\(Ok\(\(\)\)\)'
  # The log batcher's `spare.shrink_to(64 * 1024)` -> `64 + 1024` or
  # `64 / 1024`: the bound only sets how much memory is kept after a burst;
  # every line is written the same.
  '^src/telemetry/batch[^:]*:.*replace \* with [+/] in flush$'
  # The drain watcher's `lingering && timer elapsed` -> `||`: once shut
  # down and not lingering, its timer has elapsed only where
  # graceful_shutdown was already called (HTTP/2, a busy HTTP/1
  # connection), and hyper's graceful_shutdown is idempotent; an idle
  # HTTP/1 connection's age counts from its first bytes, so it has a
  # request on the way when retired. Named by line and column, as the
  # poll has other && whose mutants are not equivalent: if the code moves,
  # the mutant shows up as a survivor and this entry needs its new place.
  '^src/server/drain\.rs:273:35: replace && with \|\| in <impl Future for Watched<C>>::poll$'
  # Debug for the database TLS Connector: written because every public type
  # implements Debug (the crate's lint); nothing prints it.
  '^src/db/tls[^:]*:.*<impl std::fmt::Debug for Connector>::fmt'
  # refetch_for_unknown_kid: `elapsed() < REFETCH_INTERVAL` -> `<=` differs
  # only when the elapsed time is the interval to the nanosecond.
  '^src/auth/store[^:]*:.*replace < with <= in KeyStore::refetch_for_unknown_kid'
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

# The commit measured: the last one to change what is mutated or what
# tests it, so commits of docs or scripts since then leave the shards
# valid. Uncommitted changes there make the figures not the commit's.
measured=(src tests sql build.rs Cargo.toml Cargo.lock)
commit=$(git log -1 --format=%H -- "${measured[@]}" 2>/dev/null || true)
commit=${commit:-unknown}
if [ -n "$(git status --porcelain -- "${measured[@]}" 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi
scope_get() { sed -n "s/^$2=//p" "$1/scope"; }
count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }

# Adds up the finished, unrestricted shards of this commit and rewrites the
# mutants section of docs/quality.md.
report() {
  local dirs=() d n="" k shards_done=()
  for d in "$out"/shards/*/; do
    d=${d%/}
    [ -f "$d/scope" ] || continue
    [ "$(scope_get "$d" commit)" = "$commit" ] || continue
    [ "$(scope_get "$d" restricted)" = 0 ] || continue
    k=$(scope_get "$d" shards)
    if [ -z "$n" ]; then n=$k; fi
    if [ "$k" != "$n" ]; then
      echo "mutants: runs in $n and in $k shards of one commit in $out/shards: keep one set" >&2
      return 2
    fi
    dirs+=("$d")
    shards_done+=("$(scope_get "$d" shard)")
  done
  if [ ${#dirs[@]} -eq 0 ]; then
    echo "mutants: no finished, unrestricted run of ${commit:0:12} in $out/shards: nothing to report" >&2
    return 2
  fi
  local first=${dirs[0]} pass_name outcome eq_re
  # The `equivalent` list as it is now, applied to the runs' lists and
  # outcomes too: an entry argued after a run needs no new run. (Its
  # patterns are plain enough to mean the same to grep -E.)
  eq_re=$(join "${equivalent[@]}")
  kept() { if [ -f "$1" ]; then grep -vE "$eq_re" "$1" | grep -c . || true; else echo 0; fi; }
  local -A sum=()
  for pass_name in rules db; do
    for outcome in caught missed timeout unviable; do
      sum[$pass_name.$outcome]=0
      for d in "${dirs[@]}"; do
        sum[$pass_name.$outcome]=$(( sum[$pass_name.$outcome] + $(kept "$d/final/$pass_name/$outcome.txt") ))
      done
    done
    sum[$pass_name.total]=$(kept "$first/$pass_name.list")
  done
  local excluded
  excluded=$(( $(scope_get "$first" excluded) + $(cat "$first"/{rules,db}.list | grep -cE "$eq_re" || true) ))
  row() { # label, tests, then the keys' prefix (or "both")
    local label=$1 tests=$2 p=$3 total caught missed timeout unviable
    if [ "$p" = both ]; then
      total=$(( sum[rules.total] + sum[db.total] ))
      caught=$(( sum[rules.caught] + sum[db.caught] )) missed=$(( sum[rules.missed] + sum[db.missed] ))
      timeout=$(( sum[rules.timeout] + sum[db.timeout] )) unviable=$(( sum[rules.unviable] + sum[db.unviable] ))
    else
      total=${sum[$p.total]} caught=${sum[$p.caught]} missed=${sum[$p.missed]}
      timeout=${sum[$p.timeout]} unviable=${sum[$p.unviable]}
    fi
    local tested=$(( caught + missed + timeout + unviable )) viable=$(( caught + missed + timeout ))
    local score
    score=$(awk -v c="$caught" -v v="$viable" 'BEGIN { printf "%.1f", v ? 100 * c / v : 100 }')
    echo "| $label | $tests | $total | $tested | $caught | $missed | $timeout | $unviable | $score % |"
  }
  local sorted coverage_text command_text
  sorted=$(printf '%s\n' "${shards_done[@]}" | sort -n | paste -sd, | sed 's/,/, /g')
  if [ "${#dirs[@]}" -eq "$n" ]; then
    coverage_text="Every mutant: all $n of $n shards."
  else
    coverage_text="A sample: $(( ${#dirs[@]} )) of $n shards ($sorted). Shard K is every ${n}th mutant of each pass's list, from the K-th, so the mutants tested are spread over every file; the other shards were not run on this commit, and their mutants are neither caught nor missed here."
  fi
  if [ "$n" = 1 ]; then
    command_text="\`make mutants\`"
  else
    command_text="\`MUTANTS_SHARD=K/$n make mutants\` for each shard K listed, then \`scripts/mutants.sh report\`"
  fi
  local survivors
  survivors=$(for d in "${dirs[@]}"; do cat "$d/survivors.txt" 2>/dev/null || true; done | { grep -vE "$eq_re" || true; } | sort)
  printf '%s' "$survivors${survivors:+$'\n'}" > "$out/survivors.txt"
  scripts/quality-doc.sh mutants <<DOC
## Mutation testing

| pass | tested against | mutants | tested | caught | missed | timeouts | unviable | score (caught / viable) |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
$(row "1: files with unit tests" "their unit tests; what those miss, the integration suite" rules)
$(row "2: the rest" "the integration suite, on PostgreSQL" db)
$(row "both" "" both)

$coverage_text

Files: $(scope_get "$first" files), every \`src/**/*.rs\` but the \`skip\`
list of \`scripts/mutants.sh\`. Excluded as equivalent: $excluded
mutants, listed there, each with its reason.

Measured on commit \`${commit:0:12}\`$(case $commit in *+dirty) echo " plus uncommitted changes" ;; esac)
(the last to change \`src/\`, \`tests/\`, \`sql/\` or the build), $(date -u +%Y-%m-%d) (UTC).
Command: $command_text
(\`scripts/mutants.sh\`). Survivors:
$(if [ -n "$survivors" ]; then printf '%s\n' "$survivors" | sed 's/.*/- `&`/'; else echo none.; fi)
DOC
  echo "mutants: reported ${#dirs[@]} of $n shards of ${commit:0:12}; survivors in $out/survivors.txt" >&2
}

if [ "${1:-}" = report ]; then
  report
  exit $?
fi

shard=${MUTANTS_SHARD:-0/1}
if ! [[ $shard =~ ^([0-9]+)/([0-9]+)$ ]] || (( BASH_REMATCH[1] >= BASH_REMATCH[2] )); then
  echo "mutants: MUTANTS_SHARD is K/N with 0 <= K < N, not '$shard'" >&2
  exit 2
fi
k=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
pass=${MUTANTS_PASS:-all}
restricted=0
if [ -n "${MUTANTS_FILES:-}${MUTANTS_BASE:-}" ] || [ "$pass" != all ]; then restricted=1; fi

if ! cargo mutants --version 2>/dev/null | grep -qF "$CARGO_MUTANTS_VERSION"; then
  cargo install --locked "cargo-mutants@$CARGO_MUTANTS_VERSION"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

# Each mutant is a rebuild: debug info would only slow it down.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
# And each is a small change to one crate: incremental builds (CI
# workflows often turn them off for the whole job).
export CARGO_INCREMENTAL=1

# Runs of another commit cannot be added to this one's.
for d in "$out"/shards/*/; do
  d=${d%/}
  if [ -f "$d/scope" ] && [ "$(scope_get "$d" commit)" != "$commit" ]; then rm -rf "$d"; fi
done
run=$out/shards/$k-of-$n
rm -rf "$run"
mkdir -p "$run/rules" "$run/db"

select=()
if [ -n "${MUTANTS_BASE:-}" ]; then
  git diff "$MUTANTS_BASE" -- "${files[@]}" > "$run/changes.diff"
  select+=(--in-diff "$run/changes.diff")
fi
common=(--jobs "$jobs" --no-shuffle --test-tool nextest --shard "$k/$n" --sharding round-robin "${select[@]}")
file_args() { local f; for f in "$@"; do printf -- '--file\n%s\n' "$f"; done; }
mapfile -t unit_args < <(file_args "${unit[@]}")
mapfile -t all_args < <(file_args "${files[@]}")
# Pass 2: every mutant of the files without unit tests, and the
# integration-only mutants of the others.
re=()
for f in "${integration[@]}"; do re+=("^$(printf '%s' "$f" | sed 's/[.]/\\./g'):"); done
re+=("${integration_only[@]}")
rules_filter=(--exclude-re "$(join "${integration_only[@]}" "${equivalent[@]}")")
db_filter=(--re "$(join "${re[@]}")" --exclude-re "$(join "${equivalent[@]}")")

# cargo mutants exits 2 when a mutant was missed and 3 when one timed out:
# the outcomes say which. Anything else is a failure of the run itself
# (a baseline that does not pass, a bad option), and fails the script.
failure=0
mutate() {
  local code=0 db=()
  if [ "${with_db:-}" = 1 ]; then db=(scripts/with-test-db.sh); fi
  "${db[@]}" cargo mutants "$@" || code=$?
  case $code in
    0 | 2 | 3) ;;
    *) echo "mutants: cargo mutants failed (exit $code)" >&2; failure=$code ;;
  esac
}
if [ "$pass" != 2 ] && [ ${#unit[@]} -gt 0 ]; then
  echo "mutants: pass 1 (shard $k/$n), files with unit tests against the unit tests" >&2
  mutate "${common[@]}" "${unit_args[@]}" "${rules_filter[@]}" --output "$run/rules" --cargo-arg=--lib
fi
# Pass 1's survivors, again, against the integration suite: the unit tests
# missed them, but a path the file's unit tests cannot reach (I/O, the real
# process) may be what the integration tests check. Only what both miss is
# a survivor. No shard here: these are this shard's own.
missed_in_pass_1=$run/rules/mutants.out/missed.txt
if [ "$pass" = all ] && [ -s "$missed_in_pass_1" ]; then
  echo "mutants: pass 1's $(count "$missed_in_pass_1") survivors (shard $k/$n) against the integration tests" >&2
  names=$(sed -e 's/[][\\.+*?(){}|^$]/\\&/g' -e 's/^/^/' -e 's/$/$/' "$missed_in_pass_1" | paste -sd'|')
  # Only their files: fewer mutants slip past --re (see below).
  # shellcheck disable=SC2046 # source paths have no spaces
  mapfile -t retry_args < <(file_args $(cut -d: -f1 "$missed_in_pass_1" | sort -u))
  with_db=1 mutate --jobs "$jobs" --no-shuffle --test-tool nextest "${retry_args[@]}" \
    --re "$names" --output "$run/retry" --cargo-arg=--test=api
fi
if [ "$pass" != 1 ]; then
  echo "mutants: pass 2 (shard $k/$n), the rest against the integration tests" >&2
  with_db=1 mutate "${common[@]}" "${all_args[@]}" "${db_filter[@]}" --output "$run/db" --cargo-arg=--test=api
fi

# Each pass's outcomes, by mutant name, in $run/final/{rules,db}. Only the
# names of the pass's own list count: cargo-mutants 27.1 applies neither
# --re nor --exclude-re to field-deletion mutants ("delete field x from
# struct Y expression"), so a run may test a few from outside its list.
# For pass 1, a mutant its unit tests missed takes the retry's outcome.
lines() { if [ -f "$1" ]; then cat "$1"; fi; }
only() { grep -xFf "$1" || true; }
except() { grep -vxFf "$1" || true; }
cargo mutants --list "${select[@]}" "${unit_args[@]}" "${rules_filter[@]}" | sort -u > "$run/rules.list"
cargo mutants --list "${select[@]}" "${all_args[@]}" "${db_filter[@]}" | sort -u | except "$run/rules.list" > "$run/db.list"
mkdir -p "$run/final/rules" "$run/final/db"
from=$run/rules/mutants.out retried=$run/retry/mutants.out
for outcome in caught timeout unviable; do
  lines "$from/$outcome.txt" | only "$run/rules.list" > "$run/final/rules/$outcome.txt"
done
lines "$from/missed.txt" | only "$run/rules.list" > "$run/missed-by-unit-tests.txt"
if [ -f "$retried/outcomes.json" ]; then
  for outcome in caught timeout unviable; do
    lines "$retried/$outcome.txt" | only "$run/missed-by-unit-tests.txt" >> "$run/final/rules/$outcome.txt"
  done
  cat "$run"/final/rules/{caught,timeout,unviable}.txt > "$run/settled.txt"
  except "$run/settled.txt" < "$run/missed-by-unit-tests.txt" > "$run/final/rules/missed.txt"
else
  cp "$run/missed-by-unit-tests.txt" "$run/final/rules/missed.txt"
fi
for outcome in caught missed timeout unviable; do
  lines "$run/db/mutants.out/$outcome.txt" | only "$run/db.list" > "$run/final/db/$outcome.txt"
done
# Survivors: missed or timed out, in either pass.
cat "$run"/final/{rules,db}/{missed,timeout}.txt | sort > "$run/survivors.txt"

# The scope of this run, written last: a run cut short or failed leaves
# none, and the report skips it.
[ "$failure" = 0 ] && {
  echo "commit=$commit"
  echo "shard=$k"
  echo "shards=$n"
  echo "restricted=$restricted"
  echo "files=${#files[@]}"
  echo "rules_total=$(count "$run/rules.list")"
  echo "db_total=$(count "$run/db.list")"
  echo "excluded=$(cargo mutants --list "${all_args[@]}" --re "$(join "${equivalent[@]}")" | grep -c . || true)"
} > "$run/scope"
for p in rules db; do
  for outcome in caught missed timeout unviable; do
    printf '%s ' "$outcome=$(count "$run/final/$p/$outcome.txt")"
  done | sed "s/^/mutants: shard $k\/$n, $p: /"
  echo
done >&2
if [ "$restricted" = 0 ]; then
  report
else
  echo "mutants: a restricted run (MUTANTS_FILES, MUTANTS_BASE or MUTANTS_PASS): docs/quality.md left as it is" >&2
fi
if [ -s "$run/survivors.txt" ]; then
  echo "mutants: $(count "$run/survivors.txt") survivors in shard $k/$n:" >&2
  sed 's/^/  /' "$run/survivors.txt" >&2
fi
if [ "$failure" != 0 ]; then exit "$failure"; fi
if [ -s "$run/survivors.txt" ]; then exit 2; fi
