-- 021: fewer index entries and no subtransaction per job. See docs/database.md (migration
-- 021) and docs/performance.md ("Fewer index entries per job (migration 021)").

-- ---------------------------------------------------------------- job_events
-- Every query reads one job's events in order: (job_id, seq) serves them, and is unique
-- because seq is. The index on seq alone served none of them.
CREATE UNIQUE INDEX job_events_job_seq ON job_events (job_id, seq);
ALTER TABLE job_events DROP CONSTRAINT job_events_pkey;
ALTER TABLE job_events ADD CONSTRAINT job_events_pkey PRIMARY KEY USING INDEX job_events_job_seq;
DROP INDEX job_events_job;

-- ---------------------------------------------------------------- courses_counts
-- The same counts as migration 020's, with the path functions' `silent` argument (no error
-- for any document) instead of an exception block, which starts and ends a subtransaction on
-- every row. A module that is itself an array still takes migration 002's queries, guarded as
-- before.
CREATE OR REPLACE FUNCTION profai_courses_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    types jsonb;
BEGIN
    types := jsonb_path_query_array(NEW.doc, 'lax $.modules[*].type()', '{}', true);
    IF NOT types @> '["array"]' THEN
        NEW.module_count := jsonb_array_length(
            jsonb_path_query_array(types, 'strict $[*] ? (@ == "object")', '{}', true));
        NEW.lesson_count := jsonb_array_length(jsonb_path_query_array(NEW.doc,
            'lax $.modules[*] ? (@.type() == "object").lessons[*].type() ? (@ == "object")',
            '{}', true));
    ELSE
        BEGIN
            NEW.module_count := (SELECT count(*)
                                 FROM jsonb_path_query(NEW.doc, 'lax $.modules[*]') m
                                 WHERE jsonb_typeof(m) = 'object');
            NEW.lesson_count := (SELECT count(*)
                                 FROM jsonb_path_query(NEW.doc, 'lax $.modules[*]') m,
                                      jsonb_path_query(m, 'lax $.lessons[*]') l
                                 WHERE jsonb_typeof(m) = 'object'
                                 AND jsonb_typeof(l) = 'object');
        EXCEPTION WHEN OTHERS THEN
            NEW.module_count := NULL;
            NEW.lesson_count := NULL;
        END;
    END IF;
    RETURN NEW;
END
$$;
