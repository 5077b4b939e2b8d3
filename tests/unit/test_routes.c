/*
 * test_routes.c - unit tests of the REST API's route table and its checks (frontend/routes.h):
 * the real table, driven with fake requests (no civetweb, no database). Every problem the API
 * gives before a handler runs is asserted here with its status and detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "routes.h"

#include "route_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID "5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a10"
#define ID_UPPER "5B0C2B5E-3F9A-4C51-9D7E-0C7A2F7D7A10"

/* ================================================================ handler stubs */

static const char *s_called;

#define STUB(name)                                                                                 \
    void name(api_call_t *call)                                                                    \
    {                                                                                              \
        (void)call;                                                                                \
        s_called = #name;                                                                          \
    }
ROUTE_HANDLERS(STUB)

/* ================================================================ fake requests */

typedef struct {
    const char *query[8][2]; /* name, value (value may hold "%00" made NUL: use len) */
    const char *content_type;
    const char *raw; /* the raw query string, for the unknown-parameter check (or NULL) */
} fake_t;

static int
s_query(void *ctx, const char *name, char *buf, size_t size)
{
    fake_t *fake = ctx;
    for (size_t i = 0; i < 8 && fake->query[i][0] != NULL; i++) {
        if (strcmp(fake->query[i][0], name) != 0)
            continue;
        size_t len = strlen(fake->query[i][1]);
        if (len > size - 1)
            return -2;
        memcpy(buf, fake->query[i][1], len + 1);
        return (int)len;
    }
    return -1;
}

static bool
s_content_type_is(void *ctx, const char *type)
{
    fake_t *fake = ctx;
    return fake->content_type != NULL && strcmp(fake->content_type, type) == 0;
}

static route_result_t s_result;

/* Match and check method path for role: the status (0 when the handler would run). */
static int
s_run(const char *method, const char *path, auth_role_t role, fake_t *fake)
{
    fake_t none = {0};
    if (fake == NULL)
        fake = &none;
    route_request_t request = {.method = method,
                               .path = path,
                               .query = s_query,
                               .content_type_is = s_content_type_is,
                               .ctx = fake,
                               .query_string = fake->raw};
    s_called = NULL;
    if (!route_match(&request, &s_result))
        return s_result.status;
    if (!route_check(&request, role, &s_result))
        return s_result.status;
    s_result.route->handler(NULL);
    return 0;
}

/* ================================================================ matching */

