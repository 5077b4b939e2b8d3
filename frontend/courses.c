/* courses.c - see courses.h. */
#define _GNU_SOURCE
#include "courses.h"

#include "api_common.h"
#include "course_listen.h"
#include "db_curation.h"
#include "log.h"
#include "page.h"
#include "visibility.h"

#include <ctype.h>
#include <glib.h>
#include <profai/proto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Search pages go this deep at most (offset cursors; docs/api.md 4.8). */
#define COURSES_SEARCH_OFFSET_MAX 10000

/* Cache keys of search answers: this, then "<viewer>:<limit>:<offset>:<q>", where viewer
 * stands for the courses the caller sees (visibility_viewer_key). */
#define COURSES_SEARCH_KEY "search:"

/* ---------------------------------------------------------------- course cache */

/* Cache keys: "rev:<id>" the course's revision last read from PostgreSQL; "<kind>:<id>:<rev>"
 * one revision of its document, quiz or quiz answer key. */
static void
s_key(char *out, size_t size, const char *kind, const char *id, long long revision)
{
    if (revision < 0)
        snprintf(out, size, "%s:%s:", kind, id);
    else
        snprintf(out, size, "%s:%s:%lld", kind, id, revision);
}

/* Forget everything cached about a course (it was deleted, or PostgreSQL says it is gone). */
static void
s_forget_course(api_t *self, const char *id)
{
    static const char *const kinds[] = {"course", "course-full", "quiz", "answers"};
    char key[96];
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        s_key(key, sizeof key, kinds[i], id, -1);
        cache_remove_prefix(self->cache, key);
    }
    snprintf(key, sizeof key, "rev:%s", id);
    cache_remove(self->cache, key);
    /* Any cached search may list it: they all go (searches are cached for seconds only), and
     * a search that read PostgreSQL before the deletion must not store its answer after it. */
    courses_forget_searches(self);
}

void
courses_forget_searches(api_t *self)
{
    __atomic_add_fetch(&self->search_generation, 1, __ATOMIC_ACQ_REL);
    cache_remove_prefix(self->cache, COURSES_SEARCH_KEY);
}

void
courses_forget(api_t *api, const char *id)
{
    s_forget_course(api, id);
}

void
courses_forget_revisions(api_t *api)
{
    cache_remove_prefix(api->cache, "rev:");
    courses_forget_searches(api);
}

/* Keep a body under key with its ETag; the item (referenced) in *item. A body the replica
 * answered (stale) is returned but not kept: the replica may be behind the revision the key
 * names, which was read from the primary. */
static db_status_t
s_keep(api_t *self, const char *key, char **body, size_t len, bool stale, cache_item_t **item)
{
    char etag[API_ETAG_SIZE];
    api_etag(*body, len, etag);
    *item = stale ? cache_put_ttl(self->cache, key, body, len, etag, 0)
                  : cache_put(self->cache, key, body, len, etag);
    return *item ? DB_OK : DB_UNAVAILABLE;
}

/* The revision kept in item (its decimal text). */
static long long
s_item_revision(const cache_item_t *item)
{
    size_t len;
    const char *data = cache_item_data(item, &len);
    char text[24];
    snprintf(text, sizeof text, "%.*s", (int)(len < 23 ? len : 23), data);
    return strtoll(text, NULL, 10);
}

/* The course's revision (docs/api.md 4.26): the one kept here while the change notifications
 * are heard (course_listen.h: any frontend's edit makes every frontend forget it within
 * milliseconds) and it is within cache/ttl; otherwise asked of PostgreSQL (one primary-key
 * read) and kept. While PostgreSQL cannot answer, the revision last read here (DB_OK: the copy
 * of that revision is served past its TTL, as before revisions existed); with none, *revision
 * -1 (unknown: read without the cache, from the replica when there is one). DB_NOT_FOUND
 * forgets the course. */
static db_status_t
s_revision(api_t *self, const char *id, long long *revision)
{
    char key[64];
    snprintf(key, sizeof key, "rev:%s", id);
    if (course_listen_trusted(self)) {
        bool fresh = false;
        cache_item_t *item = cache_get(self->cache, key, &fresh);
        if (item != NULL && fresh) {
            *revision = s_item_revision(item);
            cache_item_release(&item);
            return DB_OK;
        }
        cache_item_release(&item);
    }
    unsigned generation = course_listen_generation(self);
    db_status_t status = db_course_revision(self->db, id, revision);
    if (status == DB_OK) {
        char *text = NULL;
        int n = asprintf(&text, "%lld", *revision);
        if (n > 0) {
            cache_item_t *item = cache_put(self->cache, key, &text, (size_t)n, NULL);
            cache_item_release(&item);
            if (course_listen_generation(self) != generation)
                cache_remove(self->cache, key); /* forgotten while we read: may predate it */
        }
        return DB_OK;
    }
    if (status == DB_NOT_FOUND) {
        s_forget_course(self, id);
        return DB_NOT_FOUND;
    }
    cache_item_t *item = cache_get(self->cache, key, NULL);
    if (item == NULL) {
        *revision = -1; /* unknown: the caller reads the replica, if any, and keeps nothing */
        return status == DB_UNAVAILABLE ? DB_OK : status;
    }
    *revision = s_item_revision(item);
    cache_item_release(&item);
    log_debug("course=%s served from the cache past its TTL: the database is unavailable", id);
    return DB_OK;
}

