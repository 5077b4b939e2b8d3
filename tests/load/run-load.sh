#!/usr/bin/env bash
# run-load.sh - `make load`: a fresh stack started the `make run` way, then tests/load/load.py.
#
# usage: bash tests/load/run-load.sh          (make load builds bin/ first)
#
# Environment (all optional):
#   LOAD_USERS     simulated users, default 5500: one in eleven is a teacher (500 of 5,500)
#   LOAD_SECONDS   how long users issue requests, default 60
#   LOAD_RAMP      seconds over which users arrive, default 10
#   LOAD_LOOP      the generator's event loop: uvloop (default; python3-uvloop) or asyncio
#   LOAD_DRAIN     seconds to wait afterwards for accepted uploads to finish, default 300
#   LOAD_INTERVAL  seconds per row of the printed timeline, default 5 (per second in
#                  LOAD_VAR/load-timeline.csv)
#   LOAD_TOKENS    tokens per role shared by the users, default 100 (profaictl token create):
#                  each token is one user to the frontend's rate limits (limits/* in
#                  conf/frontend.conf), so 5,000 students share 100 tokens at about 17
#                  requests/s each, under the default 30/s, and 500 teachers five uploads a
#                  minute each, under the default 20
#   LOAD_PORT      the edge's port, default a free one; LOAD_VAR the state directory, default
#                  var/load, emptied first (a fresh database, like a first `make run`)
#   WORKERS        worker slots of the stack (run.sh), default 2
#   LOAD_DIRECT=1  send the load to the frontend's internal port, past the edge proxy: the
#                  stack as it was before the edge, for comparison (docs/performance.md)
# The stack's output goes to LOAD_VAR/run.log; the stack is stopped at the end, also on Ctrl-C.
# Exit status: load.py's (0 when every target holds, 1 when one does not), else 2.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VAR=${LOAD_VAR:-$ROOT/var/load}
case "$VAR" in /*) ;; *) VAR=$(pwd)/$VAR ;; esac
USERS=${LOAD_USERS:-5500}
SECONDS_=${LOAD_SECONDS:-60}
PER_ROLE=${LOAD_TOKENS:-100}
PY=/usr/bin/python3
RUN_PID=""

s_die() { printf 'run-load.sh: %s\n' "$*" >&2; exit 2; }

s_stop() {
    trap '' INT TERM
    if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
        echo "run-load.sh: stopping the stack"
        kill -TERM "$RUN_PID" 2>/dev/null
        wait "$RUN_PID" 2>/dev/null
    fi
    RUN_PID=""
}
trap 's_stop' EXIT
trap 's_stop; exit 2' INT TERM

[[ "$USERS" =~ ^[0-9]+$ ]] && [ "$USERS" -ge 2 ] || s_die "bad LOAD_USERS: $USERS"
TEACHERS=$(((USERS + 10) / 11))
STUDENTS=$((USERS - TEACHERS))
PORT=${LOAD_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

# A fresh state directory: stop a cluster left running by an interrupted run, then empty it.
if [ -d "$VAR/pg/data" ]; then sh "$ROOT/scripts/pg.sh" stop "$VAR/pg" >/dev/null 2>&1; fi
rm -rf "$VAR"
mkdir -p "$VAR"

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge $((USERS + 256)) ] ||
    s_die "the open-file limit is $hard; $((USERS + 256)) needed (raise the hard limit, ulimit -Hn)"
ulimit -n "$hard" 2>/dev/null || ulimit -n $((USERS + 256)) || true

echo "run-load.sh: starting the stack (scripts/run.sh --port $PORT, log: ${VAR#"$ROOT"/}/run.log)"
PROFAI_VAR=$VAR setsid bash "$ROOT/scripts/run.sh" --port "$PORT" >"$VAR/run.log" 2>&1 &
RUN_PID=$!
for _ in $(seq 1200); do
    grep -q 'Ctrl-C stops everything' "$VAR/run.log" 2>/dev/null && break
    kill -0 "$RUN_PID" 2>/dev/null || { tail -n 30 "$VAR/run.log"; s_die "the stack did not start"; }
    sleep 0.1
done
grep -q 'Ctrl-C stops everything' "$VAR/run.log" || { tail -n 30 "$VAR/run.log"; s_die "the stack did not start within 120 s"; }

# Tokens: the demo ones, and a few more per role (users share them in turn).
. "$VAR/demo.env"
CONNINFO=$(sh "$ROOT/scripts/pg.sh" env "$VAR/pg") || s_die "no conninfo"
{
    echo "teacher $PROFAI_TEACHER_TOKEN"
    echo "student $PROFAI_STUDENT_TOKEN"
    for i in $(seq 2 "$PER_ROLE"); do
        for role in teacher student; do
            t=$("$ROOT/bin/profaictl" -d "$CONNINFO" token create --role "$role" "load-$role-$i" \
                2>>"$VAR/tokens.log" | tail -n 1) || s_die "profaictl token create failed"
            echo "$role $t"
        done
    done
} >"$VAR/tokens"
chmod 600 "$VAR/tokens"

URL=$PROFAI_URL
if [ "${LOAD_DIRECT:-0}" = 1 ]; then
    URL=http://$(sed -n 's/^[[:space:]]*server \(127\.0\.0\.1:[0-9]*\);.*/\1/p' "$VAR/edge/nginx.conf")
    echo "run-load.sh: LOAD_DIRECT=1: straight to the frontend at $URL, past the edge"
fi
"$PY" "$ROOT/tests/load/load.py" --url "$URL" --tokens "$VAR/tokens" --var "$VAR" \
    --students "$STUDENTS" --teachers "$TEACHERS" --seconds "$SECONDS_" \
    --ramp "${LOAD_RAMP:-10}" --drain "${LOAD_DRAIN:-300}" --interval "${LOAD_INTERVAL:-5}" \
    --loop "${LOAD_LOOP:-uvloop}"
status=$?
s_stop
exit "$status"
