"""The daemons' systemd notifications (common/notify.h; docs/operations.md, "systemd").

systemd hands a Type=notify service a datagram socket in NOTIFY_SOCKET and, with WatchdogSec=,
the interval in WATCHDOG_USEC. Here the test plays systemd: it binds such a socket, starts the
real program with those variables and reads what arrives: READY=1 once the program serves,
WATCHDOG=1 pings from its event loop, STOPPING=1 on SIGTERM. Without NOTIFY_SOCKET (every
other test) the programs send nothing.

Run: sh scripts/check-system.sh tests/system/test_notify.py
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import BIN, Process, StackError, free_port, zpl  # noqa: E402

WATCHDOG_USEC = 600_000  # pings every 150-300 ms


class NotifySocket:
    """What systemd listens on: an abstract unix datagram socket (no path-length trouble)."""

    def __init__(self):
        self.name = f"profai-test-{uuid.uuid4().hex[:12]}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.received: list[tuple[float, str]] = []

    def env(self, watchdog: bool) -> dict:
        env = {**os.environ, "NOTIFY_SOCKET": "@" + self.name}
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        if watchdog:
            env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        return env

    def wait(self, needle: str, timeout: float) -> str:
        """The next message containing needle (each one is kept in received)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StackError(f"no {needle!r} within {timeout} s; got {self.messages()}")
            self.sock.settimeout(left)
            try:
                message = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.received.append((time.monotonic(), message))
            if needle in message:
                return message

    def messages(self) -> list[str]:
        return [m for _, m in self.received]

    def close(self):
        self.sock.close()


@pytest.fixture
def notify():
    s = NotifySocket()
    yield s
    s.close()


def assert_pings_then_stops(notify: NotifySocket, process: Process) -> None:
    """Several WATCHDOG=1, each within the interval of the last; STOPPING=1 on SIGTERM."""
    for _ in range(4):
        notify.wait("WATCHDOG=1", WATCHDOG_USEC / 1e6)
    pings = [t for t, m in notify.received if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert all(gap < WATCHDOG_USEC / 1e6 for gap in gaps), gaps
    process.proc.send_signal(15)
    notify.wait("STOPPING=1", 10)
    assert process.wait_exit(30) == 0, process.tail()


def test_worker_is_ready_pings_from_its_loop_and_says_it_stops(notify, outdir):
    # Nothing listens at the broker endpoint: a worker is ready all the same (its slots connect
    # when the broker comes) and its loop keeps turning.
    worker = Process("worker", [BIN / "profai-worker", "-b", f"tcp://127.0.0.1:{free_port()}"],
                     outdir / "worker.log", env=notify.env(watchdog=True)).start()
    try:
        ready = notify.wait("READY=1", 10)
        assert "STATUS=2 job slots for course.build at tcp://127.0.0.1:" in ready
        assert_pings_then_stops(notify, worker)
    finally:
        worker.kill_group()


def test_frontend_pings_only_after_its_server_answered(notify, outdir):
    conf = outdir / "frontend.conf"
    conf.write_text(zpl({"http": {"listen": "127.0.0.1:0"},
                         "database": {"conninfo": "host=/nonexistent"}}))
    frontend = Process("frontend", [BIN / "profai-frontend", "-c", conf],
                       outdir / "frontend.log", env=notify.env(watchdog=True)).start()
    try:
        ready = notify.wait("READY=1", 20)
        assert "STATUS=listening on http://127.0.0.1:" in ready
        assert_pings_then_stops(notify, frontend)
    finally:
        frontend.kill_group()
    # Each ping followed a GET /api/v1 the frontend asked itself (its access log has them).
    pings = notify.messages().count("WATCHDOG=1")
    assert frontend.log_text().count("GET /api/v1 200") >= pings


def test_broker_waits_for_the_database_then_is_ready(notify, make_stack):
    stack = make_stack()
    conf = stack.outdir / "broker.conf"
    conf.write_text(zpl({"broker": {"endpoint": stack.endpoint, "heartbeat_ivl": 1000},
                         "database": {"conninfo": stack.conninfo}}))
    broker = Process("broker", [BIN / "profai-broker", "-c", conf], stack.outdir / "broker.log",
                     env=notify.env(watchdog=True))
    stack.others.append(broker)  # killed with the stack
    broker.start()
    assert notify.wait("STATUS=", 10) == "STATUS=waiting for the database"
    assert notify.wait("READY=1", 30) == f"READY=1\nSTATUS=serving on {stack.endpoint}"
    assert stack.ping(2)["ok"]
    # heartbeat_ivl 1000 ms: without the watchdog the loop would sleep longer than a ping's
    # interval; it wakes up in time.
    assert_pings_then_stops(notify, broker)


def test_no_watchdog_no_pings(notify, outdir):
    worker = Process("worker", [BIN / "profai-worker", "-b", f"tcp://127.0.0.1:{free_port()}"],
                     outdir / "worker.log", env=notify.env(watchdog=False)).start()
    try:
        notify.wait("READY=1", 10)
        time.sleep(1)
        worker.stop()
        notify.wait("STOPPING=1", 10)
    finally:
        worker.kill_group()
    assert "WATCHDOG=1" not in notify.messages()
