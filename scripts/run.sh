#!/usr/bin/env bash
# run.sh - the whole ProfAI stack on this machine, in the foreground (`make run`, `make run PORT=n`).
#
# usage: sh scripts/run.sh [--port N]        (make builds bin/ first)
#
# Starts, in order: the private PostgreSQL cluster (var/pg, scripts/pg.sh), profai-broker
# (tcp://127.0.0.1:5555, or a free port when 5555 is taken), one profai-worker serving
# $WORKERS jobs at once (default 2), profai-frontend (conf/frontend.conf) on an internal
# loopback port, and the edge proxy, nginx (conf/edge.conf.in, written out as
# var/edge/nginx.conf), on 127.0.0.1:N (default 8080): it holds the clients' connections and
# forwards their requests to the frontend (docs/operations.md). The first time it creates the
# users demo-teacher and demo-student with a token each and writes them to var/demo.env;
# later runs reuse them (and all data) while they are valid.
# Every ZeroMQ link uses CURVE: the first run writes key pairs with profaictl keygen under
# var/keys/ (the broker's in broker/, the worker's and the frontend's secrets in secret/, their
# public halves in the broker's allow-lists workers/ and frontends/); later runs reuse them.
# Logs go to the terminal, each line prefixed with its component, and to var/log/<name>.log.
# Ctrl-C or SIGTERM stops everything it started, PostgreSQL included. Once the stack is up, a
# component that dies (broker, worker, frontend, edge, PostgreSQL) is started again, as systemd's
# Restart= would: after 1 s, doubling up to 30 s while it keeps dying, back to 1 s once it has
# stayed up for 60 s; each death and restart is said on the terminal. Each component's pid is
# in var/run/<name>.pid. (During the start itself, a death stops everything: it is a setup
# fault that restarting would not cure.)
#
# Environment: WORKERS (jobs at once, default 2), LOG_LEVEL (default info),
#              PROFAI_VAR (state directory, default var/ in the checkout).

