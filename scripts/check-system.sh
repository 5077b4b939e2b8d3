#!/bin/sh
# check-system.sh - the system tests (`make check-system`): the real programs in bin/, a private
# PostgreSQL cluster, real HTTP and real PDFs. See tests/system/ and docs/operations.md.
#
# usage: sh scripts/check-system.sh [PYTEST ARGS...]     e.g. -k kill -x, or a test file
#
# Runs Debian's /usr/bin/python3, whose pytest and modules `make deps` installed, never
# another python3 that comes first on PATH. Fails when pytest collects no tests.
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

# tests/system unless the arguments name test files or directories themselves.
default_path=tests/system
for arg in "$@"; do
    case "$arg" in
        -*) ;;
        *) [ -e "${arg%%::*}" ] && default_path="" ;;
    esac
done

# No .pytest_cache in the checkout; no bytecode next to the sources.
PYTHONDONTWRITEBYTECODE=1 "$PY" -m pytest -p no:cacheprovider -ra --durations=15 $timeout_args $default_path "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "check-system.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
