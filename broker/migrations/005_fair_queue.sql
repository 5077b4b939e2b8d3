-- 005: indexes for fair scheduling and per-teacher quotas (docs/broker.md, "Fair scheduling";
-- docs/api.md 4.1 and 4.2).
--
-- jobs_owner_unfinished: the broker's submit counts the owner's queued jobs and collects the
--   PDFs of its unfinished jobs (quotas), and the frontend ranks each queued job among its
--   owner's (queue_position), without reading the owner's finished jobs.
-- jobs_finished: the frontend counts the jobs finished in the last minutes (the recent
--   throughput behind estimated_start).
-- courses_owner: the storage quota collects the PDFs of the owner's courses.
CREATE INDEX jobs_owner_unfinished ON jobs (owner_id, created_at, id)
    WHERE state IN ('queued', 'running');
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'failed');
CREATE INDEX courses_owner ON courses (owner_id);
