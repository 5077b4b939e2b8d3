"""Start, stop and break the real ProfAI programs for the system tests.

Everything here drives the real binaries in bin/, a real PostgreSQL cluster (scripts/pg.sh),
real ZeroMQ sockets and real HTTP. Nothing is mocked.

    cluster = PgCluster(dir)                  # one per test session (conftest.py)
    cluster.start()
    stack = Stack(cluster, outdir)            # a fresh database and free ports
    stack.start_broker()                      # or start_broker(max_attempts=3, ...)
    stack.add_worker(page_delay_ms=100)
    stack.add_frontend()
    stack.wait_healthy()
    job_id = stack.submit("course.pdf", "Biology")
    job = stack.wait_job(job_id, {"succeeded"})
    course = stack.get_course(job["course_id"])
    stack.broker.kill()                       # SIGKILL; .stop() is SIGTERM; .start() again
    stack.close()                             # every process group is killed, even on failure

Each component writes its stdout and stderr to <outdir>/<name>.log; `stack.log_tails()` returns
the ends of them for a failure report.

A stack uses CURVE unless made with curve=False: `profaictl keygen` writes a key pair for the
broker and one for each worker, frontend and Python peer role under <outdir>/keys/; public
keys go to keys/workers/ or keys/frontends/, the broker's allow-lists (docs/security.md).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import random
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

import msgpack
import psycopg2
import requests
import zmq
import zmq.auth

from mdp import CURVE_PEERS, apply_curve

ROOT = Path(__file__).resolve().parents[2]
# The programs under test: bin/, or PROFAI_BIN (e.g. bin-asan/ for `make check-asan`).
BIN = Path(os.environ["PROFAI_BIN"]).resolve() if os.environ.get("PROFAI_BIN") else ROOT / "bin"
# PROFAI_SANITIZED=1: the programs are built with ASan/UBSan (mk/asan.mk); tests that need
# RLIMIT_AS or tight memory bounds skip or relax themselves.
SANITIZED = os.environ.get("PROFAI_SANITIZED") == "1"
OUTPUT = ROOT / "tests" / "output"

# The REST API (docs/api.md). Kept in one place so that the tests read as usage.
API = "/api/v1"
TERMINAL_STATES = {"succeeded", "failed", "cancelled"}


class StackError(AssertionError):
    """A component did not do what the test needs (did not start, died, timed out)."""


# ---- small helpers ---------------------------------------------------------------------------

# A test's token stands for many users (uploads in bursts, failed logins from one address):
# its frontends lift the request limits (docs/api.md 3.1) unless the test sets its own.
NO_LIMITS = {"upload_rate": 100000, "upload_burst": 100000, "read_rate": 1000000,
             "read_burst": 100000, "auth_fail_rate": 1000000, "auth_fail_burst": 100000}


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out to outgoing connections (32768 by default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Ports come from below the kernel's ephemeral range: a port the kernel picked (bind to 0) is
# free only until some client's outgoing connection takes it as its local port, which is how
# a broker once found its metrics port "already in use" between the pick and its bind. Below
# the range only another listener can take it; each port is handed out once per run, from a
# start that differs between concurrent runs. The worker processes of one parallel run
# (pytest-xdist, scripts/check-system.sh) each take a disjoint part of the span.
_PORT_HIGH = _ephemeral_floor()
_PORT_LOW = max(1024, _PORT_HIGH - 12000)


def _xdist_share(low: int, high: int) -> tuple[int, int]:
    """This process's part of [low, high): all of it, or under pytest-xdist the part of worker
    N of COUNT (PYTEST_XDIST_WORKER "gwN", PYTEST_XDIST_WORKER_COUNT)."""
    worker = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    try:
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    except ValueError:
        count = 1
    if worker is None or count < 2 or int(worker.group(1)) >= count:
        return low, high
    part = (high - low) // count
    start = low + int(worker.group(1)) * part
    return start, start + part


_PORT_LOW, _PORT_HIGH = _xdist_share(_PORT_LOW, _PORT_HIGH)
_port_next = _PORT_LOW + random.SystemRandom().randrange(_PORT_HIGH - _PORT_LOW)
_ports_given: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that no outgoing
    connection will take before the component binds it."""
    global _port_next
    span = _PORT_HIGH - _PORT_LOW
    for _ in range(span):
        port = _port_next
        _port_next = _PORT_LOW + (_port_next + 1 - _PORT_LOW) % span
        if port in _ports_given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise StackError(f"no free TCP port in {_PORT_LOW}-{_PORT_HIGH - 1}")


