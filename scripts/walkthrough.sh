#!/usr/bin/env bash
# The README's curl walk-through as a check: create, read, list, update and
# delete a user against a running server, failing on the first status code
# that is not the documented one. CI runs it against `docker compose up`.
#
#   scripts/walkthrough.sh [BASE_URL]   (default http://127.0.0.1:8000)
#
# Needs curl only. The email is unique per run, so a database that already
# holds users is fine; the user it creates is deleted at the end.
set -euo pipefail
base=${1:-http://127.0.0.1:8000}
users=$base/api/v1/users
email="walkthrough-$(date +%s)-$$@example.com"
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# step NAME EXPECTED_STATUS curl-arguments...: prints the body on a mismatch.
step() {
  local name=$1 want=$2 got
  shift 2
  got=$(curl -sS -o "$body" -w '%{http_code}' "$@") || got="no answer (curl $?)"
  if [ "$got" != "$want" ]; then
    echo "walkthrough: $name: expected $want, got $got" >&2
    cat "$body" >&2; echo >&2
    exit 1
  fi
  echo "walkthrough: $name: $got"
}
json=(-H 'content-type: application/json')

step "GET /healthz" 200 "$base/healthz"
step "GET /readyz" 200 "$base/readyz"
step "POST create" 201 -X POST "$users" "${json[@]}" -d "{\"email\": \"$email\", \"full_name\": \"Ada Lovelace\"}"
id=$(sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p' "$body")
[ -n "$id" ] || { echo "walkthrough: no id in the created user: $(cat "$body")" >&2; exit 1; }
step "GET list" 200 "$users?limit=1"
step "GET by id" 200 "$users/$id"
grep -q "\"email\":\"$email\"" "$body" || { echo "walkthrough: GET by id did not return the user: $(cat "$body")" >&2; exit 1; }
step "PATCH" 200 -X PATCH "$users/$id" "${json[@]}" -d '{"full_name": null, "is_active": false}'
grep -q '"is_active":false' "$body" || { echo "walkthrough: PATCH did not apply: $(cat "$body")" >&2; exit 1; }
step "POST unknown member" 422 -X POST "$users" "${json[@]}" -d "{\"email\": \"$email\", \"nickname\": \"ada\"}"
step "POST same email, other case" 409 -X POST "$users" "${json[@]}" -d "{\"email\": \"$(printf '%s' "${email%@*}" | tr '[:lower:]' '[:upper:]')@example.com\"}"
step "DELETE" 204 -X DELETE "$users/$id"
step "GET deleted" 404 "$users/$id"
echo "walkthrough: all steps as documented"
