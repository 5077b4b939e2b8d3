/*
 * jobs.h - the handlers of /api/v1/jobs (docs/api.md 4.1-4.3, 4.7): upload a PDF (store it,
 * SUBMIT it to the broker), list and read jobs, cancel one through the broker. Called by the
 * route table (routes.h) with checked parameters.
 */
#ifndef PROFAI_FRONTEND_JOBS_H
#define PROFAI_FRONTEND_JOBS_H

#include "json.h"
#include "routes.h"

void jobs_submit(api_call_t *call); /* POST /api/v1/jobs */
void jobs_list(api_call_t *call);   /* GET /api/v1/jobs */
void jobs_get(api_call_t *call);    /* GET /api/v1/jobs/{id} */
void jobs_cancel(api_call_t *call); /* DELETE /api/v1/jobs/{id} */
void jobs_events(api_call_t *call); /* GET /api/v1/jobs/{id}/events */

/* The members of the 202 answer to a job submitted to the broker (docs/api.md 4.1), inside
 * an object j has begun: "job_id", "state" (the broker's) and "status_url" (location,
 * /api/v1/jobs/{id}). A course's regeneration (curation.h) answers the same and more. */
void jobs_accepted_members(json_t *j, const char *job_id, const char *state, const char *location);

#endif