static void
test_every_endpoint_reaches_its_handler(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *handler;
    } cases[] = {
        {"GET", "/api/v1/jobs", "jobs_list"},
        {"HEAD", "/api/v1/jobs", "jobs_list"},
        {"GET", "/api/v1/jobs/" ID, "jobs_get"},
        {"DELETE", "/api/v1/jobs/" ID, "jobs_cancel"},
        {"GET", "/api/v1/jobs/" ID "/events", "jobs_events"},
        {"GET", "/api/v1/courses", "courses_list"},
        {"GET", "/api/v1/courses/" ID, "courses_get"},
        {"DELETE", "/api/v1/courses/" ID, "courses_delete"},
        {"DELETE", "/api/v1/courses/" ID "/lessons/l1", "curation_lesson_delete"},
        {"GET", "/api/v1/courses/" ID "/lessons/l1", "results_lesson_open"},
        {"DELETE", "/api/v1/courses/" ID "/questions/e12", "curation_question_delete"},
        {"POST", "/api/v1/courses/" ID "/regenerate", "curation_regenerate"},
        {"GET", "/api/v1/courses/" ID "/quiz", "quiz_get"},
        {"GET", "/api/v1/courses/" ID "/quiz/attempts", "quiz_attempts_list"},
        {"DELETE", "/api/v1/me/data", "account_data_delete"},
        {"GET", "/api/v1/users/" ID "/export", "account_data_export"},
        {"GET", "/healthz", "api_health"},
        {"GET", "/livez", "api_live"},
        {"GET", "/readyz", "api_ready"},
        {"GET", "/metrics", "api_metrics"},
        {"GET", "/api/v1", "api_index"},
        {"GET", "/api/v1/", "api_index"},
        {"GET", "/", "api_static"},
        {"GET", "/app/app.js", "api_static"},
        {"PUT", "/app/app.js", "api_static"}, /* static.h answers 405 itself */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(s_run(cases[i].method, cases[i].path, AUTH_ROLE_ADMIN, NULL), 0);
        assert_string_equal(s_called, cases[i].handler);
    }
    fake_t pdf = {.content_type = "application/pdf"};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &pdf), 0);
    assert_string_equal(s_called, "jobs_submit");
    fake_t json = {.content_type = "application/json"};
    assert_int_equal(
        s_run("POST", "/api/v1/courses/" ID "/quiz/attempts", AUTH_ROLE_STUDENT, &json), 0);
    assert_string_equal(s_called, "quiz_attempt_submit");
    static const struct {
        const char *method, *path, *handler;
    } edits[] = {
        {"PATCH", "/api/v1/courses/" ID, "curation_course_patch"},
        {"PATCH", "/api/v1/courses/" ID "/modules/m1", "curation_module_patch"},
        {"PATCH", "/api/v1/courses/" ID "/lessons/l1", "curation_lesson_patch"},
        {"POST", "/api/v1/courses/" ID "/lessons/l1/questions", "curation_question_add"},
        {"PATCH", "/api/v1/courses/" ID "/questions/q1", "curation_question_patch"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        assert_int_equal(s_run(edits[i].method, edits[i].path, AUTH_ROLE_TEACHER, &json), 0);
        assert_string_equal(s_called, edits[i].handler);
    }
}

/* The accounts' routes (docs/api.md 4.19-4.23): sign-in and accepting an invitation are
 * public; an invitation token in the path must have a secret's shape, else 404. */
static void
test_account_routes(void **state)
{
    (void)state;
    fake_t json = {.content_type = "application/json"};
    static const struct {
        const char *method, *path, *handler;
    } cases[] = {
        {"POST", "/api/v1/session", "accounts_sign_in"},
        {"DELETE", "/api/v1/session", "accounts_sign_out"},
        {"DELETE", "/api/v1/sessions", "accounts_sign_out_everywhere"},
        {"GET", "/api/v1/me", "accounts_me"},
        {"GET", "/api/v1/me/tokens", "accounts_tokens_list"},
        {"POST", "/api/v1/me/tokens", "accounts_token_create"},
        {"DELETE", "/api/v1/me/tokens/" ID, "accounts_token_revoke"},
        {"POST", "/api/v1/invitations", "accounts_invitation_create"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(s_run(cases[i].method, cases[i].path, AUTH_ROLE_ADMIN, &json), 0);
        assert_string_equal(s_called, cases[i].handler);
    }
    const char *invite =
        "/api/v1/invitations/inv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-_/accept";
    assert_int_equal(s_run("POST", invite, AUTH_ROLE_STUDENT, &json), 0);
    assert_string_equal(s_called, "accounts_invitation_accept");
    assert_true(route_is_public(s_result.route));
    assert_string_equal(route_text(&s_result, "token"),
                        "inv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-_");
    assert_int_equal(
        s_run("POST", "/api/v1/invitations/inv_short/accept", AUTH_ROLE_STUDENT, &json), 404);
    assert_int_equal(
        s_run("POST", "/api/v1/invitations/inv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.A/accept",
              AUTH_ROLE_STUDENT, &json),
        404);
    assert_int_equal(s_run("POST", "/api/v1/session", AUTH_ROLE_STUDENT, &json), 0);
    assert_true(route_is_public(s_result.route));
    /* Students may not invite anyone (teachers may invite students: the handler checks). */
    assert_int_equal(s_run("POST", "/api/v1/invitations", AUTH_ROLE_STUDENT, &json), 403);
}

static void
test_unknown_paths_are_404(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/nope",
        "/api",
        "/api/v2",
        "/api/v1/jobs/" ID "/x",
        "/api/v1/courses/" ID "/quiz/x",
        "/api/v1/courses/" ID "/other",
        "/healthz/",
        "/appx",
        "/api/v1/jobsx",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        assert_int_equal(s_run("GET", paths[i], AUTH_ROLE_ADMIN, NULL), 404);
        assert_null(s_result.route);
        assert_string_equal(s_result.detail, "no such resource");
    }
}

