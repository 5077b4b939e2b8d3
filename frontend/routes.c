/* routes.c - see routes.h. */
#include "routes.h"

#include "account_data.h"
#include "accounts.h"
#include "api_common.h"
#include "api_metrics.h"
#include "classes.h"
#include "courses.h"
#include "curation.h"
#include "jobs.h"
#include "page.h"
#include "quiz.h"
#include "results.h"
#include "secret.h"

#include <assert.h>
#include <ctype.h>
#include <profai/proto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ?limit= of every list (docs/api.md 4.3, 4.8, 4.11). */
#define ROUTES_LIMIT                                                                               \
    {                                                                                              \
        .name = "limit", .type = ROUTE_PARAM_INT, .min = 1, .max = 100, .def = 20                  \
    }
/* ?cursor= of every list (page.h). */
#define ROUTES_CURSOR                                                                              \
    {                                                                                              \
        .name = "cursor", .type = ROUTE_PARAM_TEXT, .max = PAGE_CURSOR_MAX,                        \
        .problem = "cursor is not a next_cursor of this list"                                      \
    }
#define ROUTES_STR(x) #x
#define ROUTES_XSTR(x) ROUTES_STR(x)
/* A query value is read into a buffer this big before its own limit is applied. */
#define ROUTES_READ_MAX 1024

/* ?format= and ?table= of the results (docs/api.md 4.17). */
static const char *const s_formats[] = {"json", "csv", NULL};
static const char *const s_tables[] = {"students", "questions", NULL};
#define ROUTES_FORMAT                                                                              \
    {                                                                                              \
        .name = "format", .type = ROUTE_PARAM_ENUM, .values = s_formats, .def = 0                  \
    }
#define ROUTES_TABLE                                                                               \
    {                                                                                              \
        .name = "table", .type = ROUTE_PARAM_ENUM, .values = s_tables, .def = 0                    \
    }

static const char *const s_upload_types[] = {"application/pdf", "multipart/form-data", NULL};
static const char *const s_json_types[] = {"application/json", NULL};

/* clang-format off */
const route_t route_table[] = {
    {ROUTE_GET, "/api/v1/jobs", ROUTE_ROLES_STAFF, "students have no jobs", NULL, NULL,
     {ROUTES_LIMIT, ROUTES_CURSOR}, jobs_list, true, 0},
    {ROUTE_POST, "/api/v1/jobs", ROUTE_ROLES_STAFF, "students may not upload",
     s_upload_types, "send the PDF as application/pdf or multipart/form-data",
     {{.name = "title", .type = ROUTE_PARAM_TEXT, .max = PROTO_TITLE_MAX,
       .skip_for_type = "multipart/form-data"},
      {.name = "filename", .type = ROUTE_PARAM_TEXT, .max = PROTO_FILENAME_MAX,
       .skip_for_type = "multipart/form-data"}},
     jobs_submit, true, ROUTE_UPLOAD},
    {ROUTE_GET, "/api/v1/jobs/{id}", ROUTE_ROLES_STAFF, "students may not see jobs", NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "job"}}, jobs_get, true, 0},
    {ROUTE_GET, "/api/v1/jobs/{id}/events", ROUTE_ROLES_STAFF, "students may not see jobs", NULL,
     NULL, {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "job"},
            {.name = "limit", .type = ROUTE_PARAM_INT, .min = 1, .max = 100, .def = 100},
            ROUTES_CURSOR}, jobs_events, true, 0},
    {ROUTE_DELETE, "/api/v1/jobs/{id}", ROUTE_ROLES_STAFF, "students may not cancel jobs", NULL,
     NULL, {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "job"}}, jobs_cancel, true, 0},
    {ROUTE_GET, "/api/v1/courses", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {{.name = "q", .type = ROUTE_PARAM_TEXT, .max = COURSES_QUERY_MAX, .trim = true,
       .problem = "q must be valid UTF-8 text of at most " ROUTES_XSTR(COURSES_QUERY_MAX)
                  " bytes without control characters"},
      ROUTES_LIMIT,
      {.name = "cursor", .type = ROUTE_PARAM_TEXT, .max = COURSES_CURSOR_MAX,
       .problem = "cursor is not a next_cursor of this list (or of this search)"}},
     courses_list, true, 0},
    {ROUTE_GET, "/api/v1/courses/{id}", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}}, courses_get, true, 0},
    {ROUTE_DELETE, "/api/v1/courses/{id}", ROUTE_ROLES_STAFF, "students may not delete courses",
     NULL, NULL, {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}}, courses_delete,
     true, 0},
    /* Curation (docs/api.md 4.26). */
