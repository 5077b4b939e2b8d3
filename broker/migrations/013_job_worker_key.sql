-- 013: an orphan is adopted only by the worker key its attempt was sent to
-- (docs/database.md "Migration 013", docs/broker.md "Fenced results").
--
-- worker_key: the CURVE public key (Z85) of the worker the running attempt was dispatched to,
--   written by the dispatch statement with token_sha256. NULL without CURVE and for jobs
--   dispatched before this migration (their orphans are adopted on the secret alone).
ALTER TABLE jobs ADD COLUMN worker_key text;
