#!/bin/sh
# pg.sh - a private PostgreSQL cluster inside the checkout, for `make run` and the system tests.
#
# usage: sh scripts/pg.sh start|stop|status|env [DIR] [PORT]
#        sh scripts/pg.sh replica DIR PRIMARY_DIR [PORT]
#
#   DIR   cluster directory (default: var/pg in the checkout). Layout:
#           DIR/data   the cluster (initdb), DIR/port  the TCP port, chosen once and kept,
#           DIR/log    the server log
#           DIR/pgpass the role's password (libpq password file, mode 0600, owned by the
#                      user who ran `start`); the conninfo of `env` names it (passfile=)
#   PORT  port for a NEW cluster (default 54329 if free, else any free port); a cluster
#         keeps the port it was created with.
#
# start   creates the cluster the first time, starts it unless running, and makes sure the
#         database "profai" (owner: role "profai") exists. Idempotent; data survives stop/start.
# stop    stops it (fast shutdown: open sessions are ended, committed data is kept).
# status  exit 0 when running, 3 when not.
# env     prints the libpq conninfo, e.g.
#         "host=127.0.0.1 port=54329 dbname=profai user=profai passfile=DIR/pgpass".
# replica makes DIR a streaming hot standby of the running cluster in PRIMARY_DIR (pg_basebackup
#         -R: every database, replicated as it changes, read-only) and starts it; start, stop,
#         status and env then work on DIR as on any cluster. The primary's pg_hba.conf gains a
#         replication line for its role on 127.0.0.1; DIR/pgpass is a copy of the primary's.
#         For the read replica tests (tests/system/test_replica.py, docs/operations.md).
#
# The server listens on 127.0.0.1 only (no unix socket: socket paths inside a deep checkout
# exceed the 107-byte limit). pg_hba.conf admits only the role "profai": over TCP with its
# password (scram-sha-256), on a unix socket (none by default) by peer check; never `trust`.
# The password is random, generated at creation into DIR/pgpass, which only the user who ran
# `start` can read. A cluster created by an older pg.sh with trust authentication is converted
# at its next start. A development cluster all the same; never use this for production.
# PostgreSQL refuses to run as root: as root, this script runs it as the system user "profai"
# (created if missing) and gives that user search permission on the directories above DIR.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_USER=profai
PG_DB=profai
DEFAULT_PORT=54329

s_die() {
    echo "pg.sh: $*" >&2
    exit 1
}

s_usage() {
    echo "usage: sh scripts/pg.sh start|stop|status|env [DIR] [PORT]" >&2
    echo "       sh scripts/pg.sh replica DIR PRIMARY_DIR [PORT]" >&2
    exit 2
}

