/*
 * proto_internal.h - helpers shared by the files of the protocol codec (private to protocol/).
 */
#ifndef PROFAI_PROTO_INTERNAL_H
#define PROFAI_PROTO_INTERNAL_H

#include "profai/proto.h"

/* Fill err (may be NULL) with a code (profai/errors.h) and a printf-style sentence; always
 * returns -1 so that callers can `return proto_error_set(...)`. */
int proto_error_set(proto_error_t *err, profai_error_t code, const char *fmt, ...)
    PROFAI_PRINTF(3, 4);

/* Length of a NUL-terminated string held in a buffer of `max + 1` bytes; max + 1 when the
 * string is longer than max (or NULL), so that callers can reject it. */
size_t proto_strlen_max(const char *s, size_t max);

#endif
