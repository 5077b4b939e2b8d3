"""System tests of what a job costs the store (docs/database.md, "Migration 021: one index
entry per job event"; docs/performance.md, "Fewer index entries per job
(migration 021)").

- job_events has one index, its primary key (job_id, seq), and the reads of one job's events
  still use an index (EXPLAIN);
- the broker's updates of a job by id use the primary key whatever the statistics say: with
  statistics taken while no job was unfinished and thousands of unfinished jobs now, running
  jobs through the broker reads none of their entries in jobs_unfinished (it read every one
  of them per statement before);
- the broker's statements do not scan `jobs` sequentially whatever size the table had when
  their generic plans were made: with plans made on a table of a few jobs and 20,000 more
  jobs inserted since (no ANALYZE), a batch of jobs through the multi-row statements reads
  none of those 20,000 (each multi-row statement read every job before; docs/performance.md,
  "Index lookups per job whatever the statistics");
- an operator's own session settings in conninfo's `options` reach the store's sessions beside
  the store's two settings, which they used to replace (docs/broker.md, "Talking to
  PostgreSQL").

    sh scripts/check-system.sh tests/system/test_job_work.py
"""

from __future__ import annotations

import sys
import time

import psycopg2
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdp import course_doc, token_base  # noqa: E402
from stack import wait_for  # noqa: E402
from test_broker import make_env, make_pdf  # noqa: E402,F401 (make_env: a fixture)
from test_store_batch import dispatched_jobs  # noqa: E402

# The no-op jobs of these tests come from one owner: no quota query reads the owner's jobs.
NO_QUOTAS = {"max_queued_per_owner": 0, "max_bytes_per_owner": 0}
UNFINISHED = 3000  # queued jobs nobody dispatches (their retry is an hour away)


