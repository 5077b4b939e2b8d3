"""Protocol versions (docs/protocol.md 3.5): peers of the same major version interoperate
whatever their minor versions; another major is refused with a clear error.

The broker and frontend are the real programs of this build (protocol 1.2). The workers are
Python MDP peers (mdp.py) speaking other versions on the wire, as workers of an older or newer
release would during a rolling upgrade:

* a 1.0 worker: bodies with `v` only (no `v_minor`), and none of the optional keys;
* a worker of a newer minor (1.7): `v_minor` 7 and keys this broker does not know;
* a worker and a client of major 2: refused, the job is not lost (it runs again elsewhere).

Each test prints jobs accepted, completed and lost.
"""

from __future__ import annotations

import json

import msgpack
import pytest

from mdp import W_FINAL, W_PARTIAL, MdpClient, MdpWorker, course_doc
from pdfs import make_plain_pdf
from stack import wait_for


class VersionedWorker(MdpWorker):
    """An MDP worker whose PARTIAL and FINAL bodies carry the version it is told: `v` (major),
    `v_minor` (None: no such key, as 1.0 peers) and any extra keys (a newer minor's)."""

    def __init__(self, endpoint: str, major: int = 1, minor: int | None = None,
                 extra: dict | None = None, **kw):
        super().__init__(endpoint, **kw)
        self.version = {"v": major}
        if minor is not None:
            self.version["v_minor"] = minor
        self.version.update(extra or {})

    def partial(self, token: bytes, progress: int, stage: str = "text") -> None:
        self.send(W_PARTIAL, token, b"", msgpack.packb(
            {**self.version, "progress": progress, "stage": stage}))

    def final_ok(self, token: bytes, course: bytes) -> None:
        self.send(W_FINAL, token, b"", msgpack.packb({**self.version, "ok": True,
                                                      "course": course}))

    def serve(self, count: int) -> list[dict]:
        """Take `count` jobs, one after the other, each with a PROGRESS and a FINAL; the JOB
        bodies as received."""
        jobs = []
        for _ in range(count):
            token, job = self.expect_request(timeout=30)
            jobs.append(job)
            self.partial(token, 50)
            self.final_ok(token, course_doc(job["title"]))
        return jobs


