/*
 * results.h - the handlers of results, history and progress (docs/api.md 4.17-4.18): a
 * course's or a class's results as JSON or CSV, the caller's attempts at every course, the
 * lessons it opened, and the lesson read that records an opening. db_results.h stores.
 */
#ifndef PROFAI_FRONTEND_RESULTS_H
#define PROFAI_FRONTEND_RESULTS_H

#include "routes.h"

void results_course(api_call_t *call);      /* GET /api/v1/courses/{id}/results */
void results_class(api_call_t *call);       /* GET /api/v1/classes/{id}/results */
void results_my_attempts(api_call_t *call); /* GET /api/v1/me/attempts */
void results_my_progress(api_call_t *call); /* GET /api/v1/me/progress */
void results_lesson_open(api_call_t *call); /* GET /api/v1/courses/{id}/lessons/{lesson} */

#endif
