/*
 * job_secret.h - the secret of a job attempt (docs/protocol.md, 3.1; docs/broker.md,
 * "Fenced results"): 128 random bits, as PROTO_SECRET_LEN lower-case hex digits, sent to the
 * attempt's worker at the end of its token and nowhere else. The broker keeps the secret in
 * memory and only its SHA-256 (hex) in jobs.token_sha256, so that after a restart an orphan's
 * result is accepted only from a peer that presents the secret. No I/O but getrandom; nothing
 * here logs. Buffers are the caller's.
 */
#ifndef PROFAI_BROKER_JOB_SECRET_H
#define PROFAI_BROKER_JOB_SECRET_H

#include "profai/compiler.h"
#include "profai/proto.h"

#include <stdbool.h>

/* Hex digits of a SHA-256. */
#define JOB_SECRET_HASH_LEN 64

/* A new secret into secret (PROTO_SECRET_LEN + 1 bytes). -1 when the kernel gives no random
 * bytes. */
int job_secret_new(char *secret) PROFAI_MUST_CHECK;

/* The SHA-256 of secret's characters, in lower-case hex, into hash (JOB_SECRET_HASH_LEN + 1
 * bytes). */
void job_secret_hash(const char *secret, char *hash);

/* Whether given equals expected (both NUL-terminated; an empty expected matches nothing), in
 * time that does not depend on where they differ. */
bool job_secret_equal(const char *expected, const char *given);

/* Whether given hashes to hash (hex, as job_secret_hash writes it; empty: matches nothing). */
bool job_secret_matches_hash(const char *hash, const char *given);

#endif
