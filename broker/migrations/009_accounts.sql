-- 009: passwords, browser sessions, invitations and labelled tokens (issue 14). See
-- docs/database.md "Migration 009" and docs/api.md 2.1.
--
-- users.password_hash: libsodium crypto_pwhash_str (Argon2id, salt and cost inside); NULL: no
--   password (the user signs in with tokens only).
-- tokens.label: what a token is for, chosen at creation.
-- sessions: one row per signed-in browser; hash is the SHA-256 of the session id, which only
--   the browser's cookie holds.
-- invitations: one-time links that create a user; hash is the SHA-256 of the token.
ALTER TABLE users ADD COLUMN password_hash text;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;

ALTER TABLE tokens ADD COLUMN label text CHECK (length(label) BETWEEN 1 AND 64);

CREATE TABLE sessions (
    hash          bytea PRIMARY KEY CHECK (length(hash) = 32),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE invitations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hash          bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    role          text NOT NULL CHECK (role IN ('teacher', 'student', 'admin')),
    created_by    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    accepted_by   uuid REFERENCES users (id) ON DELETE SET NULL
);

-- A session that ends early is announced like a revoked token (frontend/auth_listen.c).
CREATE FUNCTION profai_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('profai_token_revoked', encode(OLD.hash, 'hex'));
        RETURN OLD;
    END IF;
    IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
       OR NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        PERFORM pg_notify('profai_token_revoked', encode(OLD.hash, 'hex'));
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER sessions_notify AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION profai_session_changed();

-- A user's role, name or password change reaches cached tokens and sessions.
CREATE OR REPLACE FUNCTION profai_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role IS DISTINCT FROM OLD.role OR NEW.name IS DISTINCT FROM OLD.name
       OR NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        PERFORM pg_notify('profai_token_revoked', encode(t.hash, 'hex'))
            FROM tokens t WHERE t.user_id = NEW.id;
        PERFORM pg_notify('profai_token_revoked', encode(s.hash, 'hex'))
            FROM sessions s WHERE s.user_id = NEW.id AND s.revoked_at IS NULL;
    END IF;
    RETURN NEW;
END $$;