/* The item under key when present; when it is not and PostgreSQL is down, nothing to serve. */
static cache_item_t *
s_cached(api_t *self, const char *key)
{
    return cache_get(self->cache, key, NULL);
}

/* The course document (course JSON with "id" and "job_id"; with the quiz and its answers for
 * teachers and admins, without for students), from the cache when it holds its revision. */
static db_status_t
s_course_doc(api_t *self, const char *id, bool with_quiz, cache_item_t **item, bool *stale)
{
    *stale = false;
    long long revision = 0;
    db_status_t status = s_revision(self, id, &revision);
    if (status != DB_OK)
        return status;
    char key[96];
    s_key(key, sizeof key, with_quiz ? "course-full" : "course", id, revision);
    *item = revision >= 0 ? s_cached(self, key) : NULL;
    if (*item != NULL)
        return DB_OK;
    char *json = NULL;
    size_t len = 0;
    status = db_course_json(self->db, id, with_quiz, &json, &len, stale);
    if (status == DB_OK)
        return s_keep(self, key, &json, len, *stale || revision < 0, item);
    if (status == DB_NOT_FOUND)
        s_forget_course(self, id);
    return status;
}

db_status_t
courses_doc_item(api_t *self, const char *id, bool with_quiz, cache_item_t **item)
{
    bool stale = false;
    return s_course_doc(self, id, with_quiz, item, &stale);
}

db_status_t
courses_quiz_item(api_t *self, const char *id, courses_quiz_kind_t kind, cache_item_t **item,
                  bool *stale)
{
    long long revision = 0;
    db_status_t status = s_revision(self, id, &revision);
    if (status != DB_OK)
        return status;
    char quiz_key[96], answers_key[96];
    bool want_quiz = kind == COURSES_QUIZ;
    s_key(quiz_key, sizeof quiz_key, "quiz", id, revision);
    s_key(answers_key, sizeof answers_key, "answers", id, revision);
    *item = revision >= 0 ? s_cached(self, want_quiz ? quiz_key : answers_key) : NULL;
    if (*item != NULL)
        return DB_OK;
    char *quiz = NULL, *answers = NULL;
    size_t quiz_len = 0, answers_len = 0;
    status = db_course_quiz(self->db, id, &quiz, &quiz_len, &answers, &answers_len, stale);
    if (status != DB_OK) {
        if (status == DB_NOT_FOUND)
            s_forget_course(self, id);
        return status;
    }
    cache_item_t *quiz_item = NULL, *answers_item = NULL;
    status = s_keep(self, quiz_key, &quiz, quiz_len, *stale || revision < 0, &quiz_item);
    if (status == DB_OK)
        status =
            s_keep(self, answers_key, &answers, answers_len, *stale || revision < 0, &answers_item);
    free(answers); /* when the first s_keep failed */
    if (status == DB_OK) {
        *item = want_quiz ? quiz_item : answers_item;
        if (want_quiz)
            quiz_item = NULL;
        else
            answers_item = NULL;
    }
    cache_item_release(&quiz_item);
    cache_item_release(&answers_item);
    return status;
}

void
courses_reply_item(http_request_t *req, db_status_t status, cache_item_t **item, bool stale)
{
    if (status != DB_OK) {
        api_reply_not_ok(req, status, "course");
        return;
    }
    size_t len;
    const char *body = cache_item_data(*item, &len);
    api_reply_tagged(req, body, len, cache_item_etag(*item), stale);
    cache_item_release(item);
}

/* ---------------------------------------------------------------- one course */

/* GET /api/v1/courses/{id}: students get the document without its quiz (they take the quiz
 * through /quiz, which hides the answers); teachers and admins get all of it. */
void
courses_get(api_call_t *call)
{
    cache_item_t *item = NULL;
    bool stale = false;
    const char *id = route_text(call->route, "id");
    db_status_t status = visibility_check(call->api, call->user, id);
    if (status == DB_OK)
        status = s_course_doc(call->api, id, call->user->role != AUTH_ROLE_STUDENT, &item, &stale);
    courses_reply_item(call->req, status, &item, stale);
}

