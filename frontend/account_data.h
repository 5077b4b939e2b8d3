/*
 * account_data.h - the handlers of one user's data as a whole (docs/api.md 4.24, 4.25): a caller
 * deletes everything it made (DELETE /api/v1/me/data), an admin exports everything stored
 * about a user (GET /api/v1/users/{id}/export). The statements are db_account_data.c's.
 */
#ifndef PROFAI_FRONTEND_ACCOUNT_DATA_H
#define PROFAI_FRONTEND_ACCOUNT_DATA_H

#include "routes.h"

/* Unfinished jobs cancelled through the broker per request, at most: more are left for
 * another request (the answer's jobs_kept says so). */
#define ACCOUNT_CANCEL_MAX 1000

void account_data_delete(api_call_t *call); /* DELETE /api/v1/me/data */
void account_data_export(api_call_t *call); /* GET /api/v1/users/{id}/export */

#endif
