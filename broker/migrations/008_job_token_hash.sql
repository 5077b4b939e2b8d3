-- 008: fenced results (docs/protocol.md 3.1, docs/broker.md "Fenced results").
--
-- token_sha256: lower-case hex SHA-256 of the running attempt's secret, the last part of the
--   job token only that attempt's worker learns. Written at dispatch; a broker that restarts
--   accepts an orphan's PARTIAL or FINAL only with a secret that hashes to it. NULL for jobs
--   dispatched before this migration (their orphans are never adopted: they run again).
ALTER TABLE jobs ADD COLUMN token_sha256 text;
