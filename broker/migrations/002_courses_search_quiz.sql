-- 002: full-text search over courses and stored quiz attempts. See docs/database.md and
-- docs/api.md (4.8 - 4.12).
--
-- Search works per lesson: every lesson of a course gets a row in course_lessons with a
-- tsvector of the course title (weight A), its module and lesson titles (B), its key terms (C)
-- and its text (D), and that text for snippets. Lessons bound each vector's size (PostgreSQL refuses a tsvector over
-- 1 MB), tell the API which lesson matched (its snippet comes from that lesson), and keep the
-- broker unchanged: triggers fill everything when the broker inserts a course. The triggers
-- never fail the insert: a document they cannot index is stored unsearchable (and a WARNING
-- goes to the server log), because a failed insert would leave the job without its course.

-- The text search configuration of a course: its "language" (the extractor's ISO 639-1
-- guess) when PostgreSQL has a stemmer for it, else 'simple' (no stemming, no stop words).
CREATE FUNCTION profai_search_config(doc jsonb) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE doc ->> 'language'
        WHEN 'en' THEN 'pg_catalog.english'::regconfig
        WHEN 'fr' THEN 'pg_catalog.french'::regconfig
        WHEN 'de' THEN 'pg_catalog.german'::regconfig
        WHEN 'es' THEN 'pg_catalog.spanish'::regconfig
        ELSE 'pg_catalog.simple'::regconfig
    END
$$;

-- A search string as a tsquery that matches lessons of every configuration above: the
-- websearch_to_tsquery forms (words, "quoted phrases", or, -word) of each configuration, ORed.
CREATE FUNCTION profai_search_query(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT websearch_to_tsquery('pg_catalog.simple', q)
        || websearch_to_tsquery('pg_catalog.english', q)
        || websearch_to_tsquery('pg_catalog.french', q)
        || websearch_to_tsquery('pg_catalog.german', q)
        || websearch_to_tsquery('pg_catalog.spanish', q)
$$;

-- The whole search string as one phrase (its words adjacent, in order), in every
-- configuration: lessons holding the exact phrase rank before the others.
CREATE FUNCTION profai_phrase_query(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT phraseto_tsquery('pg_catalog.simple', q)
        || phraseto_tsquery('pg_catalog.english', q)
        || phraseto_tsquery('pg_catalog.french', q)
        || phraseto_tsquery('pg_catalog.german', q)
        || phraseto_tsquery('pg_catalog.spanish', q)
$$;

-- The words of a search string, normalised by a lesson's configuration, ORed: what a snippet
-- highlights (ts_headline with the AND query of profai_search_query finds no fragment when
-- the words of a match are far apart).
CREATE FUNCTION profai_highlight_query(cfg regconfig, q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(quote_literal(w), ' | '), '')::tsquery
    FROM unnest(tsvector_to_array(to_tsvector(cfg, q))) AS w
$$;

-- Longest lesson text (characters) that is indexed and searched for a snippet. Longer text is
-- cut: its tail is not searchable. 200,000 characters keep any tsvector under 1 MB.
CREATE FUNCTION profai_search_text_max() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 200000 $$;

ALTER TABLE courses
    ADD COLUMN module_count integer,
    ADD COLUMN lesson_count integer;
CREATE INDEX courses_created_id ON courses (created_at DESC, id DESC);

-- One row per lesson. `text` is the (indexed part of the) lesson's text again, so that a
-- search reads the snippet of each result from here instead of detoasting the whole course
-- document (which can be megabytes) per result.
CREATE TABLE course_lessons (
    course_id   uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position    integer NOT NULL,   -- 1-based, reading order across the course
    lesson_id   text,               -- the lesson's "id" ("l<k>"), NULL in older documents
    config      regconfig NOT NULL, -- the course's profai_search_config
    text        text NOT NULL,      -- the first profai_search_text_max() characters
    search      tsvector NOT NULL,
    PRIMARY KEY (course_id, position)
);
CREATE INDEX course_lessons_search ON course_lessons USING gin (search);

-- Index one course's lessons (replacing earlier rows). Never raises.
CREATE FUNCTION profai_index_course(course uuid, title text, doc jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cfg regconfig := profai_search_config(doc);
BEGIN
    DELETE FROM course_lessons WHERE course_id = course;
    INSERT INTO course_lessons (course_id, position, lesson_id, config, text, search)
    SELECT course, x.position, x.lesson_id, cfg, x.text,
           setweight(to_tsvector(cfg, coalesce(title, '')), 'A')
           || setweight(to_tsvector(cfg, x.titles), 'B')
           || setweight(to_tsvector(cfg, x.key_terms), 'C')
           || setweight(to_tsvector(cfg, x.text), 'D')
    FROM (SELECT row_number() OVER (ORDER BY m.idx, l.idx) AS position,
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
          WHERE jsonb_typeof(m.module) = 'object' AND jsonb_typeof(l.lesson) = 'object') AS x;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'course % not indexed for search: %', course, SQLERRM;
END
$$;

CREATE FUNCTION profai_courses_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        NEW.module_count := (SELECT count(*) FROM jsonb_path_query(NEW.doc, 'lax $.modules[*]') m
                             WHERE jsonb_typeof(m) = 'object');
        NEW.lesson_count := (SELECT count(*)
                             FROM jsonb_path_query(NEW.doc, 'lax $.modules[*]') m,
                                  jsonb_path_query(m, 'lax $.lessons[*]') l
                             WHERE jsonb_typeof(m) = 'object' AND jsonb_typeof(l) = 'object');
    EXCEPTION WHEN OTHERS THEN
        NEW.module_count := NULL;
        NEW.lesson_count := NULL;
    END;
    RETURN NEW;
END
$$;

CREATE FUNCTION profai_courses_index() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM profai_index_course(NEW.id, NEW.title, NEW.doc);
    RETURN NULL;
END
$$;

CREATE TRIGGER courses_counts BEFORE INSERT OR UPDATE OF title, doc ON courses
    FOR EACH ROW EXECUTE FUNCTION profai_courses_counts();
CREATE TRIGGER courses_index AFTER INSERT OR UPDATE OF title, doc ON courses
    FOR EACH ROW EXECUTE FUNCTION profai_courses_index();

-- Courses stored before this migration.
UPDATE courses SET doc = doc;

-- One row per submitted quiz attempt; the course's deletion deletes its attempts.
CREATE TABLE quiz_attempts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    course_id   uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    score       integer NOT NULL CHECK (score >= 0),
    total       integer NOT NULL CHECK (total >= score),
    answers     jsonb NOT NULL,     -- as submitted: {"q1": 2, ...}
    results     json NOT NULL,      -- [{"question","lesson","chosen","correct","answer"}] in order
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quiz_attempts_user ON quiz_attempts (user_id, course_id, created_at DESC);
CREATE INDEX quiz_attempts_course ON quiz_attempts (course_id);
