"""`make run` supervises its components as systemd would (scripts/run.sh, head comment): a
SIGKILL of the broker, of the worker and of the frontend each leaves the stack ready again
through the edge within seconds, and a job submitted before each kill still completes.
Run: sh scripts/check-system.sh tests/system/test_supervise.py
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from pdfs import make_plain_pdf
from stack import API, ROOT, descendants, free_port, job_id_of, wait_for

# run.sh takes fixed ports when they are free (broker 5555, metrics 9101, PostgreSQL's): two
# run.sh at once race for them, so its tests run alone (scripts/check-system.sh).
pytestmark = pytest.mark.serial


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_run_sh_restarts_what_dies(outdir):
    var = outdir / "var"
    port = free_port()
    env = {**os.environ, "PROFAI_VAR": str(var), "WORKERS": "2"}
    log_path = outdir / "run.log"
    log = open(log_path, "ab")
    proc = subprocess.Popen(["sh", str(ROOT / "scripts" / "run.sh"), "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True, preexec_fn=_default_sigint)
    url = f"http://127.0.0.1:{port}"
    pdf = outdir / "course.pdf"
    make_plain_pdf(pdf, pages=6)
    try:
        demo = var / "demo.env"
        wait_for("the banner", lambda: proc.poll() is None and demo.exists()
                 and "Ctrl-C" in log_path.read_text(), timeout=120, interval=0.2,
                 on_timeout=lambda: log_path.read_text()[-3000:])
        values = dict(re.findall(r"^(\w+)='(.*)'$", demo.read_text(), re.M))
        h = {"Authorization": f"Bearer {values['PROFAI_TEACHER_TOKEN']}"}

        def ready():
            try:
                return requests.get(url + "/readyz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        def submit() -> str:
            r = requests.post(f"{url}{API}/jobs", params={"title": "kept", "filename": "c.pdf"},
                              data=pdf.read_bytes(), timeout=30,
                              headers={**h, "Content-Type": "application/pdf"})
            assert r.status_code == 202, r.text
            return job_id_of(r.json())

        def state(job: str):
            try:
                r = requests.get(f"{url}{API}/jobs/{job}", headers=h, timeout=5)
            except requests.RequestException:
                return None
            return r.json().get("state") if r.status_code == 200 else None

        assert ready()
        for name in ("broker", "worker", "frontend"):
            pid = int((var / "run" / f"{name}.pid").read_text())
            assert alive(pid)
            job = submit()
            os.kill(pid, signal.SIGKILL)
            wait_for(f"run.sh to restart {name}",
                     lambda: f"restarted {name}" in log_path.read_text()
                     and int((var / "run" / f"{name}.pid").read_text()) != pid,
                     timeout=20, on_timeout=lambda: log_path.read_text()[-3000:])
            assert proc.poll() is None, "run.sh stopped"
            wait_for(f"ready again after the {name} was killed", ready, timeout=30,
                     on_timeout=lambda: log_path.read_text()[-3000:])
            wait_for(f"the job submitted before the {name} was killed to succeed",
                     lambda: state(job) == "succeeded", timeout=90, interval=0.3,
                     on_timeout=lambda: f"state {state(job)}\n" + log_path.read_text()[-3000:])
        text = log_path.read_text()
        assert re.search(r"broker \(pid \d+\) exited with status \d+; restarting it in 1 s", text)
        started = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
        wait_for("every process run.sh started to end",
                 lambda: not [p for p in started if alive(p)], timeout=10)
        assert not (var / "pg" / "data" / "postmaster.pid").exists()
    finally:
        if proc.poll() is None:
            for pid in descendants(proc.pid) + [proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
            subprocess.run(["sh", str(ROOT / "scripts" / "pg.sh"), "stop", str(var / "pg")])
        log.close()