#define ROUTES_CURATE(m, pattern, handler, ...)                                                    \
    {m, pattern, ROUTE_ROLES_STAFF, "students may not edit courses", s_json_types,                 \
     "send the edit as application/json",                                                          \
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}, __VA_ARGS__}, handler, true, 0}
#define ROUTES_CURATE_NOBODY(m, pattern, handler, ...)                                             \
    {m, pattern, ROUTE_ROLES_STAFF, "students may not edit courses", NULL, NULL,                   \
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}, __VA_ARGS__}, handler, true, 0}
#define ROUTES_SEG(n, w) {.name = n, .type = ROUTE_PARAM_SEGMENT, .what = w}
    ROUTES_CURATE(ROUTE_PATCH, "/api/v1/courses/{id}", curation_course_patch, {0}),
    ROUTES_CURATE(ROUTE_PATCH, "/api/v1/courses/{id}/modules/{module}", curation_module_patch,
                  ROUTES_SEG("module", "module")),
    ROUTES_CURATE(ROUTE_PATCH, "/api/v1/courses/{id}/lessons/{lesson}", curation_lesson_patch,
                  ROUTES_SEG("lesson", "lesson")),
    ROUTES_CURATE_NOBODY(ROUTE_DELETE, "/api/v1/courses/{id}/lessons/{lesson}",
                         curation_lesson_delete, ROUTES_SEG("lesson", "lesson")),
    ROUTES_CURATE(ROUTE_POST, "/api/v1/courses/{id}/lessons/{lesson}/questions",
                  curation_question_add, ROUTES_SEG("lesson", "lesson")),
    ROUTES_CURATE(ROUTE_PATCH, "/api/v1/courses/{id}/questions/{qid}", curation_question_patch,
                  ROUTES_SEG("qid", "question")),
    ROUTES_CURATE_NOBODY(ROUTE_DELETE, "/api/v1/courses/{id}/questions/{qid}",
                         curation_question_delete, ROUTES_SEG("qid", "question")),
    ROUTES_CURATE_NOBODY(ROUTE_POST, "/api/v1/courses/{id}/regenerate", curation_regenerate,
                         {0}),
    {ROUTE_GET, "/api/v1/courses/{id}/quiz", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"},
      {.name = "lesson", .type = ROUTE_PARAM_TEXT, .max = QUIZ_LESSON_MAX,
       .problem = "lesson must be a lesson id of at most " ROUTES_XSTR(QUIZ_LESSON_MAX)
                  " bytes"}},
     quiz_get, true, 0},
    {ROUTE_GET, "/api/v1/courses/{id}/quiz/attempts", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}, ROUTES_LIMIT,
      {.name = "lesson", .type = ROUTE_PARAM_TEXT, .max = QUIZ_LESSON_MAX,
       .problem = "lesson must be a lesson id of at most " ROUTES_XSTR(QUIZ_LESSON_MAX)
                  " bytes"},
      ROUTES_CURSOR},
     quiz_attempts_list, true, 0},
    {ROUTE_POST, "/api/v1/courses/{id}/quiz/attempts", ROUTE_ROLES_ALL, NULL, s_json_types,
     "send the attempt as application/json",
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}}, quiz_attempt_submit, true, 0},
    /* Classes, publishing, results, history (docs/api.md 4.15-4.18). */
    {ROUTE_GET, "/api/v1/courses/{id}/lessons/{lesson}", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"},
      {.name = "lesson", .type = ROUTE_PARAM_SEGMENT, .what = "lesson"}}, results_lesson_open,
     true, 0},
    {ROUTE_POST, "/api/v1/courses/{id}/classes/{class_id}", ROUTE_ROLES_STAFF,
     "students may not publish courses", NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"},
      {.name = "class_id", .type = ROUTE_PARAM_UUID, .what = "class"}}, classes_publish, true, 0},
    {ROUTE_DELETE, "/api/v1/courses/{id}/classes/{class_id}", ROUTE_ROLES_STAFF,
     "students may not unpublish courses", NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"},
      {.name = "class_id", .type = ROUTE_PARAM_UUID, .what = "class"}}, classes_unpublish, true,
     0},
    {ROUTE_GET, "/api/v1/courses/{id}/classes", ROUTE_ROLES_STAFF,
     "students may not see where a course is published", NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}, ROUTES_LIMIT, ROUTES_CURSOR},
     classes_of_course, true, 0},
    {ROUTE_GET, "/api/v1/courses/{id}/results", ROUTE_ROLES_STAFF, "students may not see results",
     NULL, NULL, {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "course"}, ROUTES_FORMAT,
     ROUTES_TABLE}, results_course, true, 0},
    {ROUTE_POST, "/api/v1/classes", ROUTE_ROLES_STAFF, "students may not create classes",
     s_json_types, "send the class as application/json", {{0}}, classes_create, true, 0},
    {ROUTE_GET, "/api/v1/classes", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {ROUTES_LIMIT, ROUTES_CURSOR}, classes_list, true, 0},
    {ROUTE_POST, "/api/v1/classes/join", ROUTE_ROLE(AUTH_ROLE_STUDENT),
     "only students join classes", s_json_types, "send the code as application/json", {{0}},
     classes_join, true, 0},
    {ROUTE_GET, "/api/v1/classes/{id}", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "class"}}, classes_get, true, 0},
    {ROUTE_PATCH, "/api/v1/classes/{id}", ROUTE_ROLES_STAFF, "students may not rename classes",
     s_json_types, "send the class as application/json",
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "class"}}, classes_rename, true, 0},
    {ROUTE_DELETE, "/api/v1/classes/{id}", ROUTE_ROLES_STAFF, "students may not delete classes",
     NULL, NULL, {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "class"}}, classes_delete,
     true, 0},
    {ROUTE_POST, "/api/v1/classes/{id}/join-code", ROUTE_ROLES_STAFF,
     "students may not change join codes", NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "class"}}, classes_rotate_code, true, 0},
    {ROUTE_POST, "/api/v1/classes/{id}/students", ROUTE_ROLES_STAFF,
     "students may not enrol students", s_json_types, "send the student as application/json",
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "class"}}, classes_enrol, true, 0},
    {ROUTE_DELETE, "/api/v1/classes/{id}/students/{user_id}", ROUTE_ROLES_STAFF,
     "students may not remove students", NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "class"},
      {.name = "user_id", .type = ROUTE_PARAM_UUID, .what = "student"}}, classes_unenrol, true,
     0},
    {ROUTE_GET, "/api/v1/classes/{id}/results", ROUTE_ROLES_STAFF, "students may not see results",
     NULL, NULL, {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "class"}, ROUTES_FORMAT,
     ROUTES_TABLE}, results_class, true, 0},
    {ROUTE_GET, "/api/v1/me/attempts", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {ROUTES_LIMIT, ROUTES_CURSOR}, results_my_attempts, true, 0},
    {ROUTE_GET, "/api/v1/me/progress", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {ROUTES_LIMIT, ROUTES_CURSOR},
     results_my_progress, true, 0},
    /* Accounts (docs/api.md 2.1, 4.19-4.23): accounts.c. */
    {ROUTE_POST, "/api/v1/session", 0, NULL, s_json_types, "send the name and password as "
     "application/json", {{0}}, accounts_sign_in, true, 0},
    {ROUTE_DELETE, "/api/v1/session", ROUTE_ROLES_ALL, NULL, NULL, NULL, {{0}},
     accounts_sign_out, true, 0},
    {ROUTE_DELETE, "/api/v1/sessions", ROUTE_ROLES_ALL, NULL, NULL, NULL, {{0}},
     accounts_sign_out_everywhere, true, 0},
    {ROUTE_GET, "/api/v1/me", ROUTE_ROLES_ALL, NULL, NULL, NULL, {{0}}, accounts_me, true, 0},
    {ROUTE_GET, "/api/v1/me/tokens", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {ROUTES_LIMIT, ROUTES_CURSOR},
     accounts_tokens_list, true, 0},
    {ROUTE_POST, "/api/v1/me/tokens", ROUTE_ROLES_ALL, NULL, s_json_types,
     "send the label and lifetime as application/json", {{0}}, accounts_token_create, true, 0},
    {ROUTE_DELETE, "/api/v1/me/tokens/{id}", ROUTE_ROLES_ALL, NULL, NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "token"}}, accounts_token_revoke, true, 0},
    {ROUTE_POST, "/api/v1/invitations", ROUTE_ROLES_STAFF, "students may not invite",
     s_json_types, "send the invitation as application/json", {{0}},
     accounts_invitation_create, true, 0},
    {ROUTE_POST, "/api/v1/invitations/{token}/accept", 0, NULL, s_json_types,
     "send the name and password as application/json",
     {{.name = "token", .type = ROUTE_PARAM_SECRET, .what = "invitation"}},
     accounts_invitation_accept, true, 0},
    /* A user's data (docs/api.md 4.24-4.25): account_data.c. */
    {ROUTE_DELETE, "/api/v1/me/data", ROUTE_ROLES_ALL, NULL, NULL, NULL, {{0}},
     account_data_delete, true, 0},
    {ROUTE_GET, "/api/v1/users/{id}/export", ROUTE_ROLE(AUTH_ROLE_ADMIN),
     "only an admin may export a user's data", NULL, NULL,
     {{.name = "id", .type = ROUTE_PARAM_UUID, .what = "user"}}, account_data_export, true, 0},
    {ROUTE_GET, "/healthz", 0, NULL, NULL, NULL, {{0}}, api_health, true, 0},
    {ROUTE_GET, "/livez", 0, NULL, NULL, NULL, {{0}}, api_live, false, 0},
    {ROUTE_GET, "/readyz", 0, NULL, NULL, NULL, {{0}}, api_ready, false, 0},
    {ROUTE_GET, "/metrics", 0, NULL, NULL, NULL, {{0}}, api_metrics, false, 0},
    {ROUTE_GET, "/api/v1/openapi.json", 0, NULL, NULL, NULL, {{0}}, api_openapi, true, 0},
    {ROUTE_GET, "/api/v1", 0, NULL, NULL, NULL, {{0}}, api_index, false, 0},
    {ROUTE_GET, "/api/v1/", 0, NULL, NULL, NULL, {{0}}, api_index, false, 0},
    /* The web page: static.h answers every method itself (405 for all but GET and HEAD). */
    {ROUTE_ANY, "/", 0, NULL, NULL, NULL, {{0}}, api_static, false, ROUTE_QUERY_ANY},
    {ROUTE_ANY, "/app/*", 0, NULL, NULL, NULL, {{0}}, api_static, false, ROUTE_QUERY_ANY},
};
/* clang-format on */
const size_t route_count = sizeof route_table / sizeof route_table[0];

