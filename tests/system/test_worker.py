"""System tests of profai-extract and profai-worker (docs/worker.md).

profai-extract runs directly on PDFs made by pdfs.py and on a real manual, and is checked
against independent readers (PyMuPDF's get_toc, pdftotext). profai-worker runs against a small
broker written here on a real ZeroMQ ROUTER socket that speaks MDP/0.2 (docs/protocol.md).

Run: /usr/bin/python3 -m pytest tests/system/test_worker.py
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import msgpack
import pytest
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pdfs  # noqa: E402
from stack import BIN, SANITIZED  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXTRACT = BIN / "profai-extract"
WORKER = BIN / "profai-worker"
HEARTBEAT_MS = 200
LIVENESS = 3

W_READY, W_REQUEST, W_PARTIAL, W_FINAL, W_HEARTBEAT, W_DISCONNECT = (bytes([i]) for i in range(1, 7))

pytestmark = pytest.mark.skipif(not (EXTRACT.exists() and WORKER.exists()),
                                reason="build bin/profai-worker and bin/profai-extract first")


# ------------------------------------------------------------------ helpers: extractor

def run_extract(pdf: Path | bytes, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    data = pdf if isinstance(pdf, bytes) else Path(pdf).read_bytes()
    return subprocess.run([str(EXTRACT), *args], input=data, capture_output=True, timeout=timeout)


def extract_course(pdf: Path, *args: str) -> dict:
    out = run_extract(pdf, *args)
    assert out.returncode == 0, out.stdout[:300] + out.stderr[-2000:]
    return json.loads(out.stdout)


def refusal(out: subprocess.CompletedProcess) -> tuple[str, str]:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    code, sentence, rest = out.stdout.decode().split("\n", 2)
    assert rest == ""
    return code, sentence


def words(text: str) -> list[str]:
    return text.split()


def pdftotext(path: Path, first: int, last: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(first), "-l", str(last), str(path), "-"],
                          capture_output=True, text=True, check=True).stdout


def outline_of(course: dict) -> tuple[list, list]:
    """(modules, lessons) as (title, page_start) lists, leaving out what the extractor added:
    generated modules, and the lesson named after its module that covers the module's first
    pages (a chapter's opening pages, or the single lesson of a module without sections)."""
    modules, lessons = [], []
    for m in course["modules"]:
        if m["generated"]:
            continue
        modules.append((m["title"], m["page_start"]))
        for i, lesson in enumerate(m["lessons"]):
            if i == 0 and lesson["title"] == m["title"] and lesson["page_start"] == m["page_start"]:
                continue
            lessons.append((lesson["title"], lesson["page_start"]))
    return modules, lessons


def toc_levels(path: Path) -> tuple[list, list]:
    toc = pdfs.get_toc(path)
    return ([(t.strip(), p) for level, t, p in toc if level == 1],
            [(t.strip(), p) for level, t, p in toc if level == 2])


def assert_covers_all_pages(course: dict) -> None:
    pages = course["source"]["pages"]
    covered = set()
    previous_start = 0
    for m in course["modules"]:
        assert 1 <= m["page_start"] <= m["page_end"] <= pages
        assert m["page_start"] >= previous_start, "modules out of reading order"
        previous_start = m["page_start"]
        assert m["lessons"], m["title"]
        for lesson in m["lessons"]:
            assert m["page_start"] <= lesson["page_start"] <= lesson["page_end"] <= m["page_end"]
            covered.update(range(lesson["page_start"], lesson["page_end"] + 1))
    assert covered == set(range(1, pages + 1))


# ------------------------------------------------------------------ fixtures: PDFs

@pytest.fixture(scope="module")
def pdf_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pdfs")


@pytest.fixture(scope="module")
def outline_pdf(pdf_dir) -> pdfs.MadePdf:
    return pdfs.make_pdf(pdf_dir / "outline.pdf",
                         chapters=[("Chapter 1  ", [("Section 1.1", 2), ("Section 1.2", 1)]),
                                   ("Chapter 2", 1, [("Section 2.1", 1, [("Part 2.1.1", 1)]),
                                                     ("Section 2.2", 2)]),
                                   ("Chapter 3", 2)],
                         use_named_dests=True, title="Cells and energy", author="A. Teacher",
                         front_pages=2)


@pytest.fixture(scope="module")
def small_pdf(pdf_dir) -> pdfs.MadePdf:
    return pdfs.make_pdf(pdf_dir / "small.pdf",
                         chapters=[("Intro", [("Why", 1), ("How", 1)]), ("Practice", 1)],
                         use_named_dests=False)


@pytest.fixture(scope="module")
def long_pdf(pdf_dir) -> pdfs.MadePdf:
    return pdfs.make_long_pdf(pdf_dir / "long.pdf", pages=60)


# ------------------------------------------------------------------ extractor tests

def test_extract_outline_with_named_destinations(outline_pdf):
    course = extract_course(Path(outline_pdf.path), "--title", "Biology 101", "--filename",
                            "cells.pdf", "--sha256", "ab" * 32)
    assert course["title"] == "Biology 101"
    assert course["source"] == {"filename": "cells.pdf", "sha256": "ab" * 32,
                                "pages": outline_pdf.pages, "pdf_title": "Cells and energy",
                                "author": "A. Teacher"}
    assert course["structure"] == "outline"
    modules, lessons = outline_of(course)
    assert (modules, lessons) == toc_levels(Path(outline_pdf.path))
    assert modules[0] == ("Chapter 1", 3)  # trimmed, after two front pages
    first = course["modules"][0]
    assert first["generated"] and first["title"] == "Front matter"
    assert (first["page_start"], first["page_end"]) == (1, 2)
    # Level 3 folds into its level-2 lesson: Section 2.1 covers Part 2.1.1's page.
    chapter2 = next(m for m in course["modules"] if m["title"] == "Chapter 2")
    ranges = {lesson["title"]: (lesson["page_start"], lesson["page_end"])
              for lesson in chapter2["lessons"]}
    s21 = next(p for level, t, p in outline_pdf.toc if t == "Section 2.1")
    assert ranges["Section 2.1"] == (s21, s21 + 1)
    assert ranges["Chapter 2"] == (s21 - 1, s21 - 1)  # the chapter's opening page
    assert_covers_all_pages(course)


def test_extract_lesson_text_matches_pdftotext(outline_pdf):
    course = extract_course(Path(outline_pdf.path))
    for m in course["modules"]:
        for lesson in m["lessons"]:
            expected = pdftotext(Path(outline_pdf.path), lesson["page_start"], lesson["page_end"])
            assert words(lesson["text"]) == words(expected), lesson["title"]
    assert "naïve" in json.dumps(course, ensure_ascii=False)


def test_extract_outline_with_page_destinations(small_pdf):
    course = extract_course(Path(small_pdf.path))
    assert outline_of(course) == toc_levels(Path(small_pdf.path))
    practice = course["modules"][-1]
    assert [lesson["title"] for lesson in practice["lessons"]] == ["Practice"]
    assert course["title"] == small_pdf.title  # no --title: the PDF's own title
    assert_covers_all_pages(course)


def test_extract_without_outline_groups_pages(pdf_dir):
    made = pdfs.make_plain_pdf(pdf_dir / "plain.pdf", pages=25, headings=False)
    course = extract_course(Path(made.path))
    assert course["structure"] == "pages"
    assert course["source"]["pdf_title"] is None and course["source"]["author"] is None
    assert [m["title"] for m in course["modules"]] == ["Pages 1-10", "Pages 11-20", "Pages 21-25"]
    assert all(m["generated"] for m in course["modules"])
    assert all(lesson["page_end"] - lesson["page_start"] < 3
               for m in course["modules"] for lesson in m["lessons"])
    assert_covers_all_pages(course)


@pytest.mark.parametrize("data", [b"", b"hello, I am a text file\n" * 100, b"\x89PNG\r\n" + bytes(500)])
def test_extract_refuses_non_pdf(data):
    assert refusal(run_extract(data))[0] == "not_pdf"


def test_extract_refuses_encrypted(outline_pdf, tmp_path):
    locked = tmp_path / "locked.pdf"
    subprocess.run(["qpdf", "--encrypt", "user", "owner", "256", "--", outline_pdf.path,
                    str(locked)], check=True)
    code, sentence = refusal(run_extract(locked))
    assert code == "encrypted" and "password" in sentence


def test_extract_truncated_pdf_never_crashes(long_pdf):
    data = Path(long_pdf.path).read_bytes()
    for size in (2000, len(data) // 3, len(data) - 500):
        out = run_extract(data[:size])
        assert out.returncode in (0, 2), (size, out.returncode, out.stderr[-1000:])
        if out.returncode == 2:
            assert refusal(out)[0] == "damaged"
        else:
            assert_covers_all_pages(json.loads(out.stdout))


def test_extract_refuses_blank_and_too_long(pdf_dir, long_pdf):
    blank = pdfs.make_blank_pdf(pdf_dir / "blank.pdf")
    assert refusal(run_extract(Path(blank.path)))[0] == "no_text"
    code, sentence = refusal(run_extract(Path(long_pdf.path), "--max-pages", "10"))
    assert code == "too_large" and "60 pages" in sentence


def test_extract_usage_errors_and_help():
    out = subprocess.run([str(EXTRACT), "--no-such-option"], capture_output=True, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and out.stdout.startswith(b"internal\n")
    out = subprocess.run([str(EXTRACT), "--help"], capture_output=True)
    assert out.returncode == 0 and b"--max-pages" in out.stdout
    out = subprocess.run([str(EXTRACT), "--version"], capture_output=True)
    assert out.stdout.startswith(b"profai-extract ")


def test_extract_maps_no_zeromq_library(long_pdf):
    """The parser maps poppler and glib, not czmq or libzmq (and the Kerberos, systemd, ...
    libraries they bring): no ZeroMQ code in the sandboxed process, and 19 fewer libraries to
    load at every start (docs/performance.md, "PDF processing: an extractor without czmq")."""
    with open(long_pdf.path, "rb") as pdf:
        proc = subprocess.Popen([str(EXTRACT), "--page-delay-ms", "50"], stdin=pdf,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        maps = ""
        while "libpoppler" not in maps and time.monotonic() < deadline:
            time.sleep(0.02)
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
        libs = {Path(line.split()[-1]).name for line in maps.splitlines() if ".so" in line}
        assert any(name.startswith("libpoppler-glib") for name in libs), libs
        assert not [name for name in libs if name.startswith(("libczmq", "libzmq"))], libs
    finally:
        proc.kill()
        proc.wait()


def test_extract_progress_lines_on_fd3(long_pdf, tmp_path):
    r, w = os.pipe()
    with open(long_pdf.path, "rb") as pdf, open(tmp_path / "out.json", "wb") as out:
        # bash puts the pipe on fd 3, as the worker does (dash refuses fds above 9).
        proc = subprocess.Popen(["bash", "-c", f'exec "$0" --page-delay-ms 5 3>&{w}', str(EXTRACT)],
                                stdin=pdf, stdout=out, stderr=subprocess.PIPE, pass_fds=(w,))
    os.close(w)
    with os.fdopen(r) as progress:
        lines = progress.read().splitlines()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, ((tmp_path / "out.json").read_bytes()[:300], err)
    stages = [line.split()[2] for line in lines]
    assert all(re.fullmatch(r"progress \d+ [a-z_]+ \d+ \d+", line) for line in lines), lines
    assert stages[0] == "parsing" and "outline" in stages and stages[-1] == "building"
    text = [line for line in lines if line.split()[2] == "text"]
    assert text[-1].endswith(" 60 60") and len(text) < 60  # at most one per 100 ms


def test_extract_real_manual_outline(tmp_path):
    listed = subprocess.run(["dpkg", "-L", "docbook-xsl-doc-pdf", "auto-multiple-choice-doc-pdf"],
                            capture_output=True, text=True).stdout.split()
    manuals = [p for p in listed if p.endswith(".pdf")]
    if not manuals:
        pytest.skip("no PDF manual package installed")
    manual = next((Path(p) for p in manuals if pdfs.get_toc(p)), None)
    assert manual is not None, f"no manual with an outline among {manuals}"
    course = extract_course(manual)
    assert course["structure"] == "outline"
    modules, lessons = outline_of(course)
    expected_modules, expected_lessons = toc_levels(manual)
    assert modules == expected_modules
    assert lessons == expected_lessons
    assert_covers_all_pages(course)
    # The docbook manual ships gzipped and has no outline: page groups cover it.
    for gz in [p for p in listed if p.endswith(".pdf.gz")][:1]:
        plain = tmp_path / "manual.pdf"
        plain.write_bytes(gzip.decompress(Path(gz).read_bytes()))
        course = extract_course(plain)
        assert course["structure"] == ("outline" if pdfs.get_toc(plain) else "pages")
        assert_covers_all_pages(course)


# ------------------------------------------------------------------ helpers: broker

@dataclasses.dataclass
class Msg:
    identity: bytes
    command: bytes
    frames: list  # frames after the command
    at: float

    @property
    def token(self) -> bytes:
        return self.frames[0]

    @property
    def body(self) -> dict:
        return msgpack.unpackb(self.frames[2], raw=False)


class TestBroker:
    """An MDP/0.2 broker stand-in on a real ROUTER socket: it records every worker message,
    answers heartbeats unless `silent`, and sends what a test asks it to."""

    __test__ = False

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.silent = False
        self.peers: set[bytes] = set()
        self.seen: list[Msg] = []
        self._next_heartbeat = 0.0

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def _heartbeat(self):
        now = time.monotonic()
        if self.silent or now < self._next_heartbeat:
            return
        self._next_heartbeat = now + HEARTBEAT_MS / 1000
        for peer in list(self.peers):
            try:
                self.sock.send_multipart([peer, b"MDPW02", W_HEARTBEAT])
            except zmq.ZMQError:
                self.peers.discard(peer)

    def wait(self, predicate, timeout: float = 5.0) -> Msg:
        """Pump until a message satisfies predicate; return it."""
        deadline = time.monotonic() + timeout
        while True:
            self._heartbeat()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; seen {[(m.command, m.identity) for m in self.seen[-10:]]}")
            if self.sock.poll(min(left, 0.05) * 1000):
                identity, header, command, *rest = self.sock.recv_multipart()
                assert header == b"MDPW02"
                msg = Msg(identity, command, rest, time.monotonic())
                self.seen.append(msg)
                if command == W_READY:
                    assert rest == [b"course.build"]
                    self.peers.add(identity)
                elif command == W_DISCONNECT:
                    self.peers.discard(identity)
                if predicate(msg):
                    return msg

    def wait_command(self, command: bytes, timeout: float = 5.0, **match) -> Msg:
        def ok(m: Msg) -> bool:
            return m.command == command and all(getattr(m, k) == v for k, v in match.items())
        return self.wait(ok, timeout)

    def pump(self, seconds: float):
        try:
            self.wait(lambda m: False, seconds)
        except AssertionError:
            pass

    def send(self, identity: bytes, *frames: bytes):
        self.sock.send_multipart([identity, b"MDPW02", *frames])

    def request(self, identity: bytes, pdf: bytes, attempt: int = 1, **overrides) -> bytes:
        job_id = str(uuid.uuid4())
        token = f"{job_id}/{attempt}".encode()
        body = {"v": 1, "job_id": job_id, "attempt": attempt, "title": "A course",
                "filename": "course.pdf", "sha256": hashlib.sha256(pdf).hexdigest(), "pdf": pdf}
        body.update(overrides)
        self.send(identity, W_REQUEST, token, b"", msgpack.packb(body, use_bin_type=True))
        return token


class WorkerProcess:
    def __init__(self, tmp_path: Path, broker: TestBroker, concurrency: int = 1,
                 page_delay_ms: int = 0, wall_seconds: int = 30, drain_ms: int = 10000,
                 cpu_seconds: int = 120, wrapper: tuple = (), split_pages: int | None = None,
                 split_processes: int | None = None, nice: int | None = None):
        conf = tmp_path / "worker.conf"
        split = "".join(f"    {k} = {v}\n" for k, v in (("split_pages", split_pages),
                                                        ("split_processes", split_processes))
                        if v is not None)
        conf.write_text(
            "worker\n"
            f"    broker = \"{broker.endpoint}\"\n"
            + split +
            f"    concurrency = {concurrency}\n"
            f"    heartbeat_ivl = {HEARTBEAT_MS}\n"
            f"    liveness = {LIVENESS}\n"
            f"    drain_timeout = {drain_ms}\n"
            f"    page_delay_ms = {page_delay_ms}\n"
            "limits\n"
            f"    wall_seconds = {wall_seconds}\n"
            f"    cpu_seconds = {cpu_seconds}\n"
            + (f"    nice = {nice}\n" if nice is not None else "") +
            "log\n"
            "    level = info\n")
        self.log_path = tmp_path / "worker.log"
        self.proc = subprocess.Popen([*wrapper, str(WORKER), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "wb"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"pid (\d+)", self.log())]


@pytest.fixture
def broker():
    b = TestBroker()
    yield b
    b.close()


@pytest.fixture
def start_worker(tmp_path, broker):
    started = []

    def start(**kwargs) -> WorkerProcess:
        w = WorkerProcess(tmp_path, broker, **kwargs)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
        print(w.log())


def finals_for(broker: TestBroker, token: bytes) -> list[Msg]:
    return [m for m in broker.seen if m.command == W_FINAL and m.token == token]


# ------------------------------------------------------------------ worker tests

def test_worker_help_and_configuration_errors(tmp_path):
    """--help names every key; a usage error and every kind of bad configuration exit 2 with a
    sentence that names the culprit (docs/configuration.md)."""
    out = subprocess.run([str(WORKER), "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for key in ("worker/broker", "worker/concurrency", "limits/cpu_seconds",
                "limits/address_space", "limits/nice", "limits/wall_seconds", "log/level",
                "--broker"):
        assert key in out.stdout, key
    bad = {"no-such-option": ["--no-such-option"],
           "worker/concurrency": ["-c", "concurrency.conf"],
           "log/level": ["-c", "level.conf"],
           "not-there.conf": ["-c", "not-there.conf"],
           "worker/extract": ["-c", "extract.conf"]}
    (tmp_path / "concurrency.conf").write_text("worker\n    concurrency = 0\n")
    (tmp_path / "level.conf").write_text("log\n    level = loud\n")
    (tmp_path / "extract.conf").write_text(f"worker\n    extract = \"{tmp_path}/none\"\n")
    for culprit, argv in bad.items():
        out = subprocess.run([str(WORKER), *argv], capture_output=True, text=True, cwd=tmp_path,
                             timeout=10)
        assert out.returncode == 2, (culprit, out.returncode, out.stderr)
        assert culprit.split("/")[-1] in out.stderr, (culprit, out.stderr)


def test_worker_serves_a_job(broker, start_worker, outline_pdf):
    worker = start_worker()
    ready = broker.wait_command(W_READY)
    broker.wait_command(W_HEARTBEAT, identity=ready.identity)
    pdf = Path(outline_pdf.path).read_bytes()
    token = broker.request(ready.identity, pdf, title="Cells")
    final = broker.wait_command(W_FINAL, timeout=10)
    assert final.identity == ready.identity and final.token == token and final.frames[1] == b""
    result = final.body
    assert result["v"] == 1 and result["ok"] is True, result
    course = json.loads(result["course"])
    assert course["title"] == "Cells"
    assert course["source"]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert outline_of(course) == toc_levels(Path(outline_pdf.path))
    partials = [m for m in broker.seen if m.command == W_PARTIAL]
    assert partials and all(m.token == token for m in partials)
    assert partials[0].body["stage"] == "starting"
    assert all(0 <= m.body["progress"] <= 100 for m in partials)
    assert "started" in worker.log() and "finished: ok" in worker.log()


def test_worker_reports_refusals_and_bad_jobs(broker, start_worker, pdf_dir):
    start_worker()
    ready = broker.wait_command(W_READY)
    blank = Path(pdfs.make_blank_pdf(pdf_dir / "blank2.pdf").path).read_bytes()
    cases = [(b"not a pdf at all", {}, "not_pdf"),
             (blank, {}, "no_text"),
             (b"%PDF-1.4", {"sha256": "not-a-hash"}, "internal"),
             (b"%PDF-1.4", {"v": 2}, "internal")]
    for pdf, overrides, code in cases:
        token = broker.request(ready.identity, pdf, **overrides)
        result = broker.wait_command(W_FINAL, token=token, timeout=10).body
        assert result["ok"] is False and result["error_code"] == code, result
        assert result["error"]
    # A token that does not match the job's id and attempt is refused, echoed unchanged.
    job_id = str(uuid.uuid4())
    body = {"v": 1, "job_id": job_id, "attempt": 1, "title": "t", "filename": "f",
            "sha256": "0" * 64, "pdf": b"%PDF-"}
    token = f"{job_id}/7".encode()
    broker.send(ready.identity, W_REQUEST, token, b"", msgpack.packb(body, use_bin_type=True))
    result = broker.wait_command(W_FINAL, token=token).body
    assert result["error_code"] == "internal" and "token" in result["error"]


def test_worker_progress_rate_and_keepalive(broker, start_worker, long_pdf):
    start_worker(page_delay_ms=40)  # 60 pages: about 2.4 s
    ready = broker.wait_command(W_READY)
    token = broker.request(ready.identity, Path(long_pdf.path).read_bytes())
    final = broker.wait_command(W_FINAL, timeout=15)
    assert final.body["ok"] is True, final.body
    partials = [m for m in broker.seen if m.command == W_PARTIAL and m.token == token]
    seen = [(round(m.at - partials[0].at, 3), m.body) for m in partials]
    times = [m.at for m in partials] + [final.at]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) < 2.3, seen
    span = times[-1] - times[0]
    assert len(partials) <= span * 4 + 2, seen
    # The text stage starts at page 0, which the PARTIAL leaves out (docs/protocol.md: `page`
    # is optional); a worker slowed down enough sends that one too.
    pages = [m.body.get("page", 0) for m in partials if m.body["stage"] == "text"]
    assert pages and pages == sorted(pages) and pages[-1] > 0, seen
    assert all(m.body.get("pages") == 60 for m in partials if m.body["stage"] == "text"), seen


def test_worker_times_out_slow_parse(broker, start_worker, long_pdf):
    worker = start_worker(page_delay_ms=200, wall_seconds=1)
    ready = broker.wait_command(W_READY)
    broker.request(ready.identity, Path(long_pdf.path).read_bytes())
    final = broker.wait_command(W_FINAL, timeout=5)
    assert final.body["ok"] is False and final.body["error_code"] == "timeout"
    assert "timeout (wall clock)" in worker.log()


def test_worker_reports_parser_crash(broker, start_worker, long_pdf):
    worker = start_worker(page_delay_ms=100)
    ready = broker.wait_command(W_READY)
    broker.request(ready.identity, Path(long_pdf.path).read_bytes())
    broker.wait(lambda m: m.command == W_PARTIAL and m.body["stage"] == "text")
    pid = worker.child_pids()[-1]
    assert_sandboxed(pid, worker.proc.pid)
    os.kill(pid, signal.SIGSEGV)  # what a poppler bug would do
    final = broker.wait_command(W_FINAL, timeout=5)
    assert final.body["error_code"] == "parser_crashed"
    assert "signal 11" in final.body["error"]
    # The slot serves the next job.
    broker.request(ready.identity, b"no pdf")
    assert broker.wait_command(W_FINAL, timeout=5).body["error_code"] == "not_pdf"


def test_worker_tells_cpu_limit_from_outside_kill(broker, start_worker, long_pdf):
    """RLIMIT_CPU ends the extractor with SIGXCPU (then SIGKILL a second later): a timeout. A
    SIGKILL before it used its processor time (the out-of-memory killer, an operator's kill -9)
    is not: the worker reports it as a crash from outside."""
    worker = start_worker(page_delay_ms=100)
    ready = broker.wait_command(W_READY)
    for sig, code, text in ((signal.SIGKILL, "parser_crashed", "stopped from outside"),
                            (signal.SIGXCPU, "timeout", "processor time")):
        token = broker.request(ready.identity, Path(long_pdf.path).read_bytes())
        broker.wait(lambda m: m.command == W_PARTIAL and m.token == token
                    and m.body["stage"] == "text")
        os.kill(worker.child_pids()[-1], sig)
        final = broker.wait_command(W_FINAL, timeout=5, token=token)
        assert final.body["error_code"] == code, final.body
        assert text in final.body["error"]
    assert "parser_crashed (SIGKILL after" in worker.log()
    assert "timeout (cpu)" in worker.log()


def test_worker_knows_an_inherited_cpu_limit(broker, start_worker, tmp_path):
    """limits/cpu_seconds = 0 lets the extractor inherit the worker's RLIMIT_CPU (here 2 s,
    soft = hard, so the kernel ends it with SIGKILL, not SIGXCPU): the worker reads that limit
    and still reports a timeout, not a crash from outside."""
    import hostile  # the PDF whose 4 GiB of zeros cost the parser time, not memory
    bomb = hostile.zero_bomb(tmp_path)
    worker = start_worker(cpu_seconds=0, wall_seconds=60, wrapper=("prlimit", "--cpu=2:2"))
    ready = broker.wait_command(W_READY)
    broker.request(ready.identity, bomb.path.read_bytes())
    final = broker.wait_command(W_FINAL, timeout=30)
    assert final.body["error_code"] == "timeout", (final.body, worker.log())
    assert "timeout (cpu)" in worker.log()


def assert_sandboxed(pid: int, worker_pid: int, address_space: int = 1 << 30) -> None:
    """The extractor runs limited, without privileges, seccomp on, nothing inherited."""
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":\t" in line)
    assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2"
    assert int(status["PPid"]) == worker_pid
    limits = Path(f"/proc/{pid}/limits").read_text()
    if not SANITIZED:  # ASan's shadow memory needs terabytes: mk/asan.mk
        assert re.search(rf"Max address space\s+{address_space}\s", limits)
    assert re.search(r"Max core file size\s+0", limits)
    assert re.search(r"Max open files\s+64", limits)
    assert re.search(r"Max cpu time\s+120", limits)
    assert Path(f"/proc/{pid}/environ").read_bytes() == b""
    assert sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd")) == [0, 1, 2, 3]
    assert os.getpgid(pid) == pid  # its own process group: a terminal's Ctrl-C goes to the worker


def test_extractor_dies_with_the_worker(broker, start_worker, long_pdf):
    worker = start_worker(page_delay_ms=100)
    ready = broker.wait_command(W_READY)
    broker.request(ready.identity, Path(long_pdf.path).read_bytes())
    broker.wait_command(W_PARTIAL)
    pid = worker.child_pids()[-1]
    worker.proc.kill()
    worker.proc.wait()
    deadline = time.monotonic() + 3
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)  # PDEATHSIG kills it; init reaps it
    assert not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("nice, wrapper", [(None, ()), (10, ()), (10, ("nice", "-n", "15"))])
def test_extractor_runs_nicer_than_the_worker(broker, start_worker, long_pdf, nice, wrapper):
    """limits/nice is added to the worker's own niceness for each extractor, capped at 19;
    the default, 0, leaves the extractor at the worker's (docs/configuration.md)."""
    worker = start_worker(page_delay_ms=40, nice=nice, wrapper=wrapper)  # 60 pages: 2.4 s
    ready = broker.wait_command(W_READY)
    token = broker.request(ready.identity, Path(long_pdf.path).read_bytes())
    broker.wait_command(W_PARTIAL)
    pid = worker.child_pids()[-1]
    base = os.getpriority(os.PRIO_PROCESS, worker.proc.pid)
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert base == (min(19, own + 15) if wrapper else own)
    expected = min(19, base + (0 if nice is None else nice))
    assert os.getpriority(os.PRIO_PROCESS, pid) == expected, worker.log()
    assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == base  # the worker itself stays
    final = broker.wait_command(W_FINAL, token=token, timeout=30)  # and it finishes the job
    assert final.body["ok"] is True, final.body


def test_worker_reconnects_when_broker_is_silent(broker, start_worker):
    worker = start_worker()
    first = broker.wait_command(W_READY)
    broker.silent = True
    again = broker.wait_command(W_READY, timeout=5)
    assert again.identity != first.identity
    elapsed = again.at - first.at
    assert HEARTBEAT_MS * LIVENESS / 1000 <= elapsed < 3, elapsed
    broker.silent = False
    broker.wait_command(W_HEARTBEAT, identity=again.identity)
    # DISCONNECT from the broker: a new socket and READY again.
    broker.send(again.identity, W_DISCONNECT)
    third = broker.wait_command(W_READY, timeout=5)
    assert third.identity not in (first.identity, again.identity)
    assert "DISCONNECT from the broker" in worker.log()
    # A message that is not valid MDP (a REQUEST without its empty frame): the worker says
    # DISCONNECT, so the broker would requeue, and starts over on a new socket.
    broker.send(third.identity, W_REQUEST, b"0" * 36 + b"/1", msgpack.packb({"v": 1}))
    broker.wait_command(W_DISCONNECT, identity=third.identity)
    fourth = broker.wait_command(W_READY, timeout=5)
    assert fourth.identity != third.identity
    assert "invalid message from the broker" in worker.log()


def test_worker_delivers_result_after_reconnect(broker, start_worker, long_pdf):
    worker = start_worker(page_delay_ms=25)  # about 1.5 s of parsing
    ready = broker.wait_command(W_READY)
    token = broker.request(ready.identity, Path(long_pdf.path).read_bytes())
    broker.wait_command(W_PARTIAL)
    broker.silent = True  # the broker "dies" while the job runs
    broker.pump(1.0)
    broker.silent = False
    again = broker.wait_command(W_READY, timeout=8)
    assert again.identity != ready.identity
    final = broker.wait_command(W_FINAL, timeout=8)
    assert final.token == token and final.identity == again.identity
    assert final.body["ok"] is True
    assert not [m for m in finals_for(broker, token) if m.identity == ready.identity]
    assert "result held" in worker.log()


def test_worker_drains_on_sigterm(broker, start_worker, long_pdf):
    worker = start_worker(page_delay_ms=20)  # about 1.2 s
    ready = broker.wait_command(W_READY)
    token = broker.request(ready.identity, Path(long_pdf.path).read_bytes())
    broker.wait_command(W_PARTIAL)
    worker.proc.send_signal(signal.SIGTERM)
    final = broker.wait_command(W_FINAL, timeout=10)
    assert final.token == token and final.body["ok"] is True
    bye = broker.wait_command(W_DISCONNECT, timeout=5)
    assert bye.identity == ready.identity and bye.at >= final.at
    assert worker.proc.wait(5) == 0


def test_worker_idle_stop_and_drain_timeout(broker, start_worker, long_pdf):
    worker = start_worker(concurrency=2, page_delay_ms=200, drain_ms=500)
    a = broker.wait_command(W_READY)
    b = broker.wait(lambda m: m.command == W_READY and m.identity != a.identity)
    token = broker.request(a.identity, Path(long_pdf.path).read_bytes())
    broker.wait_command(W_PARTIAL, token=token)
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    broker.wait_command(W_DISCONNECT, identity=b.identity, timeout=2)  # the idle slot leaves
    broker.wait_command(W_DISCONNECT, identity=a.identity, timeout=5)  # the busy one at 0.5 s
    assert worker.proc.wait(5) == 0
    assert 0.4 < time.monotonic() - started < 4
    assert not finals_for(broker, token)
    assert "abandoned at the drain timeout" in worker.log()
    pids = worker.child_pids()
    assert pids and not any(Path(f"/proc/{p}").exists() for p in pids)


def test_worker_runs_two_jobs_in_parallel(broker, start_worker, long_pdf):
    start_worker(concurrency=2, page_delay_ms=20)  # about 1.2 s each
    a = broker.wait_command(W_READY)
    b = broker.wait(lambda m: m.command == W_READY and m.identity != a.identity)
    pdf = Path(long_pdf.path).read_bytes()
    tokens = {broker.request(a.identity, pdf), broker.request(b.identity, pdf)}
    first = broker.wait_command(W_FINAL, timeout=10)
    second = broker.wait(lambda m: m.command == W_FINAL and m.token != first.token, timeout=10)
    assert {first.token, second.token} == tokens
    assert {first.identity, second.identity} == {a.identity, b.identity}
    assert first.body["ok"] and second.body["ok"]
    # They ran at once: the later job reported progress before the earlier one finished. (A
    # bound on the total time failed under ASan, where processing, not the page delay, rules.)
    later = [m for m in broker.seen if m.command == W_PARTIAL and m.token == second.token]
    assert later and later[0].at < first.at, "the two jobs did not overlap"


# ------------------------------------------------------------------ against the real broker

@pytest.mark.skipif(not (BIN / "profai-broker").exists(), reason="no bin/profai-broker")
def test_worker_with_the_real_broker(make_stack, outline_pdf):
    """The real broker (tests/system/stack.py, with PostgreSQL) counts both slots, sees them
    again after it restarts, gets a course from them, and sees them leave on SIGTERM."""
    s = make_stack()
    s.start_broker()
    worker = s.add_worker(concurrency=2)
    s.wait_workers(2, exact=True)
    s.broker.kill()
    s.start_broker()
    s.wait_workers(2, exact=True, timeout=15)
    s.add_frontend()
    job_id = s.submit(Path(outline_pdf.path), "Cells")
    job = s.wait_job(job_id, {"succeeded"}, timeout=30)
    course = s.get_course(job["course_id"])
    assert course["title"] == "Cells"
    assert outline_of(course) == toc_levels(Path(outline_pdf.path))
    assert worker.stop() == 0
    s.wait_workers(0, exact=True, timeout=5)


# ------------------------------------------------------------------ large documents: split

def extractor_children(worker: WorkerProcess) -> list[int]:
    """The worker's running extractors (its children), from /proc."""
    pid = worker.proc.pid
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(k) for k in kids]


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


@pytest.fixture(scope="module")
def split_pdf(pdf_dir) -> pdfs.MadePdf:
    """About 200 pages: chapters of uneven length, so that outline entries, headings and
    lessons fall on both sides of every range boundary, and front matter without an entry."""
    chapters = [(f"Chapter {c + 1}", [(f"Section {c + 1}.{s + 1}", 1 + (c + s) % 4)
                                     for s in range(4 + c % 3)])
                for c in range(18)]
    return pdfs.make_pdf(pdf_dir / "split.pdf", chapters, use_named_dests=True,
                         title="Split course", author="A. Teacher", front_pages=3, seed=7)


def test_worker_splits_a_large_pdf_and_builds_the_same_course(broker, start_worker, split_pdf):
    """A PDF of more than worker/split_pages pages is read by worker/split_processes sandboxed
    extractors, one per page range, and one more builds the course from their parts: the
    course is the one a single extractor builds from the whole PDF, to the byte."""
    pdf = Path(split_pdf.path).read_bytes()
    sha = hashlib.sha256(pdf).hexdigest()
    single = run_extract(Path(split_pdf.path), "--title", "Split", "--filename", "course.pdf",
                         "--sha256", sha, timeout=120)
    assert single.returncode == 0, single.stderr[-2000:]
    worker = start_worker(split_pages=16, split_processes=3, page_delay_ms=5)
    ready = broker.wait_command(W_READY)
    token = broker.request(ready.identity, pdf, title="Split")
    broker.wait(lambda m: m.command == W_PARTIAL and m.token == token
                and m.body["stage"] == "text")
    readers = [p for p in extractor_children(worker) if any(a.startswith("--pages=")
                                                              for a in cmdline(p))]
    for pid in readers:
        assert_sandboxed(pid, worker.proc.pid, address_space=(1 << 30) // 3)
    final = broker.wait_command(W_FINAL, timeout=120)
    assert final.token == token and final.body["ok"] is True, final.body
    course = json.loads(final.body["course"])
    assert course == json.loads(single.stdout)
    assert final.body["course"] == single.stdout  # the same bytes, not only the same document
    assert outline_of(course) == toc_levels(Path(split_pdf.path))
    assert_covers_all_pages(course)
    assert f"ok ({len(single.stdout)} bytes, 3 parts)" in worker.log()
    assert len(readers) == 3, readers
    ranges = sorted(tuple(int(x) for x in a.split("=")[1].split("-"))
                    for p in readers for a in cmdline(p) if a.startswith("--pages="))
    # The progress of the parts adds up to the document's pages, in order.
    pages = [m.body["page"] for m in broker.seen if m.command == W_PARTIAL
             and m.token == token and m.body["stage"] == "text"]
    assert pages == sorted(pages) and max(pages) <= split_pdf.pages, pages
    assert all(m.body["pages"] == split_pdf.pages for m in broker.seen
               if m.command == W_PARTIAL and m.token == token and m.body["stage"] == "text")
    # Readers 1 and 2 share the first two thirds (one reads up from page 1, the other down
    # from its last page, until they meet: --meet), the third reads the rest alone.
    meets = sorted(a for p in readers for a in cmdline(p) if a.startswith("--meet="))
    if len(ranges) == 3:
        assert ranges[0] == ranges[1] == (1, 2 * split_pdf.pages // 3), ranges
        assert ranges[2] == (ranges[1][1] + 1, split_pdf.pages), ranges
        assert meets == ["--meet=down", "--meet=up"], meets


def test_worker_split_fails_whole_when_a_part_dies(broker, start_worker, split_pdf):
    """One part's extractor killed (the out-of-memory killer, a poppler crash) fails the attempt
    as one extractor's death does: the other parts are killed, no course, and the slot serves
    the next job."""
    worker = start_worker(split_pages=16, split_processes=2, page_delay_ms=40)
    ready = broker.wait_command(W_READY)
    pdf = Path(split_pdf.path).read_bytes()
    for sig, code, text in ((signal.SIGKILL, "parser_crashed", "stopped from outside"),
                            (signal.SIGSEGV, "parser_crashed", "signal 11")):
        token = broker.request(ready.identity, pdf)
        broker.wait(lambda m: m.command == W_PARTIAL and m.token == token
                    and m.body["stage"] == "text")
        readers = [p for p in extractor_children(worker)
                   if any(a.startswith("--pages=") for a in cmdline(p))]
        assert len(readers) == 2, [cmdline(p) for p in extractor_children(worker)]
        os.kill(readers[-1], sig)
        final = broker.wait_command(W_FINAL, timeout=10, token=token)
        assert final.body["ok"] is False and final.body["error_code"] == code, final.body
        assert text in final.body["error"]
        assert "course" not in final.body or not final.body["course"]
        # Every extractor of the attempt is gone, the one still reading included.
        assert extractor_children(worker) == []
        assert not any(Path(f"/proc/{p}").exists() and cmdline(p) for p in readers)
    broker.request(ready.identity, b"no pdf")
    assert broker.wait_command(W_FINAL, timeout=5).body["error_code"] == "not_pdf"


def test_worker_split_times_out_as_one_attempt(broker, start_worker, split_pdf):
    """limits/wall_seconds is the whole attempt's, not each part's: past it every part's
    extractor is killed and the attempt is one timeout."""
    worker = start_worker(split_pages=16, split_processes=2, page_delay_ms=200, wall_seconds=1)
    ready = broker.wait_command(W_READY)
    broker.request(ready.identity, Path(split_pdf.path).read_bytes())
    final = broker.wait_command(W_FINAL, timeout=10)
    assert final.body["ok"] is False and final.body["error_code"] == "timeout", final.body
    assert "timeout (wall clock)" in worker.log()
    assert extractor_children(worker) == []
