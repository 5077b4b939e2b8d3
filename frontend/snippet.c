/* snippet.c - see snippet.h. */
#include "snippet.h"

#include <stdbool.h>

int
snippet_html(const char *text, size_t len, strbuf_t *out)
{
    size_t start = out->len;
    bool open = false, space = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = out->len > start;
            continue;
        }
        if (space)
            strbuf_append_char(out, ' ');
        space = false;
        switch (c) {
        case SNIPPET_MARK_START:
            if (!open)
                strbuf_append_cstr(out, "<mark>");
            open = true;
            break;
        case SNIPPET_MARK_STOP:
            if (open)
                strbuf_append_cstr(out, "</mark>");
            open = false;
            break;
        case '&':
            strbuf_append_cstr(out, "&amp;");
            break;
        case '<':
            strbuf_append_cstr(out, "&lt;");
            break;
        case '>':
            strbuf_append_cstr(out, "&gt;");
            break;
        case '"':
            strbuf_append_cstr(out, "&quot;");
            break;
        case '\'':
            strbuf_append_cstr(out, "&#39;");
            break;
        default:
            strbuf_append_char(out, (char)c);
            break;
        }
    }
    if (open)
        strbuf_append_cstr(out, "</mark>");
    return strbuf_failed(out) ? -1 : 0;
}
