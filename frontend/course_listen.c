/* course_listen.c - see course_listen.h. */
#include "course_listen.h"

#include "api_common.h"
#include "courses.h"
#include "visibility.h"

#include <czmq.h> /* zclock_mono */
#include <string.h>

bool
course_listen_trusted(api_t *api)
{
    int64_t heard = __atomic_load_n(&api->changes_heard_ms, __ATOMIC_ACQUIRE);
    return heard != 0 && zclock_mono() - heard <= api->changes_max_stale_ms;
}

unsigned
course_listen_generation(api_t *api)
{
    return __atomic_load_n(&api->changes_generation, __ATOMIC_SEQ_CST);
}

void
course_listen_bump(api_t *api)
{
    __atomic_add_fetch(&api->changes_generation, 1, __ATOMIC_SEQ_CST);
}

/* A uuid's text: 36 characters of hex digits and dashes. */
static bool
s_is_id(const char *text)
{
    return strlen(text) == 36 && strspn(text, "0123456789abcdefABCDEF-") == 36;
}

/* Forget every kept revision, visibility answer and class set. */
static void
s_forget_all(api_t *api)
{
    course_listen_bump(api);
    courses_forget_revisions(api);
    visibility_forget(api);
}

static void
s_notified(void *arg, const char *channel, const char *payload)
{
    api_t *api = arg;
    course_listen_bump(api);
    if (strcmp(channel, COURSE_LISTEN_COURSE_CHANNEL) == 0 && s_is_id(payload)) {
        courses_forget(api, payload);
        visibility_forget_course(api, payload);
    } else if (strcmp(channel, COURSE_LISTEN_CLASS_CHANNEL) == 0 && s_is_id(payload)) {
        visibility_forget_user(api, payload);
    } else {
        s_forget_all(api); /* "" (everyone) or not ours to parse */
    }
}

static void
s_flushed(void *arg)
{
    api_t *api = arg;
    __atomic_store_n(&api->changes_heard_ms, 0, __ATOMIC_RELEASE);
    s_forget_all(api);
}

/* Lost: nothing kept is trusted any more, but it stays: during a database outage the revision
 * last read and a kept "yes" are served (docs/api.md 1.1), and a reconnection forgets them. */
static void
s_lost(void *arg)
{
    api_t *api = arg;
    __atomic_store_n(&api->changes_heard_ms, 0, __ATOMIC_RELEASE);
}

static void
s_heard(void *arg, int64_t mono_ms)
{
    api_t *api = arg;
    __atomic_store_n(&api->changes_heard_ms, mono_ms, __ATOMIC_RELEASE);
}

change_listen_owner_t
course_listen_owner(api_t *api, int max_stale_ms)
{
    api->changes_max_stale_ms = max_stale_ms;
    return (change_listen_owner_t){
        .channels = {COURSE_LISTEN_COURSE_CHANNEL, COURSE_LISTEN_CLASS_CHANNEL},
        .notified = s_notified,
        .flushed = s_flushed,
        .lost = s_lost,
        .heard = s_heard,
        .arg = api};
}
