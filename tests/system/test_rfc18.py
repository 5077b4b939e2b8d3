"""The broker against ZeroMQ RFC 18 (Majordomo Protocol 0.2), checked by a peer written from the
RFC alone: its own framing below, nothing from mdp.py, so that a mistake shared by the broker
and our other test peers cannot hide here.

RFC 18, as used here:
* worker -> broker: ["MDPW02", command, ...]; READY 0x01 + service; PARTIAL 0x03 and FINAL 0x04
  + client address + empty frame + body...; HEARTBEAT 0x05; DISCONNECT 0x06. Broker -> worker: REQUEST 0x02,
  HEARTBEAT 0x05, DISCONNECT 0x06. REQUEST, PARTIAL and FINAL carry the client address, an
  empty delimiter frame, then the body.
* client -> broker: ["MDPC02", 0x01 REQUEST, service, body...]; replies PARTIAL 0x02 and
  FINAL 0x03 with the service and body frames.
* "If the broker receives a PARTIAL or FINAL from a worker that has no pending request, it MUST
  treat it as invalid and send DISCONNECT."
* "A peer that receives an invalid message SHOULD ... treat the peer as invalid" (a registered
  worker with a wrong header is forgotten: it gets DISCONNECT and counts no more).
* Body frames: RFC 18 allows several; ProfAI's services take exactly one (docs/protocol.md), so
  a REQUEST with two gets an error FINAL, never silence.
* Heartbeats: the broker heartbeats an idle worker at least once per heartbeat interval.

The transport under the framing is CURVE, as everywhere (docs/protocol.md 6): each peer takes
the key of its role from the stack (mdp.apply_curve), which touches no MDP framing.

Run: sh scripts/check-system.sh tests/system/test_rfc18.py
"""

from __future__ import annotations

import re
import time

import msgpack
import zmq

from mdp import apply_curve

# ---- framing written from RFC 18 -------------------------------------------------------------

