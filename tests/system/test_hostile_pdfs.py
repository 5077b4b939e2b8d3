"""The hostile-PDF corpus through the real pipeline (issue 4, "What must hold" 1).

Every file of tests/system/hostile.py's corpus (generated here, plus qpdf's damaged PDFs in
../shared/corpus/hostile/) is uploaded over HTTP to a stack with two workers. Each upload must
end in a clear final state: refused by the frontend (415, not a PDF), or a job that ends
succeeded or failed with a specific error code. No worker process may die (same pids at the
end) and the workers' memory must stay bounded while the extractors (separate, limited
processes) take the blows. A table of file -> outcome is printed.

The workers run with short limits so that the bombs end in seconds, not minutes:
limits/cpu_seconds 4, limits/wall_seconds 15 (production: 120 and 300).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from hostile import build_corpus, split_bomb, text_bomb
from pdfs import make_plain_pdf
from stack import BIN, SANITIZED, TERMINAL_STATES, Process, vm_rss_kb, zpl

CPU_SECONDS = 4
WALL_SECONDS = 15
# A worker holds at most one PDF (<= 64 MiB) and one result per slot; the corpus files are
# small, so its resident memory must stay far below this whatever the extractors do (ASan's
# shadow and quarantine of freed memory allowed for).
WORKER_RSS_MAX_KB = (600 if SANITIZED else 150) * 1024
# Each upload's outcome must be known within this (bombs may be retried a few times).
SETTLE_SECONDS = 200


class RssSampler(threading.Thread):
    """Samples VmRSS of the given pids every 100 ms; `peak` holds the maximum per pid."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = {pid: 0 for pid in pids}
        self.first = {pid: vm_rss_kb(pid) for pid in pids}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for pid in self.pids:
                try:
                    self.peak[pid] = max(self.peak[pid], vm_rss_kb(pid))
                except OSError:
                    pass
            self.done.wait(0.1)


def start_limited_workers(s, count: int, split: dict | None = None, **limits) -> list[Process]:
    workers = []
    for i in range(count):
        name = f"worker{i + 1}"
        conf = s.outdir / f"{name}.conf"
        conf.write_text(zpl({
            "worker": {"broker": s.endpoint, "concurrency": 1, "heartbeat_ivl": s.heartbeat_ivl,
                       "liveness": s.liveness, "drain_timeout": 5000, **(split or {})},
            "limits": {"cpu_seconds": CPU_SECONDS, "wall_seconds": WALL_SECONDS, **limits},
            "log": {"level": "info"},
            **s.curve_conf(name, "worker"),
        }))
        workers.append(s.add_worker(argv=[BIN / "profai-worker", "-c", conf]))
    return workers


def upload(s, path: Path, title: str):
    """POST the file; (status, job id or None). 503 is retried: the stack is healthy, so it can
    only be a passing hiccup."""
    for _ in range(20):
        r = s.post_job(path, title, filename=path.name, timeout=60)
        if r.status_code != 503:
            break
        time.sleep(0.5)
    job_id = r.json().get("job_id") if r.status_code == 202 else None
    return r.status_code, job_id


def outcomes(s, job_ids: list[str]) -> dict:
    """job id -> (state, error_code) straight from the database."""
    rows = s.query("SELECT id::text, state, error_code FROM jobs WHERE id = ANY(%s::uuid[])",
                   job_ids)
    return {row[0]: (row[1], row[2]) for row in rows}


