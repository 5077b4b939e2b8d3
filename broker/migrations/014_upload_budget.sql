-- 014: upload budgets that hold across every frontend (docs/api.md 3.1, docs/security.md).
--
-- rate_buckets: one token bucket per key ('upload:' || user id): tokens left at `at`. Every
--   frontend takes an upload's token here, so N frontends allow one budget, not N. One row per
--   user who ever uploaded (a full bucket is the same as a missing row).
-- rate_take(key, rate_per_min, burst): refill the key's bucket to now (the database's clock,
--   the same for every frontend) and take one token if there is one. The row is locked for
--   the update, so concurrent uploads of one user on several frontends are counted one by
--   one. allowed; remaining: whole tokens left; retry_after_s: seconds until one is back
--   (0 when allowed).
CREATE TABLE rate_buckets (
    key     text PRIMARY KEY,
    tokens  double precision NOT NULL,
    at      timestamptz NOT NULL
);

CREATE FUNCTION rate_take(k text, rate_per_min double precision, burst double precision,
                          OUT allowed boolean, OUT remaining integer, OUT retry_after_s integer)
LANGUAGE plpgsql AS $$
DECLARE
    t double precision;
    last timestamptz;
    now_ts timestamptz;
BEGIN
    INSERT INTO rate_buckets (key, tokens, at) VALUES (k, burst, clock_timestamp())
        ON CONFLICT (key) DO NOTHING;
    SELECT b.tokens, b.at INTO t, last FROM rate_buckets b WHERE b.key = k FOR UPDATE;
    -- Read the clock once the row is ours: a concurrent taker's `at` is never in our future.
    now_ts := clock_timestamp();
    t := LEAST(burst, t + GREATEST(0, extract(epoch FROM now_ts - last)) * rate_per_min / 60);
    allowed := t >= 1;
    IF allowed THEN
        t := t - 1;
    END IF;
    UPDATE rate_buckets SET tokens = t, at = now_ts WHERE key = k;
    remaining := floor(t)::integer;
    retry_after_s := CASE WHEN allowed THEN 0
                          ELSE GREATEST(1, ceil((1 - t) * 60 / rate_per_min))::integer END;
END $$;
