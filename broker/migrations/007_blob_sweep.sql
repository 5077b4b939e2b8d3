-- 007: stored PDFs are deleted once nothing refers to them (docs/database.md "blobs").
--
-- A blob is referred to by a job that may still run (queued or running) and by a course (its
-- job's blob_sha256). Jobs that ended without a course (failed, cancelled, or succeeded and
-- then their course deleted) keep blob_sha256 as a record only: the foreign key goes, so
-- their blob can.
-- used_at: when the blob was last stored (an upload of the same PDF again touches it). The
--   frontend stores a blob before it asks the broker to queue its job; a sweep keeps blobs
--   touched within its grace period so that this window is never swept.
-- blobs_sweep(grace_ms): delete every unreferenced blob untouched for grace_ms; the number
--   deleted. Run periodically by every frontend (blobs/sweep_interval); idempotent.
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_blob_sha256_fkey;
ALTER TABLE blobs ADD COLUMN used_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX jobs_blob ON jobs (blob_sha256);

CREATE FUNCTION blobs_sweep(grace_ms bigint) RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM blobs b
        WHERE b.used_at < now() - make_interval(secs => grace_ms / 1000.0)
          AND NOT EXISTS (SELECT 1 FROM jobs j
                          WHERE j.blob_sha256 = b.sha256 AND j.state IN ('queued', 'running'))
          AND NOT EXISTS (SELECT 1 FROM jobs j JOIN courses c ON c.job_id = j.id
                          WHERE j.blob_sha256 = b.sha256)
        RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;
