/*
 * course_listen.h - the course cache as an owner of change notifications (change_listen.h;
 * docs/database.md migration 018, docs/api.md 1.1 and 4.26):
 * - profai_course_changed <course id>: forget the course's revision, documents and
 *   visibility answers, and every cached search (courses_forget, visibility_forget_course);
 * - profai_class_changed <user id> ("" for all): forget that user's class set and visibility
 *   answers, and every cached search (visibility_forget_user);
 * - a (re)connection forgets every kept revision, visibility answer and class set
 *   (notifications may have been missed); a lost connection only stops trusting them (they
 *   are still served during a database outage, and are forgotten when it reconnects).
 *
 * While course_listen_trusted, courses.c and visibility.c serve a kept revision, "yes" and
 * class set without asking PostgreSQL; otherwise they ask it on every read, as before
 * notifications existed. A reader that asked PostgreSQL stores what it read, then drops it
 * again when course_listen_generation changed meanwhile (a notification forgot that key
 * while the read was in flight: the answer may predate it).
 */
#ifndef PROFAI_FRONTEND_COURSE_LISTEN_H
#define PROFAI_FRONTEND_COURSE_LISTEN_H

#include "api.h"
#include "change_listen.h"

#include <stdbool.h>

#define COURSE_LISTEN_COURSE_CHANNEL "profai_course_changed"
#define COURSE_LISTEN_CLASS_CHANNEL "profai_class_changed"

/* The owner record for api's caches (api must outlive the listener); kept answers are trusted
 * for max_stale_ms after notifications were last known heard, and not at all once the
 * connection is known lost. */
change_listen_owner_t course_listen_owner(api_t *api, int max_stale_ms);

/* Whether every notification committed more than max_stale_ms ago has been heard. */
bool course_listen_trusted(api_t *api);

/* The counter bumped before every forgetting: read it before asking PostgreSQL. */
unsigned course_listen_generation(api_t *api);

/* Bump the counter (then forget: the order matters, see above). */
void course_listen_bump(api_t *api);

#endif
