-- 015: a quiz attempt's scope (docs/api.md 4.10). An attempt is at one lesson's quiz (lesson:
-- its id) or at the whole course's (lesson NULL); attempts are numbered and limited per
-- scope, so a student's attempts at one lesson never use up those at another or at the
-- course. Attempts stored before were all at the whole course.
ALTER TABLE quiz_attempts ADD COLUMN lesson text CHECK (lesson IS NULL OR length(lesson) BETWEEN 1 AND 64);
ALTER TABLE quiz_attempts DROP CONSTRAINT quiz_attempts_number;
-- Unique per (course, user, scope, number): two attempts at a scope sent at once get the same
-- number and only one is stored, so the limit holds.
CREATE UNIQUE INDEX quiz_attempts_scope_number
    ON quiz_attempts (course_id, user_id, (coalesce(lesson, '')), number);
