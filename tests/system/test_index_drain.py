"""System test of migration 022 (docs/database.md; broker/migrations/022_index_drain.sql): a
drain indexes its whole batch in one call, with exactly the rows migration 002's
profai_index_course computed; a drain that is lost leaves its courses queued and they are
indexed again; a course that cannot be indexed is stored unsearchable without costing the
other courses of its batch their index. And of migration 024 (docs/broker.md, "Search
indexing"): a job's commit notifies no listener, the broker that committed the course has it
indexed, a course inserted by anyone else is indexed by the broker's sweep, and a drain that
fails is tried again at the sweep, not at every commit that wakes the indexer.

    sh scripts/check-system.sh tests/system/test_index_drain.py
"""
import re
import select
import time
from pathlib import Path

import psycopg2
import psycopg2.extras

from mdp import course_doc
from stack import wait_for
from test_broker import make_env, make_pdf  # noqa: F401 (make_env: a fixture)
from test_search_index import seed

MIGRATIONS = Path(__file__).resolve().parents[2] / "broker" / "migrations"

LESSON_ROWS = ("SELECT course_id::text, position, lesson_id, config::text, text, search::text "
               "FROM course_lessons WHERE course_id = ANY (%s::uuid[]) "
               "ORDER BY course_id, position")

# Documents of every shape the indexing reads: several modules and lessons, key terms (some
# not strings), lessons without an id or text, languages with and without a stemmer, modules
# and lessons that are not objects, a course without lessons.
DOCS = [
    {"language": "en", "modules": [
        {"title": "Membranes", "lessons": [
            {"id": "l1", "title": "Osmosis", "text": "Water crosses the membrane by osmosis.",
             "key_terms": ["osmosis", "membrane", 3]},
            {"id": "l2", "title": "Chloroplasts", "text": "Photosynthesis makes sugar."}]},
        {"title": "Roots", "lessons": [{"title": "Root hairs", "text": "Hairs take up water."},
                                       "not a lesson",
                                       {"id": 7, "title": "Numbers", "text": 12}]}]},
    {"language": "fr", "modules": [{"title": "Les cellules", "lessons": [
        {"id": "l1", "title": "Les membranes", "text": "L'eau traverse les membranes."}]}]},
    {"language": "de", "modules": [{"lessons": [{"id": "l1", "text": "Die Zellen wachsen."}]},
                                   "not a module"]},
    {"language": "xx", "modules": [{"title": "Sans", "lessons": [
        {"id": "l1", "title": "Plain", "key_terms": "not a list", "text": "Running runners ran."}]}]},
    {"language": "es", "modules": []},
    {"modules": [{"title": "Empty module", "lessons": []}]},
]


def insert_courses(cur, owner: str, sha: str, docs: list) -> list[str]:
    """Succeeded jobs and their courses, inserted in one statement each as the broker does."""
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS new_docs (n int, doc jsonb)")
    cur.execute("TRUNCATE new_docs")
    psycopg2.extras.execute_values(cur, "INSERT INTO new_docs VALUES %s",
                                   [(n, psycopg2.extras.Json(d)) for n, d in enumerate(docs)])
    cur.execute(
        "WITH j AS (INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage,"
        "  course_id) SELECT gen_random_uuid(), %s, 'Course ' || n, 'c.pdf', %s, 'succeeded',"
        "  'done', gen_random_uuid() FROM new_docs RETURNING id, course_id, title)"
        " INSERT INTO courses (id, job_id, owner_id, title, doc)"
        " SELECT j.course_id, j.id, %s, j.title, d.doc FROM j JOIN new_docs d"
        "   ON j.title = 'Course ' || d.n RETURNING id::text", (owner, sha, owner))
    return [r[0] for r in cur.fetchall()]


def index_course_002(cur) -> None:
    """Migration 002's profai_index_course, as written there, as pg_temp.index_course_002: the
    rows a course had before migration 022."""
    sql = (MIGRATIONS / "002_courses_search_quiz.sql").read_text()
    body = re.search(r"CREATE FUNCTION profai_index_course\(.*?\n\$\$;", sql, re.S).group(0)
    cur.execute(body.replace("CREATE FUNCTION profai_index_course(",
                             "CREATE FUNCTION pg_temp.index_course_002(", 1))


