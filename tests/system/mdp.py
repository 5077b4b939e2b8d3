"""Python peers speaking MDP/0.2 to the real broker, for the system tests.

A worker speaks MDPW02 (ZeroMQ RFC 18) and a client MDPC02, each on a real ZeroMQ DEALER
socket, with msgpack bodies as in docs/protocol.md. They do exactly what the test says: a
worker that hangs, answers twice or fails on demand, a client that cancels a job.

    worker = MdpWorker(endpoint).ready()
    token, job = worker.expect_request()
    worker.partial(token, 40)
    worker.final_ok(token, course_doc(job["title"]))
    client = MdpClient(endpoint)
    client.submit(owner, sha256, "Biology"); client.cancel(owner, job_id); client.ping()

CURVE: a broker of the test stack accepts only keys in its allow-lists (docs/security.md). The
stack registers a key pair per role for its endpoint in CURVE_PEERS; a peer takes the key of
its role by default (curve=True), none with curve=None (a stranger), or the (public, secret,
server) triple it is given.
"""

from __future__ import annotations

import json
import time

import msgpack
import zmq

W_READY, W_REQUEST, W_PARTIAL, W_FINAL, W_HEARTBEAT, W_DISCONNECT = (
    bytes([i]) for i in range(1, 7))

# broker endpoint -> role ("worker", "frontend") -> (public, secret, server public) in Z85
CURVE_PEERS: dict[str, dict[str, tuple[bytes, bytes, bytes]]] = {}


def apply_curve(sock: zmq.Socket, endpoint: str, role: str, curve=True) -> None:
    """Make sock (not yet connected) a CURVE client: curve=True takes the key registered for
    endpoint and role (none registered: plaintext), None or False none, a triple those keys."""
    keys = CURVE_PEERS.get(endpoint, {}).get(role) if curve is True else curve or None
    if keys:
        public, secret, server = keys
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        sock.setsockopt(zmq.CURVE_SERVERKEY, server)


def token_base(token: bytes) -> bytes:
    """A job token without its attempt's secret: b"<job id>/<attempt>" (docs/protocol.md 3.1).
    The worker peers echo the whole token, secret included, as RFC 18 asks of every worker."""
    parts = token.split(b"/")
    assert len(parts) == 3 and len(parts[2]) == 32, token
    return b"/".join(parts[:2])


def forge_token(token: bytes) -> bytes:
    """The same job and attempt with another secret: what a peer that guesses gets."""
    return token_base(token) + b"/" + b"0" * 32