def test_job_events_have_one_index_which_serves_a_jobs_events(make_env):
    env = make_env()
    rows = env.query("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'job_events'")
    assert len(rows) == 1, rows
    assert rows[0][0] == "job_events_pkey" and rows[0][1].endswith("(job_id, seq)"), rows
    (key,) = env.query("SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                       " WHERE conrelid = 'job_events'::regclass AND contype = 'p'")
    assert key[0] == "PRIMARY KEY (job_id, seq)"
    owner, sha = env.add_user(), env.add_blob(make_pdf("Events"))
    # Enough events of other jobs that reading one job's is a choice between index and scan.
    env.query("WITH j AS (INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state,"
              " stage) SELECT gen_random_uuid(), %s, 't', 'f.pdf', %s, 'cancelled', 'cancelled'"
              " FROM generate_series(1, 500) RETURNING id)"
              " INSERT INTO job_events (job_id, state, attempt)"
              " SELECT id, s, 0 FROM j, unnest(ARRAY['queued', 'cancelled']) s", owner, sha)
    env.query("ANALYZE job_events")
    job = env.query("SELECT job_id FROM job_events LIMIT 1")[0][0]
    # The events read of docs/api.md 4.14 (frontend/db_jobs.c) and jobs_gone's delete.
    for sql in ("EXPLAIN SELECT seq, state FROM job_events x WHERE x.job_id = %s"
                " AND x.seq > 0 ORDER BY x.seq",
                "EXPLAIN DELETE FROM job_events WHERE job_id = %s"):
        plan = "\n".join(r[0] for r in env.query(sql, job))
        assert "job_events_pkey" in plan and "Seq Scan" not in plan, plan
    # Events are still written in order and cascade with their job.
    assert [r[0] for r in env.query("SELECT state FROM job_events WHERE job_id = %s"
                                    " ORDER BY seq", job)] == ["queued", "cancelled"]
    env.query("DELETE FROM jobs WHERE id = %s", job)
    assert env.query("SELECT count(*) FROM job_events WHERE job_id = %s", job)[0][0] == 0


def index_stats(env) -> dict:
    """Index scans and entries read of jobs' indexes, and job_events inserted (statistics,
    flushed by each backend within about a second of its last transaction)."""
    out = {name: (scans, read) for name, scans, read in env.query(
        "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes"
        " WHERE relname = 'jobs'")}
    out["events"] = env.query("SELECT n_tup_ins FROM pg_stat_user_tables"
                              " WHERE relname = 'job_events'")[0][0]
    return out


def pump(worker, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        worker.pump()
        time.sleep(0.05)


def test_updates_by_id_read_no_unfinished_jobs_with_stale_statistics(make_env):
    env = make_env(**NO_QUOTAS)
    env.stop()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Stale " + str(time.monotonic())))
    # Statistics of a table where every job has ended ...
    env.query("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage,"
              " finished_at) SELECT gen_random_uuid(), %s, 't', 'f.pdf', %s, 'succeeded',"
              " 'done', now() FROM generate_series(1, 2000)", owner, sha)
    env.query("ANALYZE jobs")
    # ... then thousands of unfinished jobs the statistics do not know of.
    env.query("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage,"
              " retry_at) SELECT gen_random_uuid(), %s, 't', 'f.pdf', %s, 'queued', 'queued',"
              " now() + interval '1 hour' FROM generate_series(1, %s)", owner, sha, UNFINISHED)
    env.start()  # its statements are planned from these statistics (generic plans)
    client, worker = env.client(), env.worker()
    worker.ready()
    pump(worker, 2.5)  # the start's statistics flushed
    before = index_stats(env)
    jobs = 4
    for i in range(jobs):
        job = client.submit(owner, sha, f"Stale {i}")["job_id"]
        token, _ = worker.expect_request()
        assert token_base(token) == f"{job}/1".encode()
        worker.final_ok(token, course_doc(f"Stale {i}", minimal=True))
        env.wait_job(job, "succeeded")
    # Every job's three events flushed: the statements of these jobs are in the statistics.
    wait_for("the statistics of the jobs' statements", lambda: (
        pump(worker, 0.2), index_stats(env)["events"] - before["events"] >= 3 * jobs)[1], 20,
        retry_on=())
    pump(worker, 1.5)
    after = index_stats(env)
    # By primary key: at least one scan of it per update.
    assert after["jobs_pkey"][0] - before["jobs_pkey"][0] >= jobs
    # Not one pass over the unfinished jobs (each such pass reads UNFINISHED entries).
    read = after["jobs_unfinished"][1] - before["jobs_unfinished"][1]
    read_owner = after["jobs_owner_unfinished"][1] - before["jobs_owner_unfinished"][1]
    assert read + read_owner < UNFINISHED, (read, read_owner)
    assert env.query("SELECT count(*) FROM jobs WHERE state = 'queued'")[0][0] == UNFINISHED


GROWN = 20000  # jobs inserted after the broker's plans were made on a table of a few


def seq_read(env) -> int:
    """Rows of jobs read by sequential scans (statistics, as index_stats)."""
    return env.query("SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables"
                     " WHERE relname = 'jobs'")[0][0]


def batch_through_multi_row_statements(env, client, owner, sha, label: str, n: int = 4):
    """n jobs whose dispatches, then results, each travel together: their results wait behind a
    lock on courses and then go as one multi-row statement (as test_store_batch.py)."""
    jobs, workers, tokens = dispatched_jobs(env, client, owner, sha, label, n)
    blocker = psycopg2.connect(env.conninfo)
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE courses IN SHARE MODE")
        w, token = tokens[jobs[0]]
        w.final_ok(token, course_doc(f"{label} first", minimal=True))
        wait_for("the first result to wait on the lock",
                 lambda: env.query("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                   " current_database() AND wait_event_type = 'Lock'")[0][0] > 0,
                 10, retry_on=())
        for j in jobs[1:]:
            w, token = tokens[j]
            w.final_ok(token, course_doc(j, minimal=True))
        wait_for("the results received",
                 lambda: all(f"job result received job={j}" in env.log() for j in jobs[1:]),
                 10, retry_on=())
        time.sleep(0.2)  # the broker's loop turn that queues them
    finally:
        blocker.rollback()
        blocker.close()
    for j in jobs:
        env.wait_job(j, "succeeded")
        assert len(env.courses(j)) == 1
    return workers


def test_statements_planned_on_a_small_table_scan_no_jobs_after_it_grew(make_env):
    env = make_env(**NO_QUOTAS)
    env.stop()
    # No ANALYZE of jobs during the test: the plans made now stay the broker's plans.
    env.query("ALTER TABLE jobs SET (autovacuum_enabled = false)")
    owner, sha = env.add_user(), env.add_blob(make_pdf("Grown " + str(time.monotonic())))
    env.start()
    client = env.client()
    # Every statement of the job path planned (generic plans) on a table of a few jobs.
    batch_through_multi_row_statements(env, client, owner, sha, "Small")
    env.query("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage,"
              " finished_at) SELECT gen_random_uuid(), %s, 't', 'f.pdf', %s, 'succeeded',"
              " 'done', now() FROM generate_series(1, %s)", owner, sha, GROWN)
    time.sleep(1.5)  # every backend's statistics so far flushed
    before, events = seq_read(env), index_stats(env)["events"]
    workers = batch_through_multi_row_statements(env, client, owner, sha, "Grown")
    # Every job's three events flushed: the statements of these jobs are in the statistics.
    wait_for("the statistics of the jobs' statements", lambda: (
        [w.pump() for w in workers], index_stats(env)["events"] - events >= 3 * 4)[1], 20,
        retry_on=())
    time.sleep(1.5)
    read = seq_read(env) - before
    assert read < GROWN // 2, read  # one multi-row statement read all of them before
    assert env.query("SELECT count(*) FROM jobs")[0][0] == GROWN + 8


# The operator's session settings: auto_explain logs every statement's plan with the planner
# settings its session changed (the test cluster's role may load it), and a work_mem.
AUTO_EXPLAIN = ("-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
                " -c auto_explain.log_settings=on")


def test_an_operators_conninfo_options_keep_the_stores_settings(make_env, private_pg_cluster):
    env = make_env(start=False, **NO_QUOTAS)
    plain = env.conninfo
    env.conninfo = f"{plain} options='{AUTO_EXPLAIN} -c work_mem=5MB'"  # the broker's only
    env.start()
    env.conninfo = plain
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Options " + str(time.monotonic())))
    jobs, _, tokens = dispatched_jobs(env, client, owner, sha, "Options", 1)
    w, token = tokens[jobs[0]]
    w.final_ok(token, course_doc("Options", minimal=True))
    env.wait_job(jobs[0], "succeeded")
    # The plans of the job's statements on the two stores: its submission and its result.
    log = (private_pg_cluster.directory / "log").read_text(errors="replace")
    plans = [p for p in log.split("plan:")[1:]
             if "INSERT INTO jobs" in p.split("Settings:")[0]
             or "UPDATE jobs SET state = 'succeeded'" in p.split("Settings:")[0]]
    assert len(plans) >= 2, log[-3000:]
    for plan in plans:
        settings = plan.split("Settings:", 1)[1].split("\n", 1)[0] if "Settings:" in plan else ""
        # Before, conninfo's options replaced the store's: only work_mem here.
        assert "work_mem = '5MB'" in settings, plan
        assert "enable_seqscan = 'off'" in settings, plan
        assert "plan_cache_mode = 'force_generic_plan'" in settings, plan