static void
test_wrong_method_is_405_with_allow(void **state)
{
    (void)state;
    assert_int_equal(s_run("DELETE", "/api/v1/jobs", AUTH_ROLE_ADMIN, NULL), 405);
    assert_string_equal(s_result.headers, "Allow: GET, HEAD, POST\r\n");
    assert_string_equal(s_result.detail, "DELETE is not allowed here");
    assert_int_equal(s_run("POST", "/api/v1/jobs/" ID, AUTH_ROLE_ADMIN, NULL), 405);
    assert_string_equal(s_result.headers, "Allow: GET, HEAD, DELETE\r\n");
    assert_int_equal(s_run("PUT", "/healthz", AUTH_ROLE_ADMIN, NULL), 405);
    assert_string_equal(s_result.headers, "Allow: GET, HEAD\r\n");
    assert_string_equal(s_result.detail, "PUT is not allowed here");
    assert_int_equal(s_run("POST", "/api/v1/courses/" ID, AUTH_ROLE_ADMIN, NULL), 405);
    assert_string_equal(s_result.headers, "Allow: GET, HEAD, DELETE, PATCH\r\n");
    assert_int_equal(s_run("PATCH", "/api/v1/courses/" ID "/quiz/attempts", AUTH_ROLE_ADMIN, NULL),
                     405);
    assert_string_equal(s_result.headers, "Allow: GET, HEAD, POST\r\n");
    /* A route without GET names its first method without a comma before it. */
    assert_int_equal(s_run("GET", "/api/v1/classes/" ID "/join-code", AUTH_ROLE_ADMIN, NULL), 405);
    assert_string_equal(s_result.headers, "Allow: POST\r\n");
    assert_int_equal(s_run("PUT", "/api/v1/classes/" ID, AUTH_ROLE_ADMIN, NULL), 405);
    assert_string_equal(s_result.headers, "Allow: GET, HEAD, DELETE, PATCH\r\n");
    fake_t json = {.content_type = "application/json"};
    assert_int_equal(s_run("PATCH", "/api/v1/classes/" ID, AUTH_ROLE_TEACHER, &json), 0);
    assert_string_equal(s_called, "classes_rename");
    assert_int_equal(s_run("PATCH", "/api/v1/classes/" ID, AUTH_ROLE_STUDENT, &json), 403);
    /* A lesson id is a name segment: anything else is not found. */
    assert_int_equal(s_run("GET", "/api/v1/courses/" ID "/lessons/l12", AUTH_ROLE_STUDENT, NULL),
                     0);
    assert_string_equal(s_called, "results_lesson_open");
    assert_string_equal(route_text(&s_result, "lesson"), "l12");
    assert_int_equal(s_run("GET", "/api/v1/courses/" ID "/lessons/a b", AUTH_ROLE_STUDENT, NULL),
                     404);
    assert_string_equal(s_result.detail, "no lesson with this id");
    assert_int_equal(s_run("POST", "/api/v1/classes/join", AUTH_ROLE_TEACHER, &json), 403);
    assert_int_equal(s_run("POST", "/api/v1/classes/join", AUTH_ROLE_STUDENT, &json), 0);
    assert_string_equal(s_called, "classes_join");
    assert_int_equal(s_run("DELETE", "/api/v1/courses/" ID "/quiz", AUTH_ROLE_ADMIN, NULL), 405);
    assert_string_equal(s_result.headers, "Allow: GET, HEAD\r\n");
}