# make runs us with sh; the supervision below needs bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=${PROFAI_VAR:-$ROOT/var}
case "$VAR" in /*) ;; *) VAR=$(pwd)/$VAR ;; esac
BIN=$ROOT/bin
PORT=8080
WORKERS=${WORKERS:-2}
LOG_LEVEL=${LOG_LEVEL:-info}
PY=/usr/bin/python3
DEMO_ENV=$VAR/demo.env
KEYS=$VAR/keys

declare -A PIDS=()   # component name -> pid
declare -A CMDS=()   # component name -> its command line (quoted for eval)
declare -A BACKOFF=()      # name -> seconds before the next restart
declare -A STARTED_AT=()   # name -> when it was last started (seconds)
declare -A RESTART_AT=()   # name -> when a dead component is started again (seconds)
BACKOFF_MIN=1 BACKOFF_MAX=30 STABLE_AFTER=60
declare -A LAST_DIED=()    # name -> 1 once it has died (the first death waits BACKOFF_MIN)
ORDER=()             # start order; stopped in reverse
STOPPING=0

s_say() { printf 'run.sh: %s\n' "$*"; }
s_die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

s_usage() {
    echo "usage: sh scripts/run.sh [--port N]   (environment: WORKERS, LOG_LEVEL, PROFAI_VAR)" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        -p | --port) [ $# -ge 2 ] || s_usage; PORT=$2; shift 2 ;;
        --port=*) PORT=${1#--port=}; shift ;;
        -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) s_usage ;;
    esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || s_die "bad port: $PORT"
[[ "$WORKERS" =~ ^[0-9]+$ ]] && [ "$WORKERS" -ge 1 ] || s_die "bad WORKERS: $WORKERS"

s_port_free() {
    "$PY" -c '
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

s_free_port() {
    "$PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The line prefixer of s_spawn: awk, line by line. Not `sed -u`, which reads one byte per
# system call: about 0.15 ms of CPU per line, a quarter of a core at 1,600 logged requests/s.
# mawk (Debian's awk) waits for a full input buffer unless told -W interactive.
if awk -W version 2>/dev/null | grep -q mawk; then AWK_LINES=(awk -W interactive); else AWK_LINES=(awk); fi

# Start a component in its own session (so that Ctrl-C reaches only this script, which then
# stops everything in order), its output prefixed on the terminal and appended to its log.
s_spawn() {
    local name=$1
    shift
    local log=$VAR/log/$name.log
    printf '==== %s start: %s\n' "$(date '+%F %T')" "$*" >>"$log"
    setsid "$@" > >(trap '' INT TERM; tee -a "$log" |
        "${AWK_LINES[@]}" -v p="$(printf '%-9s' "$name")| " '{ print p $0; fflush() }') 2>&1 &
    PIDS[$name]=$!
    mkdir -p "$VAR/run"
    echo "${PIDS[$name]}" >"$VAR/run/$name.pid"
    STARTED_AT[$name]=$SECONDS
    if [ -z "${CMDS[$name]:-}" ]; then
        ORDER+=("$name")
        BACKOFF[$name]=$BACKOFF_MIN
    fi
    CMDS[$name]=$(printf '%q ' "$@")
}

# The supervision of a running stack: a dead component is noted with its status and started
# again after its back-off (see the head comment).
s_supervise() {
    local name pid status
    for name in "${ORDER[@]}"; do
        pid=${PIDS[$name]}
        if [ -n "${RESTART_AT[$name]:-}" ]; then
            if [ "$SECONDS" -ge "${RESTART_AT[$name]}" ]; then
                unset "RESTART_AT[$name]"
                eval "s_spawn $name ${CMDS[$name]}"
                s_say "restarted $name (pid ${PIDS[$name]})"
            fi
            continue
        fi
        kill -0 "$pid" 2>/dev/null && continue
        wait "$pid" 2>/dev/null
        status=$?
        s_backoff "$name"
        s_say "$name (pid $pid) exited with status $status; restarting it in ${BACKOFF[$name]} s (log: $VAR/log/$name.log)" >&2
        RESTART_AT[$name]=$((SECONDS + BACKOFF[$name]))
    done
    local pg
    pg=$(s_postmaster_pid)
    if [ -n "${RESTART_AT[postgres]:-}" ]; then
        if [ "$SECONDS" -ge "${RESTART_AT[postgres]}" ]; then
            unset "RESTART_AT[postgres]"
            STARTED_AT[postgres]=$SECONDS
            if setsid sh "$ROOT/scripts/pg.sh" start "$VAR/pg"; then
                s_say "restarted PostgreSQL"
            else
                s_backoff postgres
                RESTART_AT[postgres]=$((SECONDS + BACKOFF[postgres]))
                s_say "PostgreSQL did not start; trying again in ${BACKOFF[postgres]} s" >&2
            fi
        fi
    elif [ -z "$pg" ] || ! kill -0 "$pg" 2>/dev/null; then
        s_backoff postgres
        s_say "PostgreSQL stopped (log: $VAR/pg/log); restarting it in ${BACKOFF[postgres]} s" >&2
        RESTART_AT[postgres]=$((SECONDS + BACKOFF[postgres]))
    fi
}

# The next back-off of name: 1 s after a stable run, else twice the last, at most 30 s.
s_backoff() {
    local name=$1 last=${BACKOFF[$1]:-0}
    if [ "$last" -eq 0 ] || [ $((SECONDS - ${STARTED_AT[$name]:-0})) -ge "$STABLE_AFTER" ]; then
        BACKOFF[$name]=$BACKOFF_MIN
    elif [ "${LAST_DIED[$name]:-0}" -eq 1 ]; then
        BACKOFF[$name]=$((last * 2 > BACKOFF_MAX ? BACKOFF_MAX : last * 2))
    else
        BACKOFF[$name]=$BACKOFF_MIN
    fi
    LAST_DIED[$name]=1
}

# The whole file limit for us and everything we start: the edge holds one descriptor per client.
s_raise_nofile() {
    local hard
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=1048576
    [ "$hard" -gt 65536 ] && hard=65536
    ulimit -n "$hard" 2>/dev/null || true
}

# http/max_upload of conf/frontend.conf in bytes (k, M, G are powers of 1024; default 50M).
s_conf_max_upload() {
    local v
    v=$(sed -n 's/^[[:space:]]*max_upload[[:space:]]*=[[:space:]]*\([0-9]*[kKmMgG]\{0,1\}\).*/\1/p' \
        "$FRONTEND_CONF" | head -n 1)
    [ -n "$v" ] || v=50M
    case "$v" in
        *[kK]) echo $((${v%?} * 1024)) ;;
        *[mM]) echo $((${v%?} * 1024 * 1024)) ;;
        *[gG]) echo $((${v%?} * 1024 * 1024 * 1024)) ;;
        *) echo "$v" ;;
    esac
}

