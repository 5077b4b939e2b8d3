"""System test of search indexing after a course's commit (migration 017, docs/database.md;
broker/search_indexer.c): inserting a course only queues it; the leading broker indexes it on
a connection of its own, at once on the notification, and when it starts for courses queued
while no broker ran; a course deleted before it is indexed leaves the queue; an edit of a
course is indexed in its own transaction.

    sh scripts/check-system.sh tests/system/test_search_index.py
"""
import hashlib
import uuid

import psycopg2.extras

from stack import wait_for

DOC = {"title": "Plant cells", "language": "en",
       "modules": [{"title": "Membranes", "lessons": [
           {"id": "l1", "title": "Osmosis", "text": "Water crosses the membrane by osmosis."},
           {"id": "l2", "title": "Chloroplasts", "text": "Photosynthesis makes sugar."}]}]}


def seed(stack) -> tuple[str, str]:
    """A teacher and a stored PDF to hang jobs on; (owner id, sha256)."""
    owner, pdf = str(uuid.uuid4()), b"%PDF-1.4 search index test"
    sha = hashlib.sha256(pdf).hexdigest()
    stack.query("INSERT INTO users (id, name, role) VALUES (%s, %s, 'teacher') RETURNING id",
                owner, "indexer-" + owner[:8])
    stack.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s) RETURNING size",
                sha, len(pdf), pdf)
    return owner, sha


def insert_course(cur, owner: str, sha: str, title: str) -> str:
    """A succeeded job and its course, as the broker's success statement stores them."""
    job, course = str(uuid.uuid4()), str(uuid.uuid4())
    cur.execute("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage, "
                "course_id) VALUES (%s, %s, %s, 'c.pdf', %s, 'succeeded', 'done', %s)",
                (job, owner, title, sha, course))
    cur.execute("INSERT INTO courses (id, job_id, owner_id, title, doc) VALUES (%s, %s, %s, %s, %s)",
                (course, job, owner, title, psycopg2.extras.Json({**DOC, "title": title})))
    return course


def lessons(stack, course: str) -> int:
    return stack.query("SELECT count(*) FROM course_lessons WHERE course_id = %s", course)[0][0]


def queued(stack, course: str) -> bool:
    return bool(stack.query("SELECT 1 FROM course_index_queue WHERE course_id = %s", course))


def test_courses_are_indexed_after_their_commit(make_stack):
    stack = make_stack()
    stack.start_broker()
    owner, sha = seed(stack)

    # The insert queues the course and indexes nothing in its own transaction.
    with stack.db().cursor() as cur:
        cur.execute("BEGIN")
        first = insert_course(cur, owner, sha, "Plant cells")
        cur.execute("SELECT (SELECT count(*) FROM course_lessons WHERE course_id = %s), "
                    "EXISTS (SELECT 1 FROM course_index_queue WHERE course_id = %s)",
                    (first, first))
        assert cur.fetchone() == (0, True)
        cur.execute("COMMIT")
    # The broker indexes it on the notification (the sweep would take 5 s).
    wait_for("the course indexed", lambda: lessons(stack, first) == 2 and not queued(stack, first),
             4)
    hits = stack.query("SELECT count(*) FROM course_lessons WHERE course_id = %s "
                       "AND search @@ profai_search_query('osmosis')", first)[0][0]
    assert hits == 1

    # Queued while no broker runs: indexed when one starts; a course deleted meanwhile leaves
    # the queue without an index.
    stack.broker.stop()
    with stack.db().cursor() as cur:
        second = insert_course(cur, owner, sha, "Leaves")
        gone = insert_course(cur, owner, sha, "Roots")
        cur.execute("DELETE FROM courses WHERE id = %s", (gone,))
    assert queued(stack, second) and queued(stack, gone) and lessons(stack, second) == 0
    stack.start_broker()
    wait_for("the courses queued meanwhile drained",
             lambda: not queued(stack, second) and not queued(stack, gone), 15)
    assert lessons(stack, second) == 2 and lessons(stack, gone) == 0

    # An edit is indexed in its own transaction, as before migration 017.
    with stack.db().cursor() as cur:
        cur.execute("UPDATE courses SET title = 'Renamed greenhouse' WHERE id = %s", (first,))
    hits = stack.query("SELECT count(*) FROM course_lessons WHERE course_id = %s "
                       "AND search @@ profai_search_query('greenhouse')", first)[0][0]
    assert hits == 2 and not queued(stack, first)
