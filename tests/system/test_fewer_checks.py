"""System tests of migration 020 (docs/database.md, "Migration 020: fewer checks per job"):
the foreign keys from job_events and courses are replaced by statement-level triggers, and
the rules they enforced still hold on a real PostgreSQL: a course needs its job and owner
(one bad row fails the whole multi-row insert), a job a course refers to and a user who owns a
course cannot be deleted, deleting jobs deletes their events, ids do not change while
referenced; the course counts are those of migration 002; a job run through the broker still
gets its events, its course counts and its place in the search queue.

    sh scripts/check-system.sh tests/system/test_fewer_checks.py
"""
import hashlib
import uuid

import psycopg2
import psycopg2.errors
import psycopg2.extras
import pytest
from pdfs import make_plain_pdf
from stack import wait_for

DOC = {"title": "Cells", "modules": [
    {"title": "M1", "lessons": [{"id": "a", "title": "A", "text": "x"},
                                {"id": "b", "title": "B", "text": "y"}]},
    {"title": "M2", "lessons": [{"id": "c", "title": "C", "text": "z"}]}]}


def seed(cur) -> tuple[str, str]:
    owner, pdf = str(uuid.uuid4()), b"%PDF-1.4 fewer checks " + uuid.uuid4().bytes
    sha = hashlib.sha256(pdf).hexdigest()
    cur.execute("INSERT INTO users (id, name, role) VALUES (%s, %s, 'teacher')",
                (owner, "fc-" + owner[:8]))
    cur.execute("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s)",
                (sha, len(pdf), pdf))
    return owner, sha


def add_job(cur, owner: str, sha: str) -> str:
    job = str(uuid.uuid4())
    cur.execute("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage)"
                " VALUES (%s, %s, 't', 'f.pdf', %s, 'succeeded', 'done')", (job, owner, sha))
    cur.execute("INSERT INTO job_events (job_id, state, attempt) VALUES (%s, 'queued', 0),"
                " (%s, 'succeeded', 1)", (job, job))
    return job


def add_courses(cur, rows) -> list[str]:
    """One multi-row INSERT of (job, owner, doc) rows, as the broker's success statement."""
    ids = [str(uuid.uuid4()) for _ in rows]
    cur.execute("INSERT INTO courses (id, job_id, owner_id, title, doc)"
                " SELECT id, job, owner, 't', doc FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[],"
                " %s::jsonb[]) AS a(id, job, owner, doc)",
                (ids, [r[0] for r in rows], [r[1] for r in rows],
                 [psycopg2.extras.Json(r[2]) for r in rows]))
    return ids


@pytest.fixture
def db(make_stack):
    stack = make_stack()
    stack.start_broker()  # applies the migrations
    conn = psycopg2.connect(stack.conninfo)
    conn.autocommit = True
    yield conn
    conn.close()


def test_the_replaced_foreign_keys_are_gone_and_their_triggers_are_per_statement(db):
    with db.cursor() as cur:
        cur.execute("SELECT conrelid::regclass::text, conname FROM pg_constraint"
                    " WHERE contype = 'f' AND conrelid IN ('job_events'::regclass,"
                    " 'courses'::regclass)")
        assert cur.fetchall() == []
        cur.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'courses'::regclass"
                    " AND NOT tgisinternal AND tgtype & 1 = 1 AND tgtype & 4 = 4")
        # Row-level INSERT triggers left on courses: only the BEFORE trigger setting counts.
        assert [r[0] for r in cur.fetchall()] == ["courses_counts"]


def test_a_course_needs_its_job_and_owner_and_one_bad_row_fails_the_statement(db):
    with db.cursor() as cur:
        owner, sha = seed(cur)
        good = add_job(cur, owner, sha)
        other = add_job(cur, owner, sha)
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            add_courses(cur, [(good, owner, DOC), (str(uuid.uuid4()), owner, DOC)])
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            add_courses(cur, [(good, owner, DOC), (other, str(uuid.uuid4()), DOC)])
        cur.execute("SELECT count(*) FROM courses WHERE job_id IN (%s, %s)", (good, other))
        assert cur.fetchone()[0] == 0
        add_courses(cur, [(good, owner, DOC), (other, owner, DOC)])
        cur.execute("SELECT count(*) FROM courses WHERE job_id IN (%s, %s)", (good, other))
        assert cur.fetchone()[0] == 2
        # A course moved to a job that does not exist (as a regeneration's landing moves one).
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            cur.execute("UPDATE courses SET job_id = %s WHERE job_id = %s",
                        (str(uuid.uuid4()), good))


