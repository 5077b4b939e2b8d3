/* visibility.c - see visibility.h. */
#include "visibility.h"

#include "api_common.h"
#include "courses.h"
#include "db_classes.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cache keys of kept answers: this, then "<course>:<user>". */
#define VISIBILITY_KEY "visible:"

db_status_t
visibility_check(api_t *api, const auth_user_t *user, const char *course_id)
{
    if (user->role == AUTH_ROLE_ADMIN)
        return DB_OK; /* whether the course exists is the reader's to find */
    char key[128];
    snprintf(key, sizeof key, VISIBILITY_KEY "%s:%s", course_id, user->id);
    bool fresh = false;
    cache_item_t *kept = cache_get(api->cache, key, &fresh);
    if (kept != NULL && fresh) {
        cache_item_release(&kept);
        return DB_OK;
    }
    db_status_t status = db_course_visible(api->db, course_id, user->id, false);
    if (status == DB_OK && api->search_ttl_ms > 0) {
        char *yes = strdup("1");
        cache_item_t *item =
            yes ? cache_put_ttl(api->cache, key, &yes, 1, NULL, api->search_ttl_ms) : NULL;
        cache_item_release(&item);
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
    cache_remove_prefix(api->cache, VISIBILITY_KEY);
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
    char set[65];
    if (db_user_class_set(api->db, user->id, set) != DB_OK)
        return -1;
    snprintf(out, size, "c:%s", set);
    return 0;
}
