/*
 * quiz_deal.h - which questions a student is dealt for one quiz attempt (docs/api.md 4.9,
 * 4.10): pure domain logic, no HTTP and no database (tests/unit/test_quiz_deal.c).
 *
 * When a course sets questions per attempt N (quiz_key_t.per_attempt) and an attempt's scope
 * has more than N questions, a student's attempt is at N of them: a deterministic
 * pseudo-random choice that depends only on the course, the student, the scope and the
 * attempt's number. The quiz (4.9) shows the deal of the student's next attempt, and the
 * attempt (4.10) is scored over the same deal, so neither needs to store it.
 */
#ifndef PROFAI_FRONTEND_QUIZ_DEAL_H
#define PROFAI_FRONTEND_QUIZ_DEAL_H

#include "quiz_score.h"

#include <profai/compiler.h>
#include <stdbool.h>

/* Whether a student's attempt at key's current scope (quiz_scope_set) is dealt: per_attempt
 * is set and the scope has more questions than that. */
bool quiz_deal_applies(const quiz_key_t *key);

/* Deal key's current scope for attempt number of user_id at course_id: leave exactly
 * key->per_attempt of the scope's questions in scope (in_scope; key->in_scope updated), the
 * others out. Does nothing unless quiz_deal_applies. 0, or -1 when out of memory (key
 * unchanged). */
int quiz_deal(quiz_key_t *key, const char *course_id, const char *user_id,
              long long number) PROFAI_MUST_CHECK;

#endif
