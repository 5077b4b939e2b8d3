/* quiz_equiv.c - see quiz_equiv.h. */
#define _GNU_SOURCE /* memmem */
#include "quiz_equiv.h"

#include "strbuf.h"
#include "utf8.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Lower-case s; when squeeze, letters and digits only (everything else left out). */
static void
s_fold(const char *s, bool squeeze, strbuf_t *out)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        if (squeeze && cp < 0x80 && !isalnum((int)cp))
            continue;
        strbuf_append_cp(out, utf8_lower(cp));
    }
}

size_t
quiz_equiv_stem_len(const char *w, size_t n)
{
    if (n > 4 && w[n - 1] == 's' && w[n - 2] == 'e' &&
        (w[n - 3] == 's' || w[n - 3] == 'x' || w[n - 3] == 'z' || w[n - 3] == 'h'))
        return n - 2;
    if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's')
        return n - 1;
    return n;
}

bool
quiz_equiv_normal(const char *a, const char *b)
{
    strbuf_t x, y;
    strbuf_init(&x);
    strbuf_init(&y);
    s_fold(a, true, &x);
    s_fold(b, true, &y);
    bool same = false;
    if (!strbuf_failed(&x) && !strbuf_failed(&y) && x.len > 0 && y.len > 0) {
        size_t nx = quiz_equiv_stem_len(x.data, x.len), ny = quiz_equiv_stem_len(y.data, y.len);
        same = nx == ny && memcmp(x.data, y.data, nx) == 0;
    }
    strbuf_free(&x);
    strbuf_free(&y);
    return same;
}

/* The initials of s's words into out (all words, or only those of 3 characters or more). */
static size_t
s_initials(const char *s, bool long_words_only, char *out, size_t size)
{
    size_t n = 0, words = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        while (*p != '\0' && !isalnum(*p))
            p++;
        if (*p == '\0')
            break;
        const unsigned char *start = p;
        while (*p != '\0' && (isalnum(*p) || *p >= 0x80))
            p++;
        words++;
        if (long_words_only && p - start < 3)
            continue;
        if (n + 1 < size)
            out[n++] = (char)tolower(*start);
    }
    out[n] = '\0';
    return words;
}

bool
quiz_equiv_abbreviation(const char *short_form, const char *long_form)
{
    size_t n = strlen(short_form);
    if (n < 2 || n > 8)
        return false;
    char abbr[9];
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)short_form[i]))
            return false;
        abbr[i] = (char)tolower((unsigned char)short_form[i]);
    }
    abbr[n] = '\0';
    char initials[64];
    if (s_initials(long_form, false, initials, sizeof initials) < 2)
        return false;
    if (strcmp(initials, abbr) == 0)
        return true;
    s_initials(long_form, true, initials, sizeof initials);
    return strcmp(initials, abbr) == 0;
}

static const char *const s_links[] = {" (",          ", or ",          " (or ",
                                      ", i.e. ",     ", i.e., ",       ", that is ",
                                      ", that is, ", ", also called ", ", also known as ",
                                      ", aka ",      " stands for ",   " means "};
/* The second term may take an article: "the answer sheet, also called the form". */
static const char *const s_articles[] = {"", "the ", "a ", "an "};

/* Is hay[at, at + n) a match of whole words: no letter or digit on either side, and a ")"
 * after it for a bracket link? */
static bool
s_defined_at(const char *hay, size_t len, size_t at, size_t n, bool bracket)
{
    size_t end = at + n;
    if (!(end >= len || !isalnum((unsigned char)hay[end])))
        return false;
    if (bracket && (end >= len || hay[end] != ')'))
        return false;
    return at == 0 || !isalnum((unsigned char)hay[at - 1]);
}

/* Does the document write "a<link><article>b" (a ")" after b for a bracket link), each term
 * as whole words? With the document's index, one search per whole phrase: its rarest 4 bytes
 * are rare, where b alone may be a common word (or shorter than the index's 4 bytes, a scan
 * of the whole text): a third of a 2,000-page course's build went to b's occurrences. */
static bool
s_defined_one_way(const quiz_doc_t *doc, const char *a, const char *b)
{
    const char *hay = doc->lower;
    size_t len = doc->lower_len, alen = strlen(a), blen = strlen(b);
    if (doc->lower_index != NULL) {
        size_t cap = alen + blen + 32; /* the longest link and article are 17 + 4 bytes */
        char *phrase = malloc(cap);
        if (phrase == NULL)
            return false; /* as if not found: the quiz keeps the candidate out */
        bool found = false;
        for (size_t i = 0; i < sizeof s_links / sizeof *s_links && !found; i++) {
            bool bracket = strchr(s_links[i], '(') != NULL;
            size_t llen = strlen(s_links[i]);
            for (size_t k = 0; k < sizeof s_articles / sizeof *s_articles && !found; k++) {
                size_t plen = strlen(s_articles[k]), n = alen + llen + plen + blen;
                memcpy(phrase, a, alen);
                memcpy(phrase + alen, s_links[i], llen);
                memcpy(phrase + alen + llen, s_articles[k], plen);
                memcpy(phrase + alen + llen + plen, b, blen);
                text_search_t s;
                text_search_init(&s, doc->lower_index, hay, len, phrase, n);
                for (const char *f = text_search_next(&s); f != NULL && !found;
                     f = text_search_next(&s))
                    found = s_defined_at(hay, len, (size_t)(f - hay), n, bracket);
            }
        }
        free(phrase);
        return found;
    }
    /* No index (a short document): one scan for b's occurrences; the rest compared in place. */
    text_search_t s;
    text_search_init(&s, NULL, hay, len, b, blen);
    for (const char *f = text_search_next(&s); f != NULL; f = text_search_next(&s)) {
        size_t at = (size_t)(f - hay), end = at + blen;
        if (!(end >= len || !isalnum((unsigned char)hay[end])))
            continue;
        for (size_t i = 0; i < sizeof s_links / sizeof *s_links; i++) {
            bool bracket = strchr(s_links[i], '(') != NULL;
            size_t llen = strlen(s_links[i]);
            for (size_t k = 0; k < sizeof s_articles / sizeof *s_articles; k++) {
                size_t plen = strlen(s_articles[k]);
                if (at < alen + llen + plen)
                    continue;
                size_t start = at - plen - llen - alen;
                if (memcmp(hay + start, a, alen) == 0 &&
                    memcmp(hay + start + alen, s_links[i], llen) == 0 &&
                    memcmp(hay + start + alen + llen, s_articles[k], plen) == 0 &&
                    s_defined_at(hay, len, start, end - start, bracket))
                    return true;
            }
        }
    }
    return false;
}

bool
quiz_equiv_defined(const quiz_doc_t *doc, const char *a, const char *b)
{
    if (doc == NULL || doc->lower == NULL)
        return false;
    strbuf_t x, y;
    strbuf_init(&x);
    strbuf_init(&y);
    s_fold(a, false, &x);
    s_fold(b, false, &y);
    bool found = !strbuf_failed(&x) && !strbuf_failed(&y) && x.len > 0 && y.len > 0 &&
                 (s_defined_one_way(doc, x.data, y.data) || s_defined_one_way(doc, y.data, x.data));
    strbuf_free(&x);
    strbuf_free(&y);
    return found;
}

bool
quiz_equiv_terms(const quiz_doc_t *doc, const char *a, const char *b)
{
    return quiz_equiv_normal(a, b) || quiz_equiv_abbreviation(a, b) ||
           quiz_equiv_abbreviation(b, a) || quiz_equiv_defined(doc, a, b);
}
