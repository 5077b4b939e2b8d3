-- 022: a drain of the search index queue indexes its courses in one statement. See
-- docs/database.md (migration 022) and docs/performance.md ("Indexing a drain's courses as a
-- set (migration 022)").
--
-- profai_index_pending (migration 017) looped over its batch and called profai_index_course
-- per course: a cursor fetch, a DELETE, an INSERT with its window aggregate and a queue DELETE
-- per course, each started and ended as a statement of its own. That per-statement work, not
-- the text search, was most of the indexer's backend.

-- The course_lessons rows of one course, as migration 002 computes them. Both indexing paths
-- use this, so a course indexed in a drain and one indexed on its UPDATE cannot differ.
CREATE FUNCTION profai_course_lessons(title text, doc jsonb)
RETURNS TABLE (pos bigint, lesson_id text, config regconfig, text text, search tsvector)
LANGUAGE sql STABLE AS $$
    SELECT x.position, x.lesson_id, x.cfg, x.text,
           setweight(to_tsvector(x.cfg, coalesce(title, '')), 'A')
           || setweight(to_tsvector(x.cfg, x.titles), 'B')
           || setweight(to_tsvector(x.cfg, x.key_terms), 'C')
           || setweight(to_tsvector(x.cfg, x.text), 'D')
    FROM (SELECT profai_search_config(doc) AS cfg,
                 row_number() OVER (ORDER BY m.idx, l.idx) AS position,
                 CASE WHEN jsonb_typeof(l.lesson -> 'id') = 'string'
                      THEN l.lesson ->> 'id' END AS lesson_id,
                 coalesce(m.module ->> 'title', '') || ' ' || coalesce(l.lesson ->> 'title', '')
                     AS titles,
                 coalesce((SELECT string_agg(t #>> '{}', ' ')
                           FROM jsonb_path_query(l.lesson, 'lax $.key_terms[*]') AS t
                           WHERE jsonb_typeof(t) = 'string'), '') AS key_terms,
                 CASE WHEN jsonb_typeof(l.lesson -> 'text') = 'string'
                      THEN left(l.lesson ->> 'text', profai_search_text_max())
                      ELSE '' END AS text
          FROM jsonb_path_query(doc, 'lax $.modules[*]') WITH ORDINALITY AS m (module, idx),
               jsonb_path_query(m.module, 'lax $.lessons[*]') WITH ORDINALITY AS l (lesson, idx)
          WHERE jsonb_typeof(m.module) = 'object' AND jsonb_typeof(l.lesson) = 'object') AS x
$$;

-- Index one course's lessons (replacing earlier rows). Never raises.
CREATE OR REPLACE FUNCTION profai_index_course(course uuid, title text, doc jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM course_lessons WHERE course_id = course;
    INSERT INTO course_lessons (course_id, position, lesson_id, config, text, search)
    SELECT course, l.pos, l.lesson_id, l.config, l.text, l.search
    FROM profai_course_lessons(title, doc) AS l;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'course % not indexed for search: %', course, SQLERRM;
END
$$;

-- Index up to max_courses queued courses, oldest first, and take them off the queue; returns
-- how many were taken (max_courses: there may be more). Concurrent callers skip each other's
-- rows. A course deleted meanwhile is dropped. Never raises for a course it cannot index: the
-- batch is then indexed course by course, and that course stored unsearchable.
--
-- No sequential scans: the statistics of the queue (which empties and fills) and of
-- course_lessons (which grows between analyses) are stale by nature, and the session's
-- generic plans made from them scanned the whole table per drain (a DELETE of course_lessons
-- as a hash join over a sequential scan of it) where the drain looks up at most max_courses
-- rows by key.
CREATE OR REPLACE FUNCTION profai_index_pending(max_courses integer) RETURNS integer
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    ids uuid[];
    rows tid[];
    c record;
BEGIN
    -- The queue's rows by address (a TID scan), the courses and their lessons by key.
    SELECT array_agg(q.course_id), array_agg(q.ctid) INTO ids, rows
    FROM (SELECT course_id, ctid FROM course_index_queue
          ORDER BY queued_at LIMIT max_courses FOR UPDATE SKIP LOCKED) q;
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM course_index_queue WHERE ctid = ANY (rows);
    BEGIN
        DELETE FROM course_lessons s USING unnest(ids) AS u (id) WHERE s.course_id = u.id;
        INSERT INTO course_lessons (course_id, position, lesson_id, config, text, search)
        SELECT k.id, l.pos, l.lesson_id, l.config, l.text, l.search
        FROM unnest(ids) AS u (id) JOIN courses k ON k.id = u.id,
             profai_course_lessons(k.title, k.doc) AS l;
    EXCEPTION WHEN OTHERS THEN
        FOR c IN SELECT k.id, k.title, k.doc
                 FROM unnest(ids) AS u (id) JOIN courses k ON k.id = u.id LOOP
            PERFORM profai_index_course(c.id, c.title, c.doc);
        END LOOP;
    END;
    RETURN cardinality(ids);
END
$$;
