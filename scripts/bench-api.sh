#!/usr/bin/env bash
# Throughput benchmark of the integration API (issue #5).
#
# Seeds a database with `tessera seed-demo` (1,000,000 tokens unless
# BENCH_TOKENS says otherwise), starts the release binary, and runs
# `wrk -t2 -c32 -d10s --latency` against:
#   - GET /healthz (the ceiling: no database),
#   - GET /api/v1/me with a valid token,
#   - POST /api/v1/introspect,
#   - GET /api/v1/me again while 20 argon2id sign-ins run at once,
#   - on PostgreSQL, GET /api/v1/me on two instances at once, half the load each,
# then prints requests/s, p99 latency and the server's peak RSS.
# Needs wrk (Debian package `wrk`; installed here when running as root).
#
# The database (BENCH_DATABASE_URL):
#   - unset: a fresh SQLite file in a temporary directory, removed at the end;
#   - sqlite://path: that file, which must not exist yet (it is kept);
#   - postgres://...: that database, in a schema of its own,
#     tessera_bench_<pid>, created here and dropped at the end (BENCH_KEEP=1
#     keeps it); nothing else in the database is touched. Needs psql, and a
#     user that may create schemas there. The URL must not carry `options=`
#     already (the schema is chosen with `options=-csearch_path=...`).
set -euo pipefail
cd "$(dirname "$0")/.."

TOKENS=${BENCH_TOKENS:-1000000}
DURATION=${BENCH_DURATION:-10s}
PORT=${BENCH_PORT:-18181}

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null
  else
    echo "wrk is missing: install the Debian package wrk" >&2; exit 1
  fi
fi

cargo build --release --quiet
BIN=$PWD/target/release/tessera
WORK=$(mktemp -d)
SERVER=
SCHEMA=
ADMIN_URL=
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -n "$SCHEMA" ] && [ "${BENCH_KEEP:-}" != 1 ]; then
    psql -q "$ADMIN_URL" -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || echo "could not drop schema $SCHEMA" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

URL=${BENCH_DATABASE_URL:-}
case "$URL" in
  "")
    URL="sqlite://$WORK/bench.db"
    BACKEND="SQLite (a fresh file)"
    ;;
  sqlite:*)
    FILE=${URL#sqlite:}; FILE=${FILE#//}
    if [ -e "$FILE" ]; then echo "$FILE exists: name a file that does not exist yet" >&2; exit 1; fi
    BACKEND="SQLite ($FILE)"
    ;;
  postgres://*|postgresql://*)
    case "$URL" in *options=*) echo "BENCH_DATABASE_URL must not set options=: the script chooses the schema" >&2; exit 1 ;; esac
    command -v psql >/dev/null || { echo "psql is needed to create the benchmark's schema" >&2; exit 1; }
    ADMIN_URL=$URL
    # Set only once created, so that the clean-up never drops a schema it did not make.
    psql -q "$ADMIN_URL" -c "CREATE SCHEMA tessera_bench_$$"
    SCHEMA=tessera_bench_$$
    case "$URL" in *\?*) SEP='&' ;; *) SEP='?' ;; esac
    URL="$URL${SEP}options=-csearch_path%3D$SCHEMA"
    # Shown without a password.
    BACKEND="PostgreSQL ($(sed -E 's#\?.*##; s#(://[^:/@]*):.*@#\1:***@#' <<<"$ADMIN_URL"), schema $SCHEMA)"
    ;;
  *) echo "BENCH_DATABASE_URL: expected sqlite://path or postgres://..." >&2; exit 1 ;;
esac
export TESSERA_DATABASE_URL=$URL TESSERA_LOG=warn
echo "== backend: $BACKEND"

