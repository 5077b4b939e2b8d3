/* api_metrics.c - see api_metrics.h. */
#include "api_metrics.h"

#include "api_common.h"
#include "db_replica.h"
#include "metrics.h"

#include <civetweb.h>
#include <stdio.h>
#include <string.h>

/* Statuses counted one by one (100..599); others are counted as 0. */
#define S_STATUS_MIN 100
#define S_STATUS_MAX 599
/* Routes in the table, and one more for requests no route matched. */
#define S_ROUTES_MAX 64

static metrics_counter_t s_requests[S_ROUTES_MAX + 1][S_STATUS_MAX - S_STATUS_MIN + 2];
static metrics_histogram_t s_latency[S_ROUTES_MAX + 1];

static size_t
s_route_index(const route_t *route)
{
    if (route == NULL || route < route_table || route >= route_table + route_count ||
        route_count > S_ROUTES_MAX)
        return S_ROUTES_MAX;
    return (size_t)(route - route_table);
}

void
api_metrics_init(void)
{
    for (size_t i = 0; i <= S_ROUTES_MAX; i++)
        metrics_histogram_init(&s_latency[i], metrics_bounds_request, metrics_bounds_request_n);
}

void
api_metrics_observe(const route_t *route, int status, uint64_t duration_us)
{
    size_t r = s_route_index(route);
    size_t s =
        status >= S_STATUS_MIN && status <= S_STATUS_MAX ? (size_t)(status - S_STATUS_MIN + 1) : 0;
    metrics_counter_add(&s_requests[r][s], 1);
    metrics_histogram_observe_us(&s_latency[r], duration_us);
}

static const char *
s_route_label(size_t r)
{
    return r == S_ROUTES_MAX ? "unmatched" : route_table[r].pattern;
}

static const char *
s_method_label(size_t r)
{
    if (r == S_ROUTES_MAX || route_table[r].methods == ROUTE_ANY)
        return "ANY";
    switch (route_table[r].methods) {
    case ROUTE_GET:
        return "GET";
    case ROUTE_POST:
        return "POST";
    case ROUTE_DELETE:
        return "DELETE";
    default:
        return "ANY";
    }
}

/* Whether the caller may read the metrics (see api_metrics.h). */
static bool
s_allowed(api_call_t *call)
{
    const char *token = call->api->metrics_token;
    if (token != NULL && token[0] != '\0') {
        const char *auth = http_header(call->req, "Authorization");
        return auth != NULL && strncmp(auth, "Bearer ", 7) == 0 && strcmp(auth + 7, token) == 0;
    }
    if (http_header(call->req, "X-Forwarded-For") != NULL)
        return false;
    const char *peer = mg_get_request_info(call->req->conn)->remote_addr;
    return strncmp(peer, "127.", 4) == 0 || strcmp(peer, "::1") == 0;
}

/* The read replica's families (docs/operations.md "Read replicas"), when one is configured. */
static void
s_replica_metrics(db_pool_t *db, strbuf_t *out)
{
    db_replica_state_t st;
    if (!db_replica_state_of(db, &st))
        return;
    metrics_family(out, "profai_db_reads_total", "counter",
                   "Reads that could go to the read replica, by the server that answered.");
    const char *replica[] = {"server", "replica", NULL};
    const char *primary[] = {"server", "primary", NULL};
    metrics_sample_u64(out, "profai_db_reads_total", replica, st.reads_replica);
    metrics_sample_u64(out, "profai_db_reads_total", primary, st.reads_primary);
    metrics_family(out, "profai_db_replica_up", "gauge",
                   "1 when the read replica answered the last check.");
    metrics_sample(out, "profai_db_replica_up", NULL, st.replica_up ? 1 : 0);
    metrics_family(out, "profai_db_replica_reads", "gauge",
                   "1 while reads go to the replica (it keeps up, or the primary is down).");
    metrics_sample(out, "profai_db_replica_reads", NULL, st.reads_to_replica ? 1 : 0);
    if (st.lag_ms >= 0) {
        metrics_family(out, "profai_db_replica_lag_seconds", "gauge",
                       "How far the read replica lags the primary, at the last check.");
        metrics_sample(out, "profai_db_replica_lag_seconds", NULL, (double)st.lag_ms / 1000.0);
    }
}

void
api_metrics(api_call_t *call)
{
    if (!s_allowed(call)) {
        http_reply_problem(call->req, 403, NULL,
                           "metrics are served to loopback peers, or with metrics/token");
        return;
    }
    strbuf_t out;
    strbuf_init(&out);
    metrics_family(&out, "profai_http_requests_total", "counter",
                   "HTTP requests answered, by route pattern, method and status.");
    for (size_t r = 0; r <= S_ROUTES_MAX; r++) {
        if (r >= route_count && r != S_ROUTES_MAX)
            continue;
        for (size_t s = 0; s <= S_STATUS_MAX - S_STATUS_MIN + 1; s++) {
            uint64_t n = metrics_counter_get(&s_requests[r][s]);
            if (n == 0)
                continue;
            char status[8];
            snprintf(status, sizeof status, "%zu", s == 0 ? 0 : s + S_STATUS_MIN - 1);
            const char *labels[] = {"route",  s_route_label(r), "method", s_method_label(r),
                                    "status", status,           NULL};
            metrics_sample_u64(&out, "profai_http_requests_total", labels, n);
        }
    }
    metrics_family(&out, "profai_http_request_duration_seconds", "histogram",
                   "From the request's headers to its answer, by route pattern.");
    for (size_t r = 0; r <= S_ROUTES_MAX; r++) {
        if (r >= route_count && r != S_ROUTES_MAX)
            continue;
        const char *labels[] = {"route", s_route_label(r), "method", s_method_label(r), NULL};
        metrics_histogram_write(&out, "profai_http_request_duration_seconds", labels,
                                &s_latency[r]);
    }
    s_replica_metrics(call->api->db, &out);
    if (strbuf_failed(&out))
        http_reply_problem(call->req, 500, NULL, "out of memory");
    else
        http_reply(call->req, 200, METRICS_CONTENT_TYPE, "Cache-Control: no-store\r\n", out.data,
                   out.len);
    strbuf_free(&out);
}
