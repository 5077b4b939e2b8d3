"""Fixtures of the system tests: a private PostgreSQL cluster per session, a full stack per test.

    def test_something(stack):            # broker + 2 workers + frontend, healthy
        job_id = stack.submit(pdf, "Title")

    def test_other(make_stack):            # build your own
        s = make_stack(heartbeat_ivl=None, liveness=None)
        s.start_broker(); s.add_worker(); s.add_frontend(); s.wait_healthy()

A module that stops and starts PostgreSQL under its own programs, or wants databases with fixed
names, takes `private_pg_cluster` (a cluster of its own) instead.

Every test gets tests/output/<test name>/ for its config files and component logs; when a test
fails, the ends of those logs are printed with its report. Every process is killed at teardown,
whatever happened.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import BIN, OUTPUT, ROOT, PgCluster, Stack, free_port  # noqa: E402

PROGRAMS = ["profai-broker", "profai-worker", "profai-extract", "profai-frontend", "profaictl"]

# Per-test limit when pytest-timeout is not installed (it may not be: see check-system.sh).
TEST_ALARM_SECONDS = 240


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the item, so fixtures can tell a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture(autouse=True)
def _alarm(request):
    """A hung test fails instead of hanging CI (unless pytest-timeout does this job)."""
    if request.config.pluginmanager.hasplugin("timeout"):
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_ALARM_SECONDS} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_ALARM_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# The xdist worker this process is (PYTEST_XDIST_WORKER "gw0", "gw1"...), or "" when the tests
# run in this process alone (no pytest-xdist, or -n 0).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

# The session lock of this process, while it holds it (see _take_session_lock).
_session_lock = None


def _take_session_lock() -> None:
    """Test output goes to tests/output/<test name>/: two sessions in one checkout at once
    would overwrite each other's logs, so the second waits for the first. Taken once per
    run: by the process that runs the tests, or under pytest-xdist by the controller (its
    workers run tests of the same session side by side, each test in a directory of its own)."""
    global _session_lock
    if _session_lock is not None or XDIST_WORKER:
        return
    OUTPUT.mkdir(parents=True, exist_ok=True)
    lock = open(OUTPUT / ".session.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("\nanother test session uses tests/output/ in this checkout: waiting for it",
              file=sys.stderr)
        fcntl.flock(lock, fcntl.LOCK_EX)
    _session_lock = lock


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: run alone, after the others (scripts/check-system.sh runs the "
        "rest side by side): fixed ports of scripts/run.sh, bounds that need the machine")
    if not hasattr(config, "workerinput"):
        _take_session_lock()


def pytest_unconfigure(config):
    global _session_lock
    if _session_lock is not None:
        _session_lock.close()
        _session_lock = None


@pytest.fixture(scope="session", autouse=True)
def _one_session_per_checkout():
    """The session lock, for a conftest that registers this fixture without the hooks above
    (tests/cluster): a no-op when pytest_configure took it, or in an xdist worker."""
    took = _session_lock is None and not XDIST_WORKER
    _take_session_lock()
    yield
    if took:
        pytest_unconfigure(None)


@pytest.fixture(scope="session")
def programs():
    """The built programs; a clear failure when one is missing."""
    missing = [p for p in PROGRAMS if not os.access(BIN / p, os.X_OK)]
    if missing:
        pytest.fail(f"not built: {', '.join(missing)} (run `make all`)")
    return {p: BIN / p for p in PROGRAMS}


@contextlib.contextmanager
def _fresh_cluster(name: str, log_name: str):
    """A fresh PostgreSQL cluster (scripts/pg.sh) under var/check/<name>-<random>/, started;
    at the end stopped, its server log copied to tests/output/<log_name>, and removed."""
    directory = ROOT / "var" / "check" / f"{name}-{uuid.uuid4().hex[:8]}"
    cluster = PgCluster(directory, port=free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        OUTPUT.mkdir(parents=True, exist_ok=True)
        if (directory / "log").exists():
            shutil.copy(directory / "log", OUTPUT / log_name)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster(programs):
    """A fresh private PostgreSQL cluster under var/check/, removed at the end of the session.
    Each stack creates its own database in it. Its server log ends in
    tests/output/postgresql.log (postgresql.<xdist worker>.log under pytest-xdist: each
    worker has a cluster of its own)."""
    log_name = f"postgresql.{XDIST_WORKER}.log" if XDIST_WORKER else "postgresql.log"
    with _fresh_cluster("pg", log_name) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def private_pg_cluster(request):
    """A PostgreSQL cluster of one test module's own, removed after the module: for a module
    that stops and starts PostgreSQL under its own programs, or that wants databases with
    fixed names. Its database "profai" exists (empty); conninfo_for()/create_database()
    give conninfo strings. The server log ends in tests/output/postgresql.<module>.log."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    with _fresh_cluster(f"pg-{module}", f"postgresql.{module}.log") as cluster:
        yield cluster


@pytest.fixture
def outdir(request) -> Path:
    """tests/output/<test name>/, empty at the start of the test."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]
    path = OUTPUT / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def make_stack(request, pg_cluster, outdir):
    """A factory of stacks (see stack.Stack for the options); all closed at teardown."""
    stacks: list[Stack] = []

    def make(**options) -> Stack:
        sub = outdir if not stacks else outdir / f"stack{len(stacks) + 1}"
        s = Stack(pg_cluster, sub, **options)
        stacks.append(s)
        return s

    yield make
    failed = _failed(request)
    for s in stacks:
        if failed:
            print(f"\n==== component logs ({s.outdir}) ====\n{s.log_tails(60)}")
        s.close()


@pytest.fixture
def stack(make_stack) -> Stack:
    """Broker, two workers and one frontend on free ports, all healthy; heartbeats of 250 ms
    with liveness 4 (a silent peer is dead after 1 s)."""
    s = make_stack()
    s.start_broker()
    s.add_worker()
    s.add_worker()
    s.add_frontend()
    s.wait_healthy()
    return s


@pytest.fixture
def report(capsys):
    """Print a test's summary (counts, memory) past pytest's capture, so that it shows in the
    CI log even when the test passes."""
    def write(text: str) -> None:
        with capsys.disabled():
            print(text, flush=True)
    return write
