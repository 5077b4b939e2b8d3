/*
 * classes.h - the handlers of classes, enrolment and publishing (docs/api.md 4.15-4.16):
 * routes.c names them, db_classes.h stores. Every change that can take a course away from a
 * student (unpublishing, removing a student, deleting a class) or give one (publishing)
 * drops this frontend's kept visibility answers and cached searches (visibility.h).
 */
#ifndef PROFAI_FRONTEND_CLASSES_H
#define PROFAI_FRONTEND_CLASSES_H

#include "routes.h"

/* Longest class name (bytes). */
#define CLASSES_NAME_MAX 200

void classes_create(api_call_t *call);      /* POST   /api/v1/classes */
void classes_list(api_call_t *call);        /* GET    /api/v1/classes */
void classes_join(api_call_t *call);        /* POST   /api/v1/classes/join */
void classes_get(api_call_t *call);         /* GET    /api/v1/classes/{id} */
void classes_rename(api_call_t *call);      /* PATCH  /api/v1/classes/{id} */
void classes_delete(api_call_t *call);      /* DELETE /api/v1/classes/{id} */
void classes_rotate_code(api_call_t *call); /* POST   /api/v1/classes/{id}/join-code */
void classes_enrol(api_call_t *call);       /* POST   /api/v1/classes/{id}/students */
void classes_unenrol(api_call_t *call);     /* DELETE .../students/{user_id} */
void classes_publish(api_call_t *call);     /* POST   /api/v1/courses/{id}/classes/{class_id} */
void classes_unpublish(api_call_t *call);   /* DELETE /api/v1/courses/{id}/classes/{class_id} */
void classes_of_course(api_call_t *call);   /* GET    /api/v1/courses/{id}/classes */

#endif