static void
test_public_routes(void **state)
{
    (void)state;
    route_result_t result;
    route_request_t request = {.method = "GET", .path = "/healthz"};
    assert_true(route_match(&request, &result));
    assert_true(route_is_public(result.route));
    request.path = "/api/v1";
    assert_true(route_match(&request, &result));
    assert_true(route_is_public(result.route));
    request.path = "/api/v1/courses";
    assert_true(route_match(&request, &result));
    assert_false(route_is_public(result.route));
}

/* ================================================================ roles */

static void
test_students_are_kept_out_of_jobs_and_deletion(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *detail;
    } cases[] = {
        {"GET", "/api/v1/jobs", "students have no jobs"},
        {"POST", "/api/v1/jobs", "students may not upload"},
        {"GET", "/api/v1/jobs/" ID, "students may not see jobs"},
        {"DELETE", "/api/v1/jobs/" ID, "students may not cancel jobs"},
        {"DELETE", "/api/v1/courses/" ID, "students may not delete courses"},
        /* the role comes before the id and the media type */
        {"GET", "/api/v1/jobs/nope", "students may not see jobs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(s_run(cases[i].method, cases[i].path, AUTH_ROLE_STUDENT, NULL), 403);
        assert_string_equal(s_result.detail, cases[i].detail);
        assert_null(s_called);
    }
    assert_int_equal(s_run("GET", "/api/v1/courses/" ID, AUTH_ROLE_STUDENT, NULL), 0);
    assert_int_equal(s_run("GET", "/api/v1/jobs", AUTH_ROLE_TEACHER, NULL), 0);
}

/* ================================================================ path parameters */

static void
test_ids_are_uuids_made_lower_case(void **state)
{
    (void)state;
    assert_int_equal(s_run("GET", "/api/v1/courses/" ID_UPPER "/quiz", AUTH_ROLE_STUDENT, NULL), 0);
    assert_string_equal(route_text(&s_result, "id"), ID);
    static const char *const bad[] = {"", "nope", ID "0", "5b0c2b5e3f9a4c519d7e0c7a2f7d7a10",
                                      "5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a1g"};
    char path[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/api/v1/jobs/%s", bad[i]);
        assert_int_equal(s_run("GET", path, AUTH_ROLE_ADMIN, NULL), 404);
        assert_string_equal(s_result.detail, "no job with this id");
        snprintf(path, sizeof path, "/api/v1/courses/%s/quiz/attempts", bad[i]);
        assert_int_equal(s_run("GET", path, AUTH_ROLE_ADMIN, NULL), 404);
        assert_string_equal(s_result.detail, "no course with this id");
    }
    /* An id that cannot exist is not found even before the body's media type is looked at. */
    assert_int_equal(s_run("POST", "/api/v1/courses/x/quiz/attempts", AUTH_ROLE_ADMIN, NULL), 404);
}

/* ================================================================ body media types */

static void
test_media_types(void **state)
{
    (void)state;
    fake_t text = {.content_type = "text/plain"};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &text), 415);
    assert_string_equal(s_result.detail, "send the PDF as application/pdf or multipart/form-data");
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, NULL), 415);
    assert_int_equal(
        s_run("POST", "/api/v1/courses/" ID "/quiz/attempts", AUTH_ROLE_TEACHER, &text), 415);
    assert_string_equal(s_result.detail, "send the attempt as application/json");
    fake_t form = {.content_type = "multipart/form-data"};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_ADMIN, &form), 0);
    /* 415 comes before a bad query parameter */
    fake_t bad = {.content_type = "text/plain", .query = {{"title", "\x01"}}};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &bad), 415);
}

/* ================================================================ query parameters */

