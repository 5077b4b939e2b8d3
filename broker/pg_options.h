/*
 * pg_options.h - the server settings a broker connection asks for, merged with the operator's
 * (docs/broker.md, "Talking to PostgreSQL").
 *
 * libpq takes one `options` value per connection: a value the broker passes replaces the one
 * in the operator's conninfo (and PGOPTIONS). pg_options_merge puts the broker's settings
 * first and the operator's after them, so the session gets both and, on a setting both name,
 * the operator's wins (PostgreSQL applies `-c` switches in order). No I/O, no logging.
 */
#ifndef PROFAI_BROKER_PG_OPTIONS_H
#define PROFAI_BROKER_PG_OPTIONS_H

#include "profai/compiler.h"

/* ours, then the `options` of conninfo (a key=value string or a URI; NULL or "" are libpq's
 * defaults; anything else, such as a bare database name, names no options), or, when conninfo
 * names none, pgoptions (the PGOPTIONS environment variable, or NULL). A new string the caller
 * frees; NULL when out of memory. */
PROFAI_MUST_CHECK char *pg_options_merge(const char *ours, const char *conninfo,
                                         const char *pgoptions);

#endif