# Write var/edge/nginx.conf from conf/edge.conf.in. As root, nginx runs as the unprivileged
# user of scripts/pg.sh (which created it), so var/edge belongs to that user.
s_edge_config() {
    local dir=$VAR/edge max_body nofile
    mkdir -p "$dir/tmp"
    max_body=$(($(s_conf_max_upload) + 65536))
    nofile=$(ulimit -n)
    [ "$nofile" = unlimited ] && nofile=65536
    sed -e "s|@EDGE_DIR@|$dir|g" -e "s|@LISTEN@|127.0.0.1:$PORT|g" \
        -e "s|@FRONTEND@|127.0.0.1:$FRONTEND_PORT|g" -e "s|@MAX_BODY@|$max_body|g" \
        -e "s|@NOFILE@|$nofile|g" "$ROOT/conf/edge.conf.in" >"$dir/nginx.conf.tmp" &&
        mv "$dir/nginx.conf.tmp" "$dir/nginx.conf" || return 1
    if [ "$(id -u)" -eq 0 ]; then
        chown -R "$EDGE_USER:" "$dir" || return 1
    fi
}

s_postmaster_pid() {
    head -n 1 "$VAR/pg/data/postmaster.pid" 2>/dev/null || true
}

# Stop components in reverse start order: the edge and the frontend first (no new jobs), then
# the workers (they finish or hand back running jobs within their drain timeout), then the
# broker; PostgreSQL last.
s_cleanup() {
    [ "$STOPPING" -eq 1 ] && return
    STOPPING=1
    trap '' INT TERM
    local i name pid limit
    for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do
        name=${ORDER[$i]}
        pid=${PIDS[$name]}
        kill -0 "$pid" 2>/dev/null || continue
        s_say "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null
        case "$name" in worker*) limit=350 ;; *) limit=100 ;; esac   # tenths of a second
        while kill -0 "$pid" 2>/dev/null && [ "$limit" -gt 0 ]; do
            sleep 0.1
            limit=$((limit - 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            s_say "$name did not stop in time: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    if [ -n "$(s_postmaster_pid)" ]; then
        s_say "stopping PostgreSQL"
        sh "$ROOT/scripts/pg.sh" stop "$VAR/pg"
    fi
    s_say "stopped"
}

s_on_signal() {
    echo
    s_say "$1: stopping everything"
    s_cleanup
    exit 0
}

s_check_alive() {
    local name pid status
    for name in "${ORDER[@]}"; do
        pid=${PIDS[$name]}
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            status=$?
            s_say "$name (pid $pid) exited with status $status: stopping everything (log: $VAR/log/$name.log)" >&2
            return 1
        fi
    done
    local pg
    pg=$(s_postmaster_pid)
    if [ -z "$pg" ] || ! kill -0 "$pg" 2>/dev/null; then
        s_say "PostgreSQL stopped (log: $VAR/pg/log): stopping everything" >&2
        return 1
    fi
    return 0
}

s_http_status() {    # token url -> HTTP status (000 when unreachable)
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $1" "$2" || true
}

# The broker answers broker.ping (MDP/0.2, docs/protocol.md) once it has migrated the schema
# and serves; the frontend refuses to start on a database the broker has not migrated yet.
s_broker_ready() {
    "$PY" - "$1" "$KEYS/secret/frontend_secret" "$KEYS/broker/broker" 2>/dev/null <<'PY'
import sys, zmq, zmq.auth, msgpack
s = zmq.Context().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(sys.argv[2])
s.curve_serverkey = zmq.auth.load_certificate(sys.argv[3])[0]
s.connect(sys.argv[1])
s.send_multipart([b"MDPC02", b"\x01", b"broker.ping", msgpack.packb({"v": 1, "rid": 1})])
if not s.poll(1000):
    sys.exit(1)
frames = s.recv_multipart()
body = msgpack.unpackb(frames[-1]) if len(frames) == 4 else {}
sys.exit(0 if body.get("ok") and body.get("db") else 1)
PY
}

s_wait_broker() {
    local tries=60
    while [ "$tries" -gt 0 ]; do
        s_check_alive || return 1
        s_broker_ready "$1" && return 0
        tries=$((tries - 1))
    done
    s_say "the broker did not answer within 60 s ($1)" >&2
    return 1
}

s_wait_healthy() {
    local url=$1 tries=600
    while [ "$tries" -gt 0 ]; do
        s_check_alive || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/readyz")" = 200 ] && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    s_say "the stack did not become ready within 60 s ($url/readyz)" >&2
    return 1
}