static void
test_limit(void **state)
{
    (void)state;
    assert_int_equal(s_run("GET", "/api/v1/jobs", AUTH_ROLE_ADMIN, NULL), 0);
    assert_int_equal(route_int(&s_result, "limit"), 20);
    static const char *const good[][2] = {{"1", "1"}, {"100", "100"}, {"007", "7"}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fake_t fake = {.query = {{"limit", good[i][0]}}};
        assert_int_equal(s_run("GET", "/api/v1/courses", AUTH_ROLE_STUDENT, &fake), 0);
        assert_int_equal(route_int(&s_result, "limit"), atoi(good[i][1]));
    }
    static const char *const bad[] = {"0",  "101",  "",     "abc", "-1",
                                      "+5", "1000", "0100", "5 ",  "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_t fake = {.query = {{"limit", bad[i]}}};
        assert_int_equal(
            s_run("GET", "/api/v1/courses/" ID "/quiz/attempts", AUTH_ROLE_STUDENT, &fake), 400);
        assert_string_equal(s_result.detail, "limit must be an integer from 1 to 100");
    }
}

static void
test_upload_title_and_filename(void **state)
{
    (void)state;
    char long_title[202];
    memset(long_title, 'a', 201);
    long_title[201] = '\0';
    fake_t fake = {.content_type = "application/pdf",
                   .query = {{"title", "Été"}, {"filename", "notes.pdf"}}};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &fake), 0);
    assert_string_equal(route_text(&s_result, "title"), "Été");
    assert_string_equal(route_text(&s_result, "filename"), "notes.pdf");

    fake_t absent = {.content_type = "application/pdf"};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &absent), 0);
    assert_string_equal(route_text(&s_result, "title"), "");

    fake_t too_long = {.content_type = "application/pdf", .query = {{"title", long_title}}};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &too_long), 400);
    assert_string_equal(s_result.detail, "title is longer than 200 bytes");

    static const char *const bad[] = {"a\tb", "\x7f", "\xc2\x85", "\xff", "\xc3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_t f = {.content_type = "application/pdf", .query = {{"filename", bad[i]}}};
        assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &f), 400);
        assert_string_equal(s_result.detail,
                            "filename must be valid UTF-8 text without control characters");
    }
    /* a form carries its own title and file name: the query's are not read */
    fake_t form = {.content_type = "multipart/form-data", .query = {{"title", "\x01"}}};
    assert_int_equal(s_run("POST", "/api/v1/jobs", AUTH_ROLE_TEACHER, &form), 0);
    assert_string_equal(route_text(&s_result, "title"), "");
}

static void
test_search_and_cursor(void **state)
{
    (void)state;
    fake_t fake = {.query = {{"q", "  photo synthesis "}, {"cursor", "bDox"}}};
    assert_int_equal(s_run("GET", "/api/v1/courses", AUTH_ROLE_STUDENT, &fake), 0);
    assert_string_equal(route_text(&s_result, "q"), "photo synthesis");
    assert_string_equal(route_text(&s_result, "cursor"), "bDox");

    char long_q[258];
    memset(long_q, 'q', 257);
    long_q[257] = '\0';
    static const char q_problem[] =
        "q must be valid UTF-8 text of at most 256 bytes without control characters";
    fake_t q_long = {.query = {{"q", long_q}}};
    assert_int_equal(s_run("GET", "/api/v1/courses", AUTH_ROLE_STUDENT, &q_long), 400);
    assert_string_equal(s_result.detail, q_problem);
    /* q is checked before limit */
    fake_t q_bad = {.query = {{"limit", "0"}, {"q", "\x01"}}};
    assert_int_equal(s_run("GET", "/api/v1/courses", AUTH_ROLE_STUDENT, &q_bad), 400);
    assert_string_equal(s_result.detail, q_problem);

    char long_cursor[130];
    memset(long_cursor, 'c', 129);
    long_cursor[129] = '\0';
    fake_t c_long = {.query = {{"cursor", long_cursor}}};
    assert_int_equal(s_run("GET", "/api/v1/courses", AUTH_ROLE_STUDENT, &c_long), 400);
    assert_string_equal(s_result.detail,
                        "cursor is not a next_cursor of this list (or of this search)");
    fake_t empty = {.query = {{"q", "   "}, {"cursor", ""}}};
    assert_int_equal(s_run("GET", "/api/v1/courses", AUTH_ROLE_STUDENT, &empty), 0);
    assert_string_equal(route_text(&s_result, "q"), "");
    assert_string_equal(route_text(&s_result, "cursor"), "");
}

