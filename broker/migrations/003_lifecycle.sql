-- 003: the job lifecycle (docs/jobs.md): retry back-off and deadlines.
--
-- retry_at: a job 'queued' again after a transient failure is not dispatched before this
--   time (NULL: at once). The broker keeps the timer in memory and reloads it at start.
-- deadline_at: the running attempt is stopped on its worker at this time and retried
--   (NULL when the job is not running). A restarted broker keeps an orphan's deadline.
-- Cancelled jobs use the state 'cancelled' of migration 001; no column is needed.
ALTER TABLE jobs ADD COLUMN retry_at timestamptz;
ALTER TABLE jobs ADD COLUMN deadline_at timestamptz;