def wait_for(what: str, predicate: Callable[[], object], timeout: float,
             interval: float = 0.05, on_timeout: Callable[[], str] | None = None,
             retry_on: tuple[type[BaseException], ...] = (Exception,)):
    """Poll predicate until it returns something truthy (returned) or timeout seconds pass.
    An exception of a type in retry_on means "not yet" (a component not up yet) and polling
    goes on; any other (always a StackError) ends the wait at once. retry_on=(): every
    exception does, e.g. an assert in the predicate that must fail the test."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except StackError:
            raise
        except retry_on as e:  # a component not up yet: keep polling
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            if on_timeout is not None:
                detail += "\n" + on_timeout()
            raise StackError(f"timed out after {timeout:.1f} s waiting for {what}{detail}")
        time.sleep(interval)


def descendants(pid: int) -> list[int]:
    """Every process below pid (children, grandchildren...), read from /proc."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parent_of[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            pass
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parent_of.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def vm_rss_kb(pid: int, strict: bool = False) -> int:
    """The resident memory of a process in kB (VmRSS in /proc/<pid>/status; OSError when there
    is no such process). A process without VmRSS (a zombie) gives 0, or with strict=True an
    AssertionError."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    if strict:
        raise AssertionError(f"no VmRSS for {pid}")
    return 0


def zpl(sections: dict) -> str:
    """A ZPL (ZeroMQ RFC 4) config file from {"section": {"key": value}}."""
    lines = []
    for section, keys in sections.items():
        lines.append(section)
        for key, value in keys.items():
            text = str(value).replace('"', '')
            lines.append(f'    {key} = "{text}"')
    return "\n".join(lines) + "\n"


def normalise_words(text: str) -> list[str]:
    """Words of a text, whatever the whitespace and form feeds between them."""
    return text.split()


# ---- processes -------------------------------------------------------------------------------

class Process:
    """One program run as its own process group, its output appended to a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, cwd: Path | None = None,
                 env: dict | None = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.started = 0

    def start(self) -> "Process":
        if self.alive:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        with open(self.log_path, "ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n"
                      .encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.cwd, env=self.env,
                                         start_new_session=True)
        self.started += 1
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def _mark(self, text: str) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} {text}\n".encode())

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then wait for a clean exit (SIGKILL to the group after timeout)."""
        if not self.alive:
            return self.returncode
        self._mark("test sends SIGTERM")
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise StackError(f"{self.name} did not exit within {timeout} s of SIGTERM")

    def kill(self) -> None:
        """SIGKILL the program itself (not its children): a crash, as far as peers can tell."""
        if not self.alive:
            return
        self._mark("test sends SIGKILL")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def kill_group(self) -> None:
        """SIGKILL the whole process group: the program and anything it started."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def restart(self) -> "Process":
        self.stop()
        return self.start()

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"{self.name} still running after {timeout} s")

    def children(self) -> list[int]:
        """Pids of the direct children of the program (all its threads)."""
        if not self.alive:
            return []
        pids = []
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                pass
        return pids

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


# ---- PostgreSQL ------------------------------------------------------------------------------