# The directory holding initdb/pg_ctl/postgres. pg_config comes with libpq-dev and may belong
# to another major version than the server, so check that initdb is really there.
s_find_bindir() {
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    fi
    # Highest installed major version first.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# Run a PostgreSQL program as the unprivileged user when we are root.
s_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

s_ensure_user() {
    if ! getent passwd "$PG_USER" >/dev/null; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
        echo "pg.sh: created system user $PG_USER to run PostgreSQL (it refuses to run as root)"
    fi
}

# Give the unprivileged user search (x) permission on every ancestor of $1 that lacks it,
# top-down, e.g. a checkout under a 0700 mktemp directory or /root.
s_ensure_traversable() {
    target=$1
    path=""
    rest=${target#/}
    while [ -n "$rest" ]; do
        part=${rest%%/*}
        if [ "$part" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
        path="$path/$part"
        if ! runuser -u "$PG_USER" -- test -x "$path"; then
            chmod o+x "$path"
            echo "pg.sh: added o+x (search only) to $path so that user $PG_USER can reach $target"
        fi
    done
}

s_port_free() {
    /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

s_free_port() {
    /usr/bin/python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

s_choose_port() {
    want=${1:-$DEFAULT_PORT}
    if s_port_free "$want"; then echo "$want"; else s_free_port; fi
}

s_is_running() {
    [ -f "$DIR/data/PG_VERSION" ] && s_as_pg "$BINDIR/pg_ctl" status -D "$DIR/data" >/dev/null 2>&1
}

s_init() {
    port=$(s_choose_port "$REQ_PORT")
    echo "pg.sh: creating a private cluster in $DIR (127.0.0.1:$port, scram-sha-256 auth)"
    s_new_password
    # initdb reads the password from a file its user can read: a private copy, removed after.
    pwfile=$DIR/initdb.pw
    (umask 077 && s_password >"$pwfile")
    [ "$(id -u)" -ne 0 ] || chown "$PG_USER" "$pwfile"
    s_as_pg "$BINDIR/initdb" -D "$DIR/data" --username="$PG_USER" --pwfile="$pwfile" \
        --auth-host=scram-sha-256 --auth-local=peer \
        --encoding=UTF8 --no-locale --no-instructions >"$DIR/initdb.log" 2>&1 ||
        { rm -f "$pwfile"; cat "$DIR/initdb.log" >&2; s_die "initdb failed"; }
    rm -f "$pwfile"
    s_write_hba
    # Appended settings override the defaults above them in postgresql.conf.
    s_as_pg sh -c 'cat >> "$1"' sh "$DIR/data/postgresql.conf" <<EOF

# ---- ProfAI private development cluster (scripts/pg.sh) ----
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''     # TCP only: socket paths in a deep checkout are too long
max_connections = 200            # brokers, frontends (pool of 16 each), tests
fsync = on                       # durability is what the tests check
synchronous_commit = on
full_page_writes = on
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
EOF
    s_as_pg sh -c 'echo "$1" > "$2"' sh "$port" "$DIR/port"
}

s_conninfo() {
    echo "host=127.0.0.1 port=$(cat "$DIR/port") dbname=$PG_DB user=$PG_USER passfile=$DIR/pgpass"
}

# A new random password for the role, written (any host, port and database) to DIR/pgpass,
# which libpq reads only when no one but its owner can.
s_new_password() {
    pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    [ ${#pw} -eq 48 ] || s_die "cannot read /dev/urandom"
    (umask 077 && echo "*:*:*:$PG_USER:$pw" >"$DIR/pgpass.new") && mv "$DIR/pgpass.new" "$DIR/pgpass"
}

s_password() {
    cut -d: -f5- "$DIR/pgpass"
}

# Only the cluster's own role: peer check on a unix socket, its password over TCP. Other
# addresses (tests/cluster/hosts.py adds its subnet) are appended by whoever needs them.
s_write_hba() {
    s_as_pg sh -c 'cat > "$1"' sh "$DIR/data/pg_hba.conf" <<EOF
# ProfAI private development cluster (scripts/pg.sh): only role $PG_USER, never trust.
# TYPE  DATABASE  USER     ADDRESS        METHOD
local   all       $PG_USER                peer
host    all       $PG_USER 127.0.0.1/32   scram-sha-256
EOF
}

# A cluster created by an older pg.sh trusted every local connection: give the role a
# password and rewrite pg_hba.conf (the server must be running; trust still lets us in).
s_convert_trust() {
    [ ! -f "$DIR/pgpass" ] || return 0
    echo "pg.sh: converting $DIR from trust to scram-sha-256 authentication"
    s_new_password
    PGPASSFILE=/dev/null s_psql -d postgres \
        -c "SET password_encryption = 'scram-sha-256'" \
        -c "ALTER ROLE $PG_USER PASSWORD '$(s_password)'" >/dev/null ||
        { rm -f "$DIR/pgpass"; s_die "cannot set the password of role $PG_USER in $DIR"; }
    s_write_hba
    s_as_pg "$BINDIR/pg_ctl" reload -D "$DIR/data" >/dev/null
}

s_psql() {
    PGPASSFILE=${PGPASSFILE:-$DIR/pgpass} "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$(cat "$DIR/port")" -U "$PG_USER" "$@"
}

s_ensure_database() {
    exists=$(s_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")
    if [ "$exists" != 1 ]; then
        s_psql -d postgres -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null
    fi
}

s_start() {
    if [ "$(id -u)" -eq 0 ]; then
        s_ensure_user
        mkdir -p "$DIR"
        chown "$PG_USER" "$DIR"
        s_ensure_traversable "$DIR"
    else
        mkdir -p "$DIR"
    fi
    [ -f "$DIR/data/PG_VERSION" ] || s_init
    [ -f "$DIR/port" ] || s_die "$DIR/port is missing: remove $DIR to start over"
    if ! s_is_running; then
        s_as_pg "$BINDIR/pg_ctl" start -D "$DIR/data" -l "$DIR/log" -w -t 60 >/dev/null ||
            { tail -n 20 "$DIR/log" >&2; s_die "PostgreSQL did not start (log: $DIR/log)"; }
    fi
    s_convert_trust
    s_ensure_database
}

# A streaming standby of the cluster in $PRIMARY (which must run) in $DIR, started.
s_replica() {
    [ -f "$PRIMARY/port" ] || s_die "no cluster in $PRIMARY"
    [ ! -f "$DIR/data/PG_VERSION" ] || s_die "$DIR already holds a cluster"
    if [ "$(id -u)" -eq 0 ]; then
        mkdir -p "$DIR"
        chown "$PG_USER" "$DIR"
        s_ensure_traversable "$DIR"
    else
        mkdir -p "$DIR"
    fi
    pport=$(cat "$PRIMARY/port")
    phba=$PRIMARY/data/pg_hba.conf
    if ! grep -q '^host *replication' "$phba"; then
        s_as_pg sh -c 'echo "host    replication $1 127.0.0.1/32   scram-sha-256" >> "$2"' sh \
            "$PG_USER" "$phba"
        s_as_pg "$BINDIR/pg_ctl" reload -D "$PRIMARY/data" >/dev/null
    fi
    (umask 077 && cp "$PRIMARY/pgpass" "$DIR/pgpass")
    port=$(s_choose_port "$REQ_PORT")
    # -R writes primary_conninfo (with the password given here) and standby.signal.
    s_as_pg env PGPASSWORD="$(s_password)" "$BINDIR/pg_basebackup" -h 127.0.0.1 -p "$pport" \
        -U "$PG_USER" -D "$DIR/data" -R -X stream -c fast >"$DIR/basebackup.log" 2>&1 ||
        { cat "$DIR/basebackup.log" >&2; s_die "pg_basebackup from $PRIMARY failed"; }
    s_as_pg sh -c 'cat >> "$1"' sh "$DIR/data/postgresql.conf" <<EOF

# ---- hot standby of $PRIMARY (scripts/pg.sh replica) ----
port = $port
hot_standby = on
EOF
    s_as_pg sh -c 'echo "$1" > "$2"' sh "$port" "$DIR/port"
    s_as_pg "$BINDIR/pg_ctl" start -D "$DIR/data" -l "$DIR/log" -w -t 60 >/dev/null ||
        { tail -n 20 "$DIR/log" >&2; s_die "the standby did not start (log: $DIR/log)"; }
}

s_stop() {
    if s_is_running; then
        s_as_pg "$BINDIR/pg_ctl" stop -D "$DIR/data" -m fast -w -t 60 >/dev/null
    fi
}

[ $# -ge 1 ] || s_usage
CMD=$1
case "$CMD" in
    -h | --help | help) sed -n "2,$(($(grep -n '^set -eu' "$0" | cut -d: -f1) - 1))p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
DIR=${2:-$ROOT/var/pg}
REQ_PORT=${3:-}
case "$DIR" in
    /*) ;;
    *) DIR=$(pwd)/$DIR ;;
esac
if [ "$CMD" = replica ]; then
    [ $# -ge 3 ] || s_usage
    PRIMARY=$3
    REQ_PORT=${4:-}
    case "$PRIMARY" in
        /*) ;;
        *) PRIMARY=$(pwd)/$PRIMARY ;;
    esac
fi
BINDIR=$(s_find_bindir) || s_die "no PostgreSQL server found (install the postgresql package: make deps)"
# The server changes into its data directory; run the tools from a directory it can read.
cd /

case "$CMD" in
    start) s_start ;;
    replica) s_replica ;;
    stop) s_stop ;;
    status)
        if s_is_running; then
            echo "running: $(s_conninfo)"
        else
            echo "not running ($DIR)"
            exit 3
        fi
        ;;
    env)
        [ -f "$DIR/port" ] || s_die "no cluster in $DIR (run: sh scripts/pg.sh start $DIR)"
        s_conninfo
        ;;
    *) s_usage ;;
esac