/* ---------------------------------------------------------------- matching */

static unsigned
s_method_bit(const char *method)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return ROUTE_GET;
    if (strcmp(method, "POST") == 0)
        return ROUTE_POST;
    if (strcmp(method, "DELETE") == 0)
        return ROUTE_DELETE;
    if (strcmp(method, "PATCH") == 0)
        return ROUTE_PATCH;
    return 0;
}

/* Whether path fits pattern; the {name} segments (any bytes but '/', maybe none) are noted in
 * result. */
static bool
s_fits(const char *pattern, const char *path, route_result_t *result)
{
    size_t n = 0;
    const char *p = pattern, *s = path;
    while (*p != '\0') {
        if (*p == '*' && p[1] == '\0')
            return true;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            assert(close != NULL && n < ROUTE_PARAMS_MAX);
            size_t len = strcspn(s, "/");
            result->segments[n].at = s;
            result->segments[n].len = len;
            n++;
            s += len;
            p = close + 1;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *s == '\0';
}

bool
route_match(const route_request_t *request, route_result_t *result)
{
    memset(result, 0, sizeof *result);
    unsigned bit = s_method_bit(request->method);
    unsigned allowed = 0;
    for (size_t i = 0; i < route_count; i++) {
        const route_t *route = &route_table[i];
        if (!s_fits(route->pattern, request->path, result))
            continue;
        if (route->methods == ROUTE_ANY || (bit & route->methods) != 0) {
            result->route = route;
            return true;
        }
        allowed |= route->methods;
    }
    if (allowed == 0) {
        result->status = 404;
        snprintf(result->detail, sizeof result->detail, "no such resource");
        return false;
    }
    result->status = 405;
    /* The first method named has no comma before it (a route may have no GET). */
    char list[48] = "";
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{ROUTE_GET, "GET, HEAD"},
                 {ROUTE_POST, "POST"},
                 {ROUTE_DELETE, "DELETE"},
                 {ROUTE_PATCH, "PATCH"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (allowed & names[i].bit)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
                     names[i].name);
    snprintf(result->headers, sizeof result->headers, "Allow: %s\r\n", list);
    snprintf(result->detail, sizeof result->detail, "%.200s is not allowed here", request->method);
    return false;
}

bool
route_is_public(const route_t *route)
{
    return route->roles == 0;
}

/* ---------------------------------------------------------------- checking */

bool
route_text_ok(const char *s, size_t len, size_t max)
{
    if (len > max || !proto_is_utf8(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        /* U+0080..U+009F are encoded C2 80..C2 9F. */
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] < 0xa0)
            return false;
    }
    return true;
}

