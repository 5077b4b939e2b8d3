-- 010: Idempotency-Key on uploads (docs/api.md 4.1 "Idempotent uploads", docs/database.md).
--
-- One row per (owner, key) a teacher sent with an upload in the last 24 hours: the fingerprint
-- of what was uploaded (SHA-256 of the PDF's SHA-256, title and file name) and, once the job
-- was queued, the first answer (status and JSON body) that a repeat of the same upload gets
-- again. A row without an answer is an upload in progress. Rows older than 24 hours are
-- ignored and deleted by idempotency_sweep(), which every frontend runs with its blob sweep.
CREATE TABLE idempotency_keys (
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
    fingerprint text NOT NULL,
    job_id uuid,
    status integer,
    answer text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE FUNCTION idempotency_sweep() RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours' RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;
