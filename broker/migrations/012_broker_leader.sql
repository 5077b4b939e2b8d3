-- 012: the fencing epoch of the leading broker (docs/database.md, "Migration 012";
-- docs/broker.md, "Standby broker").
--
-- One row. A broker that takes over the leadership (it got the advisory lock on its lock
-- session) increments epoch in the same statement that takes the lock, and from then on
-- every transaction it commits begins with profai_fence(its epoch): the function locks the
-- row FOR SHARE and raises SQLSTATE PF001 when the epoch is no longer the caller's. The
-- share lock makes the next take-over's UPDATE wait for a transaction of the old leader
-- already past its fence, so once the new epoch is committed nothing of the old leader can
-- commit any more.
CREATE TABLE broker_leader (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    epoch bigint NOT NULL DEFAULT 0,
    leader text,
    since timestamptz
);
INSERT INTO broker_leader (one, epoch) VALUES (true, 0);

CREATE FUNCTION profai_fence(expected bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM broker_leader WHERE one AND epoch = expected FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'broker epoch % is not the current one: another broker leads', expected
            USING ERRCODE = 'PF001';
    END IF;
END
$$;