/* An enumerated parameter, on a route made for the test (the table has none yet). */
static void
test_enum_parameter(void **state)
{
    (void)state;
    static const char *const orders[] = {"newest", "oldest", NULL};
    static const route_t route = {
        .methods = ROUTE_GET,
        .pattern = "/x",
        .params = {{.name = "order", .type = ROUTE_PARAM_ENUM, .values = orders, .def = 0}},
        .handler = api_index,
    };
    fake_t fake = {.query = {{"order", "oldest"}}};
    route_request_t request = {
        .method = "GET", .path = "/x", .query = s_query, .content_type_is = s_content_type_is};
    route_result_t result = {.route = &route};
    request.ctx = &fake;
    assert_true(route_check(&request, AUTH_ROLE_STUDENT, &result));
    assert_int_equal(route_int(&result, "order"), 1);
    fake_t absent = {0};
    memset(&result, 0, sizeof result);
    result.route = &route;
    request.ctx = &absent;
    assert_true(route_check(&request, AUTH_ROLE_STUDENT, &result));
    assert_int_equal(route_int(&result, "order"), 0);
    fake_t bad = {.query = {{"order", "random"}}};
    memset(&result, 0, sizeof result);
    result.route = &route;
    request.ctx = &bad;
    assert_false(route_check(&request, AUTH_ROLE_STUDENT, &result));
    assert_int_equal(result.status, 400);
    assert_string_equal(result.detail, "order must be one of newest, oldest");
}

/* ================================================================ the API index */

static void
s_collect(void *arg, const char *method, const char *pattern)
{
    char *out = arg;
    size_t len = strlen(out);
    snprintf(out + len, 4096 - len, "%s%s %s", len ? "," : "", method, pattern);
}

static void
test_index_lists_the_table(void **state)
{
    (void)state;
    char list[4096] = "";
    route_each_listed(s_collect, list);
    assert_string_equal(list, "GET /api/v1/jobs,POST /api/v1/jobs,GET /api/v1/jobs/{id},"
                              "GET /api/v1/jobs/{id}/events,"
                              "DELETE /api/v1/jobs/{id},GET /api/v1/courses,"
                              "GET /api/v1/courses/{id},DELETE /api/v1/courses/{id},"
                              "PATCH /api/v1/courses/{id},"
                              "PATCH /api/v1/courses/{id}/modules/{module},"
                              "PATCH /api/v1/courses/{id}/lessons/{lesson},"
                              "DELETE /api/v1/courses/{id}/lessons/{lesson},"
                              "POST /api/v1/courses/{id}/lessons/{lesson}/questions,"
                              "PATCH /api/v1/courses/{id}/questions/{qid},"
                              "DELETE /api/v1/courses/{id}/questions/{qid},"
                              "POST /api/v1/courses/{id}/regenerate,"
                              "GET /api/v1/courses/{id}/quiz,"
                              "GET /api/v1/courses/{id}/quiz/attempts,"
                              "POST /api/v1/courses/{id}/quiz/attempts,"
                              "GET /api/v1/courses/{id}/lessons/{lesson},"
                              "POST /api/v1/courses/{id}/classes/{class_id},"
                              "DELETE /api/v1/courses/{id}/classes/{class_id},"
                              "GET /api/v1/courses/{id}/classes,GET /api/v1/courses/{id}/results,"
                              "POST /api/v1/classes,GET /api/v1/classes,POST /api/v1/classes/join,"
                              "GET /api/v1/classes/{id},PATCH /api/v1/classes/{id},"
                              "DELETE /api/v1/classes/{id},POST /api/v1/classes/{id}/join-code,"
                              "POST /api/v1/classes/{id}/students,"
                              "DELETE /api/v1/classes/{id}/students/{user_id},"
                              "GET /api/v1/classes/{id}/results,GET /api/v1/me/attempts,"
                              "GET /api/v1/me/progress,"
                              "POST /api/v1/session,DELETE /api/v1/session,"
                              "DELETE /api/v1/sessions,GET /api/v1/me,GET /api/v1/me/tokens,"
                              "POST /api/v1/me/tokens,DELETE /api/v1/me/tokens/{id},"
                              "POST /api/v1/invitations,"
                              "POST /api/v1/invitations/{token}/accept,"
                              "DELETE /api/v1/me/data,GET /api/v1/users/{id}/export,"
                              "GET /healthz,"

                              "GET /api/v1/openapi.json");
}

