#!/bin/sh
# check-system.sh - the system tests (`make check-system`): the real programs in bin/, a private
# PostgreSQL cluster, real HTTP and real PDFs. See tests/system/ and docs/operations.md.
#
# usage: sh scripts/check-system.sh [PYTEST ARGS...]     e.g. -k kill -x, or a test file
#
# Runs Debian's /usr/bin/python3, whose pytest and modules `make deps` installed, never
# another python3 that comes first on PATH. Fails when pytest collects no tests.
#
# Tests run side by side in PROFAI_TEST_JOBS processes (default 2) when pytest-xdist is
# installed (Debian python3-pytest-xdist): most of a test's time is spent waiting for its
# programs (start, heartbeats, polling), so two at once nearly halve the wall time on two
# cores. A test file's tests stay together in one process (--dist loadfile: module fixtures
# such as private_pg_cluster are made once), each process has a PostgreSQL cluster and a port
# range of its own, and the tests marked `serial` (run.sh's fixed ports, timing bounds that
# need the machine to themselves) run afterwards, alone. PROFAI_TEST_JOBS=1, or no
# pytest-xdist, runs everything in one process, in order, in a single pass.
set -u
cd "$(dirname "$0")/.." || exit 1

PY=/usr/bin/python3
[ -x "$PY" ] || { echo "check-system.sh: $PY is missing (make deps)" >&2; exit 1; }

# A per-test limit, when the pytest-timeout plugin is installed; otherwise the suite's own
# alarm (tests/system/conftest.py) plays that role.
timeout_args=""
if "$PY" -c 'import pytest_timeout' 2>/dev/null; then
    timeout_args="--timeout=300"
fi

jobs=${PROFAI_TEST_JOBS:-2}
case "$jobs" in
    '' | *[!0-9]* | 0*) echo "check-system.sh: PROFAI_TEST_JOBS must be a number >= 1: $jobs" >&2
                        exit 1 ;;
esac
xdist_args=""
if [ "$jobs" -gt 1 ] && "$PY" -c 'import xdist' 2>/dev/null; then
    xdist_args="-n $jobs --dist loadfile"
fi

# tests/system unless the arguments name test files or directories themselves; a -m
# expression of the caller's is kept aside to be combined with `serial` below; -x stops
# before the serial pass once the parallel one has failed.
default_path=tests/system
mark=""
take_mark=0
exitfirst=0
for arg in "$@"; do
    shift
    if [ "$take_mark" -eq 1 ]; then mark=$arg; take_mark=0; continue; fi
    case "$arg" in
        -m) take_mark=1; continue ;;
        -x | --exitfirst) exitfirst=1 ;;
        -*) ;;
        *) [ -e "${arg%%::*}" ] && default_path="" ;;
    esac
    set -- "$@" "$arg"
done

# One pytest run; its marker expression first. No .pytest_cache in the checkout; no bytecode
# next to the sources.
s_pytest() {
    expr=$1
    shift
    if [ -n "$expr" ]; then set -- -m "$expr" "$@"; fi
    PYTHONDONTWRITEBYTECODE=1 "$PY" -m pytest -p no:cacheprovider -ra --durations=15 \
        $timeout_args $default_path "$@"
}

s_and() { if [ -n "$mark" ]; then echo "($mark) and $1"; else echo "$1"; fi; }

if [ -z "$xdist_args" ]; then
    s_pytest "$mark" "$@"
    rc=$?
else
    echo "check-system.sh: $jobs tests at once (PROFAI_TEST_JOBS), then the serial ones alone" >&2
    s_pytest "$(s_and 'not serial')" $xdist_args "$@"
    rc=$?
    # 5 (nothing collected) here is fine when the serial pass finds tests, and the reverse.
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || { [ "$rc" -eq 1 ] && [ "$exitfirst" -eq 0 ]; }; then
        echo "check-system.sh: the tests marked serial, alone" >&2
        s_pytest "$(s_and serial)" "$@" -n 0
        rc2=$?
        if [ "$rc" -eq 5 ] || { [ "$rc" -eq 0 ] && [ "$rc2" -ne 5 ]; }; then rc=$rc2; fi
    fi
fi
if [ "$rc" -eq 5 ]; then
    echo "check-system.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
