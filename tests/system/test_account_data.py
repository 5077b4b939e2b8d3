"""Storage hygiene (issue 14, docs/api.md 4.24, 4.25, docs/database.md "blobs"):

- a failed job's PDF is deleted by the blob sweep once nothing else refers to it (a queued job
  of another teacher with the same PDF keeps it until it, too, ends);
- DELETE /api/v1/me/data deletes the caller's courses, jobs (cancelling unfinished ones through
  the broker) and quiz attempts in one request, and the sweep then deletes their PDFs, but not
  a PDF another teacher's course still uses;
- GET /api/v1/users/{id}/export gives an admin everything stored about one user."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pdfs import make_plain_pdf
from stack import API, Stack, wait_for
from test_admin import encrypted_pdf
from test_courses_api import topic_chapters, write_course_pdf
from test_limits import blob_exists


def course_pdf(outdir: Path, name: str, seed: int) -> Path:
    """A PDF whose course has a quiz."""
    return write_course_pdf(outdir / f"{name}.pdf", name.title(), topic_chapters(name), seed=seed)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sweeping(make_stack, workers: int = 1) -> Stack:
    s = make_stack()
    s.start_broker()
    s.add_frontend(conf={"blobs": {"sweep_interval": 200, "grace": 1500}})
    for _ in range(workers):
        s.add_worker()
    s.wait_healthy(workers=workers)
    return s


def user_id(s: Stack, name: str) -> str:
    with s.db().cursor() as cur:
        cur.execute("SELECT id::text FROM users WHERE name = %s", (name,))
        return cur.fetchone()[0]


def wait_state(s: Stack, job: str, state: str, timeout: float = 120) -> None:
    """Wait until the job's row has this state (any owner's job: read from the database)."""
    def reached():
        now = s.job_row(job)["state"]
        assert now == state or now in ("queued", "running"), f"job {job} ended {now}"
        return now == state
    wait_for(f"job {job} to be {state}", reached, timeout, on_timeout=s.log_tails)


def call(s: Stack, method: str, path: str, token: str, **kw):
    return s.http.request(method, s.frontends[0].url + path,
                          headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)


def test_failed_job_releases_its_pdf(make_stack, outdir):
    s = sweeping(make_stack)
    a = s.create_token("teacher", "fails-a")
    b = s.create_token("teacher", "fails-b")
    locked = encrypted_pdf(outdir)
    job = s.submit(locked, "Locked", token=a)
    wait_state(s, job, "failed")
    assert s.job_row(job)["error_code"] == "encrypted"
    wait_for("the failed job's PDF to be deleted", lambda: not blob_exists(s, sha(locked)), 15)
    assert s.job_row(job)["state"] == "failed"  # the job keeps its record

    # The same PDF again: while another teacher's job with it is queued, a failure does not
    # take it away; once that one ends too, it goes.
    assert s.admin("pause", "course.build").returncode == 0
    queued = s.submit(locked, "Locked B", token=b)
    assert s.admin("resume", "course.build").returncode == 0
    again = s.submit(locked, "Locked again", token=a)
    wait_state(s, again, "failed")
    wait_state(s, queued, "failed")
    wait_for("the PDF to be deleted after both failed", lambda: not blob_exists(s, sha(locked)),
             15)


def test_delete_my_data(make_stack, outdir):
    s = sweeping(make_stack)
    t = s.create_token("teacher", "leaving")
    other = s.create_token("teacher", "staying")
    student = s.create_token("student", "pupil")
    mine = course_pdf(outdir, "mine", 21)
    shared = course_pdf(outdir, "shared", 22)
    theirs = course_pdf(outdir, "theirs", 23)
    queued_pdf = Path(make_plain_pdf(outdir / "queued.pdf", pages=2, seed=24).path)

    # The leaving teacher: two courses (one from a PDF the other teacher uses too), a failed
    # job, an attempt at the other teacher's course; a student's attempt at its course.
    jobs = [s.submit(p, title, token=t) for p, title in
            ((mine, "Mine"), (shared, "Shared"), (encrypted_pdf(outdir), "Locked"))]
    kept_job = s.submit(shared, "Shared too", token=other)
    their_job = s.submit(theirs, "Theirs", token=other)
    for job in (*jobs[:2], kept_job, their_job):
        wait_state(s, job, "succeeded")
    wait_state(s, jobs[2], "failed")
    my_course = s.job_row(jobs[0])["course_id"]
    their_course = s.job_row(their_job)["course_id"]
    s.publish_to_students(my_course)  # students see published courses only (docs/api.md 2)
    assert call(s, "POST", f"{API}/courses/{my_course}/quiz/attempts", student,
                json={"answers": {}}).status_code == 201
    assert call(s, "POST", f"{API}/courses/{their_course}/quiz/attempts", other,
                json={"answers": {}}).status_code == 201
    # A teacher no longer sees another teacher's course (docs/api.md 2), so the leaving
    # teacher's attempt at it (made before classes existed) is a copy of the other's.
    assert call(s, "POST", f"{API}/courses/{their_course}/quiz/attempts", t,
                json={"answers": {}}).status_code == 404
    with s.db().cursor() as cur:
        cur.execute("CREATE TEMP TABLE a AS SELECT * FROM quiz_attempts WHERE course_id = %s; "
                    "UPDATE a SET id = gen_random_uuid(), user_id = %s; "
                    "INSERT INTO quiz_attempts SELECT * FROM a; DROP TABLE a",
                    (their_course, user_id(s, "leaving")))
    # ... and a job still queued (the service paused), which the broker must cancel.
    assert s.admin("pause", "course.build").returncode == 0
    queued = s.submit(queued_pdf, "Queued", token=t)
    assert call(s, "GET", f"{API}/courses/{my_course}", student).status_code == 200  # cached

    r = call(s, "DELETE", f"{API}/me/data", t)
    assert r.status_code == 200, r.text
    assert r.json() == {"jobs_cancelled": 1, "jobs": 4, "courses": 2, "attempts": 1,
                        "jobs_kept": 0}
    assert s.admin("resume", "course.build").returncode == 0

    # Nothing of the teacher's is left, on any route, for anyone.
    assert call(s, "GET", f"{API}/jobs", t).json()["jobs"] == []
    assert call(s, "GET", f"{API}/courses/{my_course}", student).status_code == 404
    assert call(s, "GET", f"{API}/jobs/{queued}", t).status_code == 404
    with s.db().cursor() as cur:
        uid = user_id(s, "leaving")
        for table, column in (("jobs", "owner_id"), ("courses", "owner_id"),
                              ("quiz_attempts", "user_id")):
            cur.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", (uid,))
            assert cur.fetchone()[0] == 0, table
        cur.execute("SELECT count(*) FROM quiz_attempts WHERE course_id = %s", (my_course,))
        assert cur.fetchone()[0] == 0  # the student's attempt at the deleted course
        cur.execute("SELECT count(*) FROM job_events WHERE job_id = ANY(%s::uuid[])",
                    ([*jobs, queued],))
        assert cur.fetchone()[0] == 0
    # The PDFs only the teacher used go; the one the other teacher's course uses stays.
    for pdf in (mine, queued_pdf, encrypted_pdf(outdir)):
        wait_for(f"{pdf.name} to be deleted", lambda: not blob_exists(s, sha(pdf)), 15)
    time.sleep(2.0)
    assert blob_exists(s, sha(shared))
    assert blob_exists(s, sha(theirs))
    # The other teacher keeps everything, its attempt included; the account and token stay.
    assert call(s, "GET", f"{API}/courses/{their_course}", other).status_code == 200
    attempts = call(s, "GET", f"{API}/courses/{their_course}/quiz/attempts", other).json()
    assert len(attempts["attempts"]) == 1
    assert call(s, "GET", f"{API}/jobs/{kept_job}", other).json()["state"] == "succeeded"
    # Deleting again finds nothing; a student may use the route too.
    assert call(s, "DELETE", f"{API}/me/data", t).json() == {
        "jobs_cancelled": 0, "jobs": 0, "courses": 0, "attempts": 0, "jobs_kept": 0}
    assert call(s, "DELETE", f"{API}/me/data", student).json()["attempts"] == 0


def test_admin_exports_one_users_data(make_stack, outdir):
    s = sweeping(make_stack)
    t = s.create_token("teacher", "exported")
    s.create_token("teacher", "exported")  # a second token
    admin = s.create_token("admin", "root")
    pdf = course_pdf(outdir, "export", 31)
    job = s.submit(pdf, "Exported course", token=t)
    wait_state(s, job, "succeeded")
    course = s.job_row(job)["course_id"]
    assert call(s, "POST", f"{API}/courses/{course}/quiz/attempts", t,
                json={"answers": {}}).status_code == 201
    uid = user_id(s, "exported")

    r = call(s, "GET", f"{API}/users/{uid}/export", admin)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["Content-Disposition"]
    doc = r.json()
    assert doc["user"]["id"] == uid and doc["user"]["name"] == "exported"
    assert doc["user"]["role"] == "teacher"
    assert len(doc["tokens"]) == 2
    assert all(set(tok) == {"id", "created_at", "expires_at", "revoked_at"}
               for tok in doc["tokens"])
    assert t not in r.text  # never a token itself
    [j] = doc["jobs"]
    assert j["job_id"] == job and j["state"] == "succeeded" and j["course_id"] == course
    assert j["pdf_sha256"] == sha(pdf) and j["pdf_size"] == pdf.stat().st_size
    assert j["title"] == "Exported course" and j["error"] is None
    [c] = doc["courses"]
    assert c["id"] == course and c["job_id"] == job
    assert isinstance(c["doc"], dict) and c["doc"]["modules"]  # the stored document itself
    [a] = doc["attempts"]
    assert a["course_id"] == course and a["number"] == 1 and a["answers"] == {}

    # Admins only; an unknown user is a 404.
    assert call(s, "GET", f"{API}/users/{uid}/export", t).status_code == 403
    assert call(s, "GET", f"{API}/users/00000000-0000-4000-8000-000000000000/export",
                admin).status_code == 404
