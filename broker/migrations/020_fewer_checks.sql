-- 020: fewer checks per job on the broker's store connection. See docs/database.md
-- (migration 020) and docs/performance.md ("Fewer checks per job in the store").
--
-- The same rules as the foreign keys they replace, checked once per statement over its rows
-- (transition tables) instead of one SPI query per row, or not at all where the broker's own
-- statement guarantees them.

-- ---------------------------------------------------------------- job_events -> jobs
-- Every job_events row comes from the statement that inserts or updates its job, from that
-- job's RETURNING row (migration 006): the job exists and is locked. Deleting jobs still
-- deletes their events (was ON DELETE CASCADE), and refuses while a course refers to one of
-- them (was courses.job_id's NO ACTION, checked at the statement's end like this trigger: a
-- statement that deletes the course too, as the account deletion does, passes).
ALTER TABLE job_events DROP CONSTRAINT job_events_job_id_fkey;
ALTER TABLE courses DROP CONSTRAINT courses_job_id_fkey;
ALTER TABLE courses DROP CONSTRAINT courses_owner_id_fkey;

CREATE FUNCTION profai_jobs_gone() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    used uuid;
BEGIN
    SELECT g.id INTO used FROM gone g JOIN courses c ON c.job_id = g.id LIMIT 1;
    IF used IS NOT NULL THEN
        RAISE EXCEPTION 'job % is still referenced from table "courses"', used
            USING ERRCODE = 'foreign_key_violation', TABLE = 'jobs';
    END IF;
    DELETE FROM job_events e USING gone g WHERE e.job_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_gone AFTER DELETE ON jobs REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION profai_jobs_gone();

-- Ids never change (nothing updates them); refused as NO ACTION did while referenced.
CREATE FUNCTION profai_jobs_id_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM job_events WHERE job_id = OLD.id)
       OR EXISTS (SELECT 1 FROM courses WHERE job_id = OLD.id) THEN
        RAISE EXCEPTION 'job % is still referenced', OLD.id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'jobs';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER jobs_id_fixed BEFORE UPDATE OF id ON jobs
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION profai_jobs_id_fixed();

-- ---------------------------------------------------------------- courses -> jobs, users
-- An inserted course's job and owner exist, locked FOR KEY SHARE as the foreign keys locked
-- them (a concurrent deletion waits, then fails in jobs_gone / users_gone).
CREATE FUNCTION profai_courses_refs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    ok bigint;
    bad record;
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        PERFORM 1 FROM jobs j, users u WHERE j.id = NEW.job_id AND u.id = NEW.owner_id
            FOR KEY SHARE OF j, u;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'course % refers to a missing job % or owner %', NEW.id,
                NEW.job_id, NEW.owner_id
                USING ERRCODE = 'foreign_key_violation', TABLE = 'courses';
        END IF;
        RETURN NULL;
    END IF;
    SELECT count(*) INTO n FROM added;
    -- Lateral lookups, locked inside: always a nested loop over the primary keys, whatever
    -- the statistics of a young table make of a join (a hash of all jobs per statement).
    PERFORM 1 FROM added a,
        LATERAL (SELECT 1 FROM jobs j WHERE j.id = a.job_id FOR KEY SHARE) jj,
        LATERAL (SELECT 1 FROM users u WHERE u.id = a.owner_id FOR KEY SHARE) uu;
    GET DIAGNOSTICS ok = ROW_COUNT;
    IF ok <> n THEN
        SELECT a.id, a.job_id, a.owner_id INTO bad FROM added a
        WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = a.job_id)
           OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.owner_id) LIMIT 1;
        RAISE EXCEPTION 'course % refers to a missing job % or owner %', bad.id, bad.job_id,
            bad.owner_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'courses';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER courses_refs AFTER INSERT ON courses REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION profai_courses_refs();
CREATE TRIGGER courses_refs_update AFTER UPDATE OF job_id, owner_id ON courses
    FOR EACH ROW WHEN (OLD.job_id IS DISTINCT FROM NEW.job_id
                       OR OLD.owner_id IS DISTINCT FROM NEW.owner_id)
    EXECUTE FUNCTION profai_courses_refs();