@pytest.fixture
def versions_stack(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    wait_for("the frontend healthy", lambda: s.healthz().status_code == 200, 30)
    s.pdf = make_plain_pdf(outdir / "v.pdf", pages=2).path
    return s


def _submit(s, n: int, prefix: str) -> list[str]:
    return [s.submit(s.pdf, f"{prefix} {i}") for i in range(n)]


def _completed(s, job_ids: list[str]) -> int:
    return sum(1 for j in job_ids if s.get_job(j)["state"] == "succeeded")


def test_a_worker_one_minor_older_completes_jobs(versions_stack, report):
    s = versions_stack
    old = VersionedWorker(s.endpoint, minor=None).ready()  # 1.0: no v_minor, no optional keys
    try:
        s.wait_workers(1)
        jobs = _submit(s, 5, "Old worker")
        seen = old.serve(5)
        # The broker speaks 1.2: its JOB bodies carry v_minor, which a 1.0 worker ignores, and
        # the PDF inline (a 1.0 identity does not announce fetch=1).
        assert all(j["v"] == 1 and j.get("v_minor") == 2 for j in seen), seen[0].keys()
        assert all(j["pdf"] and "pdf_size" not in j for j in seen)
        for j in jobs:
            s.wait_job(j, timeout=30)
        done = _completed(s, jobs)
        report(f"1.0 worker: jobs accepted {len(jobs)}, completed {done}, "
               f"lost {len(jobs) - done}")
        assert done == len(jobs)
    finally:
        old.close()


def test_a_worker_of_a_newer_minor_completes_jobs(versions_stack, report):
    s = versions_stack
    newer = VersionedWorker(s.endpoint, minor=7,
                            extra={"pages_per_second": 12, "hint": "from 1.7"}).ready()
    try:
        s.wait_workers(1)
        jobs = _submit(s, 3, "Newer worker")
        newer.serve(3)
        for j in jobs:
            s.wait_job(j, timeout=30)
        done = _completed(s, jobs)
        report(f"1.7 worker: jobs accepted {len(jobs)}, completed {done}, "
               f"lost {len(jobs) - done}")
        assert done == len(jobs)
    finally:
        newer.close()


def test_another_major_is_refused_clearly_and_loses_nothing(versions_stack, report):
    s = versions_stack
    # A client of major 2: its request is answered with unsupported_version and a sentence.
    client = MdpClient(s.endpoint)
    try:
        reply = client.request("broker.ping", msgpack.packb({"v": 2, "v_minor": 0, "rid": 5}))
        assert reply["ok"] is False and reply["error_code"] == "unsupported_version"
        assert "2.x" in reply["error"] and "1.2" in reply["error"], reply
    finally:
        client.close()
    # A worker of major 2 takes a job and answers in its own major: refused, disconnected; the
    # job runs again on a worker of this major.
    alien = VersionedWorker(s.endpoint, major=2, minor=0).ready()
    good = None
    try:
        s.wait_workers(1)
        jobs = _submit(s, 1, "Alien")
        token, job = alien.expect_request(timeout=30)
        alien.final_ok(token, course_doc(job["title"]))
        alien.expect_disconnect(timeout=10)
        wait_for("the broker to log the refusal",
                 lambda: "protocol version 2.x is not supported" in s.broker.log_text(), 10)
        assert s.get_job(jobs[0])["state"] != "succeeded"
        good = VersionedWorker(s.endpoint, minor=1).ready()
        good.serve(1)
        final = s.wait_job(jobs[0], timeout=60)
        assert s.job_row(jobs[0])["attempts"] == 2
        report(f"major 2 worker refused: jobs accepted 1, completed "
               f"{int(final['state'] == 'succeeded')}, lost 0")
    finally:
        alien.close()
        if good is not None:
            good.close()


def test_a_worker_vm_is_drained_and_upgraded_while_jobs_flow(make_stack, outdir, report):
    """The procedure of docs/operations.md "Rolling upgrades" for one worker VM: drain each of
    its slots (profaictl drain), wait until none is busy, stop it, start the new release,
    while jobs keep coming. No job is cut short (every job runs once) and none is lost."""
    s = make_stack()
    s.start_broker()
    old_vm = s.add_worker(page_delay_ms=100, concurrency=2)
    other_vm = s.add_worker(page_delay_ms=100, concurrency=2)
    s.add_frontend()
    s.wait_healthy(workers=4)
    pdf = make_plain_pdf(outdir / "flow.pdf", pages=6).path
    jobs = [s.submit(pdf, f"Flow {i}") for i in range(8)]

    def slots_of(vm):
        rows = json.loads(s.admin("--json", "workers").stdout)
        return [w for w in rows if w.get("pid") == vm.pid]
    wait_for("the old VM busy", lambda: any(w["state"] == "busy" for w in slots_of(old_vm)), 30)
    for slot in slots_of(old_vm):
        out = s.admin("drain", slot["name"])
        assert out.returncode == 0, out.stderr
    jobs += [s.submit(pdf, f"During drain {i}") for i in range(4)]
    wait_for("the old VM's slots idle and draining",
             lambda: all(w["draining"] and w["state"] != "busy" for w in slots_of(old_vm)), 60,
             interval=0.2)
    assert old_vm.stop() == 0  # nothing left to wait for: it exits at once
    s.add_worker(page_delay_ms=100, concurrency=2)  # the upgraded release on the same VM
    jobs += [s.submit(pdf, f"After upgrade {i}") for i in range(4)]
    for j in jobs:
        s.wait_job(j, timeout=120)
    rows = [s.job_row(j) for j in jobs]
    done = sum(r["state"] == "succeeded" for r in rows)
    rerun = [j for j, r in zip(jobs, rows) if r["attempts"] != 1]
    report(f"drain and upgrade: jobs accepted {len(jobs)}, completed {done}, "
           f"lost {len(jobs) - done}, run twice {len(rerun)}")
    assert done == len(jobs) and rerun == []
    assert other_vm.alive
