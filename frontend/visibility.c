/* visibility.c - see visibility.h. */
#define _GNU_SOURCE
#include "visibility.h"

#include "api_common.h"
#include "course_listen.h"
#include "courses.h"
#include "db_classes.h"
#include "log.h"

#include <czmq.h> /* zclock_mono */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cache keys of kept answers: this, then "<course>:<user>". */
#define VISIBILITY_KEY "visible:"
/* Cache keys of students' class sets: this, then "<user>". */
#define VISIBILITY_CLASSES_KEY "classes:"

/* A kept "yes" holds the time (zclock_mono) it was asked at. Served without asking PostgreSQL
 * while fresh (cache/ttl) when the notifications are heard; when they are not, only for
 * search_ttl_ms after it was asked (as before notifications existed). */
static bool
s_kept_serves(api_t *api, const cache_item_t *item, bool fresh)
{
    if (!fresh)
        return false;
    if (course_listen_trusted(api))
        return true;
    size_t len;
    const char *data = cache_item_data(item, &len);
    char text[24];
    snprintf(text, sizeof text, "%.*s", (int)(len < 23 ? len : 23), data);
    return zclock_mono() - strtoll(text, NULL, 10) < api->search_ttl_ms;
}

db_status_t
visibility_check(api_t *api, const auth_user_t *user, const char *course_id)
{
    if (user->role == AUTH_ROLE_ADMIN)
        return DB_OK; /* whether the course exists is the reader's to find */
    char key[128];
    snprintf(key, sizeof key, VISIBILITY_KEY "%s:%s", course_id, user->id);
    bool fresh = false;
    cache_item_t *kept = cache_get(api->cache, key, &fresh);
    if (kept != NULL && s_kept_serves(api, kept, fresh)) {
        cache_item_release(&kept);
        return DB_OK;
    }
    unsigned generation = course_listen_generation(api);
    int64_t asked = zclock_mono();
    db_status_t status = db_course_visible(api->db, course_id, user->id, false);
    if (status == DB_OK && (course_listen_trusted(api) || api->search_ttl_ms > 0)) {
        char *yes = NULL;
        int n = asprintf(&yes, "%lld", (long long)asked);
        cache_item_t *item = n > 0 ? cache_put(api->cache, key, &yes, (size_t)n, NULL) : NULL;
        cache_item_release(&item);
        if (course_listen_generation(api) != generation)
            cache_remove(api->cache, key); /* forgotten while we asked: may predate it */
    } else if (status == DB_UNAVAILABLE && kept != NULL) {
        log_debug("course=%s shown to %s on a kept answer: the database is unavailable", course_id,
                  user->name);
        status = DB_OK;
    }
    cache_item_release(&kept);
    return status;
}

void
visibility_forget(api_t *api)
{
    course_listen_bump(api);
    cache_remove_prefix(api->cache, VISIBILITY_KEY);
    cache_remove_prefix(api->cache, VISIBILITY_CLASSES_KEY);
    courses_forget_searches(api);
}

void
visibility_forget_course(api_t *api, const char *course_id)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, VISIBILITY_KEY "%s:", course_id);
    course_listen_bump(api);
    cache_remove_prefix(api->cache, prefix);
}

void
visibility_forget_user(api_t *api, const char *user_id)
{
    char key[128], suffix[64];
    snprintf(key, sizeof key, VISIBILITY_CLASSES_KEY "%s", user_id);
    snprintf(suffix, sizeof suffix, ":%s", user_id);
    course_listen_bump(api);
    cache_remove(api->cache, key);
    cache_remove_matching(api->cache, VISIBILITY_KEY, suffix);
    courses_forget_searches(api);
}

int
visibility_viewer_key(api_t *api, const auth_user_t *user, char *out, size_t size)
{
    if (user->role == AUTH_ROLE_ADMIN) {
        snprintf(out, size, "admin");
        return 0;
    }
    if (user->role == AUTH_ROLE_TEACHER) {
        snprintf(out, size, "%s", user->id);
        return 0;
    }
    char key[128], set[65];
    snprintf(key, sizeof key, VISIBILITY_CLASSES_KEY "%s", user->id);
    if (course_listen_trusted(api)) {
        bool fresh = false;
        cache_item_t *item = cache_get(api->cache, key, &fresh);
        size_t len = 0;
        const char *data = item ? cache_item_data(item, &len) : NULL;
        if (fresh && len == 64) {
            snprintf(out, size, "c:%.64s", data);
            cache_item_release(&item);
            return 0;
        }
        cache_item_release(&item);
    }
    unsigned generation = course_listen_generation(api);
    if (db_user_class_set(api->db, user->id, set) != DB_OK)
        return -1;
    char *text = strdup(set);
    cache_item_t *item = text ? cache_put(api->cache, key, &text, strlen(set), NULL) : NULL;
    cache_item_release(&item);
    if (course_listen_generation(api) != generation)
        cache_remove(api->cache, key); /* forgotten while we asked: may predate it */
    snprintf(out, size, "c:%s", set);
    return 0;
}
