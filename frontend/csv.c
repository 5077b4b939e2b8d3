/* csv.c - see csv.h. */
#include "csv.h"

#include <string.h>

void
csv_field(strbuf_t *out, bool first, const char *s, size_t len, bool text)
{
    if (!first)
        strbuf_append_char(out, ',');
    if (s == NULL)
        return;
    if (!text) {
        strbuf_append(out, s, len);
        return;
    }
    strbuf_append_char(out, '"');
    if (len > 0 && s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
        strbuf_append_char(out, '\'');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            strbuf_append_char(out, '"');
        strbuf_append_char(out, s[i]);
    }
    strbuf_append_char(out, '"');
}

void
csv_end_record(strbuf_t *out)
{
    strbuf_append(out, "\r\n", 2);
}