echo "== seeding $TOKENS tokens"
"$BIN" seed-demo --users 10000 --tokens "$TOKENS" | tail -n 1
echo 'benchmark password' | "$BIN" create-admin --username bench --email bench@example.com --password-stdin >/dev/null
# Twenty more accounts for the sign-in load: one account signing in twenty
# times at once would trip its own per-username throttle (attempts in flight
# count, so that parallel guessing cannot beat the limit).
for i in $(seq 20); do
  echo 'benchmark password' | "$BIN" create-admin --username "signer$i" --email "signer$i@example.com" --password-stdin >/dev/null
done

"$BIN" serve --bind "127.0.0.1:$PORT" --api-failures-per-minute 1000000 &
SERVER=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

sign_in() { # [username]
  curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/sessions" -H 'content-type: application/json' \
    -d "{\"username\":\"${1:-bench}\",\"password\":\"benchmark password\",\"device_name\":\"bench\"}" || true
}
# The administrator holds every scope, introspect included.
TOKEN=$(sign_in | sed -E 's/.*"token":"([^"]+)".*/\1/')
[ -n "$TOKEN" ] || { echo "could not sign in" >&2; exit 1; }

cat > "$WORK/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = "token=$TOKEN"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA

CEILING=
run() { # label, wrk args...
  local label=$1; shift
  local out; out=$(wrk -t2 -c32 -d"$DURATION" --latency "$@")
  local rps; rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  local p99; p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local errors; errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  local share=
  if [ -z "$CEILING" ]; then CEILING=$rps; else share=$(awk -v a="$rps" -v b="$CEILING" 'BEGIN {printf "%3.0f%% of the ceiling", 100 * a / b}'); fi
  printf '  %-36s %10s req/s  p99 %8s  %s%s\n' "$label" "$rps" "$p99" "$share" "${errors:+   non-2xx: $errors}"
  LAST_RPS=$rps
}

echo "== wrk -t2 -c32 -d$DURATION --latency"
run "GET /healthz (ceiling)" "http://127.0.0.1:$PORT/healthz"
run "GET /api/v1/me" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me"
ONE_INSTANCE=$LAST_RPS
run "POST /api/v1/introspect" -s "$WORK/introspect.lua" "http://127.0.0.1:$PORT/api/v1/introspect"

# 20 sign-ins (argon2id, OWASP cost) at once, again and again, during the run,
# each by its own account with the right password, so each one hashes.
STOP=$WORK/stop
signing_in() { # username
  while [ ! -e "$STOP" ]; do
    case $(sign_in "$1") in *'"token"'*) echo ok >>"$WORK/signins" ;; *) echo failed >>"$WORK/signins" ;; esac
  done
}
( for i in $(seq 20); do signing_in "signer$i" & done; wait ) &
SIGNINS=$!
sleep 1
run "GET /api/v1/me during 20 sign-ins" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me"
touch "$STOP"
wait "$SIGNINS" 2>/dev/null || true

echo "== sign-ins during that run: $(grep -c ok "$WORK/signins" || true) succeeded, $(grep -c failed "$WORK/signins" || true) failed"

# PostgreSQL: a second instance on the same database, and half of the load on
# each (wrk -t1 -c16 against each, at once): together they should serve at
# least what one served alone.
if [ -n "$SCHEMA" ]; then
  "$BIN" serve --bind "127.0.0.1:$((PORT + 1))" --api-failures-per-minute 1000000 &
  SECOND=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null && break; sleep 0.2; done
  half() { wrk -t1 -c16 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/api/v1/me"; }
  half "$PORT" >"$WORK/a.txt" & A=$!
  half "$((PORT + 1))" >"$WORK/b.txt" & B=$!
  wait "$A" "$B"
  kill "$SECOND"; wait "$SECOND" 2>/dev/null || true
  awk -v one="$ONE_INSTANCE" '/Requests\/sec/ {sum += $2; n++} $1 == "99%" {p = p (p ? " / " : "") $2}
    END {printf "  %-36s %10.2f req/s  p99 %s  %3.0f%% of one instance\n", "GET /api/v1/me, two instances", sum, p, 100 * sum / one}' \
    "$WORK/a.txt" "$WORK/b.txt"
fi
echo "== server peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$SERVER/status")"
