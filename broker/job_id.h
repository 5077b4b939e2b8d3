/*
 * job_id.h - new random (version 4) UUIDs for the broker's job and course ids.
 *
 * The ids come from a buffer of kernel random bytes refilled by one getrandom call every 32
 * ids, per thread: libuuid's uuid_generate (through zuuid_new) made several system calls for
 * each id (getpid, getuid, getrandom), 16 % of the loop thread's CPU at 500 submissions/s
 * (docs/performance.md, "1,000 workers"). No logging; the buffer is the calling thread's.
 */
#ifndef PROFAI_BROKER_JOB_ID_H
#define PROFAI_BROKER_JOB_ID_H

#include "profai/compiler.h"
#include "profai/proto.h"

/* Characters of a canonical UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower case). */
#define JOB_ID_LEN PROTO_UUID_LEN

/* A new random UUID into id (JOB_ID_LEN + 1 bytes). -1 when the kernel gives no random
 * bytes. */
int job_id_new(char *id) PROFAI_MUST_CHECK;

#endif
