"""The web page in a real browser (issue 3, condition 5).

tests/browser/upload_and_quiz.mjs drives Debian's headless Chromium (with playwright-core)
against the real stack: a teacher uploads a PDF made here with cairo and watches the progress
bar reach 100% until the course opens; a student finds the course by searching for words of
one of its lessons, reads a lesson's summary and key terms, answers every quiz question and
sees the score; a wrong token and a wrong password get the human message. Issue 14: the teacher
creates a class, renames it, rotates its join code and publishes the course on the page; the
student joins with the code on the page, and sees their history; the teacher sees the results
per class and per course, removes and enrols the student by name. The teacher edits a question
on the course page (a 422 for two identical choices is shown first) and the student's quiz
shows the edited prompt. On the desktop both
sign in with a name and password (a session cookie, with the CSRF token on the upload and the
quiz attempt: issue 14), on the phone with their tokens. Screenshots of every step, at desktop
size and at a phone's 390x844, land in tests/output/<test name>/ (see docs/web.md).

Chromium and Node.js are Debian packages that `make deps` installs; when one is missing this
test fails and says so (it does not skip: CI must run it). The npm module comes from
scripts/browser-deps.sh, run here when needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from pdfs import make_pdf
from stack import API, BIN, ROOT

SCRIPT = ROOT / "tests" / "browser" / "upload_and_quiz.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The whole browser run takes about 15 s here; the limit only stops a hung browser.
BROWSER_TIMEOUT_S = 210  # the desktop, invitation and phone flows together
# Slow enough (per page) that the bar shows values between 0 and 100, fast enough for CI.
PAGE_DELAY_MS = 400

COURSE_TITLE = "Cell Biology, first term"
# A word that occurs only in this course (a chapter heading, hence in its lesson text).
SEARCH = "mitochondria"
OTHER_TITLE = "Linear Algebra"
WEB_PASSWORD = "a web page passphrase"


def _require_browser() -> str:
    """node, with playwright-core installed, and Chromium: the path of node, or a clear failure."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: run `make deps` (Debian packages nodejs npm chromium)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make deps` (Debian package chromium)")
    deps = subprocess.run(["sh", str(ROOT / "scripts" / "browser-deps.sh")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)
    if deps.returncode != 0:
        pytest.fail(f"scripts/browser-deps.sh failed:\n{deps.stdout}")
    return node


def _course_pdfs(outdir):
    """The course the teacher uploads in the browser, and another one for the search to pass
    over. Every lesson has a page of sentences: enough text for summaries and questions."""
    course = make_pdf(outdir / "cell-biology.pdf", [
        ("Cells and membranes", [("The cell membrane", 1), ("Transport across membranes", 1)]),
        ("Mitochondria and respiration", [("Mitochondria", 1), ("Cellular respiration", 1)]),
        ("Photosynthesis", [("Light reactions", 1), ("The Calvin cycle", 1)]),
    ], title="Cell Biology", author="A. Teacher", seed=11)
    other = make_pdf(outdir / "algebra.pdf", [
        ("Vectors", [("Vector spaces", 1), ("Linear maps", 1)]),
    ], title="Linear Algebra", author="B. Teacher", seed=12)
    return course, other


def test_browser_upload_and_quiz(make_stack, outdir):
    node = _require_browser()
    s = make_stack()
    s.start_broker()
    s.add_worker(page_delay_ms=PAGE_DELAY_MS)
    s.add_worker(page_delay_ms=PAGE_DELAY_MS)
    # The student makes four attempts (a whole quiz and a lesson's, on desktop and on a phone):
    # more than the default quiz/max_attempts of 3, whose own test is in test_tokens.py.
    s.add_frontend(conf={"quiz": {"max_attempts": 10}})
    s.wait_healthy()
    course, other = _course_pdfs(outdir)

    # Another teacher's course exists first, so that the search has something to pass over.
    other_job = s.submit(other.path, OTHER_TITLE, token=s.create_token("teacher"))
    # (polled in the database: the job is not this test's teacher's to GET)
    deadline = time.monotonic() + 60
    while s.job_row(other_job)["state"] != "succeeded":
        assert time.monotonic() < deadline, f"the other course was not built: {s.job_row(other_job)}"
        time.sleep(0.1)

    # The desktop signs in with names and a password (a session cookie), the phone with tokens:
    # the same two people either way.
    teacher = s.create_token("teacher", "web-teacher")
    student = s.create_token("student", "web-student")
    for name in ("web-teacher", "web-student"):
        out = subprocess.run([str(BIN / "profaictl"), "-d", s.conninfo, "user", "passwd", name],
                             input=WEB_PASSWORD + "\n", text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60)
        assert out.returncode == 0, out.stderr

    r = s.http.post(s.frontends[0].url + f"{API}/invitations", json={"role": "student"},
                    headers={"Authorization": f"Bearer {teacher}"}, timeout=30)
    assert r.status_code == 201, r.text

    shots = outdir / "screenshots"
    env = {
        **os.environ,
        "PROFAI_URL": s.frontends[0].url,
        "PROFAI_TEACHER_TOKEN": teacher,
        "PROFAI_STUDENT_TOKEN": student,
        "PROFAI_TEACHER_NAME": "web-teacher",
        "PROFAI_STUDENT_NAME": "web-student",
        "PROFAI_PASSWORD": WEB_PASSWORD,
        "PROFAI_INVITE_PATH": r.json()["url"],
        "PROFAI_PDF": str(course.path),
        "PROFAI_TITLE": COURSE_TITLE,
        "PROFAI_SEARCH": SEARCH,
        "PROFAI_OTHER_TITLE": OTHER_TITLE,
        "PROFAI_OUTPUT": str(shots),
        "CHROMIUM": CHROMIUM,
    }
    started = time.monotonic()
    # Its own process group: a hung run is killed with the Chromium processes it started.
    run = subprocess.Popen([node, str(SCRIPT)], env=env, cwd=str(ROOT), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        output, _ = run.communicate(timeout=BROWSER_TIMEOUT_S)
        rc = run.returncode
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        output, _ = run.communicate()
        rc = None
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    (outdir / "browser.log").write_text(output)
    print(output)
    assert rc == 0, (f"the browser test {'timed out' if rc is None else f'failed (exit {rc})'} "
                     f"after {time.monotonic() - started:.1f} s; screenshots in {shots}:\n"
                     f"{output[-6000:]}")

    # What the browser saw agrees with the API: the course exists with its quiz, and the
    # student's attempts (desktop and phone) are stored.
    summary = json.loads((shots / "summary.json").read_text())
    course_id = summary["course_id"]
    doc = s.get_course(course_id)
    assert doc["title"] == COURSE_TITLE
    attempts = s.get(f"{API}/courses/{course_id}/quiz/attempts", token=student)
    assert attempts.status_code == 200, attempts.text
    stored = attempts.json()["attempts"]
    # Desktop and phone: a whole quiz each, and a lesson's quiz with one answer (a partial
    # attempt at the lesson's scope: the API scores it over that lesson's questions only,
    # those left out wrong; issue 11).
    assert len(stored) == 4, stored
    answered = [sum(r["chosen"] is not None for r in a["results"]) for a in stored]
    partial = [a for a, n in zip(stored, answered) if n == 1]
    full = [a for a, n in zip(stored, answered) if n > 1]
    assert len(partial) == 2 and len(full) == 2, answered
    assert {(a["score"], a["total"]) for a in full} <= {
        (summary["score"]["score"], summary["score"]["total"]),
        (summary["phone_score"]["score"], summary["phone_score"]["total"])}
    assert all(a["lesson"] is None for a in full), full
    for a in partial:
        assert a["lesson"] and a["score"] <= 1 and 1 <= a["total"] <= 3, a
        assert a["total"] == len(a["results"]) < full[0]["total"], a
        assert {r["lesson"] for r in a["results"]} == {a["lesson"]}, a
    # The class the teacher made on the page: renamed, the student enrolled again after being
    # removed, the course published to it; the lessons the student opened were recorded.
    klass = s.get(f"{API}/classes/{summary['class_id']}", token=teacher)
    assert klass.status_code == 200, klass.text
    klass = klass.json()
    assert klass["name"] == "Biology 5B", klass
    assert [m["name"] for m in klass["members"]] == ["web-student"], klass
    assert [c["id"] for c in klass["courses"]] == [course_id], klass
    mine = [c["name"] for c in s.get(f"{API}/classes", token=teacher).json()["classes"]]
    assert "Biology 5B" in mine and "Class to delete" not in mine, mine
    progress = s.get(f"{API}/me/progress", token=student)
    assert progress.status_code == 200, progress.text
    opened = {c["course_id"]: c for c in progress.json()["courses"]}
    assert opened[course_id]["opened"] >= 1, opened
    names = sorted(p.name for p in shots.glob("*.png"))
    assert any("phone-" in n for n in names) and len(names) >= 15, names


def test_web_page_files_and_headers(stack):
    """GET / and /app/* answer the files of frontend/web/ byte for byte, with the page's
    security headers, a strong ETag that turns a repeated GET into a 304, HEAD without a body,
    405 for other methods and 404 for files that do not exist (docs/web.md section 4)."""
    web = ROOT / "frontend" / "web"
    url = stack.frontends[0].url
    files = {"/": web / "index.html", "/app/app.js": web / "app.js", "/app/classes.js": web / "classes.js",
             "/app/curation.js": web / "curation.js", "/app/app.css": web / "app.css", "/app/favicon.svg": web / "favicon.svg"}
    types = {"/": "text/html", "/app/app.js": "text/javascript", "/app/classes.js": "text/javascript",
             "/app/curation.js": "text/javascript", "/app/app.css": "text/css",
             "/app/favicon.svg": "image/svg+xml"}
    for path, source in files.items():
        r = stack.http.get(url + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code)
        assert r.content == source.read_bytes(), path
        h = r.headers
        assert h["Content-Type"].startswith(types[path]), (path, h["Content-Type"])
        assert int(h["Content-Length"]) == len(r.content)
        csp = h["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["Cache-Control"] == "no-cache"
        etag = h["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 8, etag

        again = stack.http.get(url + path, headers={"If-None-Match": etag}, timeout=10)
        assert again.status_code == 304 and again.content == b"", (path, again.status_code)
        assert again.headers["ETag"] == etag
        weak = stack.http.get(url + path, headers={"If-None-Match": f'"other", W/{etag}'},
                              timeout=10)
        assert weak.status_code == 304, path
        changed = stack.http.get(url + path, headers={"If-None-Match": '"not-this-one"'},
                                 timeout=10)
        assert changed.status_code == 200 and changed.content == r.content, path

        head = stack.http.head(url + path, timeout=10)
        assert head.status_code == 200 and head.content == b"", path
        assert int(head.headers["Content-Length"]) == len(r.content)

        post = stack.http.post(url + path, data=b"x", timeout=10)
        assert post.status_code == 405, (path, post.status_code)
        assert "GET" in post.headers.get("Allow", ""), post.headers

    # The page refers to its own files only, and uses no inline script or style.
    html = files["/"].read_text()
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert "http://" not in html and "https://" not in html
    script = files["/app/app.js"].read_text() + files["/app/classes.js"].read_text() + \
        files["/app/curation.js"].read_text()
    assert not re.search(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|"
                         r"\beval\(|new Function", script)
    assert "http://" not in script and "https://" not in script
    assert "url(" not in files["/app/app.css"].read_text()
    for path in ("/app/nothing.js", "/app/", "/app/../app.js", "/index.html"):
        r = stack.http.get(url + path, timeout=10)
        assert r.status_code == 404, (path, r.status_code)
