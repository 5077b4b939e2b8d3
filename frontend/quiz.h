/*
 * quiz.h - the handlers of /api/v1/courses/{id}/quiz (docs/api.md 4.9-4.11): the quiz without
 * its answers, a scored attempt (quiz_score.h does the scoring), the caller's attempts.
 */
#ifndef PROFAI_FRONTEND_QUIZ_H
#define PROFAI_FRONTEND_QUIZ_H

#include "quiz_score.h"
#include "routes.h"

void quiz_get(api_call_t *call);            /* GET .../quiz */
void quiz_attempt_submit(api_call_t *call); /* POST .../quiz/attempts */
void quiz_attempts_list(api_call_t *call);  /* GET .../quiz/attempts */

#endif