/* ================================================================ unknown query parameters */

static void
test_unknown_query_parameter_is_refused(void **state)
{
    (void)state;
    fake_t known = {.query = {{"limit", "5"}, {"cursor", ""}}, .raw = "limit=5&cursor="};
    assert_int_equal(s_run("GET", "/api/v1/jobs", AUTH_ROLE_TEACHER, &known), 0);

    fake_t typo = {.query = {{"limit", "5"}}, .raw = "limit=5&limt=6"};
    assert_int_equal(s_run("GET", "/api/v1/jobs", AUTH_ROLE_TEACHER, &typo), 400);
    assert_string_equal(s_result.detail, "unknown query parameter \"limt\"");

    /* Names are compared decoded; a path segment's name is not a query parameter. */
    fake_t encoded = {.query = {{"limit", "5"}}, .raw = "%6cimit=5"};
    assert_int_equal(s_run("GET", "/api/v1/jobs", AUTH_ROLE_TEACHER, &encoded), 0);
    fake_t id = {.raw = "id=" ID};
    assert_int_equal(s_run("GET", "/api/v1/jobs/" ID, AUTH_ROLE_TEACHER, &id), 400);
    assert_string_equal(s_result.detail, "unknown query parameter \"id\"");

    /* Empty pairs name nothing; a route without parameters takes none. */
    fake_t empty = {.raw = "&&"};
    assert_int_equal(s_run("GET", "/healthz", AUTH_ROLE_TEACHER, &empty), 0);
    fake_t any = {.raw = "verbose=1"};
    assert_int_equal(s_run("GET", "/healthz", AUTH_ROLE_TEACHER, &any), 400);

    /* The web page's files take whatever a browser adds. */
    fake_t page = {.raw = "v=3&utm_source=x"};
    assert_int_equal(s_run("GET", "/app/app.js", AUTH_ROLE_TEACHER, &page), 0);
    assert_int_equal(s_run("GET", "/", AUTH_ROLE_TEACHER, &page), 0);
}

/* Every declared text limit fits the value buffer. */
static void
test_table_is_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < route_count; i++) {
        const route_t *route = &route_table[i];
        assert_non_null(route->handler);
        if (route->roles != ROUTE_ROLES_ALL && route->roles != 0)
            assert_non_null(route->forbidden);
        if (route->body_types != NULL)
            assert_non_null(route->unsupported);
        for (size_t p = 0; p < ROUTE_PARAMS_MAX; p++)
            if (route->params[p].type == ROUTE_PARAM_TEXT)
                assert_true(route->params[p].max <= ROUTE_TEXT_MAX);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_endpoint_reaches_its_handler),
        cmocka_unit_test(test_account_routes),
        cmocka_unit_test(test_unknown_paths_are_404),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_public_routes),
        cmocka_unit_test(test_students_are_kept_out_of_jobs_and_deletion),
        cmocka_unit_test(test_ids_are_uuids_made_lower_case),
        cmocka_unit_test(test_media_types),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_upload_title_and_filename),
        cmocka_unit_test(test_search_and_cursor),
        cmocka_unit_test(test_enum_parameter),
        cmocka_unit_test(test_index_lists_the_table),
        cmocka_unit_test(test_unknown_query_parameter_is_refused),
        cmocka_unit_test(test_table_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