W_HEADER, C_HEADER = b"MDPW02", b"MDPC02"
W_READY, W_REQUEST, W_PARTIAL, W_FINAL, W_HEARTBEAT, W_DISCONNECT = (
    b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06")
C_REQUEST, C_PARTIAL, C_FINAL = b"\x01", b"\x02", b"\x03"
SERVICE = b"course.build"

HEARTBEAT_IVL = 250  # ms: the Stack's default


class Peer:
    """A DEALER speaking raw frames to the broker."""

    def __init__(self, endpoint: str, identity: bytes | None = None, role: str = "worker"):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if identity is not None:
            self.sock.setsockopt(zmq.IDENTITY, identity)
        apply_curve(self.sock, endpoint, role)
        self.sock.connect(endpoint)

    def send(self, *frames: bytes) -> None:
        self.sock.send_multipart(list(frames))

    def recv(self, timeout: float) -> list[bytes] | None:
        if not self.sock.poll(int(timeout * 1000)):
            return None
        return self.sock.recv_multipart()

    def recv_command(self, command: bytes, timeout: float) -> list[bytes] | None:
        """The next worker message with this command within timeout (heartbeats skipped unless
        asked for), or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            frames = self.recv(left)
            if frames is None:
                return None
            assert frames[0] == W_HEADER, frames
            if frames[1] == command:
                return frames
        return None

    def close(self) -> None:
        self.sock.close(0)


def _ready_worker(stack, identity: bytes | None = None) -> Peer:
    before = stack.ping()["workers"]
    peer = Peer(stack.endpoint, identity)
    peer.send(W_HEADER, W_READY, SERVICE)
    stack.wait_workers(before + 1, timeout=10)
    return peer


# ---- tests -----------------------------------------------------------------------------------

def test_final_and_partial_without_a_request_get_disconnect(make_stack):
    """RFC 18 MUST: a PARTIAL or FINAL from a worker with no pending request -> DISCONNECT,
    from a registered idle worker and from a peer the broker never saw alike."""
    stack = make_stack()
    stack.start_broker()
    body = msgpack.packb({"v": 1, "ok": True})
    for command in (W_FINAL, W_PARTIAL):
        worker = _ready_worker(stack)
        try:
            worker.send(W_HEADER, command, b"no-such-client", b"", body)
            assert worker.recv_command(W_DISCONNECT, 5) is not None, command
            stack.wait_workers(0, timeout=10, exact=True)
        finally:
            worker.close()
        stranger = Peer(stack.endpoint)
        try:
            stranger.send(W_HEADER, command, b"no-such-client", b"", body)
            assert stranger.recv_command(W_DISCONNECT, 5) is not None, command
        finally:
            stranger.close()


def test_registered_worker_with_wrong_header_is_forgotten(make_stack):
    """RFC 18 SHOULD: a registered worker that sends a message with another protocol header is
    invalid: the broker sends DISCONNECT and forgets it (it counts no more)."""
    stack = make_stack()
    stack.start_broker()
    for header in (b"MDPW01", C_HEADER, b"garbage"):
        worker = _ready_worker(stack)
        try:
            worker.send(header, W_HEARTBEAT)
            assert worker.recv_command(W_DISCONNECT, 5) is not None, header
            stack.wait_workers(0, timeout=10, exact=True)
        finally:
            worker.close()
    assert "wrong protocol header" in stack.broker.log_text()


def test_request_with_several_body_frames_gets_an_error_final(make_stack):
    """A REQUEST with two body frames is valid MDP, but each ProfAI service takes one: the
    client gets FINAL with error_code bad_request instead of waiting for nothing."""
    stack = make_stack()
    stack.start_broker()
    client = Peer(stack.endpoint, role="frontend")
    try:
        body = msgpack.packb({"v": 1, "rid": 42})
        client.send(C_HEADER, C_REQUEST, b"broker.ping", body, body)
        frames = client.recv(5)
        assert frames is not None, "no answer to a REQUEST with two body frames"
        assert frames[:3] == [C_HEADER, C_FINAL, b"broker.ping"], frames
        assert len(frames) == 4
        reply = msgpack.unpackb(frames[3], raw=False)
        assert reply["ok"] is False and reply["error_code"] == "bad_request", reply
        # The same client, one body frame: served as usual.
        client.send(C_HEADER, C_REQUEST, b"broker.ping", body)
        frames = client.recv(5)
        assert frames is not None and frames[1] == C_FINAL
        assert msgpack.unpackb(frames[3], raw=False)["ok"] is True
    finally:
        client.close()


def test_broker_heartbeats_an_idle_worker_within_each_interval(make_stack):
    """RFC 18: the broker sends HEARTBEAT to an idle worker; docs/protocol.md: no gap between
    two of them exceeds heartbeat_ivl (the broker sends after 3/4 of it, checked every quarter)."""
    stack = make_stack()
    stack.start_broker()
    worker = _ready_worker(stack)
    try:
        seen = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            frames = worker.recv(1.0)
            assert frames is not None, "no heartbeat for a second"
            if frames[1] == W_HEARTBEAT:
                seen.append(time.monotonic())
            worker.send(W_HEADER, W_HEARTBEAT)
        gaps = [b - a for a, b in zip(seen, seen[1:])]
        assert len(gaps) >= 5, gaps
        # Generous bound for a loaded machine: the median gap is under one interval.
        assert sorted(gaps)[len(gaps) // 2] <= HEARTBEAT_IVL / 1000 * 1.1, gaps
    finally:
        worker.close()


def test_workers_with_identities_sharing_a_long_prefix_get_distinct_names(make_stack):
    """Worker names (logs, jobs.worker) tell apart identities that share their first bytes."""
    stack = make_stack()
    stack.start_broker()
    prefix = b"worker-on-host-with-a-long-name-"
    a = _ready_worker(stack, prefix + b"1")
    b = _ready_worker(stack, prefix + b"2")
    try:
        names = re.findall(r"worker ready worker=(\S+) service=course\.build",
                           stack.broker.log_text())
        assert len(names) == 2, names
        assert names[0] != names[1], names
        assert names[0].startswith(prefix[:8].hex()), names
    finally:
        a.close()
        b.close()