# CURVE keys (docs/operations.md, "Keys"): made once, kept with the rest of var/.
s_keys() {
    local name
    mkdir -p "$KEYS/broker" "$KEYS/secret" "$KEYS/workers" "$KEYS/frontends" || return 1
    chmod 700 "$KEYS/secret" "$KEYS/broker"
    if [ ! -f "$KEYS/broker/broker_secret" ]; then
        "$BIN/profaictl" keygen broker --dir "$KEYS/broker" >/dev/null || return 1
        s_say "created the broker's CURVE key pair in ${KEYS#"$ROOT"/}/broker"
    fi
    for name in worker frontend; do
        if [ ! -f "$KEYS/secret/${name}_secret" ]; then
            "$BIN/profaictl" keygen "$name" --dir "$KEYS/secret" >/dev/null || return 1
            s_say "created a CURVE key pair for the $name"
        fi
        cp "$KEYS/secret/$name" "$KEYS/${name}s/$name" || return 1
    done
    printf '# written by scripts/run.sh at every start\ncurve\n    certificate = "%s"\n    workers_dir = "%s"\n    frontends_dir = "%s"\n' \
        "$KEYS/broker/broker" "$KEYS/workers" "$KEYS/frontends" >"$VAR/broker.conf"
    # The frontend's: conf/frontend.conf (the example settings) with the keys appended.
    { cat "$FRONTEND_CONF" &&
      printf '# appended by scripts/run.sh at every start\ncurve\n    certificate = "%s"\n    broker_key = "%s"\n' \
        "$KEYS/secret/frontend" "$KEYS/broker/broker"; } >"$VAR/frontend.conf"
}

s_create_token() {    # role name -> token on stdout
    "$BIN/profaictl" -d "$CONNINFO" token create --role "$1" "$2" | tail -n 1
}

# Reuse the tokens of var/demo.env while the frontend accepts them; otherwise make new ones.
s_demo_tokens() {
    local url=$1 teacher="" student="" fresh=0
    if [ -f "$DEMO_ENV" ]; then
        teacher=$(sed -n "s/^PROFAI_TEACHER_TOKEN='\(.*\)'$/\1/p" "$DEMO_ENV")
        student=$(sed -n "s/^PROFAI_STUDENT_TOKEN='\(.*\)'$/\1/p" "$DEMO_ENV")
    fi
    if [ -z "$teacher" ] || [ "$(s_http_status "$teacher" "$url/api/v1/jobs?limit=1")" != 200 ]; then
        teacher=$(s_create_token teacher demo-teacher) || return 1
        s_say "created a token for demo-teacher"
        fresh=1
    fi
    # Any authenticated role gets 404 for a course that does not exist; 401 means a bad token.
    local nobody=00000000-0000-0000-0000-000000000000
    if [ -z "$student" ] || [ "$(s_http_status "$student" "$url/api/v1/courses/$nobody")" != 404 ]; then
        student=$(s_create_token student demo-student) || return 1
        s_say "created a token for demo-student"
        fresh=1
    fi
    [ -n "$teacher" ] && [ -n "$student" ] || { s_say "profaictl printed no token" >&2; return 1; }
    # Passwords for the web page's sign-in (docs/api.md 2.1), and a class of the teacher's with
    # the student in it, so that a course the teacher publishes to it is the student's to read
    # (students see published courses only). Both are kept across runs in demo.env.
    local password class_id
    password=$(sed -n "s/^PROFAI_DEMO_PASSWORD='\(.*\)'$/\1/p" "$DEMO_ENV" 2>/dev/null)
    class_id=$(sed -n "s/^PROFAI_DEMO_CLASS='\(.*\)'$/\1/p" "$DEMO_ENV" 2>/dev/null)
    if [ -z "$password" ] || [ "$fresh" = 1 ]; then   # a new token: maybe a new database
        password=$(head -c 12 /dev/urandom | base64 | tr '+/' '-_')
        for name in demo-teacher demo-student; do
            printf '%s\n' "$password" | "$BIN/profaictl" -d "$CONNINFO" user passwd "$name" \
                >/dev/null || { s_say "could not set the password of $name" >&2; return 1; }
        done
        s_say "set the demo users' password"
    fi
    if [ -z "$class_id" ] ||
        [ "$(s_http_status "$teacher" "$url/api/v1/classes/$class_id")" != 200 ]; then
        class_id=$(curl -sS --max-time 10 -H "Authorization: Bearer $teacher" \
                       -H 'Content-Type: application/json' -d '{"name":"Demo class"}' \
                       "$url/api/v1/classes" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])') &&
            curl -sS -o /dev/null --max-time 10 -H "Authorization: Bearer $teacher" \
                 -H 'Content-Type: application/json' -d '{"name":"demo-student"}' \
                 "$url/api/v1/classes/$class_id/students" ||
            { s_say "could not make the demo class" >&2; return 1; }
        s_say "made the demo class, with demo-student in it"
    fi
    umask 077
    cat >"$DEMO_ENV.tmp" <<EOF
