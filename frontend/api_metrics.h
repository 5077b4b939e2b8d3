/*
 * api_metrics.h - the frontend's GET /metrics (docs/api.md, "Metrics"; docs/operations.md):
 * HTTP requests counted by route (the route table's pattern, never the raw path) and status,
 * with a latency histogram per route, in Prometheus text format (common/metrics.h).
 *
 * The counts are process-wide atomics: every HTTP thread records its requests without a lock
 * (api_metrics_observe, called once by api_handle when the answer is sent).
 *
 * Who may read it: with metrics/token set, a caller presenting "Authorization: Bearer <token>";
 * without, only a direct peer on a loopback address (no X-Forwarded-For: not through the
 * edge, which also refuses /metrics itself).
 */
#ifndef PROFAI_FRONTEND_API_METRICS_H
#define PROFAI_FRONTEND_API_METRICS_H

#include "routes.h"

#include <stdint.h>

/* Set up the histograms; call once before the server starts. */
void api_metrics_init(void);

/* Count one answered request: route NULL when none matched, status as sent, duration_us from
 * the request's arrival. */
void api_metrics_observe(const route_t *route, int status, uint64_t duration_us);

/* The route handler of GET /metrics. */
void api_metrics(api_call_t *call);

#endif
