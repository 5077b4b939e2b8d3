/*
 * pdf_cache.h - small PDFs by SHA-256, kept in memory after a dispatch read them, so that the
 * next job of the same PDF can be sent before its dispatch commits (docs/broker.md, "Sending
 * before the dispatch commits").
 *
 * Kept on a second sighting only: teachers upload distinct PDFs, so most PDFs are read once
 * and never asked for again. pdf_cache_put only remembers the hash of a PDF it is offered for
 * the first time (among the last PDF_CACHE_SEEN hashes offered): no SHA-256, no copy. Offered
 * again (another job of the same PDF was read), the PDF is hashed and copied then, and the
 * jobs after that hit.
 *
 * The invariant: pdf_cache_get returns only bytes whose SHA-256, computed here when they were
 * kept, is the hash asked for; so a REQUEST sent from the cache carries exactly the PDF of the
 * job's hash. (A PDF not in the cache is sent as read from blobs under its hash, which the
 * frontend computed from those bytes at upload: docs/database.md.) Bounded: PDF_CACHE_ITEMS
 * entries of at most PDF_CACHE_ITEM_MAX bytes each, the oldest entry replaced first, and
 * PDF_CACHE_SEEN remembered hashes. The cache owns its copies; a pointer from pdf_cache_get is
 * valid until the next pdf_cache_put. No I/O, no logging.
 */
#ifndef PROFAI_BROKER_PDF_CACHE_H
#define PROFAI_BROKER_PDF_CACHE_H

#include "profai/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entries at most, and the largest PDF kept (bytes): at most 32 MiB in all. */
#define PDF_CACHE_ITEMS 64
#define PDF_CACHE_ITEM_MAX (512 * 1024)
/* Hashes of PDFs offered once, remembered for a second sighting (the oldest forgotten first). */
#define PDF_CACHE_SEEN 1024

typedef struct pdf_cache_t pdf_cache_t;

/* An empty cache; NULL when out of memory. */
pdf_cache_t *pdf_cache_new(void);

/* Free the cache and its copies; accepts NULL. */
void pdf_cache_destroy(pdf_cache_t **self_p);

/* The bytes of the PDF whose SHA-256 is sha256 (64 lower-case hex digits), or NULL. */
const uint8_t *pdf_cache_get(pdf_cache_t *self, const char *sha256, size_t *len);

/* Offer data (len bytes) read for a job whose PDF hash is sha256. The first time (among the
 * last PDF_CACHE_SEEN hashes offered) only the hash is remembered: returns 1. Offered again, a
 * copy is kept under sha256 if that is data's SHA-256: returns 0 when kept or already there.
 * -1 otherwise (too large: more than PDF_CACHE_ITEM_MAX bytes; another hash; out of memory). */
int pdf_cache_put(pdf_cache_t *self, const char *sha256, const uint8_t *data, size_t len);

#endif