# ProfAI demo settings written by scripts/run.sh; use with: . var/demo.env
PROFAI_URL='$url'
PROFAI_TEACHER_TOKEN='$teacher'
PROFAI_STUDENT_TOKEN='$student'
PROFAI_DEMO_PASSWORD='$password'
PROFAI_DEMO_CLASS='$class_id'
PROFAI_ADMIN='$ADMIN_ENDPOINT'
export PROFAI_ADMIN
EOF
    mv "$DEMO_ENV.tmp" "$DEMO_ENV"
    umask 022
}

s_banner() {
    local url=$1 teacher student password class_id manual
    teacher=$(sed -n "s/^PROFAI_TEACHER_TOKEN='\(.*\)'$/\1/p" "$DEMO_ENV")
    student=$(sed -n "s/^PROFAI_STUDENT_TOKEN='\(.*\)'$/\1/p" "$DEMO_ENV")
    password=$(sed -n "s/^PROFAI_DEMO_PASSWORD='\(.*\)'$/\1/p" "$DEMO_ENV")
    class_id=$(sed -n "s/^PROFAI_DEMO_CLASS='\(.*\)'$/\1/p" "$DEMO_ENV")
    manual=$(ls /usr/share/doc/auto-multiple-choice/auto-multiple-choice.en.pdf 2>/dev/null || echo course.pdf)
    cat <<EOF

  ProfAI is running.
    API:            $url/api/v1   (health: $url/healthz, readiness: $url/readyz)
    metrics:        http://127.0.0.1:$FRONTEND_PORT/metrics (frontend), http://127.0.0.1:$METRICS_PORT/metrics (broker)
    edge proxy:     nginx on $url -> profai-frontend on 127.0.0.1:$FRONTEND_PORT
                    (${VAR#"$ROOT"/}/edge/nginx.conf)
    broker:         $BROKER_ENDPOINT   (CURVE; $WORKERS jobs at once; more workers:
                    bin/profai-worker -b $BROKER_ENDPOINT \\
                      -k ${KEYS#"$ROOT"/}/secret/worker -K ${KEYS#"$ROOT"/}/broker/broker)
    database:       $CONNINFO
    admin socket:   $ADMIN_ENDPOINT
                    (bin/profaictl -a $ADMIN_ENDPOINT status)
    web page:       $url/  sign in as demo-teacher or demo-student, password $password
                    (a course is the student's to read once the teacher publishes it to
                    "Demo class", which demo-student is in)
    teacher token:  $teacher
    student token:  $student
    (saved in ${DEMO_ENV#"$ROOT"/}; logs in ${VAR#"$ROOT"/}/log/)

  Try it in another terminal:
    . ${DEMO_ENV#"$ROOT"/}
    curl -sS -H "Authorization: Bearer \$PROFAI_TEACHER_TOKEN" -F file=@$manual \\
         -F title='My course' "\$PROFAI_URL/api/v1/jobs"
    curl -sS -H "Authorization: Bearer \$PROFAI_TEACHER_TOKEN" "\$PROFAI_URL/api/v1/jobs/JOB_ID"
    curl -sS -X POST -H "Authorization: Bearer \$PROFAI_TEACHER_TOKEN" \\
         "\$PROFAI_URL/api/v1/courses/COURSE_ID/classes/\$PROFAI_DEMO_CLASS"    # publish it
    curl -sS -H "Authorization: Bearer \$PROFAI_STUDENT_TOKEN" "\$PROFAI_URL/api/v1/courses/COURSE_ID"
    bin/profaictl status      # and workers, jobs, job JOB_ID (PROFAI_ADMIN is in demo.env)

  A component that dies is started again (back-off 1 s doubling to 30 s).
  Ctrl-C stops everything.

EOF
}

# ---- main ------------------------------------------------------------------------------------

for prog in profai-broker profai-worker profai-extract profai-frontend profaictl; do
    [ -x "$BIN/$prog" ] || s_die "$BIN/$prog is missing: run make run (it builds first)"
done
command -v curl >/dev/null || s_die "curl is missing (make deps)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || s_die "nginx is missing (make deps)"
s_port_free "$PORT" || s_die "port $PORT on 127.0.0.1 is in use: choose another with make run PORT=n"
mkdir -p "$VAR/log"
s_raise_nofile

trap 's_on_signal interrupted' INT
trap 's_on_signal terminated' TERM
trap 's_cleanup' EXIT

# Its own session, like the other components: Ctrl-C must not reach the postmaster directly.
setsid sh "$ROOT/scripts/pg.sh" start "$VAR/pg" || s_die "PostgreSQL did not start"
CONNINFO=$(sh "$ROOT/scripts/pg.sh" env "$VAR/pg") || exit 1

BROKER_PORT=5555
s_port_free "$BROKER_PORT" || BROKER_PORT=$(s_free_port)
BROKER_ENDPOINT=tcp://127.0.0.1:$BROKER_PORT
FRONTEND_PORT=$(s_free_port)
FRONTEND_CONF=$ROOT/conf/frontend.conf
URL=http://127.0.0.1:$PORT
EDGE_USER=profai    # scripts/pg.sh's unprivileged user
ADMIN_ENDPOINT=ipc://$VAR/admin.sock   # the broker's admin socket (docs/admin.md)
METRICS_PORT=9101
s_port_free "$METRICS_PORT" || METRICS_PORT=$(s_free_port)
mkdir -p "$VAR/run"

s_keys || s_die "could not write the CURVE keys under $KEYS"
printf 'metrics\n    endpoint = tcp://127.0.0.1:%s\n' "$METRICS_PORT" >>"$VAR/broker.conf"
# The blob endpoint workers fetch PDFs of 1 MiB or more from (docs/protocol.md 3.6); the worker
# learns it from each REQUEST.
BLOB_PORT=$(s_free_port)
printf 'broker\n    blob_endpoint = tcp://127.0.0.1:%s\n' "$BLOB_PORT" >>"$VAR/broker.conf"
s_spawn broker "$BIN/profai-broker" -c "$VAR/broker.conf" -d "$CONNINFO" -e "$BROKER_ENDPOINT" \
    -a "$ADMIN_ENDPOINT" -v "$LOG_LEVEL"
s_spawn worker "$BIN/profai-worker" -b "$BROKER_ENDPOINT" -n "$WORKERS" -v "$LOG_LEVEL" \
    -k "$KEYS/secret/worker" -K "$KEYS/broker/broker"
s_wait_broker "$BROKER_ENDPOINT" || exit 1
s_spawn frontend "$BIN/profai-frontend" -c "$VAR/frontend.conf" -l "127.0.0.1:$FRONTEND_PORT" \
    -b "$BROKER_ENDPOINT" -d "$CONNINFO" -v "$LOG_LEVEL"
s_wait_healthy "http://127.0.0.1:$FRONTEND_PORT" || exit 1

s_edge_config || s_die "could not write $VAR/edge/nginx.conf"
if [ "$(id -u)" -eq 0 ]; then
    s_spawn edge setpriv --reuid="$EDGE_USER" --regid="$EDGE_USER" --init-groups \
        "$NGINX" -e stderr -p "$VAR/edge" -c "$VAR/edge/nginx.conf"
else
    s_spawn edge "$NGINX" -e stderr -p "$VAR/edge" -c "$VAR/edge/nginx.conf"
fi
s_wait_healthy "$URL" || exit 1
s_demo_tokens "$URL" || { s_say "could not create the demo tokens" >&2; exit 1; }
s_banner "$URL"

while :; do
    s_supervise
    sleep 0.5 &
    wait $!
done