def queued(cur, ids: list[str]) -> int:
    cur.execute("SELECT count(*) FROM course_index_queue WHERE course_id = ANY (%s::uuid[])",
                (ids,))
    return cur.fetchone()[0]


def test_a_drain_indexes_its_batch_as_migration_002_did(make_stack):
    stack = make_stack()
    stack.start_broker()
    owner, sha = seed(stack)
    stack.broker.stop()  # the test drains by hand
    db = stack.db()
    with db.cursor() as cur:
        ids = insert_courses(cur, owner, sha, DOCS * 25)  # 150 courses
        assert queued(cur, ids) == 150

        # A lost drain (rolled back, as one whose connection died) leaves its courses queued.
        cur.execute("BEGIN")
        cur.execute("SELECT profai_index_pending(1000)")
        assert cur.fetchone()[0] == 150
        cur.execute("ROLLBACK")
        assert queued(cur, ids) == 150
        cur.execute(LESSON_ROWS, (ids,))
        assert cur.fetchall() == []

        # One call takes the whole batch: two drains of 100 take 100, then 50. They look rows
        # up by key or address, never by scanning a table (the tables here are young and not
        # analyzed: the statistics that made the plans of migration 017's drain scan them).
        # (pg_stat_xact_user_tables also holds counts of earlier transactions that this
        # backend has not reported yet: compare two readings.)
        seq_scans = ("SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname IN "
                     "('courses', 'course_lessons', 'course_index_queue') ORDER BY relname")
        cur.execute("BEGIN")
        cur.execute(seq_scans)
        before = cur.fetchall()
        cur.execute("SELECT profai_index_pending(100)")
        assert cur.fetchone()[0] == 100
        cur.execute("SELECT profai_index_pending(100)")
        assert cur.fetchone()[0] == 50
        cur.execute(seq_scans)
        assert cur.fetchall() == before
        cur.execute("COMMIT")
        assert queued(cur, ids) == 0
        cur.execute(LESSON_ROWS, (ids,))
        drained = cur.fetchall()
        assert len(drained) == 25 * 7  # lessons per round of DOCS: 4 + 1 + 1 + 1 + 0 + 0

        # Exactly the rows migration 002's function computes for the same courses.
        index_course_002(cur)
        cur.execute("SELECT pg_temp.index_course_002(id, title, doc) FROM courses "
                    "WHERE id = ANY (%s::uuid[])", (ids,))
        cur.execute(LESSON_ROWS, (ids,))
        assert cur.fetchall() == drained


def test_an_unindexable_course_costs_its_batch_nothing(make_stack):
    stack = make_stack()
    stack.start_broker()
    owner, sha = seed(stack)
    stack.broker.stop()
    db = stack.db()
    with db.cursor() as cur:
        # Key terms of about 2 MB of distinct words: a tsvector over PostgreSQL's 1 MB limit.
        cur.execute("SELECT string_agg(md5(i::text), ' ') FROM generate_series(1, 60000) i")
        words = cur.fetchone()[0].split()
        huge = {"language": "xx", "modules": [{"title": "Huge", "lessons": [
            {"id": "l1", "title": "Terms", "text": "short", "key_terms": words}]}]}
        ids = insert_courses(cur, owner, sha, DOCS[:2] + [huge] + DOCS[2:4])
        bad = ids[2]
        cur.execute("SELECT profai_index_pending(64)")
        assert cur.fetchone()[0] == 5
        assert queued(cur, ids) == 0
        cur.execute("SELECT course_id::text, count(*) FROM course_lessons "
                    "WHERE course_id = ANY (%s::uuid[]) GROUP BY 1", (ids,))
        counts = dict(cur.fetchall())
        assert bad not in counts
        assert [counts.get(i) for i in ids if i != bad] == [4, 1, 1, 1]

    # The broker's indexer drains what is queued when it starts, in batches, until empty.
    with db.cursor() as cur:
        more = insert_courses(cur, owner, sha, DOCS * 50)  # 300 courses: 5 drains of 64
    stack.start_broker()
    with db.cursor() as cur:
        wait_for("the queue drained", lambda: queued(cur, more) == 0, 30)
        cur.execute("SELECT count(DISTINCT course_id) FROM course_lessons "
                    "WHERE course_id = ANY (%s::uuid[])", (more,))
        assert cur.fetchone()[0] == 200  # the four shapes with lessons, 50 each


