#!/usr/bin/env bash
# Property-based API tests (issue #5): schemathesis (PyPI) generates requests
# from GET /api/openapi.json and checks every answer: no 5xx, documented status
# codes, content types and headers, bodies that match their schemas, bad input
# rejected, auth enforced. Left out: positive_data_acceptance, which wants every
# schema-valid request to succeed; business rules (a scope the caller does not
# hold, a name already taken) rightly answer 422.
#
# Starts the debug binary on a throwaway SQLite database with an administrator,
# whose mobile session (every scope) authenticates the calls.
# Needs python3 with venv; installs schemathesis into target/schemathesis-venv.
# SCHEMATHESIS_MAX_EXAMPLES (default 50) bounds the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${SCHEMATHESIS_PORT:-18282}
VENV=target/schemathesis-venv
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

cargo build --quiet
BIN=$PWD/target/debug/tessera
WORK=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export TESSERA_DATABASE_URL="sqlite://$WORK/api.db" TESSERA_LOG=warn
export TESSERA_ARGON2_MEMORY_KIB=64 TESSERA_ARGON2_ITERATIONS=1

echo 'schemathesis password' | "$BIN" create-admin --username st --email st@example.com --password-stdin >/dev/null
# Generous failure limit: schemathesis sends bad tokens on purpose, and the
# per-address cut-off would otherwise answer 429 to everything after a while.
"$BIN" serve --bind "127.0.0.1:$PORT" --api-failures-per-minute 1000000 &
SERVER=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done

json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }
sign_in() {
  curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/sessions" -H 'content-type: application/json' \
    -d '{"username":"st","password":"schemathesis password","device_name":"schemathesis"}' | json_field token
}
# The caller is a mobile session of the administrator: it holds every scope,
# and the token routes cannot delete or regenerate it (they touch access
# tokens and clients only), so generated ids never end the run's own
# authentication. Only signing out ends it: that operation runs last, alone,
# with a session of its own.
# Both before the run: its failed sign-ins would get this address throttled.
SESSION=$(sign_in)
LAST_SESSION=$(sign_in)
[ -n "$SESSION" ] && [ -n "$LAST_SESSION" ] || { echo "could not sign in" >&2; exit 1; }

run() {
  local token=$1; shift
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
    --workers 1 \
    --suppress-health-check too_slow \
    --seed 42 "$@"
}
run "$SESSION" --exclude-path /api/v1/sessions/current
run "$LAST_SESSION" --include-path /api/v1/sessions/current
