/*
 * standby.c - see standby.h.
 */
#include "standby.h"

#include "broker_private.h"
#include "log.h"
#include "notify.h"

#include <errno.h>
#include <inttypes.h>

/* Messages read per turn, as in the leader's loop. */
#define STANDBY_BATCH 1000

/* One message from a peer: a client's REQUEST gets `not_leader`, a worker DISCONNECT (it
 * reconnects to its next endpoint), anything else is dropped. With CURVE, the handshake has
 * already passed ZAP; the role is not checked, as nothing is served. */
static void
s_send_away(broker_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop(msg);
    if (identity == NULL || zframe_size(identity) == 0 ||
        zframe_size(identity) > WORKER_IDENTITY_MAX) {
        zframe_destroy(&identity);
        return;
    }
    char kind = mdp_kind(msg);
    if (kind == 'C')
        clients_refuse(self, identity, msg, PROFAI_ERR_NOT_LEADER,
                       "this broker is a standby: try the next endpoint");
    else if (kind == 'W')
        broker_send_disconnect(self, zframe_data(identity), zframe_size(identity));
    zframe_destroy(&identity);
}

int
standby_wait(broker_t *self, leader_t *leader, int poll_ms, volatile sig_atomic_t *stop,
             int64_t *epoch)
{
    int64_t next_try = zclock_mono();
    bool unreachable_logged = false;
    log_info("standing by on %s: answering not_leader until this broker takes the lock",
             self->endpoint);
    while (!*stop) {
        int64_t now = zclock_mono();
        if (now >= next_try) {
            char err[512];
            int rc = leader_try_take(leader, epoch, err, sizeof err);
            if (rc == 1)
                return 1;
            if (rc < 0 && !unreachable_logged)
                log_warn("standby: %s (trying again every %d ms)", err, poll_ms);
            unreachable_logged = rc < 0;
            now = zclock_mono();
            next_try = now + poll_ms;
        }
        zmq_pollitem_t items[2];
        int n = 0, zap_at = -1;
        items[n++] = (zmq_pollitem_t){zsock_resolve(self->router), 0, ZMQ_POLLIN, 0};
        if (self->zap != NULL) {
            zap_at = n;
            items[n++] = (zmq_pollitem_t){zsock_resolve(zap_socket(self->zap)), 0, ZMQ_POLLIN, 0};
        }
        long wait = (long)(next_try > now ? next_try - now : 0);
        if (zmq_poll(items, n, notify_watchdog_cap(wait)) < 0) {
            if (errno == EINTR)
                continue;
            log_error("zmq_poll failed: %s", zmq_strerror(errno));
            return -1;
        }
        notify_watchdog();
        self->now = zclock_mono();
        if (zap_at >= 0 && (items[zap_at].revents & ZMQ_POLLIN))
            zap_handle(self->zap, self->now);
        if (items[0].revents & ZMQ_POLLIN) {
            for (int i = 0; i < STANDBY_BATCH; i++) {
                zmsg_t *msg = zmsg_recv(self->router);
                if (msg == NULL)
                    break;
                s_send_away(self, msg);
                zmsg_destroy(&msg);
            }
        }
    }
    return 0;
}
