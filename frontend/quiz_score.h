/*
 * quiz_score.h - scoring a quiz attempt against a course's answer key (docs/api.md 4.10): pure
 * domain logic, no HTTP and no database, so that it is tested on its own
 * (tests/unit/test_quiz_score.c).
 *
 * The answer key is the text db_course_quiz (db.h) returns: one line per question,
 * "<question id>\t<answer 0-3>\t<lesson id or empty>", "\n" between lines, in quiz order,
 * and a line "*\t<N>" when the course deals N questions per attempt (quiz_deal.h). An
 * attempt is the parsed request body {"answers": {"<question id>": 0..3, ...}, "lesson": "l2"}
 * (json_in.h; "lesson" optional). Its scope is the questions of that lesson, or the whole quiz
 * without "lesson"; questions of the scope left out are unanswered (and wrong), the others
 * are not scored at all.
 */
#ifndef PROFAI_FRONTEND_QUIZ_SCORE_H
#define PROFAI_FRONTEND_QUIZ_SCORE_H

#include "json.h"
#include "json_in.h"

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest lesson id an attempt may name (docs/api.md 4.10). */
#define QUIZ_LESSON_MAX 64

/* One question of an answer key (strings point into the key's own copy of the text). */
typedef struct {
    const char *id;
    int answer;         /* 0..3 */
    const char *lesson; /* "" when the question names no lesson */
    int chosen;         /* -1: not answered */
    bool in_scope;      /* scored by this attempt (quiz_answers_take sets it) */
} quiz_question_t;

/* A parsed answer key (plain data; quiz_key_free releases what it holds). */
typedef struct {
    char *text;                 /* owned copy of the key's text, split in place */
    quiz_question_t *questions; /* owned; count of them */
    size_t count;
    char lesson[QUIZ_LESSON_MAX + 1]; /* the attempt's scope: a lesson id, "" for the course */
    size_t in_scope;                  /* questions in the scope */
    int per_attempt;                  /* questions dealt per attempt; 0: all */
} quiz_key_t;

/* Parse len bytes of answer key into key (lines without two tabs are skipped; a key with no
 * question has count 0). 0, or -1 when out of memory (key is then empty). */
int quiz_key_parse(quiz_key_t *key, const char *text, size_t len) PROFAI_MUST_CHECK;

/* Release what key holds (NULL-safe) and empty it. */
void quiz_key_free(quiz_key_t *key);

/* Make lesson ("" or NULL: the whole quiz) key's scope: key->lesson (truncated to
 * QUIZ_LESSON_MAX bytes), each question's in_scope and key->in_scope. */
void quiz_scope_set(quiz_key_t *key, const char *lesson);

/* The two halves of quiz_answers_take, for a caller that deals (quiz_deal.h) between them:
 * quiz_attempt_scope checks the body's members and "lesson" and sets the scope;
 * quiz_answers_note checks "answers" against the scope as it then is (a question of the
 * scope's lesson that is not in scope was not dealt). Each 0, or -1 with why. */
int quiz_attempt_scope(quiz_key_t *key, const json_in_value_t *root, char *why,
                       size_t why_size) PROFAI_MUST_CHECK;
int quiz_answers_note(quiz_key_t *key, const json_in_value_t *root, char *why,
                      size_t why_size) PROFAI_MUST_CHECK;

/* Check an attempt (root: the parsed body) against key: note its scope (key->lesson, the
 * questions' in_scope and key->in_scope, which is 0 when the lesson has no question: a 409
 * for the caller) and each choice in key's questions. 0, or -1 with the sentence for the 400
 * answer in why: the body is not an object, has a member other than "answers" and "lesson",
 * "lesson" is not a string of 1..QUIZ_LESSON_MAX bytes, "answers" is not an object, names a
 * question the quiz does not have or one outside the scope, or gives a choice that is not an
 * integer 0..3. */
int quiz_answers_take(quiz_key_t *key, const json_in_value_t *root, char *why,
                      size_t why_size) PROFAI_MUST_CHECK;

/* Score the noted choices of the scope's questions: returns the number of correct answers (out
 * of key->in_scope), writes the attempt's stored answers object ({"<question id>": choice, ...}
 * of the answered ones) to answers and the results array
 * ([{"question","lesson","chosen","correct","answer"}, ...] of the scope, in quiz order) to
 * results. Check json_failed on both. */
int quiz_score(const quiz_key_t *key, json_t *answers, json_t *results);

/* The answer policy (docs/api.md 4.10): the number of attempts after which a caller's attempts
 * show each question's right answer. Teachers and admins (privileged: they read the answer key
 * anyway) see it always (0); a student sees it from its final allowed attempt on
 * (max_attempts), or never when attempts are unlimited (max_attempts 0: -1). Whether each
 * answer was right is shown always. */
int quiz_reveal_from(int max_attempts, bool privileged);

/* How many attempts a caller may make at one scope (a lesson's quiz, or the course's):
 * max_attempts for a student, no limit (0) for teachers and admins. */
int quiz_attempt_limit(int max_attempts, bool privileged);

#endif
