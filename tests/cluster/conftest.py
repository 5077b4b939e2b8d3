"""Fixtures of the namespace tests (`make check-cluster`, docs/operations.md "Hosts in namespaces").

    def test_something(make_stack, net):      # hosts built once per session
        s = make_stack()                       # a fresh database; place programs on hosts
        s.start_broker(); s.add_worker("w1"); s.add_worker("w2"); s.add_frontend("fe", 0)
        net.link_down("w1")                    # faults are undone after each test

The session builds the hosts (hosts.TOPOLOGY) after removing what a crashed run left, starts
PostgreSQL on db, and moves the test's main thread into the client host until it ends; every
namespace, link and process is removed at the end, whatever happened. tests/system's fixtures
for output directories, reports, failure logs and the per-test alarm are reused as they are.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "system"))

import netns  # noqa: E402
from hosts import TOPOLOGY, ClusterStack, NsPgCluster  # noqa: E402
from stack import OUTPUT, ROOT  # noqa: E402


def _load_system_conftest():
    spec = importlib.util.spec_from_file_location("profai_system_conftest",
                                                  HERE.parent / "system" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_system = _load_system_conftest()
# Fixtures and the report hook of tests/system/conftest.py, registered here by name.
pytest_runtest_makereport = _system.pytest_runtest_makereport
_alarm = _system._alarm
_one_session_per_checkout = _system._one_session_per_checkout
programs = _system.programs
outdir = _system.outdir
report = _system.report

PG_DIRS = ROOT / "var" / "check"


@pytest.fixture(scope="session")
def net(request, programs):
    """The hosts, with this thread inside the client host for the whole session."""
    why_not = netns.usable()
    if why_not:
        pytest.skip(f"namespace tests: {why_not}")
    import zmq
    if getattr(zmq.Context, "_instance", None) is not None:
        pytest.fail("a ZeroMQ context exists already: its I/O threads would not be in the "
                    "client host (run tests/cluster in a pytest session of its own)")
    with netns.lock():
        left = netns.remove_leftovers()
        for old in PG_DIRS.glob("cluster-*"):   # their servers died with their namespaces
            shutil.rmtree(old, ignore_errors=True)
        if left:
            request.config.pluginmanager.get_plugin("terminalreporter").write_line(
                f"removed namespaces left by an earlier run: {' '.join(left)}")
        n = netns.Net(TOPOLOGY)
        n.create()
        try:
            with n.inside("client"):
                yield n
        finally:
            n.destroy()


@pytest.fixture(scope="session")
def pg(net):
    """PostgreSQL on the db host (scripts/pg.sh as its unprivileged user), listening on the
    db address; removed at the end with its log copied to tests/output/postgresql.cluster.log."""
    directory = PG_DIRS / f"cluster-{uuid.uuid4().hex[:8]}"
    cluster = NsPgCluster(directory, net)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            OUTPUT.mkdir(parents=True, exist_ok=True)
            if (directory / "log").exists():
                shutil.copy(directory / "log", OUTPUT / "postgresql.cluster.log")
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def make_stack(request, net, pg, outdir):
    """A factory of ClusterStacks (options as stack.Stack's). At teardown every fault is undone
    (thawed before anything is killed), logs are printed when the test failed, and every
    program is killed."""
    stacks: list[ClusterStack] = []

    def make(**options) -> ClusterStack:
        s = ClusterStack(net, pg, outdir if not stacks else outdir / f"stack{len(stacks) + 1}",
                         **options)
        stacks.append(s)
        return s

    try:
        yield make
    finally:
        net.heal()
        failed = _system._failed(request)
        for s in stacks:
            if failed:
                print(f"\n==== component logs ({s.outdir}) ====\n{s.log_tails(60)}")
            s.close()
