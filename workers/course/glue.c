/* glue.c - see glue.h. */
#include "glue.h"

#include "strbuf.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

bool
glue_long_run(const char *text, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += utf8_decode(text + i, len - i, &c);
        run = c == ' ' || c == '\n' || c == '\t' || utf8_is_cjk(c) ? 0 : run + 1;
        if (run > GLUE_RUN_MAX)
            return true;
    }
    return false;
}

size_t
glue_word_runs(const char *text, size_t len)
{
    size_t runs = 0, run = 0;
    bool words = true; /* the run so far is words and their punctuation only */
    for (size_t i = 0; i <= len;) {
        uint32_t c = ' ';
        if (i < len)
            i += utf8_decode(text + i, len - i, &c);
        else
            i++;
        if (c == ' ' || c == '\n' || c == '\t' || utf8_is_cjk(c)) {
            runs += words && run > GLUE_RUN_MAX;
            run = 0;
            words = true;
            continue;
        }
        run++;
        words = words && (utf8_is_letter(c) || utf8_is_digit(c) ||
                          (c < 0x80 && strchr(".,-_'()", (int)c) != NULL) || c == 0x2019);
    }
    return runs;
}

bool
glue_found(const char *text, size_t len)
{
    size_t run = 0;    /* characters since the last space */
    size_t word = 0;   /* letters in the current word */
    size_t lowers = 0; /* lower-case letters just before */
    bool junction = false;
    size_t after = 0; /* lower-case letters after the junction's capital */
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += utf8_decode(text + i, len - i, &c);
        bool space = c == ' ' || c == '\n' || c == '\t' || utf8_is_cjk(c);
        run = space ? 0 : run + 1;
        if (run > GLUE_RUN_MAX)
            return true;
        if (!utf8_is_letter(c) || utf8_is_cjk(c)) {
            word = lowers = after = 0;
            junction = false;
            continue;
        }
        word++;
        if (utf8_is_lower(c)) {
            lowers++;
            after += junction;
            if (junction && after >= 2 && word >= GLUE_WORD_MIN) {
                /* the whole word need not be read: it is long enough already */
                return true;
            }
        } else if (utf8_is_upper(c)) {
            junction = lowers >= 3;
            after = 0;
            lowers = 0;
        }
    }
    return false;
}

/* A paragraph [at, end) that reads as a heading (glue.h). */
static bool
s_heading(const char *at, size_t n)
{
    if (n < 2 || n > 80 || memchr(at, '\n', n) != NULL || glue_found(at, n))
        return false;
    uint32_t first;
    utf8_decode(at, n, &first);
    if (!(utf8_is_digit(first) || (utf8_is_letter(first) && !utf8_is_lower(first))))
        return false;
    char last = at[n - 1];
    if (last == '.' || last == ',' || last == ';' || last == ':')
        return false;
    size_t words = 1;
    for (size_t i = 0; i < n; i++)
        words += at[i] == ' ';
    return words <= 12;
}

char *
glue_outline(const char *text, size_t len, const keyterms_t *terms)
{
    strbuf_t out;
    strbuf_init(&out);
    size_t headings = 0;
    for (size_t i = 0; i < len && headings < GLUE_HEADINGS_MAX;) {
        const char *end = strstr(text + i, "\n\n");
        size_t stop = end != NULL && (size_t)(end - text) < len ? (size_t)(end - text) : len;
        if (s_heading(text + i, stop - i)) {
            if (headings++ > 0)
                strbuf_append_cstr(&out, "; ");
            strbuf_append(&out, text + i, stop - i);
        }
        i = stop + 2;
    }
    size_t shown = 0;
    for (size_t k = 0; terms != NULL && k < terms->count && shown < GLUE_TERMS_MAX; k++) {
        const char *term = terms->items[k].text;
        if (glue_found(term, strlen(term)))
            continue;
        strbuf_append_cstr(&out, shown++ > 0 ? ", " : headings > 0 ? " — " : "");
        strbuf_append_cstr(&out, term);
    }
    if (out.len > 0)
        strbuf_append_char(&out, '.');
    if (strbuf_failed(&out)) {
        strbuf_free(&out);
        return NULL;
    }
    return out.data != NULL ? strbuf_steal(&out, NULL) : strdup("");
}
