/*
 * routes.h - the REST API's route table (docs/api.md section 4) and the checks it drives.
 *
 * Every endpoint is one row of route_table (routes.c): method, path pattern, the roles that
 * may call it, the request body types it takes and its parameters (path segments and query
 * values, with their types and limits), and the handler. A request is checked against its row
 * before the handler runs, in this order, each with the problem the API has always given:
 *
 *   route_match:  no pattern fits the path             404 "no such resource"
 *                 a pattern fits, not for the method    405 with an Allow line
 *   (the caller authenticates here: 401, unless the route is public)
 *   route_check:  the caller's role may not use it      403 with the route's sentence
 *                 a path parameter is not valid         404 "no <what> with this id"
 *                 the body's media type is not taken    415 with the route's sentence
 *                 a query parameter the route does not  400 "unknown query parameter ..."
 *                 declare (unless ROUTE_QUERY_ANY)
 *                 a query parameter is not valid        400
 *
 * so a handler receives typed values that already hold (route_uuid, route_int, route_text).
 * This module is pure: it sees the request through route_request_t (method, path and two
 * callbacks) and never touches civetweb, so tests/unit/test_routes.c drives the real table.
 */
#ifndef PROFAI_FRONTEND_ROUTES_H
#define PROFAI_FRONTEND_ROUTES_H

#include "auth.h"

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

/* What a handler is given: the service, the request and the checked parameters (defined by
 * api_common.h; opaque here so that the table needs nothing from the HTTP layer). */
typedef struct api_call api_call_t;
typedef void (*route_handler_fn)(api_call_t *call);

/* Methods, as bits; HEAD is served as GET. ROUTE_ANY also takes methods with no bit. */
enum {
    ROUTE_GET = 1 << 0,
    ROUTE_POST = 1 << 1,
    ROUTE_DELETE = 1 << 2,
    ROUTE_PATCH = 1 << 3,
    ROUTE_ANY = 0xff,
};

/* Roles, as bits of auth_role_t values. A route with no role bit is public (no token). */
#define ROUTE_ROLE(role) (1u << (role))
#define ROUTE_ROLES_ALL                                                                            \
    (ROUTE_ROLE(AUTH_ROLE_TEACHER) | ROUTE_ROLE(AUTH_ROLE_STUDENT) | ROUTE_ROLE(AUTH_ROLE_ADMIN))
#define ROUTE_ROLES_STAFF (ROUTE_ROLE(AUTH_ROLE_TEACHER) | ROUTE_ROLE(AUTH_ROLE_ADMIN))

typedef enum {
    ROUTE_PARAM_NONE = 0, /* end of the list */
    ROUTE_PARAM_UUID,     /* path: a uuid, any case; given lower case */
    ROUTE_PARAM_INT,      /* query: decimal digits, min..max; def when absent */
    ROUTE_PARAM_TEXT,     /* query: UTF-8 without control characters, at most max bytes */
    ROUTE_PARAM_ENUM,     /* query: one of values; route_int gives its index, def when absent */
    ROUTE_PARAM_SEGMENT,  /* path: a name of [A-Za-z0-9_.:-], 1-64 bytes (a lesson id) */
    ROUTE_PARAM_SECRET,   /* path: a secret's shape (secret.h: 47 base64url characters) */
} route_param_type_t;

/* Longest text a parameter may be declared to take (bytes). */
#define ROUTE_TEXT_MAX 256
#define ROUTE_PARAMS_MAX 4

/* One parameter (plain data, in the table). */
typedef struct {
    const char *name; /* query name, or the {name} of a path segment */
    route_param_type_t type;
    const char *what;          /* UUID, SECRET: the resource the 404 names ("job") */
    long long min, max, def;   /* INT: range and default; TEXT: max = most bytes */
    bool trim;                 /* TEXT: surrounding spaces are dropped */
    const char *skip_for_type; /* not read when the body has this media type, or NULL */
    const char *problem;       /* the 400 detail for any fault, or NULL for the usual ones */
    const char *const *values; /* ENUM: NULL-terminated */
} route_param_t;

