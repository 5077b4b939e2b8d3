/*
 * pdf_cache.h - small PDFs by SHA-256, kept in memory after a dispatch read them, so that the
 * next job of the same PDF can be sent before its dispatch commits (docs/broker.md, "Sending
 * before the dispatch commits").
 *
 * Content-addressed: pdf_cache_put stores bytes only under their own SHA-256 (computed here),
 * so a hit is always the stored PDF. Bounded: PDF_CACHE_ITEMS entries of at most
 * PDF_CACHE_ITEM_MAX bytes each; the oldest entry goes first. The cache owns its copies; a
 * pointer from pdf_cache_get is valid until the next pdf_cache_put. No I/O, no logging.
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

typedef struct pdf_cache_t pdf_cache_t;

/* An empty cache; NULL when out of memory. */
pdf_cache_t *pdf_cache_new(void);

/* Free the cache and its copies; accepts NULL. */
void pdf_cache_destroy(pdf_cache_t **self_p);

/* The bytes of the PDF whose SHA-256 is sha256 (64 lower-case hex digits), or NULL. */
const uint8_t *pdf_cache_get(pdf_cache_t *self, const char *sha256, size_t *len);

/* Keep a copy of data (len bytes, at most PDF_CACHE_ITEM_MAX) under sha256 if that is its
 * SHA-256. Returns 0 when kept or already there, -1 otherwise (too large, another hash, out of
 * memory). */
int pdf_cache_put(pdf_cache_t *self, const char *sha256, const uint8_t *data, size_t len);

#endif
