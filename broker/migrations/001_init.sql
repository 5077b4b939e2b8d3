-- 001: users, tokens, stored PDFs, jobs and courses. See docs/database.md.
CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    role        text NOT NULL CHECK (role IN ('teacher', 'student', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    hash        bytea PRIMARY KEY,                 -- SHA-256 of the bearer token
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE blobs (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL CHECK (size > 0),
    data        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL REFERENCES users (id),
    title        text NOT NULL,
    filename     text NOT NULL,
    blob_sha256  text NOT NULL REFERENCES blobs (sha256),
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts     integer NOT NULL DEFAULT 0,
    progress     smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    stage        text NOT NULL DEFAULT 'queued',
    worker       text,
    error_code   text,
    error        text,
    course_id    uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_owner ON jobs (owner_id, created_at DESC);

CREATE TABLE courses (
    id          uuid PRIMARY KEY,
    job_id      uuid NOT NULL UNIQUE REFERENCES jobs (id),
    owner_id    uuid NOT NULL REFERENCES users (id),
    title       text NOT NULL,
    doc         jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX courses_created ON courses (created_at DESC);