static bool
s_fail(route_result_t *result, int status, const char *detail)
{
    result->status = status;
    snprintf(result->detail, sizeof result->detail, "%s", detail);
    return false;
}

/* A path segment as a canonical uuid (upper-case hex accepted). */
static bool
s_check_uuid(const route_param_t *param, const char *at, size_t len, route_value_t *value,
             route_result_t *result)
{
    if (len == PROTO_UUID_LEN) {
        for (size_t i = 0; i < len; i++)
            value->text[i] = (char)tolower((unsigned char)at[i]);
        value->text[len] = '\0';
        if (proto_is_uuid(value->text, len)) {
            value->present = true;
            value->len = len;
            return true;
        }
    }
    /* An id that cannot exist is just not found. */
    value->text[0] = '\0';
    result->status = 404;
    snprintf(result->detail, sizeof result->detail, "no %s with this id", param->what);
    return false;
}

/* A path segment that is a name: a lesson id ([A-Za-z0-9_.:-], 1-64 bytes) or a secret's shape
 * (secret.h: SECRET_LEN base64url characters; its prefix is the handler's to check); else
 * not found. */
static bool
s_check_segment(const route_param_t *param, const char *at, size_t len, route_value_t *value,
                route_result_t *result)
{
    bool ok;
    if (param->type == ROUTE_PARAM_SECRET) {
        ok = len == SECRET_LEN &&
             strspn(at, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") >= len;
    } else {
        ok = len >= 1 && len <= 64;
        for (size_t i = 0; ok && i < len; i++)
            ok = isalnum((unsigned char)at[i]) || strchr("_.:-", at[i]) != NULL;
    }
    if (ok) {
        memcpy(value->text, at, len);
        value->text[len] = '\0';
        value->len = len;
        value->present = true;
        return true;
    }
    value->text[0] = '\0';
    result->status = 404;
    snprintf(result->detail, sizeof result->detail, "no %s with this %s", param->what,
             param->type == ROUTE_PARAM_SECRET ? "token" : "id");
    return false;
}

static bool
s_check_int(const route_param_t *param, const char *text, int n, route_value_t *value,
            route_result_t *result)
{
    value->number = param->def;
    if (n == -1)
        return true;
    int digits = snprintf(NULL, 0, "%lld", param->max);
    bool ok = n > 0 && n <= digits;
    for (int i = 0; ok && i < n; i++)
        ok = text[i] >= '0' && text[i] <= '9';
    long long v = ok ? atoll(text) : 0;
    if (!ok || v < param->min || v > param->max) {
        if (param->problem != NULL)
            return s_fail(result, 400, param->problem);
        result->status = 400;
        snprintf(result->detail, sizeof result->detail, "%s must be an integer from %lld to %lld",
                 param->name, param->min, param->max);
        return false;
    }
    value->present = true;
    value->number = v;
    return true;
}

static bool
s_check_text(const route_param_t *param, const char *text, int n, route_value_t *value,
             route_result_t *result)
{
    if (n == -1)
        return true;
    if (n < 0 || (long long)n > param->max) {
        if (param->problem != NULL)
            return s_fail(result, 400, param->problem);
        result->status = 400;
        snprintf(result->detail, sizeof result->detail, "%s is longer than %lld bytes", param->name,
                 param->max);
        return false;
    }
    if (!route_text_ok(text, (size_t)n, (size_t)param->max)) {
        if (param->problem != NULL)
            return s_fail(result, 400, param->problem);
        result->status = 400;
        snprintf(result->detail, sizeof result->detail,
                 "%s must be valid UTF-8 text without control characters", param->name);
        return false;
    }
    size_t start = 0, len = (size_t)n;
    if (param->trim) {
        while (start < len && text[start] == ' ')
            start++;
        while (len > start && text[len - 1] == ' ')
            len--;
    }
    memcpy(value->text, text + start, len - start);
    value->text[len - start] = '\0';
    value->len = len - start;
    value->present = true;
    return true;
}

static bool
s_check_enum(const route_param_t *param, const char *text, int n, route_value_t *value,
             route_result_t *result)
{
    value->number = param->def;
    if (n == -1)
        return true;
    for (long long i = 0; n >= 0 && param->values[i] != NULL; i++) {
        if (strlen(param->values[i]) == (size_t)n && memcmp(param->values[i], text, n) == 0) {
            value->present = true;
            value->number = i;
            value->len = (size_t)n;
            memcpy(value->text, text, (size_t)n + 1);
            return true;
        }
    }
    if (param->problem != NULL)
        return s_fail(result, 400, param->problem);
    result->status = 400;
    int at = snprintf(result->detail, sizeof result->detail, "%s must be one of", param->name);
    for (size_t i = 0; param->values[i] != NULL && at > 0 && (size_t)at < sizeof result->detail;
         i++)
        at += snprintf(result->detail + at, sizeof result->detail - (size_t)at, "%s %s",
                       i ? "," : "", param->values[i]);
    return false;
}

/* The query parameter name at *p ("name=value&..." or "name&..."), percent-decoded into buf
 * (a name that does not fit, or holds a NUL or a control character, is cut there); *p moves
 * past its pair. */
static void
s_query_name(const char **p, char *buf, size_t size)
{
    const char *s = *p;
    size_t n = 0;
    bool cut = false;
    while (*s != '\0' && *s != '&' && *s != '=') {
        int c = (unsigned char)*s++;
        if (c == '+')
            c = ' ';
        else if (c == '%' && isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1])) {
            char hex[3] = {s[0], s[1], '\0'};
            c = (int)strtol(hex, NULL, 16);
            s += 2;
        }
        if (c < 0x20 || c == 0x7f)
            cut = true;
        if (!cut && n + 1 < size)
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
    s += strcspn(s, "&");
    *p = *s == '&' ? s + 1 : s;
}

