/*
 * docmodel_wire.h - a page range of a document model as bytes, and the whole model back from
 * the ranges: how the extractors of one split document hand their pages to the process that
 * builds the course (docs/worker.md, "Large documents: split across processes").
 *
 * A large PDF is read by K sandboxed profai-extract processes, each on a range of pages
 * (`--pages A-B`); each writes its range with docmodel_wire_encode. One more sandboxed process
 * (`--merge`) reads the K parts, concatenated in page order, with docmodel_wire_decode, and
 * builds the course from the merged model exactly as one process would from the model it read
 * itself: the merged model is field for field the model one reader builds from the whole PDF.
 *
 * The bytes come from processes that parsed hostile input, so the decoder trusts nothing:
 * every count and length is checked against what is left before anything is allocated, and
 * the parts must cover pages 1..P once, in order. Host byte order: both ends are the same
 * program on the same host, through a memfd, never a network.
 *
 * Pure C, no I/O; nothing here logs.
 */
#ifndef PROFAI_DOCMODEL_WIRE_H
#define PROFAI_DOCMODEL_WIRE_H

#include "docmodel.h"
#include "profai/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encode pages first..last (1-based, inclusive, within dm->pages) of dm (borrowed): their
 * heights, texts and lines, and, when with_outline, the outline and the metadata. On success
 * the caller owns *data (free with free()), *len bytes. 0, or -1 when out of memory or when
 * the range is invalid. */
int docmodel_wire_encode(const docmodel_t *dm, int first, int last, bool with_outline,
                         uint8_t **data, size_t *len) PROFAI_MUST_CHECK;

/* Decode a concatenation of parts (borrowed) into *dm, which the caller frees with
 * docmodel_free. The parts must all name the same page count P, follow each other in page
 * order from page 1 to page P without gap or overlap, and exactly the first one carries the
 * outline and metadata. 0; -1 with a reason in why (a sentence for the log) when the bytes
 * are not such parts (*dm is then zeroed); -2 when out of memory (*dm zeroed). */
int docmodel_wire_decode(const uint8_t *data, size_t len, docmodel_t *dm, char *why,
                         size_t why_size) PROFAI_MUST_CHECK;

#endif
