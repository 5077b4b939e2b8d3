/*
 * change_listen.h - hears PostgreSQL's change notifications for the frontend's caches: a
 * thread holding one connection that LISTENs on its owners' channels and hands each
 * notification to the owner of its channel. Owners: the auth cache (auth_listen.h: channel
 * profai_token_revoked, migration 004) and the course cache (course_listen.h: channels
 * profai_course_changed and profai_class_changed, migration 018).
 *
 * Every CHANGE_LISTEN_PING_MS it sends "SELECT 1" on that connection; its answer tells that every
 * notification committed before it was sent has arrived, and each owner's heard is told so.
 * While the connection is down, or a ping goes unanswered for max_stale_ms, heard is not
 * called (so an owner stops trusting its cache after max_stale_ms), and each owner's lost (when
 * set) is called once; on every (re)connection each owner's flushed is called first, since
 * notifications may have been missed meanwhile, then heard.
 *
 * The connection is named "profai-frontend-listen <pid>" (application_name), so that an operator
 * (or a test) can tell it among the pool's.
 */
#ifndef PROFAI_FRONTEND_CHANGE_LISTEN_H
#define PROFAI_FRONTEND_CHANGE_LISTEN_H

#include "db.h"

#include <stddef.h>
#include <stdint.h>

#define CHANGE_LISTEN_PING_MS 500
#define CHANGE_LISTEN_OWNERS_MAX 4
#define CHANGE_LISTEN_CHANNELS_MAX 2 /* per owner */

/* One owner of channels; every callback runs on the listener's thread. */
typedef struct {
    /* Channel names (plain identifiers), NULL-terminated when fewer than the maximum. */
    const char *channels[CHANGE_LISTEN_CHANNELS_MAX];
    /* A notification on one of them (payload "" when none). */
    void (*notified)(void *arg, const char *channel, const char *payload);
    /* (Re)connected: forget whatever a missed notification could have changed. */
    void (*flushed)(void *arg);
    /* Connection lost or ping unanswered past max_stale_ms; may be NULL. */
    void (*lost)(void *arg);
    /* Every notification committed before mono_ms (zclock_mono) has been handed over. */
    void (*heard)(void *arg, int64_t mono_ms);
    void *arg;
} change_listen_owner_t;

typedef struct change_listen_t change_listen_t;

/* Start the thread for count owners (copied; at most CHANGE_LISTEN_OWNERS_MAX). db and every
 * owner's arg are borrowed and must outlive the listener. NULL when the thread cannot be
 * started. */
change_listen_t *change_listen_new(db_pool_t *db, int max_stale_ms,
                                   const change_listen_owner_t *owners, size_t count);

/* Stop the thread (within a tenth of a second, or a connection attempt's timeout), close
 * its connection, free. Accepts NULL; sets *self_p to NULL. */
void change_listen_destroy(change_listen_t **self_p);

#endif
