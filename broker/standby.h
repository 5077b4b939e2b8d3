/*
 * standby.h - a broker that does not lead yet (docs/broker.md, "Standby broker"): it serves its
 * ROUTER only to send peers elsewhere (clients get `not_leader`, workers DISCONNECT) and tries
 * to take the leadership every poll interval. It reads no job and writes nothing.
 */
#ifndef PROFAI_BROKER_STANDBY_H
#define PROFAI_BROKER_STANDBY_H

#include "broker.h"
#include "leader.h"

#include <signal.h>
#include <stdint.h>

/* Stand by on broker's bound ROUTER (borrowed) until leader (borrowed) takes the leadership:
 * returns 1 with the new epoch in *epoch, 0 when *stop became non-zero, -1 when the loop
 * itself failed. poll_ms: between two attempts to take the lock. */
int standby_wait(broker_t *broker, leader_t *leader, int poll_ms, volatile sig_atomic_t *stop,
                 int64_t *epoch) PROFAI_MUST_CHECK;

#endif
