"""The frontend's accept queue (`http/backlog`, docs/configuration.md): civetweb listens with a
backlog of 200 unless told otherwise, and behind the edge a burst of more upstream connects
than that had its SYNs dropped (docs/performance.md, "HTTP capacity: the frontend's accept
queue"). The kernel's view of the listening socket (`ss -ltn`: Send-Q is the backlog) says
what the frontend asked for.

A burst: with the one thread held by an idle keep-alive connection, 600 more connects all
wait in the kernel's queue as completed connections; with a backlog of 200 at most 201
would, the rest dropped and retried after 1 s, 3 s, 7 s.
"""

from __future__ import annotations

import socket
import subprocess
import time


def _listen_backlog(port: int) -> int:
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[2])  # State Recv-Q Send-Q ...: Send-Q of a listener is its backlog


def _somaxconn() -> int:
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())


def test_default_backlog_is_4096_capped_by_somaxconn(make_stack):
    s = make_stack()
    s.start_broker()
    f = s.add_frontend()
    assert _listen_backlog(f.port) == min(4096, _somaxconn())


def test_backlog_is_configurable(make_stack):
    s = make_stack()
    s.start_broker()
    f = s.add_frontend(conf={"http": {"backlog": 300}})
    assert _listen_backlog(f.port) == min(300, _somaxconn())


def _accept_queue(port: int) -> int:
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[1])  # Recv-Q of a listener: connections completed, not yet accepted


def test_a_burst_of_connects_past_200_waits_in_the_queue(make_stack):
    s = make_stack()
    s.start_broker()
    f = s.add_frontend(conf={"http": {"threads": 1, "keep_alive": 60000}})
    # Waiting for the frontend left the stack's HTTP session a kept-alive connection, which
    # would hold the one thread for the whole keep-alive (60 s) before `held` got it.
    s.http.close()
    # The one thread waits on an idle kept-alive connection: nothing else is served.
    held = socket.create_connection(("127.0.0.1", f.port))
    held.settimeout(10)
    held.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
    assert held.recv(4096).startswith(b"HTTP/1.1 200")
    socks = []
    try:
        for _ in range(600):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", f.port))
            socks.append(c)
        # civetweb takes at most its connection queue (20) off the listener; the kernel holds
        # the rest as completed connections. With a backlog of 200 it would hold at most 201,
        # the other connects dropped and retried, never queued while the thread is held.
        # Passing takes a fraction of a second; failing (backlog 200) waits the whole 10 s.
        deadline = time.monotonic() + 10
        queued = _accept_queue(f.port)
        while queued < 550 and time.monotonic() < deadline:
            time.sleep(0.1)
            queued = _accept_queue(f.port)
        assert queued >= 550, f"{queued} connections in the accept queue"
    finally:
        for c in socks:
            c.close()
        held.close()
