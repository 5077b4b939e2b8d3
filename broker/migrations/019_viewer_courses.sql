-- 019: the courses a viewer sees, as a set. See docs/database.md (migration 019).
--
-- profai_viewer_course_ids(viewer): the courses a viewer who is not an admin sees: its own
--   and those published to a class it is a member of; the same rule as
--   profai_course_visible (migration 011) with viewer_is_admin false, as a set, so that a
--   statement wanting a viewer's courses (a student's search) starts from them instead of
--   testing every course. A single-SELECT SQL function returning a table, which PostgreSQL
--   inlines into the statement calling it (the predicate, whose body has a sublink, is not
--   inlined and is planned on every call: defining it through this set doubled its cost per
--   call, so it stays as it is). tests/system/test_classes.py and test_search_visibility.py
--   check that the two agree.
CREATE FUNCTION profai_viewer_course_ids(viewer uuid)
RETURNS TABLE (course_id uuid) LANGUAGE sql STABLE AS $$
    SELECT c.id FROM courses c WHERE c.owner_id = viewer
    UNION
    SELECT cc.course_id FROM class_members m JOIN class_courses cc ON cc.class_id = m.class_id
    WHERE m.user_id = viewer
$$;
