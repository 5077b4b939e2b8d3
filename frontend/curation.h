/*
 * curation.h - a course's owner (or an admin) edits it and regenerates it (docs/api.md 4.26):
 * the handlers of the curation routes. Edits are validated here (422 problem documents) and
 * stored as an overlay by db_curation.h (migration 016); courses.h serves the edited course.
 */
#ifndef PROFAI_FRONTEND_CURATION_H
#define PROFAI_FRONTEND_CURATION_H

#include "api.h"
#include "routes.h"

/* Bounds of docs/api.md 4.26. */
#define CURATION_TITLE_MAX 1024
#define CURATION_PROMPT_MAX 4096
#define CURATION_CHOICE_MAX 1024
#define CURATION_CHOICES 4
#define CURATION_PER_ATTEMPT_MAX 1000

void curation_course_patch(api_call_t *call);
void curation_module_patch(api_call_t *call);
void curation_lesson_patch(api_call_t *call);
void curation_lesson_delete(api_call_t *call);
void curation_question_add(api_call_t *call);
void curation_question_patch(api_call_t *call);
void curation_question_delete(api_call_t *call);
void curation_regenerate(api_call_t *call);

#endif