def test_a_jobs_commit_notifies_no_listener_and_the_broker_indexes_its_course(make_env):
    env = make_env()
    listener = psycopg2.connect(env.conninfo)
    listener.autocommit = True
    try:
        with listener.cursor() as cur:
            cur.execute("LISTEN profai_course_index")
        client = env.client()
        owner, sha = env.add_user(), env.add_blob(make_pdf("Wake"))
        jobs = [client.submit(owner, sha, f"Wake {i}")["job_id"] for i in range(3)]
        for job in jobs:
            w = env.worker().ready()
            token, got = w.expect_request()
            w.final_ok(token, course_doc(got["job_id"], minimal=True))
        for job in jobs:
            env.wait_job(job, "succeeded")
        courses = [env.job(j)["course_id"] for j in jobs]

        # The broker woke its indexer after the commit: the courses leave the queue and have
        # their lessons, with nobody notified (migration 020 sent one NOTIFY per commit).
        wait_for("the courses indexed", lambda: env.query(
            "SELECT count(*) FROM course_index_queue WHERE course_id = ANY (%s::uuid[])",
            courses)[0][0] == 0, 10, retry_on=())
        assert env.query("SELECT count(DISTINCT course_id) FROM course_lessons"
                         " WHERE course_id = ANY (%s::uuid[])", courses)[0][0] == 3
        select.select([listener], [], [], 0.5)
        listener.poll()
        assert listener.notifies == []
    finally:
        listener.close()


def test_a_course_inserted_by_another_writer_is_indexed_by_the_sweep(make_stack):
    stack = make_stack()
    stack.start_broker()
    owner, sha = seed(stack)
    with stack.db().cursor() as cur:
        ids = insert_courses(cur, owner, sha, DOCS[:2])
        # Nobody wakes the broker's indexer for these: its drain every second takes them.
        wait_for("the sweep drained them", lambda: queued(cur, ids) == 0, 10)
        cur.execute("SELECT count(*) FROM course_lessons WHERE course_id = ANY (%s::uuid[])",
                    (ids,))
        assert cur.fetchone()[0] == 5


def test_a_failing_drain_waits_for_the_sweep_however_often_commits_wake_it(make_env):
    env = make_env()
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Failing"))
    # Every drain fails (the function is gone); the jobs' commits still queue their courses.
    with env.db().cursor() as cur:
        cur.execute("ALTER FUNCTION profai_index_pending(integer)"
                    " RENAME TO profai_index_pending_away")
    worker = env.worker().ready()
    started = time.monotonic()
    jobs = []
    for i in range(20):  # a course committed about every 0.1 s, each waking the indexer
        jobs.append(client.submit(owner, sha, f"Failing {i}")["job_id"])
        token, _ = worker.expect_request()
        worker.final_ok(token, course_doc(f"Failing {i}", minimal=True))
        env.wait_job(jobs[-1], "succeeded")
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    failures = env.log().count("search indexing failed")
    # One failed drain per sweep (a second), not one per wake-up (every 50 ms here).
    assert 1 <= failures <= elapsed + 2, (failures, elapsed)

    # Once the function is back, the next sweep indexes every course queued meanwhile.
    with env.db().cursor() as cur:
        cur.execute("ALTER FUNCTION profai_index_pending_away(integer)"
                    " RENAME TO profai_index_pending")
    courses = [env.job(j)["course_id"] for j in jobs]
    wait_for("the queued courses indexed", lambda: env.query(
        "SELECT count(*) FROM course_index_queue WHERE course_id = ANY (%s::uuid[])",
        courses)[0][0] == 0, 10, retry_on=())