class MdpWorker:
    """An RFC 18 worker on a DEALER socket that does what the test says. Every wait sends
    HEARTBEAT every heartbeat_s seconds, as a live worker does, unless `heartbeats` is
    switched off (a hung worker). The default, 0.2 s, is below the stack's 250 ms interval and
    the test_broker.py broker's 200 ms. expect_request waits request_timeout seconds unless
    told otherwise."""

    def __init__(self, endpoint: str, ctx: zmq.Context | None = None, heartbeat_s: float = 0.2,
                 request_timeout: float = 10.0, curve=True):
        self.sock = (ctx or zmq.Context.instance()).socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        apply_curve(self.sock, endpoint, "worker", curve)
        self.sock.connect(endpoint)
        self.heartbeat_s = heartbeat_s
        self.request_timeout = request_timeout
        self.heartbeats = True
        self.last_sent = 0.0

    def send(self, *frames: bytes) -> None:
        self.sock.send_multipart([b"MDPW02", *frames])
        self.last_sent = time.monotonic()

    def ready(self, service: bytes = b"course.build") -> "MdpWorker":
        self.send(W_READY, service)
        return self

    def partial(self, token: bytes, progress: int, stage: str = "text") -> None:
        self.send(W_PARTIAL, token, b"", msgpack.packb(
            {"v": 1, "progress": progress, "stage": stage, "page": 1, "pages": 2}))

    def final_ok(self, token: bytes, course: bytes) -> None:
        """A successful FINAL carrying `course` (the JSON document, sent as it is)."""
        self.send(W_FINAL, token, b"", msgpack.packb({"v": 1, "ok": True, "course": course}))

    def final_error(self, token: bytes, code: str, error: str) -> None:
        self.send(W_FINAL, token, b"", msgpack.packb(
            {"v": 1, "ok": False, "error_code": code, "error": error}))

    def pump(self) -> None:
        """Send HEARTBEAT when one is due (and heartbeats are on)."""
        if self.heartbeats and time.monotonic() - self.last_sent >= self.heartbeat_s:
            self.send(W_HEARTBEAT)

    def recv(self, timeout: float = 5.0) -> list[bytes] | None:
        """The next message other than HEARTBEAT, or None after timeout."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.pump()
            if self.sock.poll(int(min(left, self.heartbeat_s / 2) * 1000) + 1):
                frames = self.sock.recv_multipart()
                if frames != [b"MDPW02", W_HEARTBEAT]:
                    return frames
        return None

    def expect_request(self, timeout: float | None = None) -> tuple[bytes, dict]:
        """The next message, which must be a well-framed REQUEST: (token, job body)."""
        timeout = self.request_timeout if timeout is None else timeout
        frames = self.recv(timeout)
        assert frames is not None, f"no REQUEST within {timeout} s"
        assert frames[:2] == [b"MDPW02", W_REQUEST] and len(frames) == 5 and frames[3] == b"", \
            frames[:4]
        return frames[2], msgpack.unpackb(frames[4], raw=False)

    def expect_disconnect(self, timeout: float = 3.0) -> None:
        frames = self.recv(timeout)
        assert frames == [b"MDPW02", W_DISCONNECT], frames

    def close(self) -> None:
        self.sock.close(0)


class MdpClient:
    """An MDPC02 client on a DEALER socket: what the frontend's broker_client does, one request
    at a time."""

    def __init__(self, endpoint: str, ctx: zmq.Context | None = None, curve=True):
        self.sock = (ctx or zmq.Context.instance()).socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        apply_curve(self.sock, endpoint, "frontend", curve)
        self.sock.connect(endpoint)
        self.rid = 0

    def request(self, service: str, body: dict | bytes, timeout: float = 5.0) -> dict:
        """Send a REQUEST (body: a dict, encoded with rid, or raw bytes); the FINAL's body."""
        if isinstance(body, dict):
            self.rid += 1
            body = msgpack.packb({"v": 1, "rid": self.rid, **body})
        self.sock.send_multipart([b"MDPC02", b"\x01", service.encode(), body])
        assert self.sock.poll(int(timeout * 1000)), f"no reply from {service}"
        frames = self.sock.recv_multipart()
        assert frames[:3] == [b"MDPC02", b"\x03", service.encode()] and len(frames) == 4, frames
        return msgpack.unpackb(frames[3], raw=False)

    def submit(self, owner: str, sha256: str, title: str = "Biology") -> dict:
        return self.request("job.submit", {"owner": owner, "title": title,
                                           "filename": "course.pdf", "sha256": sha256})

    def cancel(self, owner: str, job_id: str) -> dict:
        return self.request("job.cancel", {"owner": owner, "job_id": job_id})

    def ping(self) -> dict:
        return self.request("broker.ping", {})

    def close(self) -> None:
        self.sock.close(0)


def course_doc(title: str, minimal: bool = False) -> bytes:
    """A small course document for a worker's FINAL. By default one page, with every key the
    extractor writes (docs/worker.md: language, quiz, ids, summary, key_terms); minimal=True:
    two pages and only the core keys (title, source, structure, modules with lessons), which is
    all the broker's own tests need (the broker stores the document as it is)."""
    if minimal:
        return json.dumps({
            "title": title,
            "source": {"filename": "x.pdf", "sha256": "0" * 64, "pages": 2, "pdf_title": None,
                       "author": None},
            "structure": "pages",
            "modules": [{"title": "Pages 1-2", "page_start": 1, "page_end": 2, "generated": True,
                         "lessons": [{"title": "Page 1", "page_start": 1, "page_end": 2,
                                      "text": "Hello"}]}],
        }).encode()
    return json.dumps({
        "title": title, "language": "en", "structure": "pages", "quiz": [],
        "source": {"filename": "c.pdf", "sha256": "0" * 64, "pages": 1, "pdf_title": None,
                   "author": None},
        "modules": [{"id": "m1", "title": "Page 1", "page_start": 1, "page_end": 1,
                     "generated": True,
                     "lessons": [{"id": "l1", "title": "Page 1", "page_start": 1, "page_end": 1,
                                  "text": "Cells divide.", "summary": "", "key_terms": []}]}],
    }).encode()