/* DELETE /api/v1/courses/{id}: its owner or an admin. Other frontends may serve it from their
 * caches for up to their TTL (docs/api.md 4.12). */
void
courses_delete(api_call_t *call)
{
    const char *id = route_text(call->route, "id");
    db_status_t status = db_course_delete(call->api->db, id, api_owner_filter(call->user));
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "course");
        return;
    }
    s_forget_course(call->api, id);
    log_info("course=%s deleted by %s", id, call->user->name);
    http_reply(call->req, 204, API_JSON_TYPE, NULL, NULL, 0);
}

/* ---------------------------------------------------------------- course list and search */

/* Cursors (page.h) of kind 'l' "l:<microseconds>:<uuid>" (the keyset of the last course of
 * the page: the list goes on after it) or 's' "s:<offset>:<hash>" (a search goes on at offset;
 * hash binds it to its search string). */

/* The first 16 hex digits of the SHA-256 of a search string. */
static void
s_query_hash(const char *q, char out[17])
{
    char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, q, -1);
    snprintf(out, 17, "%.16s", sum ? sum : "0");
    g_free(sum);
}

/* Take a cursor ("" for none) into query (after_id/after_us or offset); false when it is not
 * a next_cursor of this list (or of this search). */
static bool
s_cursor_take(const char *text, db_course_query_t *query, char *after_id, size_t id_size)
{
    page_cursor_t cursor;
    if (text[0] == '\0')
        return true;
    if (query->q == NULL) {
        if (!page_cursor_decode_uuid(text, 'l', &cursor))
            return false;
        snprintf(after_id, id_size, "%.36s", cursor.id);
        query->after_id = after_id;
        query->after_us = cursor.number;
        return true;
    }
    char hash[17];
    s_query_hash(query->q, hash);
    if (!page_cursor_decode(text, 's', &cursor) || strcmp(cursor.id, hash) != 0 ||
        cursor.number > COURSES_SEARCH_OFFSET_MAX)
        return false;
    query->offset = cursor.number;
    return true;
}

/* Answer with a stored page of search results, with the Link header of its "next_cursor"
 * (the page was written by courses_list below: the cursor's base64url text follows the
 * member's name and quote, and only a null differs). */
static void
s_reply_page_item(api_call_t *call, db_status_t status, cache_item_t **item, bool stale)
{
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "course");
        return;
    }
    size_t len;
    const char *body = cache_item_data(*item, &len);
    static const char member[] = "\"next_cursor\":\"";
    const char *at = g_strstr_len(body, (gssize)len, member);
    char next[COURSES_CURSOR_MAX + 1] = "", link[PAGE_LINK_MAX + 32];
    if (at != NULL) {
        at += sizeof member - 1;
        size_t n = strspn(at, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        if (n < sizeof next)
            memcpy(next, at, n), next[n] = '\0';
    }
    api_page_link(call, next, link, sizeof link);
    api_reply_tagged_with(call->req, body, len, cache_item_etag(*item), link, stale);
    cache_item_release(item);
}

/* How long a request that missed waits for the same search (or list page) asked by another
 * request before asking on its own: about as long as a loaded search takes, well under the
 * database pool's wait. */
#define COURSES_FLIGHT_WAIT_MS 3000

/* End a flight this request leads (no-op when it leads none): its waiters take item, or ask on
 * their own when item is NULL. */
static void
s_flight_land(api_t *api, char **flight_p, cache_item_t *item)
{
    if (*flight_p == NULL)
        return;
    cache_flight_land(api->cache, *flight_p, item);
    free(*flight_p);
    *flight_p = NULL;
}

/* GET /api/v1/courses: newest first with keyset cursors, or ?q= full-text search, best first,
 * with offset cursors (docs/api.md 4.8). */
