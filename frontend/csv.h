/*
 * csv.h - writing CSV (RFC 4180) for the results export (docs/api.md 4.17): fields separated
 * by commas, records ended by CRLF, text fields always in double quotes with their quotes
 * doubled (so commas, quotes and line ends inside them are data), numbers bare, NULL empty.
 * A text field that begins with = + - @ TAB or CR gets a leading ' so that a spreadsheet does
 * not evaluate it as a formula (CSV injection). Pure: tests/unit/test_csv.c.
 */
#ifndef PROFAI_FRONTEND_CSV_H
#define PROFAI_FRONTEND_CSV_H

#include "strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/* Append one field (s: len bytes, or NULL for an empty field), with the comma before it
 * unless first. text: quoted and guarded as above; else written as it is (a number). */
void csv_field(strbuf_t *out, bool first, const char *s, size_t len, bool text);

/* End the record (CRLF). */
void csv_end_record(strbuf_t *out);

#endif
