-- 016: curation: a course's edits kept beside its generated document, its revision, and
-- regeneration from the stored PDF. See docs/database.md (migration 016) and docs/api.md 4.26.
ALTER TABLE courses
    ADD COLUMN revision bigint NOT NULL DEFAULT 0,
    ADD COLUMN questions_per_attempt integer CHECK (questions_per_attempt BETWEEN 1 AND 1000);

CREATE TABLE course_edits (
    id          bigserial PRIMARY KEY,
    course_id   uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('course_title', 'module_title', 'lesson_title',
                                              'lesson_delete', 'question_add', 'question_edit',
                                              'question_delete')),
    target      text NOT NULL,
    value       jsonb,
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX course_edits_course ON course_edits (course_id, id);

-- course_id has no foreign key: a course deleted while its regeneration runs must still be
-- found here, so that the regenerated document is discarded rather than stored as a new course.
CREATE TABLE course_regenerations (
    job_id       uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    course_id    uuid NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX course_regenerations_course ON course_regenerations (course_id);

-- The length of a JSON array, 0 for anything else.
CREATE FUNCTION profai_jsonb_len(a jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(a) WHEN 'array' THEN jsonb_array_length(a) ELSE 0 END
$$;

-- doc with the edits of course applied in order; edits whose target is gone are listed in
-- "edits_not_applied".
CREATE FUNCTION profai_course_apply(course uuid, doc jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e record;
    dropped jsonb := '[]';
    hit boolean;
    i integer;
    k integer;
BEGIN
    IF jsonb_typeof(doc) IS DISTINCT FROM 'object' THEN
        RETURN doc;
    END IF;
    FOR e IN SELECT id, kind, target, value FROM course_edits
             WHERE course_id = course ORDER BY id LOOP
        hit := false;
        IF e.kind = 'course_title' THEN
            doc := jsonb_set(doc, '{title}', e.value -> 'title');
            hit := true;
        ELSIF e.kind = 'module_title' THEN
            FOR i IN 0 .. profai_jsonb_len(doc -> 'modules') - 1 LOOP
                IF doc -> 'modules' -> i ->> 'id' = e.target THEN
                    doc := jsonb_set(doc, ARRAY['modules', i::text, 'title'], e.value -> 'title');
                    hit := true;
                END IF;
            END LOOP;
        ELSIF e.kind IN ('lesson_title', 'lesson_delete') THEN
            <<modules>>
            FOR i IN 0 .. profai_jsonb_len(doc -> 'modules') - 1 LOOP
                FOR k IN 0 .. profai_jsonb_len(doc -> 'modules' -> i -> 'lessons') - 1 LOOP
                    IF doc -> 'modules' -> i -> 'lessons' -> k ->> 'id' = e.target THEN
                        IF e.kind = 'lesson_title' THEN
                            doc := jsonb_set(doc, ARRAY['modules', i::text, 'lessons', k::text,
                                                        'title'], e.value -> 'title');
                        ELSE
                            doc := doc #- ARRAY['modules', i::text, 'lessons', k::text];
                        END IF;
                        hit := true;
                        EXIT modules;
                    END IF;
                END LOOP;
            END LOOP;
            IF hit AND e.kind = 'lesson_delete' AND jsonb_typeof(doc -> 'quiz') = 'array' THEN
                doc := jsonb_set(doc, '{quiz}', coalesce(
                    (SELECT jsonb_agg(q ORDER BY n) FROM jsonb_array_elements(doc -> 'quiz')
                         WITH ORDINALITY AS x (q, n)
                     WHERE q ->> 'lesson' IS DISTINCT FROM e.target), '[]'));
            END IF;
        ELSIF e.kind IN ('question_edit', 'question_delete') THEN
            FOR i IN 0 .. profai_jsonb_len(doc -> 'quiz') - 1 LOOP
                IF doc -> 'quiz' -> i ->> 'id' = e.target THEN
                    IF e.kind = 'question_edit' THEN
                        doc := jsonb_set(doc, ARRAY['quiz', i::text],
                                         (doc -> 'quiz' -> i) || e.value);
                    ELSE
                        doc := doc #- ARRAY['quiz', i::text];
                    END IF;
                    hit := true;
                    EXIT;
                END IF;
            END LOOP;
        ELSIF e.kind = 'question_add' THEN
            IF jsonb_path_exists(doc, '$.modules[*].lessons[*] ? (@.id == $l)',
                                 jsonb_build_object('l', e.value -> 'lesson')) THEN
                doc := jsonb_set(doc, '{quiz}', CASE jsonb_typeof(doc -> 'quiz')
                    WHEN 'array' THEN doc -> 'quiz' ELSE '[]' END || jsonb_build_array(e.value));
                hit := true;
            END IF;
        END IF;
        IF NOT hit THEN
            dropped := dropped || jsonb_build_array(jsonb_build_object(
                'edit', e.id, 'kind', e.kind, 'target', e.target));
        END IF;
    END LOOP;
    IF jsonb_array_length(dropped) > 0 THEN
        doc := doc || jsonb_build_object('edits_not_applied', dropped);
    END IF;
    RETURN doc;
END
$$;

-- Record one edit of course (owner NULL: any owner, an admin's edit) after checking that its
-- target exists in the edited document. r_revision NULL: no such course of this owner; -1: no
-- such target (module, lesson or question; for question_add the lesson in value). r_target:
-- the target (for question_add the new question's id, e<edit id>).
CREATE FUNCTION profai_course_edit(course uuid, owner uuid, editor uuid, k text, t text,
                                   v jsonb, OUT r_revision bigint, OUT r_target text)
LANGUAGE plpgsql AS $$
DECLARE
    d jsonb;
    eid bigint;
    found_target boolean;
BEGIN
    r_target := t;
    SELECT profai_course_apply(c.id, c.doc) INTO d FROM courses c
    WHERE c.id = course AND (owner IS NULL OR c.owner_id = owner) FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    found_target := CASE
        WHEN k = 'course_title' THEN true
        WHEN k = 'module_title' THEN
            jsonb_path_exists(d, '$.modules[*] ? (@.id == $t)', jsonb_build_object('t', t))
        WHEN k IN ('lesson_title', 'lesson_delete') THEN
            jsonb_path_exists(d, '$.modules[*].lessons[*] ? (@.id == $t)',
                              jsonb_build_object('t', t))
        WHEN k IN ('question_edit', 'question_delete') THEN
            jsonb_path_exists(d, '$.quiz[*] ? (@.id == $t)', jsonb_build_object('t', t))
        WHEN k = 'question_add' THEN
            jsonb_path_exists(d, '$.modules[*].lessons[*] ? (@.id == $t)',
                              jsonb_build_object('t', v -> 'lesson'))
        ELSE false END;
    IF NOT found_target THEN
        r_revision := -1;
        RETURN;
    END IF;
    IF k IN ('course_title', 'module_title', 'lesson_title') THEN
        DELETE FROM course_edits e WHERE e.course_id = course AND e.kind = k AND e.target = t;
    END IF;
    eid := nextval(pg_get_serial_sequence('course_edits', 'id'));
    IF k = 'question_add' THEN
        r_target := 'e' || eid;
        v := v || jsonb_build_object('id', r_target);
    END IF;
    INSERT INTO course_edits (id, course_id, kind, target, value, user_id)
    VALUES (eid, course, k, r_target, v, editor);
    UPDATE courses c SET revision = c.revision + 1,
                         title = CASE WHEN k = 'course_title' THEN v ->> 'title' ELSE c.title END
    WHERE c.id = course RETURNING c.revision INTO r_revision;
END
$$;

-- The regenerated document p_doc (of job p_job, stored as course p_new) replaces the generated
-- part of course p_target (docs/database.md, migration 016): the row p_new goes, p_target takes
-- its document and job (revision + 1), the job names p_target. A p_target deleted meanwhile
-- is not recreated: the document is discarded.
CREATE FUNCTION profai_course_regeneration_land(p_new uuid, p_job uuid, p_doc jsonb,
                                                p_target uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM courses WHERE id = p_new;
    UPDATE courses SET doc = p_doc, job_id = p_job, revision = revision + 1 WHERE id = p_target;
    UPDATE jobs SET course_id = p_target WHERE id = p_job;
    DELETE FROM course_regenerations WHERE job_id = p_job;
END
$$;

-- A course inserted for a regeneration job lands on the course it rebuilds.
CREATE FUNCTION profai_course_regenerated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    target uuid;
BEGIN
    SELECT r.course_id INTO target FROM course_regenerations r
    WHERE r.job_id = NEW.job_id AND r.course_id <> NEW.id;
    IF target IS NOT NULL THEN
        PERFORM profai_course_regeneration_land(NEW.id, NEW.job_id, NEW.doc, target);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER courses_regenerate AFTER INSERT ON courses
    FOR EACH ROW EXECUTE FUNCTION profai_course_regenerated();

-- Note that p_job rebuilds p_course (the frontend, right after the broker accepted the job).
-- The job's row is locked first, so the broker's success statement (which updates it) runs
-- wholly before or wholly after: when it ran before, the job's course is already stored as a
-- course of its own, and lands here.
CREATE FUNCTION profai_course_regeneration_add(p_job uuid, p_course uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    stray record;
BEGIN
    PERFORM 1 FROM jobs WHERE id = p_job FOR UPDATE;
    INSERT INTO course_regenerations (job_id, course_id) VALUES (p_job, p_course)
    ON CONFLICT DO NOTHING;
    SELECT id, doc INTO stray FROM courses WHERE job_id = p_job AND id <> p_course;
    IF FOUND THEN
        PERFORM profai_course_regeneration_land(stray.id, p_job, stray.doc, p_course);
    END IF;
END
$$;
