-- 017: a course is indexed for search after the transaction that inserts it, not inside it.
-- See docs/database.md (migration 017) and docs/performance.md ("Search indexing off the job's
-- commit").
--
-- Migration 002 indexed every inserted course (profai_index_course) in an AFTER trigger, so
-- inside the broker's result statement: 13 % of the broker's PostgreSQL backend under the
-- throughput benchmark, on the one connection that commits every job. Now the insert only
-- queues the course's id here and notifies; the broker's search indexer (a connection of its
-- own, broker/search_indexer.c) drains the queue with profai_index_pending. UPDATEs of a
-- course's title or document (curation, regeneration: rare, and answered to a person who
-- searches next) are still indexed in their own transaction, as before.
--
-- No foreign key: the check would cost the insert what this saves, and a course deleted
-- before it is indexed is simply skipped by the drain.
CREATE TABLE course_index_queue (
    course_id  uuid PRIMARY KEY,
    queued_at  timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION profai_courses_index() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO course_index_queue (course_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
        -- Identical notifications of one transaction are delivered once.
        PERFORM pg_notify('profai_course_index', '');
    ELSE
        -- Off the queue first: this waits for a drain indexing the course right now, whose
        -- rows the indexing below then replaces.
        DELETE FROM course_index_queue WHERE course_id = NEW.id;
        PERFORM profai_index_course(NEW.id, NEW.title, NEW.doc);
    END IF;
    RETURN NULL;
END
$$;

-- Index up to max_courses queued courses, oldest first, and take them off the queue; returns
-- how many were taken (max_courses: there may be more). Concurrent callers skip each other's
-- rows. A course deleted meanwhile is dropped; profai_index_course never raises.
CREATE FUNCTION profai_index_pending(max_courses integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    taken integer := 0;
    q record;
BEGIN
    FOR q IN SELECT i.course_id, c.title, c.doc
             FROM (SELECT course_id, queued_at FROM course_index_queue
                   ORDER BY queued_at LIMIT max_courses FOR UPDATE SKIP LOCKED) i
             LEFT JOIN courses c ON c.id = i.course_id
    LOOP
        IF q.doc IS NOT NULL THEN
            PERFORM profai_index_course(q.course_id, q.title, q.doc);
        END IF;
        DELETE FROM course_index_queue WHERE course_id = q.course_id;
        taken := taken + 1;
    END LOOP;
    RETURN taken;
END
$$;

-- The drain's order.
CREATE INDEX course_index_queue_at ON course_index_queue (queued_at);
