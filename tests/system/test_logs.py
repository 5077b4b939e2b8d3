"""Log line formats of the daemons (log/format; common/log.h, docs/operations.md "Logs").

The real programs run with each format and their real stderr is read: `text` (a time, the
component, the level), `journal` (sd-daemon `<N>` priority prefixes, which journald turns into
the priority `journalctl -p` filters on; the default when stderr is the stream systemd
connected, JOURNAL_STREAM) and `json` (one object per line, with the job, worker and owner a
line concerns as fields).

Run: sh scripts/check-system.sh tests/system/test_logs.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pdfs  # noqa: E402
from stack import BIN, Process, Stack, wait_for, zpl  # noqa: E402

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\w+) (ERROR|WARN|INFO|DEBUG) ")


def program_lines(process: Process) -> list[str]:
    """The lines the program wrote (without the test's own ==== marks)."""
    return [line for line in process.log_text().splitlines() if not line.startswith("==== ")]


def with_log_format(stack: Stack, log_format: str) -> Stack:
    """Make every configuration file the stack writes from now on carry log/format."""
    write = stack._write_conf

    def write_with_format(name: str, sections: dict) -> Path:
        log = {**sections.get("log", {}), "format": log_format}
        return write(name, {**sections, "log": log})

    stack._write_conf = write_with_format
    return stack


def test_json_lines_carry_the_job_worker_and_owner(make_stack, tmp_path):
    # info: the extractor then logs only what goes wrong, in its own (text) format.
    stack = with_log_format(make_stack(log_level="info"), "json")
    stack.start_broker()
    stack.add_worker()
    stack.add_frontend()
    stack.wait_healthy()
    pdf = pdfs.make_plain_pdf(tmp_path / "plain.pdf", pages=3)
    job_id = stack.submit(pdf.path, "Logged course")
    stack.wait_job(job_id)
    for process in stack.processes():
        process.stop()

    records = {}
    for process in stack.processes():
        lines = program_lines(process)
        assert lines, process.name
        records[process.name] = [json.loads(line) for line in lines]  # every line is JSON
        for record in records[process.name]:
            assert set(record) >= {"ts", "level", "component", "msg"}, record
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
            assert record["level"] in {"error", "warn", "info", "debug"}
    assert {r["component"] for r in records["broker"]} == {"broker"}
    assert {r["component"] for r in records["worker1"]} == {"worker"}
    assert {r["component"] for r in records["frontend1"]} == {"frontend"}

    about_job = [r for r in records["broker"] if r.get("job") == job_id]
    assert any("owner" in r for r in about_job), about_job  # "job queued job=... owner=..."
    dispatched = [r for r in about_job if r["msg"].startswith("job dispatched")]
    assert dispatched and dispatched[0]["worker"], about_job
    assert f"worker={dispatched[0]['worker']}" in dispatched[0]["msg"]
    assert any(r.get("job") == job_id for r in records["worker1"]), records["worker1"]


def test_journal_lines_carry_syslog_priorities(outdir):
    """A frontend whose database is unreachable warns and serves; one with a broken broker
    endpoint logs an error and exits 2: `<4>` and `<3>`, `<6>` for the rest."""
    conf = outdir / "frontend.conf"
    conf.write_text(zpl({"http": {"listen": "127.0.0.1:0"},
                         "database": {"conninfo": "host=/nonexistent"},
                         "log": {"format": "journal"}}))
    frontend = Process("frontend", [BIN / "profai-frontend", "-c", conf],
                       outdir / "frontend.log").start()
    try:
        wait_for("the frontend to listen", lambda: "listening on" in frontend.log_text(), 20,
                 on_timeout=frontend.tail)
        assert frontend.stop() == 0
    finally:
        frontend.kill_group()
    lines = program_lines(frontend)
    assert any(line.startswith("<4>WARN cannot connect to the database") for line in lines)
    assert any(line.startswith("<6>INFO listening on http://127.0.0.1:") for line in lines)
    assert all(re.match(r"<[3467]>(ERROR|WARN|INFO|DEBUG) ", line) for line in lines), lines

    r = subprocess.run([BIN / "profai-frontend", "-c", conf, "-b", "nonsense"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "<3>ERROR broker/endpoint = nonsense is not a ZeroMQ endpoint" in r.stderr, r.stderr


def test_default_is_journal_only_on_the_stream_systemd_connected(outdir):
    """systemd sets JOURNAL_STREAM to the device and inode of the stream it gave the service;
    a program whose stderr is that stream logs for journald, any other one logs text."""
    log_path = outdir / "worker.log"
    log_path.touch()
    st = os.stat(log_path)
    argv = [BIN / "profai-worker", "-b", "tcp://127.0.0.1:1"]  # nothing listens: it waits
    for stream, expect_journal in [(f"{st.st_dev}:{st.st_ino}", True),
                                   (f"{st.st_dev}:{st.st_ino + 1}", False)]:
        env = {**os.environ, "JOURNAL_STREAM": stream}
        worker = Process("worker", argv, log_path, env=env).start()
        try:
            wait_for("the worker to start", lambda: "worker started" in worker.log_text(), 20,
                     on_timeout=worker.tail)
            assert worker.stop() == 0
        finally:
            worker.kill_group()
        lines = program_lines(worker)
        log_path.write_text("")  # the next run starts afresh on the same inode
        assert lines
        if expect_journal:
            assert all(line.startswith("<6>INFO ") for line in lines), lines
        else:
            assert all(TEXT_LINE.match(line) for line in lines), lines
            assert {TEXT_LINE.match(line).group(1) for line in lines} == {"worker"}


def test_an_unknown_format_is_a_configuration_error(outdir):
    conf = outdir / "worker.conf"
    conf.write_text(zpl({"log": {"format": "xml"}}))
    r = subprocess.run([BIN / "profai-worker", "-c", conf], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2
    assert r.stderr == "profai-worker: log/format = xml is not text, journal or json\n"