void
courses_list(api_call_t *call)
{
    http_request_t *req = call->req;
    char after_id[PROTO_UUID_LEN + 1];
    const char *q = route_text(call->route, "q");
    db_course_query_t query = {.q = q[0] ? q : NULL,
                               .limit = (int)route_int(call->route, "limit"),
                               .owner_id_all = call->user->role == AUTH_ROLE_ADMIN,
                               .owner_id_own =
                                   call->user->role == AUTH_ROLE_TEACHER ? call->user->id : NULL,
                               .viewer_id = call->user->id};
    if (!s_cursor_take(route_text(call->route, "cursor"), &query, after_id, sizeof after_id)) {
        http_reply_problem(req, 400, NULL,
                           "cursor is not a next_cursor of this list (or of this search)");
        return;
    }
    /* A search answer is kept for api->search_ttl_ms: the same few searches come from
     * thousands of students, and a search is the dearest read PostgreSQL serves. So is a
     * student's list page: students of the same classes see the same pages (a teacher's own
     * list is not kept: a course they just stored must be listed at once). */
    char *key = NULL;
    unsigned generation = __atomic_load_n(&call->api->search_generation, __ATOMIC_ACQUIRE);
    char viewer[80];
    bool keepable = query.q != NULL || call->user->role == AUTH_ROLE_STUDENT;
    if (keepable && call->api->search_ttl_ms > 0 &&
        visibility_viewer_key(call->api, call->user, viewer, sizeof viewer) == 0) {
        /* Who sees which course (and owner_id: db_course_query_t) differs: students with the
         * same classes share one answer, a teacher has their own, admins one. A list page is
         * named by its cursor's text ("list" where a search has its offset). */
        int n = query.q != NULL ? asprintf(&key, COURSES_SEARCH_KEY "%s:%d:%lld:%s", viewer,
                                           query.limit, query.offset, query.q)
                                : asprintf(&key, COURSES_SEARCH_KEY "%s:%d:list:%s", viewer,
                                           query.limit, route_text(call->route, "cursor"));
        if (n < 0)
            key = NULL;
        bool fresh = false;
        cache_item_t *item = key ? cache_get(call->api->cache, key, &fresh) : NULL;
        if (item != NULL && fresh) {
            free(key);
            s_reply_page_item(call, DB_OK, &item, false);
            return;
        }
        cache_item_release(&item);
    }
    /* A miss asks PostgreSQL once for all who miss the same key at once (cache.h, single
     * flight); the flight is named with the deletion generation too, so a request that began
     * after a deletion never takes an answer read before it. */
    char *flight = NULL;
    if (key != NULL) {
        if (asprintf(&flight, "%u:%s", generation, key) < 0)
            flight = NULL;
        cache_item_t *item = NULL;
        switch (flight ? cache_flight_join(call->api->cache, flight, COURSES_FLIGHT_WAIT_MS, &item)
                       : CACHE_FLIGHT_ALONE) {
        case CACHE_FLIGHT_SHARED:
            free(flight);
            free(key);
            s_reply_page_item(call, DB_OK, &item, false);
            return;
        case CACHE_FLIGHT_ALONE:
            free(flight); /* ask on our own, leading nobody */
            flight = NULL;
            break;
        case CACHE_FLIGHT_LEAD:
            break;
        }
    }
    db_course_page_t page;
    if (db_courses_json(call->api->db, &query, &page) != DB_OK) {
        s_flight_land(call->api, &flight, NULL);
        free(key);
        api_reply_unavailable(req, "the database");
        return;
    }
    char next[COURSES_CURSOR_MAX + 1] = "";
    if (page.more && query.q == NULL) {
        page_cursor_encode('l', page.last_us, page.last_id, next, sizeof next);
    } else if (page.more && query.offset + query.limit <= COURSES_SEARCH_OFFSET_MAX) {
        char hash[17];
        s_query_hash(query.q, hash);
        page_cursor_encode('s', query.offset + query.limit, hash, next, sizeof next);
    }
    char link[PAGE_LINK_MAX + 32];
    api_page_link(call, next, link, sizeof link);
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "courses");
    json_raw(&j, page.json, page.len);
    json_key(&j, "next_cursor");
    json_cstring(&j, next[0] ? next : NULL);
    /* The link as the Link header has it, between its angle brackets. */
    json_key(&j, "next");
    if (link[0] != '\0')
        json_string(&j, link + 7, strcspn(link + 7, ">"));
    else
        json_null(&j);
    json_object_end(&j);
    free(page.json);
    if (json_failed(&j)) {
        json_free(&j);
        s_flight_land(call->api, &flight, NULL);
        free(key);
        http_reply_problem(req, 500, NULL, "out of memory");
        return;
    }
    if (key != NULL) {
        size_t len = j.len;
        char *body = json_steal(&j, &len);
        char etag[API_ETAG_SIZE];
        api_etag(body, len, etag);
        /* Not kept when a course was deleted meanwhile (it may be in this answer). */
        bool keep = __atomic_load_n(&call->api->search_generation, __ATOMIC_ACQUIRE) == generation;
        cache_item_t *item = cache_put_ttl(call->api->cache, key, &body, len, etag,
                                           keep ? call->api->search_ttl_ms : 0);
        s_flight_land(call->api, &flight, keep ? item : NULL);
        free(key);
        s_reply_page_item(call, item ? DB_OK : DB_UNAVAILABLE, &item, page.stale);
        return;
    }
    char etag[API_ETAG_SIZE];
    api_etag(j.data, j.len, etag);
    api_reply_tagged_with(req, j.data, j.len, etag, link, page.stale);
    json_free(&j);
}
