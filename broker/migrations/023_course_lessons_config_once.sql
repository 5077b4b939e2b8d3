-- 023: profai_course_lessons (migration 022) computes the course's text search configuration
-- once per course, as migration 002's profai_index_course did. See docs/database.md
-- (migration 023).
--
-- Migration 022 computed profai_search_config(doc) in the per-lesson subquery, so once per
-- lesson, and each call reads the whole document: quadratic in the course's size (a 2,000-page
-- course of 667 lessons took 9.2 s to index instead of 1.2 s). A materialized CTE is
-- evaluated once; a plain subquery in FROM would be pulled up into the per-lesson rows.
CREATE OR REPLACE FUNCTION profai_course_lessons(title text, doc jsonb)
RETURNS TABLE (pos bigint, lesson_id text, config regconfig, text text, search tsvector)
LANGUAGE sql STABLE AS $$
    WITH c AS MATERIALIZED (SELECT profai_search_config(doc) AS cfg)
    SELECT x.position, x.lesson_id, c.cfg, x.text,
           setweight(to_tsvector(c.cfg, coalesce(title, '')), 'A')
           || setweight(to_tsvector(c.cfg, x.titles), 'B')
           || setweight(to_tsvector(c.cfg, x.key_terms), 'C')
           || setweight(to_tsvector(c.cfg, x.text), 'D')
    FROM c,
         (SELECT row_number() OVER (ORDER BY m.idx, l.idx) AS position,
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