def test_deletions_keep_their_rules_and_cascade_the_events(db):
    with db.cursor() as cur:
        owner, sha = seed(cur)
        job = add_job(cur, owner, sha)
        lone = add_job(cur, owner, sha)
        (course,) = add_courses(cur, [(job, owner, DOC)])
        # A job a course refers to stays, with its events.
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            cur.execute("DELETE FROM jobs WHERE id = %s", (job,))
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            cur.execute("UPDATE jobs SET id = %s WHERE id = %s", (str(uuid.uuid4()), job))
        # A job alone goes with its events.
        cur.execute("DELETE FROM jobs WHERE id = %s", (lone,))
        cur.execute("SELECT count(*) FROM job_events WHERE job_id = %s", (lone,))
        assert cur.fetchone()[0] == 0
        # A user owning a course (of another user's job) stays.
        stranger, _ = seed(cur)
        cur.execute("UPDATE courses SET owner_id = %s WHERE id = %s", (stranger, course))
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            cur.execute("DELETE FROM users WHERE id = %s", (stranger,))
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            cur.execute("UPDATE users SET id = %s WHERE id = %s", (str(uuid.uuid4()), stranger))
        # Course and job in one statement (the account deletion's form): both go, events too.
        cur.execute("WITH c AS (DELETE FROM courses WHERE id = %s RETURNING 1),"
                    " j AS (DELETE FROM jobs WHERE id = %s RETURNING 1)"
                    " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM j)", (course, job))
        assert cur.fetchone() == (1, 1)
        cur.execute("SELECT count(*) FROM job_events WHERE job_id = %s", (job,))
        assert cur.fetchone()[0] == 0
        cur.execute("DELETE FROM users WHERE id = %s", (stranger,))


def test_course_counts_are_migration_002s(db):
    docs = [DOC, {}, [], 3, {"modules": {}}, {"modules": {"lessons": {}}},
            {"modules": [[{"lessons": [{}]}]]},
            {"modules": [{"lessons": [[{}], {}, 3, None]}, 5, None, "s"]},
            [{"modules": [{}]}], {"modules": [{"lessons": {"a": 1}}]}, {"modules": None},
            {"modules": [{"lessons": [[[{}]]]}]}]
    with db.cursor() as cur:
        owner, sha = seed(cur)
        ids = add_courses(cur, [(add_job(cur, owner, sha), owner, d) for d in docs])
        cur.execute(
            "SELECT c.module_count, c.lesson_count,"
            " (SELECT count(*) FROM jsonb_path_query(c.doc, 'lax $.modules[*]') m"
            "  WHERE jsonb_typeof(m) = 'object'),"
            " (SELECT count(*) FROM jsonb_path_query(c.doc, 'lax $.modules[*]') m,"
            "  jsonb_path_query(m, 'lax $.lessons[*]') l"
            "  WHERE jsonb_typeof(m) = 'object' AND jsonb_typeof(l) = 'object')"
            " FROM unnest(%s::uuid[]) WITH ORDINALITY AS i(id, n) JOIN courses c ON c.id = i.id"
            " ORDER BY i.n", (ids,))
        rows = cur.fetchall()
        assert [(r[0], r[1]) for r in rows] == [(r[2], r[3]) for r in rows]
        assert rows[0][:2] == (2, 3)
        # Every inserted course is queued for search indexing (the statement trigger).
        cur.execute("SELECT count(*) FROM course_index_queue WHERE course_id = ANY(%s::uuid[])",
                    (ids,))
        # The broker's search indexer may have drained some already: queued or indexed.
        queued = cur.fetchone()[0]
        cur.execute("SELECT count(DISTINCT course_id) FROM course_lessons"
                    " WHERE course_id = ANY(%s::uuid[])", (ids,))
        assert queued + cur.fetchone()[0] >= 1


def test_a_job_through_the_broker_keeps_its_events_and_course(stack, outdir):
    pdf = outdir / "small.pdf"
    make_plain_pdf(pdf, pages=2)
    job = stack.submit(pdf, "Through the broker")
    stack.wait_job(job, timeout=60)
    rows = stack.query("SELECT state FROM job_events WHERE job_id = %s ORDER BY seq", job)
    assert [r[0] for r in rows] == ["queued", "running", "succeeded"]
    (course,) = stack.query("SELECT id::text, module_count, lesson_count FROM courses"
                            " WHERE job_id = %s", job)
    assert course[1] >= 1 and course[2] >= 1
    wait_for("the course indexed for search", lambda: stack.query(
        "SELECT count(*) FROM course_lessons WHERE course_id = %s", course[0])[0][0] > 0, 30)