def test_hostile_pdfs_end_in_clear_states(make_stack, outdir, report):
    cases = build_corpus(outdir / "corpus")
    s = make_stack(log_level="info")
    s.start_broker(retry_base_ms=200, retry_max_ms=1000, max_attempts=3)
    workers = start_limited_workers(s, 2)
    s.add_frontend()
    s.wait_healthy()
    pids = [w.pid for w in workers]
    sampler = RssSampler(pids)
    sampler.start()

    started = time.monotonic()
    uploaded = {}  # case name -> job id
    rejected = {}  # case name -> HTTP status
    for case in cases:
        status, job_id = upload(s, case.path, case.name[:100])
        if job_id is not None:
            uploaded[case.name] = job_id
        else:
            rejected[case.name] = status

    finals: dict = {}
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        finals = outcomes(s, list(uploaded.values()))
        if all(finals.get(j, ("", None))[0] in TERMINAL_STATES for j in uploaded.values()):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    sampler.done.set()
    sampler.join()

    # The table: file -> final state / code.
    rows, problems = [], []
    for case in cases:
        if case.name in rejected:
            outcome = f"rejected:{rejected[case.name]}"
        else:
            state, code = finals.get(uploaded[case.name], ("missing", None))
            outcome = state if state != "failed" else f"failed:{code}"
        rows.append((case.name, case.kind, outcome))
        if outcome not in case.expect:
            problems.append(f"{case.name} ({case.kind}): {outcome}, expected one of "
                            f"{sorted(case.expect)}")
    width = max(len(r[0]) for r in rows)
    report(f"\nhostile PDFs: {len(cases)} files in {elapsed:.1f} s")
    for name, kind, outcome in rows:
        report(f"  {name:{width}}  {kind:20}  {outcome}")
    counts: dict = {}
    for _, _, outcome in rows:
        counts[outcome] = counts.get(outcome, 0) + 1
    report("  totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    report("  worker VmRSS (kB) first -> peak: " + ", ".join(
        f"{pid}: {sampler.first[pid]} -> {sampler.peak[pid]}" for pid in pids))

    assert not problems, "unclear outcomes:\n" + "\n".join(problems)
    # No worker died: the same processes are still there and still serving.
    assert [w.pid for w in workers] == pids and all(w.alive for w in workers)
    for w in workers:
        assert w.started == 1, f"{w.name} was restarted"
    assert max(sampler.peak.values()) < WORKER_RSS_MAX_KB, sampler.peak
    # And the pipeline still works afterwards.
    job_id = s.submit(outdir / "corpus" / "src-outline.pdf", "After the storm")
    s.wait_job(job_id, timeout=60)


@pytest.mark.skipif(SANITIZED, reason="the ASan-built extractor cannot use RLIMIT_AS")
def test_out_of_memory_is_a_clear_refusal(make_stack, outdir):
    """An extractor that runs out of address space (RLIMIT_AS) answers too_large with a sentence
    (docs/security.md): not a crash, not retried, and the worker carries on."""
    s = make_stack(log_level="info")
    s.start_broker(retry_base_ms=200, retry_max_ms=1000)
    (worker,) = start_limited_workers(s, 1, address_space="64M", cpu_seconds=30)
    s.add_frontend()
    s.wait_healthy()
    bomb = text_bomb(outdir)
    job = s.wait_job(s.submit(bomb.path, "Memory bomb"), {"failed"}, timeout=60)
    assert job["error"]["code"] == "too_large", job
    assert "memory" in job["error"]["message"]
    assert job["attempts"] == 1
    assert worker.alive and worker.started == 1
    assert "out of memory (RLIMIT_AS)" in worker.log_text()
    good = make_plain_pdf(outdir / "good.pdf", pages=3)
    s.wait_job(s.submit(good.path, "After the bomb"), timeout=60)


@pytest.mark.skipif(SANITIZED, reason="the ASan-built extractor cannot use RLIMIT_AS")
def test_bomb_in_one_part_of_a_split_pdf_ends_cleanly(make_stack, outdir):
    """A document long enough to be read in parts (worker/split_pages) whose last page is a
    memory bomb: the reader of that part, limited to its share of limits/address_space, fails
    (too_large, or timeout), the attempt fails as a whole with no course, the other part's
    reader is stopped, and the worker splits the next long PDF as if nothing happened."""
    s = make_stack(log_level="info")
    s.start_broker(retry_base_ms=200, retry_max_ms=1000, max_attempts=2)
    (worker,) = start_limited_workers(s, 1, split={"split_pages": 16, "split_processes": 2},
                                      address_space="512M", cpu_seconds=CPU_SECONDS)
    s.add_frontend()
    s.wait_healthy()
    bomb = split_bomb(outdir)
    job = s.wait_job(s.submit(bomb.path, "Split bomb"), {"failed"}, timeout=90)
    assert f"failed:{job['error']['code']}" in bomb.expect, job
    assert job.get("course_id") is None
    assert worker.alive and worker.started == 1
    # Every extractor of those attempts is gone.
    assert worker.children() == []
    good = make_plain_pdf(outdir / "long-good.pdf", pages=40)
    job = s.wait_job(s.submit(good.path, "After the split bomb"), timeout=60)
    assert "ok (" in worker.log_text() and "2 parts)" in worker.log_text()