class PgCluster:
    """A private cluster run by scripts/pg.sh in `directory`."""

    def __init__(self, directory: Path, port: int | None = None):
        self.directory = Path(directory)
        self.port = port

    def _pg(self, *args: str) -> str:
        argv = ["sh", str(ROOT / "scripts" / "pg.sh"), *args, str(self.directory)]
        if args[0] == "start" and self.port:
            argv.append(str(self.port))
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=120)
        if out.returncode not in (0, 3):
            raise StackError(f"pg.sh {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stdout}{out.stderr}")
        return out.stdout

    def start(self) -> None:
        self._pg("start")
        self.port = int((self.directory / "port").read_text())

    def stop(self) -> None:
        self._pg("stop")

    def running(self) -> bool:
        return self._pg("status").startswith("running")

    @property
    def conninfo(self) -> str:
        return self._pg("env").strip()

    def conninfo_for(self, dbname: str) -> str:
        """pg.sh's conninfo (host, port, role, password file: the one place that says how to
        connect) for another database."""
        return " ".join(f"dbname={dbname}" if part.startswith("dbname=") else part
                        for part in PgCluster.conninfo.fget(self).split())

    def _outside(self, sql: str) -> None:
        """One statement outside a transaction, on the cluster's "postgres" database."""
        conn = psycopg2.connect(self.conninfo_for("postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its conninfo."""
        self._outside(f'CREATE DATABASE "{name}"')
        return self.conninfo_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database if it exists, ending any session still on it."""
        self._outside(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- the broker's client protocol, for readiness checks ----------------------------------------

def broker_ping(endpoint: str, timeout: float = 1.0) -> dict | None:
    """Send PING to service broker.ping over MDP/0.2 (a real client DEALER); the PONG body, or
    None when the broker does not answer within timeout."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    apply_curve(sock, endpoint, "frontend")
    try:
        sock.connect(endpoint)
        rid = random.randrange(1, 2**31)
        sock.send_multipart([b"MDPC02", b"\x01", b"broker.ping",
                             msgpack.packb({"v": 1, "rid": rid})])
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not sock.poll(int(left * 1000) + 1):
                return None
            frames = sock.recv_multipart()
            if len(frames) == 4 and frames[:3] == [b"MDPC02", b"\x03", b"broker.ping"]:
                body = msgpack.unpackb(frames[3], raw=False)
                if body.get("rid") == rid:
                    return body
        return None
    finally:
        sock.close(0)


# ---- the stack -------------------------------------------------------------------------------

class Frontend:
    """A running profai-frontend and its base URL."""

    def __init__(self, process: Process, port: int):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def __getattr__(self, name):  # start/stop/kill/alive... of the process
        return getattr(self.process, name)


class Stack:
    """Broker, workers and frontends on free ports, against a fresh database of `cluster`."""

    def __init__(self, cluster: PgCluster, outdir: Path, heartbeat_ivl: int | None = 250,
                 liveness: int | None = 4, max_upload: str | None = None,
                 broker_timeout_ms: int = 3000, log_level: str = "debug", curve: bool = True):
        self.cluster = cluster
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.heartbeat_ivl = heartbeat_ivl
        self.liveness = liveness
        self.max_upload = max_upload
        self.broker_timeout_ms = broker_timeout_ms
        self.log_level = log_level
        self.dbname = "t_" + uuid.uuid4().hex[:12]
        self.conninfo = cluster.create_database(self.dbname)
        self.broker_port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.broker_port}"
        # The admin socket (docs/admin.md) in a short private directory (ipc paths are limited
        # to ~100 bytes), 0750 as systemd's RuntimeDirectory makes it.
        self.admin_dir = Path(tempfile.mkdtemp(prefix="profai-admin-"))
        self.admin_dir.chmod(0o750)
        self.admin_endpoint = f"ipc://{self.admin_dir}/admin.sock"
        # The broker's metrics endpoint (docs/operations.md, "Metrics and alerts").
        self.metrics_port = free_port()
        # The blob endpoint large PDFs are fetched from (docs/protocol.md 3.6).
        self.blob_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.broker: Process | None = None
        self.workers: list[Process] = []
        self.frontends: list[Frontend] = []
        self.others: list[Process] = []
        self._tokens: dict[str, str] = {}
        self._db = None
        self.http = requests.Session()
        self.curve = curve
        self.keys = self.outdir / "keys"
        if curve:
            self._keys_init()

    # -- CURVE keys --

    def keygen(self, name: str, role: str | None = None) -> Path:
        """A new key pair NAME under keys/secret/ (profaictl keygen); with role ("worker",
        "frontend" or "admin") its public file is copied to that role's allow-list. The
        certificate's path (what curve/certificate names)."""
        cert = self.keys / "secret" / name
        if cert.exists():  # made in advance (_keys_init)
            if role is not None:
                self.allow(cert, role)
            return cert
        out = subprocess.run([str(BIN / "profaictl"), "keygen", name, "--dir",
                              str(self.keys / "secret")], capture_output=True, text=True)
        if out.returncode != 0:
            raise StackError(f"profaictl keygen {name}: {out.stderr}")
        cert = self.keys / "secret" / name
        if role is not None:
            self.allow(cert, role)
        return cert

    def allow(self, cert: Path, role: str) -> Path:
        """Copy the public certificate cert into role's allow-list; the copy's path."""
        dest = self.keys / f"{role}s" / cert.name
        dest.write_text(Path(cert).read_text())
        return dest

    def peer_keys(self, cert: Path) -> tuple[bytes, bytes, bytes]:
        """(public, secret, broker's public) of cert, for a Python peer (mdp.apply_curve)."""
        public, secret = zmq.auth.load_certificate(str(cert) + "_secret")
        return public, secret, self.broker_public

    def _keys_init(self) -> None:
        for d in ("secret", "workers", "frontends", "admins", "broker"):
            (self.keys / d).mkdir(parents=True, exist_ok=True)
        out = subprocess.run([str(BIN / "profaictl"), "keygen", "broker", "--dir",
                              str(self.keys / "broker")], capture_output=True, text=True)
        if out.returncode != 0:
            raise StackError(f"profaictl keygen broker: {out.stderr}")
        self.broker_cert = self.keys / "broker" / "broker"
        self.broker_public = zmq.auth.load_certificate(str(self.broker_cert))[0]
        # The usual workers' and frontends' keys, allowed before the broker starts (a key
        # allowed later is taken at the broker's next look at its directories, within 1 s).
        for name, role in [("worker1", "worker"), ("worker2", "worker"), ("worker3", "worker"),
                           ("frontend1", "frontend"), ("frontend2", "frontend")]:
            self.keygen(name, role)
        # The Python peers of the tests (mdp.py) and the readiness pings; registered for the
        # endpoint when the broker starts (a subclass may move the endpoint after __init__).
        self.peer_curve = {role: self.peer_keys(self.keygen(f"py-{role}", role))
                           for role in ("worker", "frontend")}

    def curve_conf(self, name: str | None = None, role: str = "worker",
                   cert: Path | None = None) -> dict:
        """The curve section of a worker's or frontend's configuration: a new key pair NAME in
        role's allow-list (or cert as it is); {} without CURVE."""
        if not self.curve:
            return {}
        if cert is None:
            cert = self.keygen(name, role)
        return {"curve": {"certificate": str(cert), "broker_key": str(self.broker_cert)}}

    # -- configuration files --

    def _heartbeat_keys(self) -> dict:
        keys = {}
        if self.heartbeat_ivl is not None:
            keys["heartbeat_ivl"] = self.heartbeat_ivl
        if self.liveness is not None:
            keys["liveness"] = self.liveness
        return keys

    def _write_conf(self, name: str, sections: dict) -> Path:
        path = self.outdir / f"{name}.conf"
        path.write_text(zpl(sections))
        return path

    # -- broker --

    def start_broker(self, wait: bool = True, **broker_keys) -> Process:
        """Start the broker (again after a stop or kill: the same Process, the same log).
        broker_keys: more broker/ keys for its config file (retry_base_ms=..., max_attempts=...,
        job_deadline_ms=...); given, the file is written anew with them; without, the first
        start writes it with the endpoint and heartbeat keys only and a restart keeps it."""
        # Keys are registered per endpoint, and ports are reused: a plaintext broker on a port
        # an earlier CURVE stack had would otherwise get CURVE clients that it never answers.
        if self.curve:
            CURVE_PEERS[self.endpoint] = self.peer_curve
        else:
            CURVE_PEERS.pop(self.endpoint, None)
        if self.broker is None or broker_keys:
            curve = {"curve": {"certificate": str(self.broker_cert),
                               "workers_dir": str(self.keys / "workers"),
                               "frontends_dir": str(self.keys / "frontends"),
                               "admins_dir": str(self.keys / "admins")}} \
                if self.curve else {}
            conf = self._write_conf("broker", {
                "broker": {"endpoint": self.endpoint, "blob_endpoint": self.blob_endpoint,
                           **self._heartbeat_keys(), **broker_keys},
                "database": {"conninfo": self.conninfo},
                "admin": {"endpoint": self.admin_endpoint},
                "metrics": {"endpoint": f"tcp://127.0.0.1:{self.metrics_port}"},
                "log": {"level": self.log_level},
                **curve,
            })
            if self.broker is None:
                self.broker = Process("broker", [BIN / "profai-broker", "-c", conf],
                                      self.outdir / "broker.log")
        self.broker.start()
        if wait:
            self.wait_broker_ready()
        return self.broker

    def ping(self, timeout: float = 1.0) -> dict | None:
        return broker_ping(self.endpoint, timeout)

    def wait_broker_ready(self, timeout: float = 30.0) -> dict:
        """Until the broker answers PING with its database connection up."""
        def ready():
            if self.broker is not None and not self.broker.alive:
                raise StackError(f"broker exited ({self.broker.returncode}):\n"
                                 f"{self.broker.tail()}")
            pong = self.ping(0.5)
            return pong if pong and pong.get("ok") and pong.get("db") else None
        return wait_for("the broker to answer PING with db up", ready, timeout,
                        on_timeout=lambda: self.broker.tail() if self.broker else "")

    def wait_workers(self, count: int, timeout: float = 20.0, exact: bool = False) -> dict:
        """Until the broker counts `count` connected workers (at least, or exactly)."""
        def enough():
            pong = self.ping(0.5)
            if not pong:
                return None
            n = pong.get("workers", 0)
            return pong if (n == count if exact else n >= count) else None
        return wait_for(f"{count} workers at the broker", enough, timeout,
                        on_timeout=self.log_tails)

    # -- workers --

    def add_worker(self, page_delay_ms: int = 0, concurrency: int = 1, start: bool = True,
                   argv: list | None = None, cwd: Path | None = None,
                   env: dict | None = None) -> Process:
        """A worker with its own config file (broker endpoint, test heartbeats, page delay);
        or, with argv, exactly that command line (run from cwd)."""
        name = f"worker{len(self.workers) + 1}"
        if argv is None:
            conf = self._write_conf(name, {
                "worker": {"broker": self.endpoint, "concurrency": concurrency,
                           "page_delay_ms": page_delay_ms, "drain_timeout": 10000,
                           **self._heartbeat_keys()},
                "log": {"level": self.log_level},
                **self.curve_conf(name, "worker"),
            })
            argv = [BIN / "profai-worker", "-c", conf]
        worker = Process(name, argv, self.outdir / f"{name}.log", cwd=cwd, env=env)
        self.workers.append(worker)
        if start:
            worker.start()
        return worker

    # -- frontends --

    def add_frontend(self, start: bool = True, wait: bool = True,
                     conf: dict | None = None) -> Frontend:
        """A frontend on a free port; conf: more sections of its configuration file
        (e.g. {"cache": {"max_bytes": 0}})."""
        name = f"frontend{len(self.frontends) + 1}"
        port = free_port()
        http = {"listen": f"127.0.0.1:{port}", "threads": 16}
        if self.max_upload is not None:
            http["max_upload"] = self.max_upload
        conf = self._write_conf(name, {
            "http": http,
            "broker": {"endpoint": self.endpoint, "timeout": self.broker_timeout_ms},
            "database": {"conninfo": self.conninfo, "pool": 4},
            "log": {"level": self.log_level},
            **self.curve_conf(name, "frontend"),
            "limits": NO_LIMITS,
            # a section given is merged into the one made here (http keeps its listen)
            **{section: {**({"http": http}.get(section, {})), **keys}
               for section, keys in (conf or {}).items()},
        })
        proc = Process(name, [BIN / "profai-frontend", "-c", conf], self.outdir / f"{name}.log")
        frontend = Frontend(proc, port)
        self.frontends.append(frontend)
        if start:
            proc.start()
            if wait:
                self.wait_listening(frontend)
        return frontend

    def wait_listening(self, frontend: Frontend, timeout: float = 20.0) -> None:
        def up():
            if not frontend.process.alive:
                raise StackError(f"{frontend.process.name} exited "
                                 f"({frontend.process.returncode}):\n{frontend.process.tail()}")
            return self.http.get(frontend.url + "/healthz", timeout=2).status_code in (200, 503)
        wait_for(f"{frontend.process.name} to listen", up, timeout)

    def healthz(self, frontend: Frontend | None = None) -> requests.Response:
        return self.http.get((frontend or self.frontends[0]).url + "/healthz", timeout=10)

    def wait_healthy(self, timeout: float = 30.0, workers: int | None = None) -> None:
        """Until every running frontend answers /healthz 200 and the broker counts the running
        workers (each worker process serves `concurrency` slots: at least one each)."""
        alive_workers = [w for w in self.workers if w.alive]
        self.wait_workers(len(alive_workers) if workers is None else workers, timeout)
        for frontend in self.frontends:
            if frontend.process.alive:
                wait_for(f"{frontend.process.name} /healthz 200",
                         lambda f=frontend: self.healthz(f).status_code == 200, timeout,
                         on_timeout=self.log_tails)

    # -- people --

    def profaictl(self, *args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([str(BIN / "profaictl"), "-d", self.conninfo, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=30)
        # Tokens never go to a log (docs/security.md): the printed token is masked.
        shown = re.sub(r"pai_[A-Za-z0-9_-]{43}", "pai_<token>", out.stdout)
        with open(self.outdir / "profaictl.log", "a") as log:
            log.write(f"$ profaictl {' '.join(args)}\n{shown}{out.stderr}"
                      f"(exit {out.returncode})\n")
        return out

    def admin(self, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
        """profaictl on the broker's admin socket (as `user` with runuser, when given)."""
        argv = [str(BIN / "profaictl"), "-a", self.admin_endpoint, *args]
        if user is not None:
            argv = ["runuser", "-u", user, "--", *argv]
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=30)
        with open(self.outdir / "profaictl.log", "a") as log:
            log.write(f"$ profaictl {' '.join(args)}\n{out.stdout}{out.stderr}"
                      f"(exit {out.returncode})\n")
        return out

    def create_token(self, role: str, name: str | None = None) -> str:
        """A new bearer token for user `name` (created with `role` if missing)."""
        name = name or f"{role}-{uuid.uuid4().hex[:8]}"
        out = self.profaictl("token", "create", "--role", role, name)
        if out.returncode != 0:
            raise StackError(f"profaictl token create failed:\n{out.stdout}{out.stderr}")
        if role == "student":  # see publish_to_students
            self.query("INSERT INTO class_members (class_id, user_id) SELECT k.id, u.id "
                       "FROM classes k, users u WHERE k.name = 'every student' AND u.name = %s "
                       "ON CONFLICT DO NOTHING RETURNING 1", name)
        return parse_token(out.stdout)

    def token(self, role: str) -> str:
        """One token per role for this stack, created on first use."""
        if role not in self._tokens:
            self._tokens[role] = self.create_token(role)
        return self._tokens[role]

    # -- the REST API --

    def _url(self, frontend: Frontend | None, path: str) -> str:
        return (frontend or self.frontends[0]).url + path

    def auth(self, role_or_token: str | None = "teacher") -> dict:
        if role_or_token is None:
            return {}
        token = self.token(role_or_token) if role_or_token in ("teacher", "student", "admin") \
            else role_or_token
        return {"Authorization": f"Bearer {token}"}

    def post_job(self, pdf: Path | bytes, title: str | None, filename: str = "course.pdf",
                 token: str | None = "teacher", frontend: Frontend | None = None,
                 content_type: str = "application/pdf", form: bool = False,
                 timeout: float = 30) -> requests.Response:
        """POST /api/v1/jobs: the PDF as the raw body (title and filename in the query string),
        or with form=True as a browser sends it (multipart/form-data, fields `title`, `file`)."""
        data = pdf if isinstance(pdf, bytes) else Path(pdf).read_bytes()
        url = self._url(frontend, f"{API}/jobs")
        if form:
            fields = {}
            if title is not None:
                fields["title"] = (None, title)
            fields["file"] = (filename, data, content_type)
            return self.http.post(url, files=fields, headers=self.auth(token), timeout=timeout)
        params = {"filename": filename}
        if title is not None:
            params["title"] = title
        return self.http.post(url, params=params, data=data, timeout=timeout,
                              headers={**self.auth(token), "Content-Type": content_type})

    def submit(self, pdf: Path | bytes, title: str, frontend: Frontend | None = None,
               token: str | None = "teacher", filename: str | None = None,
               form: bool = False) -> str:
        """Upload a PDF over HTTP; the new job's id (the frontend must answer 202)."""
        if filename is None:
            filename = Path(pdf).name if not isinstance(pdf, bytes) else "course.pdf"
        r = self.post_job(pdf, title, filename=filename, token=token, frontend=frontend,
                          form=form)
        if r.status_code != 202:
            raise StackError(f"POST {API}/jobs answered {r.status_code}: {r.text[:500]}")
        return job_id_of(r.json())

    def get(self, path: str, token: str | None = "teacher",
            frontend: Frontend | None = None) -> requests.Response:
        return self.http.get(self._url(frontend, path), headers=self.auth(token), timeout=30)

    def get_job(self, job_id: str, frontend: Frontend | None = None,
                token: str | None = "teacher") -> dict:
        r = self.get(f"{API}/jobs/{job_id}", token=token, frontend=frontend)
        if r.status_code != 200:
            raise StackError(f"GET job {job_id} answered {r.status_code}: {r.text[:500]}")
        return r.json()

    def get_course(self, course_id: str, frontend: Frontend | None = None,
                   token: str | None = "student") -> dict:
        """The course as `token` reads it; as a student, once the course is published to the
        stack's students (publish_to_students: students see only published courses)."""
        if token == "student":
            self.publish_to_students(course_id)
        r = self.get(f"{API}/courses/{course_id}", token=token, frontend=frontend)
        if r.status_code != 200:
            raise StackError(f"GET course {course_id} answered {r.status_code}: {r.text[:500]}")
        return r.json()

    def wait_job(self, job_id: str, states: Iterable[str] = ("succeeded",),
                 timeout: float = 60.0, frontend: Frontend | None = None) -> dict:
        """Poll the job over HTTP until its state is one of `states`; fails at once when it
        reaches another final state."""
        states = set(states)
        last = {}

        def done():
            job = self.get_job(job_id, frontend=frontend)
            last["job"] = job
            state = job.get("state")
            if state in states:
                return job
            if state in TERMINAL_STATES:
                raise StackError(f"job {job_id} ended {state}, expected {sorted(states)}: "
                                 f"{json.dumps(job)[:800]}")
            return None
        job = wait_for(f"job {job_id} to reach {sorted(states)}", done, timeout, interval=0.1,
                       on_timeout=lambda: f"last seen: {last.get('job')}\n{self.log_tails()}")
        if job.get("state") == "succeeded" and job.get("course_id"):
            self.wait_searchable(job["course_id"])
        return job

    def wait_searchable(self, course_id: str, timeout: float = 10.0) -> None:
        """A new course is indexed for search just after its job's commit (migration 017,
        docs/api.md 4.8): wait until it is off the queue. Skipped while the database is
        unreachable (tests of outages)."""
        def indexed():
            try:
                return not self.query("SELECT 1 FROM course_index_queue WHERE course_id = %s",
                                      course_id)
            except psycopg2.Error:
                return True
        wait_for(f"course {course_id} indexed for search", indexed, timeout, interval=0.02)

    # -- database --

    def db(self):
        """A psycopg2 connection (autocommit) to this stack's database, opened again when
        PostgreSQL was restarted under the last one."""
        if self._db is not None and not self._db.closed:
            try:
                with self._db.cursor() as cur:
                    cur.execute("SELECT 1")
            except psycopg2.Error:
                self._db.close()
        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(self.conninfo)
            self._db.autocommit = True
        return self._db

    def query(self, sql: str, *params):
        with self.db().cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def publish_to_students(self, course_id: str) -> None:
        """Let every student see a course (docs/api.md 2): enrol them all in one class of the
        course's owner (the same for all its courses, so that publishing another course does
        not change which classes a student has) and publish the course to it, as the API would (test_classes.py drives
        the API itself; this is for tests about other things). Students made later with
        create_token join these classes too."""
        self.token("student")
        with self.db().cursor() as cur:
            cur.execute(
                "WITH c AS (SELECT owner_id FROM courses WHERE id = %s), "
                "k AS (INSERT INTO classes (owner_id, name, join_code) "
                "      SELECT owner_id, 'every student', "
                "      translate(upper(substr(md5(owner_id::text), 1, 10)), '01', 'GH') FROM c "
                "      ON CONFLICT (join_code) DO UPDATE SET name = excluded.name "
                "      RETURNING id), "
                "m AS (INSERT INTO class_members (class_id, user_id) "
                "      SELECT k.id, u.id FROM k, users u WHERE u.role = 'student' "
                "      ON CONFLICT DO NOTHING) "
                "INSERT INTO class_courses (class_id, course_id) SELECT k.id, %s FROM k "
                "ON CONFLICT DO NOTHING", (course_id, course_id))

    def job_row(self, job_id: str) -> dict:
        with self.db().cursor() as cur:
            cur.execute("SELECT state, attempts, progress, stage, worker, error_code, error, "
                        "course_id FROM jobs WHERE id = %s", (job_id,))
            row = cur.fetchone()
            if row is None:
                raise StackError(f"no job {job_id} in the database")
            return dict(zip([d.name for d in cur.description], row))

    # -- teardown and reports --

    def processes(self) -> list[Process]:
        procs = [self.broker] if self.broker else []
        return procs + self.workers + [f.process for f in self.frontends] + self.others

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for p in self.processes():
            state = "running" if p.alive else f"exited {p.returncode}"
            parts.append(f"---- {p.name} ({state}) {p.log_path}\n{p.tail(lines)}")
        return "\n".join(parts)

    def close(self) -> None:
        """Kill every process group this stack started (and their children) and the db link."""
        for p in self.processes():
            p.kill_group()
        if CURVE_PEERS.get(self.endpoint) is getattr(self, "peer_curve", None):
            CURVE_PEERS.pop(self.endpoint, None)
        if self._db is not None:
            self._db.close()
        self.http.close()
        shutil.rmtree(self.admin_dir, ignore_errors=True)


# ---- API payloads ----------------------------------------------------------------------------

def job_id_of(body: dict) -> str:
    """The job id in a 202 answer."""
    for key in ("job_id", "id"):
        if isinstance(body.get(key), str):
            return body[key]
    if isinstance(body.get("job"), dict):
        return job_id_of(body["job"])
    raise StackError(f"no job id in {body}")


def parse_token(stdout: str) -> str:
    """The bearer token printed by `profaictl token create`."""
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("token"):
            line = line.split(None, 1)[-1].lstrip(":= ").strip()
        if line and " " not in line:
            return line
    raise StackError(f"no token in profaictl output: {stdout!r}")