/* One endpoint (plain data, in the table). */
typedef struct {
    unsigned methods;                       /* ROUTE_GET ... */
    const char *pattern;                    /* "/api/v1/jobs/{id}"; a final "*" takes any rest */
    unsigned roles;                         /* ROUTE_ROLE bits; 0: public */
    const char *forbidden;                  /* 403 detail for the other roles */
    const char *const *body_types;          /* media types taken (NULL-terminated), or NULL */
    const char *unsupported;                /* 415 detail */
    route_param_t params[ROUTE_PARAMS_MAX]; /* path parameters first */
    route_handler_fn handler;
    bool listed;    /* named by the API index (GET /api/v1) */
    unsigned flags; /* ROUTE_UPLOAD ... */
} route_t;

/* Route flags. ROUTE_UPLOAD: the route takes an upload, and spends the caller's upload budget
 * (limits.h) instead of its read budget. ROUTE_QUERY_ANY: query parameters the route does not
 * declare are ignored instead of refused (the web page's files: a browser may add any). */
enum { ROUTE_UPLOAD = 1 << 0, ROUTE_QUERY_ANY = 1 << 1 };

/* The table, in the order the API index lists it. */
extern const route_t route_table[];
extern const size_t route_count;

/* The request as the checks see it (borrowed for the call). */
typedef struct {
    const char *method; /* "GET", ... */
    const char *path;   /* decoded, canonical (http.h) */
    /* The decoded value of a query parameter into buf, as http_query_param: its length, -1
     * when absent, -2 when longer than size - 1. */
    int (*query)(void *ctx, const char *name, char *buf, size_t size);
    /* Whether the body's media type is type (as http_content_type_is). */
    bool (*content_type_is)(void *ctx, const char *type);
    void *ctx;
    const char *query_string; /* the raw query string (names checked against the route's), or
                               * NULL */
} route_request_t;

/* A parameter's checked value. */
typedef struct {
    bool present;     /* given by the client (else the default) */
    long long number; /* INT: the value; ENUM: the index */
    size_t len;
    char text[ROUTE_TEXT_MAX + 1]; /* UUID, TEXT, ENUM: NUL-terminated ("" when absent) */
} route_value_t;

/* The outcome of the checks: the route and its values, or the problem to answer. */
typedef struct {
    const route_t *route; /* NULL when no route fits the path */
    int status;           /* 0: checks passed so far; else the HTTP status to answer */
    char headers[64];     /* extra header lines for the answer ("Allow: ...\r\n"), or "" */
    char detail[256];     /* the problem's detail */
    struct {
        const char *at; /* borrowed from the path */
        size_t len;
    } segments[ROUTE_PARAMS_MAX];           /* the path's {name} segments, in pattern order */
    route_value_t values[ROUTE_PARAMS_MAX]; /* by the route's parameter order */
} route_result_t;

/* Find the route of request's method and path. true with result->route set, or false with
 * result->status 404 (no route; route NULL) or 405 (headers has the Allow line). */
bool route_match(const route_request_t *request, route_result_t *result) PROFAI_MUST_CHECK;

/* Check a matched request for a caller of role (ignored on public routes): true with every
 * value set, or false with result->status 403, 404, 415 or 400 and its detail. */
bool route_check(const route_request_t *request, auth_role_t role,
                 route_result_t *result) PROFAI_MUST_CHECK;

/* Valid UTF-8 of at most max bytes without control characters (C0, DEL, C1): the check of a
 * text parameter, also applied to the text fields of an upload form. */
bool route_text_ok(const char *s, size_t len, size_t max);

/* Whether the matched route needs an authenticated caller. */
bool route_is_public(const route_t *route);

/* A checked parameter's value by name (the name must be one of the route's: programmer
 * error otherwise). */
const char *route_text(const route_result_t *result, const char *name);
long long route_int(const route_result_t *result, const char *name);
/* Whether the client gave the parameter (a TEXT parameter may be given empty). */
bool route_present(const route_result_t *result, const char *name);

/* Call fn with the method and pattern of every route (HEAD aside; "*" for ROUTE_ANY), listed
 * or not, in table order: what docs/openapi.json must describe (profai-frontend
 * --list-routes). */
void route_each(void (*fn)(void *arg, const char *method, const char *pattern), void *arg);

/* Call fn with the method and pattern of every listed route (HEAD aside), in table order:
 * the API index (GET /api/v1) is made from the table, never written twice. */
void route_each_listed(void (*fn)(void *arg, const char *method, const char *pattern), void *arg);

#endif
