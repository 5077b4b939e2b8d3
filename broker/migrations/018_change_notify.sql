-- 018: change notifications for the frontends' caches of course revisions, visibility answers
-- and class sets. See docs/database.md (migration 018) and docs/api.md 1.1 and 4.26.
--
-- profai_course_changed (payload: the course id): a course's revision, owner or job changed,
--   it was deleted, or it was withdrawn from a class. Publishing notifies nothing: no "no" is
--   cached (a search lists a newly published course within cache/search_ttl, as before).
-- profai_class_changed (payload: the user id, '' for every user): a user joined or left a
--   class. NOTIFY is delivered at commit; identical ones of a transaction once.
-- A course row deleted, or changed in what the frontends cache (courses_notify_update's WHEN).
CREATE FUNCTION profai_course_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('profai_course_changed', OLD.id::text);
    RETURN NULL;
END
$$;

-- A course withdrawn from a class (or its row moved).
CREATE FUNCTION profai_class_course_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('profai_course_changed', OLD.course_id::text);
    IF TG_OP = 'UPDATE' AND NEW.course_id IS DISTINCT FROM OLD.course_id THEN
        PERFORM pg_notify('profai_course_changed', NEW.course_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER courses_notify AFTER DELETE ON courses
    FOR EACH ROW EXECUTE FUNCTION profai_course_changed();
CREATE TRIGGER courses_notify_update AFTER UPDATE ON courses
    FOR EACH ROW
    WHEN (OLD.revision IS DISTINCT FROM NEW.revision OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
          OR OLD.job_id IS DISTINCT FROM NEW.job_id)
    EXECUTE FUNCTION profai_course_changed();
CREATE TRIGGER class_courses_notify AFTER UPDATE OR DELETE ON class_courses
    FOR EACH ROW EXECUTE FUNCTION profai_class_course_changed();

CREATE FUNCTION profai_class_member_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('profai_class_changed', OLD.user_id::text);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('profai_class_changed', NEW.user_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER class_members_notify AFTER INSERT OR UPDATE OR DELETE ON class_members
    FOR EACH ROW EXECUTE FUNCTION profai_class_member_changed();
