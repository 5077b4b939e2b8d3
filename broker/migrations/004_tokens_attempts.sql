-- 004: token expiry and revocation by id, revocations announced to every frontend, and a
-- numbered, limited sequence of quiz attempts per student and course. See docs/database.md.
--
-- tokens.id: a public handle for one token (profaictl token list / token revoke --id); the
--   token itself is never stored, only its SHA-256 (hash).
-- tokens.expires_at: the token is refused from this time on (NULL: never expires).
-- The trigger NOTIFYs channel profai_token_revoked with the hex SHA-256 of every token whose
--   row is revoked, expired early, or deleted (a user's deletion deletes its tokens), whatever
--   statement did it; NOTIFY is delivered at commit, so every frontend listening evicts the
--   token from its cache as soon as the change is visible.
ALTER TABLE tokens ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE tokens ADD CONSTRAINT tokens_id_key UNIQUE (id);
ALTER TABLE tokens ADD COLUMN expires_at timestamptz;

CREATE FUNCTION profai_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('profai_token_revoked', encode(OLD.hash, 'hex'));
        RETURN OLD;
    END IF;
    IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
       OR NEW.expires_at IS DISTINCT FROM OLD.expires_at
       OR NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        PERFORM pg_notify('profai_token_revoked', encode(OLD.hash, 'hex'));
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tokens_notify AFTER UPDATE OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION profai_token_changed();

-- A user's role change must reach cached tokens too.
CREATE FUNCTION profai_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role IS DISTINCT FROM OLD.role OR NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM pg_notify('profai_token_revoked', encode(t.hash, 'hex'))
            FROM tokens t WHERE t.user_id = NEW.id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER users_notify AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION profai_user_changed();

-- quiz_attempts.number: 1 for a user's first attempt at a course, 2 for the next...; unique
-- per (course, user), so two attempts sent at once cannot both pass the attempt limit
-- (quiz/max_attempts of the frontend).
ALTER TABLE quiz_attempts ADD COLUMN number integer;
UPDATE quiz_attempts q SET number = r.n
    FROM (SELECT id, row_number() OVER (PARTITION BY course_id, user_id
                                        ORDER BY created_at, id) AS n FROM quiz_attempts) r
    WHERE q.id = r.id;
ALTER TABLE quiz_attempts ALTER COLUMN number SET NOT NULL;
ALTER TABLE quiz_attempts ADD CONSTRAINT quiz_attempts_number UNIQUE (course_id, user_id, number);
