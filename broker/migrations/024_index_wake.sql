-- 024: inserted courses are queued for search indexing without a NOTIFY. See docs/database.md
-- (migration 024) and docs/broker.md ("Search indexing").
--
-- Migration 020's statement trigger sent NOTIFY profai_course_index with every transaction
-- that inserted a course: every job's commit. PostgreSQL (15) signals every listening backend
-- of the database at such a commit, whatever channel it listens on, so every frontend's
-- listener and the broker's indexer woke once per job. The broker whose store commits a course
-- now wakes its own indexer after the commit; the indexer also drains every second, which
-- indexes courses inserted by anyone else.
CREATE OR REPLACE FUNCTION profai_courses_index_new() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO course_index_queue (course_id) SELECT id FROM added ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
