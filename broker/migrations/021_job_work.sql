-- 021: one index entry per job event instead of two. See docs/database.md (migration 021)
-- and docs/performance.md ("Fewer index entries per job (migration 021)").

-- ---------------------------------------------------------------- job_events
-- Every query reads one job's events in order: (job_id, seq) serves them, and is unique
-- because seq is. The index on seq alone served none of them.
CREATE UNIQUE INDEX job_events_job_seq ON job_events (job_id, seq);
ALTER TABLE job_events DROP CONSTRAINT job_events_pkey;
ALTER TABLE job_events ADD CONSTRAINT job_events_pkey PRIMARY KEY USING INDEX job_events_job_seq;
DROP INDEX job_events_job;
