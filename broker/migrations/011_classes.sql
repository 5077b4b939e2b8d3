-- 011: classes, publishing courses to them, and which lessons each user has opened.
-- See docs/database.md (migration 011) and docs/api.md section 4.15-4.17.
--
-- classes: a teacher's group of students. join_code: what a student types to join (10
--   characters of an alphabet without look-alikes, made by the frontend from getrandom(2);
--   rotated by the teacher), unique so that a code names one class.
-- class_members: who is enrolled (students only: the frontend checks the role).
-- class_courses: a course published to a class; a course with no row here is a draft, seen
--   by its owner and admins only. A student sees a course when a class it is enrolled in
--   has it. Deleting a class, a user or a course deletes their rows here.
-- lesson_opens: the first and last time a user read a lesson, and how often.
CREATE TABLE classes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    join_code   text NOT NULL UNIQUE CHECK (join_code ~ '^[A-Z2-9]{10}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX classes_owner ON classes (owner_id, created_at);

CREATE TABLE class_members (
    class_id    uuid NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (class_id, user_id)
);
CREATE INDEX class_members_user ON class_members (user_id, class_id);

CREATE TABLE class_courses (
    class_id     uuid NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    course_id    uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (class_id, course_id)
);
CREATE INDEX class_courses_course ON class_courses (course_id, class_id);

CREATE TABLE lesson_opens (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course_id   uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    lesson_id   text NOT NULL,
    first_at    timestamptz NOT NULL DEFAULT now(),
    last_at     timestamptz NOT NULL DEFAULT now(),
    opens       integer NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, course_id, lesson_id)
);

-- Whether a user may see a course (docs/api.md 2): an admin every course, its owner, and a
-- member of a class it is published to. One definition for every statement that filters
-- courses; a single-SELECT SQL function, so PostgreSQL inlines it into them.
CREATE FUNCTION profai_course_visible(course_owner uuid, course uuid, viewer uuid,
                                      viewer_is_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT viewer_is_admin OR course_owner = viewer
        OR EXISTS (SELECT 1 FROM class_courses cc
                   JOIN class_members m ON m.class_id = cc.class_id
                   WHERE cc.course_id = course AND m.user_id = viewer)
$$;
