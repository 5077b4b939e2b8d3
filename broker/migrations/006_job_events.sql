-- 006: job history (docs/database.md, "Migration 006"; docs/admin.md).
--
-- One row per state change of a job, written by the statement that changes the job (a CTE of
-- the same statement, so in the same transaction): what happened to a job survives any crash.
-- seq orders the events of a job; at is clock_timestamp(), distinct within one transaction.
-- worker: the worker the change concerns (the one dispatched to, or the one that was lost or
-- failed); error_code/error: why an attempt ended (a requeue) or the job failed.
CREATE TABLE job_events (
    seq         bigserial PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    state       text NOT NULL
                CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt     integer NOT NULL,
    worker      text,
    stage       text,
    error_code  text,
    error       text
);
CREATE INDEX job_events_job ON job_events (job_id, seq);

-- Jobs from before this migration get one event: their state as it is now.
INSERT INTO job_events (job_id, at, state, attempt, worker, stage, error_code, error)
SELECT id, updated_at, state, attempts, worker, stage, error_code, error FROM jobs
ORDER BY created_at;