/* Every query parameter is one the route declares (or the route takes any). */
static bool
s_check_names(const route_request_t *request, const route_t *route, route_result_t *result)
{
    if ((route->flags & ROUTE_QUERY_ANY) || request->query_string == NULL)
        return true;
    for (const char *p = request->query_string; *p != '\0';) {
        char name[64];
        s_query_name(&p, name, sizeof name);
        if (name[0] == '\0')
            continue; /* "?" or "a=1&&b=2": an empty pair names nothing */
        bool known = false;
        for (size_t i = 0;
             !known && i < ROUTE_PARAMS_MAX && route->params[i].type != ROUTE_PARAM_NONE; i++)
            known = route->params[i].type != ROUTE_PARAM_UUID &&
                    strcmp(route->params[i].name, name) == 0;
        if (!known) {
            char safe[64];
            size_t i = 0;
            for (; name[i] != '\0'; i++)
                safe[i] = (unsigned char)name[i] < 0x80 && name[i] != '"' ? name[i] : '?';
            safe[i] = '\0';
            result->status = 400;
            snprintf(result->detail, sizeof result->detail, "unknown query parameter \"%s\"", safe);
            return false;
        }
    }
    return true;
}

bool
route_check(const route_request_t *request, auth_role_t role, route_result_t *result)
{
    const route_t *route = result->route;
    assert(route != NULL);
    if (route->roles != 0 && (route->roles & ROUTE_ROLE(role)) == 0)
        return s_fail(result, 403, route->forbidden ? route->forbidden : "forbidden");

    size_t segment = 0;
    for (size_t i = 0; i < ROUTE_PARAMS_MAX && route->params[i].type != ROUTE_PARAM_NONE; i++) {
        const route_param_t *param = &route->params[i];
        if (param->type != ROUTE_PARAM_UUID && param->type != ROUTE_PARAM_SEGMENT &&
            param->type != ROUTE_PARAM_SECRET)
            continue;
        bool ok = param->type == ROUTE_PARAM_UUID
                      ? s_check_uuid(param, result->segments[segment].at,
                                     result->segments[segment].len, &result->values[i], result)
                      : s_check_segment(param, result->segments[segment].at,
                                        result->segments[segment].len, &result->values[i], result);
        if (!ok)
            return false;
        segment++;
    }

    if (route->body_types != NULL) {
        bool taken = false;
        for (size_t i = 0; !taken && route->body_types[i] != NULL; i++)
            taken = request->content_type_is(request->ctx, route->body_types[i]);
        if (!taken)
            return s_fail(result, 415, route->unsupported);
    }
    if (!s_check_names(request, route, result))
        return false;

    char text[ROUTES_READ_MAX];
    for (size_t i = 0; i < ROUTE_PARAMS_MAX && route->params[i].type != ROUTE_PARAM_NONE; i++) {
        const route_param_t *param = &route->params[i];
        route_value_t *value = &result->values[i];
        if (param->type == ROUTE_PARAM_UUID || param->type == ROUTE_PARAM_SEGMENT ||
            param->type == ROUTE_PARAM_SECRET)
            continue;
        assert(param->type == ROUTE_PARAM_INT || param->max <= ROUTE_TEXT_MAX);
        int n = -1;
        if (param->skip_for_type == NULL ||
            !request->content_type_is(request->ctx, param->skip_for_type))
            n = request->query(request->ctx, param->name, text, sizeof text);
        bool ok = false;
        switch (param->type) {
        case ROUTE_PARAM_INT:
            ok = s_check_int(param, text, n, value, result);
            break;
        case ROUTE_PARAM_TEXT:
            ok = s_check_text(param, text, n, value, result);
            break;
        case ROUTE_PARAM_ENUM:
            ok = s_check_enum(param, text, n, value, result);
            break;
        case ROUTE_PARAM_NONE:
        case ROUTE_PARAM_UUID:
        case ROUTE_PARAM_SEGMENT:
        case ROUTE_PARAM_SECRET:
            abort(); /* not reached */
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- values */

static const route_value_t *
s_value(const route_result_t *result, const char *name)
{
    const route_t *route = result->route;
    for (size_t i = 0; i < ROUTE_PARAMS_MAX && route->params[i].type != ROUTE_PARAM_NONE; i++)
        if (strcmp(route->params[i].name, name) == 0)
            return &result->values[i];
    assert(!"no such parameter in the route");
    abort();
}

const char *
route_text(const route_result_t *result, const char *name)
{
    return s_value(result, name)->text;
}

bool
route_present(const route_result_t *result, const char *name)
{
    return s_value(result, name)->present;
}

long long
route_int(const route_result_t *result, const char *name)
{
    return s_value(result, name)->number;
}

static void
s_each(bool listed_only, void (*fn)(void *arg, const char *method, const char *pattern), void *arg)
{
    static const struct {
        unsigned bit;
        const char *name;
    } methods[] = {
        {ROUTE_GET, "GET"}, {ROUTE_POST, "POST"}, {ROUTE_DELETE, "DELETE"}, {ROUTE_PATCH, "PATCH"}};
    for (size_t i = 0; i < route_count; i++) {
        if (listed_only && !route_table[i].listed)
            continue;
        if (route_table[i].methods == ROUTE_ANY) {
            fn(arg, "*", route_table[i].pattern);
            continue;
        }
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
            if (route_table[i].methods & methods[m].bit)
                fn(arg, methods[m].name, route_table[i].pattern);
    }
}

void
route_each(void (*fn)(void *arg, const char *method, const char *pattern), void *arg)
{
    s_each(false, fn, arg);
}

void
route_each_listed(void (*fn)(void *arg, const char *method, const char *pattern), void *arg)
{
    s_each(true, fn, arg);
}