-- A user who owns a course stays (was courses.owner_id's NO ACTION; jobs.owner_id keeps its
-- foreign key).
CREATE FUNCTION profai_users_gone() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    used uuid;
BEGIN
    SELECT g.id INTO used FROM gone g JOIN courses c ON c.owner_id = g.id LIMIT 1;
    IF used IS NOT NULL THEN
        RAISE EXCEPTION 'user % is still referenced from table "courses"', used
            USING ERRCODE = 'foreign_key_violation', TABLE = 'users';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_gone AFTER DELETE ON users REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION profai_users_gone();

CREATE FUNCTION profai_users_id_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM courses WHERE owner_id = OLD.id) THEN
        RAISE EXCEPTION 'user % is still referenced from table "courses"', OLD.id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'users';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_id_fixed BEFORE UPDATE OF id ON users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION profai_users_id_fixed();

-- The course index for courses.job_id's lookups from jobs_gone stays: courses_job_id_key.

-- ---------------------------------------------------------------- course triggers
-- Inserted courses are queued for search indexing once per statement (migration 017's row
-- trigger did it per row); UPDATE OF title, doc keeps the row trigger, which indexes at once.
CREATE FUNCTION profai_courses_index_new() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO course_index_queue (course_id) SELECT id FROM added ON CONFLICT DO NOTHING;
    IF FOUND THEN
        PERFORM pg_notify('profai_course_index', '');
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER courses_index ON courses;
CREATE TRIGGER courses_index_new AFTER INSERT ON courses REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION profai_courses_index_new();
CREATE TRIGGER courses_index AFTER UPDATE OF title, doc ON courses
    FOR EACH ROW EXECUTE FUNCTION profai_courses_index();

-- A course inserted for a regeneration job lands on the course it rebuilds (migration 016):
-- one join per statement.
CREATE FUNCTION profai_courses_regenerated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT a.id, a.job_id, a.doc, g.course_id
             FROM added a JOIN course_regenerations g ON g.job_id = a.job_id
             WHERE g.course_id <> a.id
    LOOP
        PERFORM profai_course_regeneration_land(r.id, r.job_id, r.doc, r.course_id);
    END LOOP;
    RETURN NULL;
END
$$;
DROP TRIGGER courses_regenerate ON courses;
DROP FUNCTION profai_course_regenerated();
CREATE TRIGGER courses_regenerate AFTER INSERT ON courses REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION profai_courses_regenerated();

-- The counts as plain expressions, which plpgsql evaluates without a query of its own: the
-- same counts as migration 002's (objects among lax $.modules[*], and objects among the
-- lax .lessons[*] of those). Only a module that is itself an array (which a lax filter would
-- unwrap) takes migration 002's queries.
CREATE OR REPLACE FUNCTION profai_courses_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    types jsonb;
BEGIN
    BEGIN
        types := jsonb_path_query_array(NEW.doc, 'lax $.modules[*].type()');
        IF NOT types @> '["array"]' THEN
            NEW.module_count := jsonb_array_length(
                jsonb_path_query_array(types, 'strict $[*] ? (@ == "object")'));
            NEW.lesson_count := jsonb_array_length(jsonb_path_query_array(NEW.doc,
                'lax $.modules[*] ? (@.type() == "object").lessons[*].type() ? (@ == "object")'));
        ELSE
            NEW.module_count := (SELECT count(*)
                                 FROM jsonb_path_query(NEW.doc, 'lax $.modules[*]') m
                                 WHERE jsonb_typeof(m) = 'object');
            NEW.lesson_count := (SELECT count(*)
                                 FROM jsonb_path_query(NEW.doc, 'lax $.modules[*]') m,
                                      jsonb_path_query(m, 'lax $.lessons[*]') l
                                 WHERE jsonb_typeof(m) = 'object'
                                 AND jsonb_typeof(l) = 'object');
        END IF;
    EXCEPTION WHEN OTHERS THEN
        NEW.module_count := NULL;
        NEW.lesson_count := NULL;
    END;
    RETURN NEW;
END
$$;

-- ---------------------------------------------------------------- indexes
-- courses_created_id (created_at DESC, id DESC) serves every query this one served.
DROP INDEX courses_created;
