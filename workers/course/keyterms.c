/* keyterms.c - see keyterms.h. */
#include "keyterms.h"

#include "strbuf.h"
#include "utf8.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHORT_LESSON_WORDS 80 /* below this, a term found once may be a key term */
#define PHRASE_BOOST 0.25     /* per extra word of a phrase */

typedef struct {
    long id;
    double score;
    size_t first; /* first occurrence, for ties */
} scored_t;

static int
s_scored_cmp(const void *a, const void *b)
{
    const scored_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Is w[0..wlen) found in s[0..slen) with word boundaries (spaces or the ends) around it? */
static bool
s_has_words(const char *s, size_t slen, const char *w, size_t wlen)
{
    if (wlen == 0 || wlen > slen)
        return false;
    for (size_t i = 0; i + wlen <= slen; i++) {
        if ((i == 0 || s[i - 1] == ' ') && (i + wlen == slen || s[i + wlen] == ' ') &&
            memcmp(s + i, w, wlen) == 0)
            return true;
    }
    return false;
}

static bool
s_plural_of(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen == blen + 1 && a[alen - 1] == 's')
        return memcmp(a, b, blen) == 0;
    if (alen == blen + 2 && a[alen - 2] == 'e' && a[alen - 1] == 's')
        return memcmp(a, b, blen) == 0;
    return false;
}

/* Words that a and b (lower case, single spaces) have in common. */
static int
s_common_words(const char *a, size_t alen, const char *b, size_t blen)
{
    int common = 0;
    for (size_t i = 0; i < alen;) {
        size_t j = i;
        while (j < alen && a[j] != ' ')
            j++;
        common += s_has_words(b, blen, a + i, j - i);
        i = j + 1;
    }
    return common;
}

bool
keyterms_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
    return s_has_words(a, alen, b, blen) || s_has_words(b, blen, a, alen) ||
           s_plural_of(a, alen, b, blen) || s_plural_of(b, blen, a, alen) ||
           s_common_words(a, alen, b, blen) >= 2;
}

/* The term as the lesson writes it, from the occurrence at grams[index]. */
static char *
s_display(const terms_t *t, const terms_lesson_t *l, size_t index)
{
    const gram_at_t *g = &l->grams[index];
    const token_t *first = &l->sentences->tokens[g->token];
    const token_t *last = &l->sentences->tokens[g->token + (size_t)g->words - 1];
    strbuf_t out;
    strbuf_init(&out);
    strbuf_append(&out, l->text + first->start, last->end - first->start);
    if ((first->flags & TOKEN_INITIAL) && out.len > 0) {
        /* "Membranes are ...": lower the capital unless the word has others ("DNA", "LaTeX"). */
        uint32_t cp;
        size_t n = utf8_decode(out.data, out.len, &cp);
        bool others = false;
        size_t word_end = first->end - first->start;
        for (size_t i = n; i < word_end;) {
            uint32_t c;
            i += utf8_decode(out.data + i, word_end - i, &c);
            others = others || utf8_is_upper(c);
        }
        if (utf8_is_upper(cp) && !others) {
            strbuf_t lowered;
            strbuf_init(&lowered);
            strbuf_append_cp(&lowered, utf8_lower(cp));
            strbuf_append(&lowered, out.data + n, out.len - n);
            strbuf_free(&out);
            out = lowered;
        }
    }
    (void)t;
    return strbuf_steal(&out, NULL);
}

int
keyterms_pick(const terms_t *t, size_t lesson, const terms_tally_t *tally, keyterms_t *out)
{
    memset(out, 0, sizeof *out);
    const terms_lesson_t *l = &t->lessons[lesson];
    int min_tf = l->sentences->ntokens < SHORT_LESSON_WORDS ? 1 : 2;
    scored_t *cands = malloc((tally->ntouched + 1) * sizeof *cands);
    if (cands == NULL)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < tally->ntouched; i++) {
        long id = tally->touched[i];
        int tf = tally->count[id];
        if (tf < min_tf || !t->candidate[id])
            continue;
        double score =
            (1.0 + log((double)tf)) * terms_idf(t, id) * (1.0 + PHRASE_BOOST * (t->words[id] - 1));
        cands[n++] = (scored_t){id, score, tally->first[id]};
    }
    qsort(cands, n, sizeof *cands, s_scored_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && out->count < KEYTERMS_MAX; i++) {
        size_t alen;
        const char *a = terms_text(t, cands[i].id, &alen);
        bool overlaps = false;
        for (size_t k = 0; k < out->count && !overlaps; k++) {
            size_t blen;
            const char *b = terms_text(t, out->items[k].id, &blen);
            overlaps = keyterms_overlap(a, alen, b, blen);
        }
        if (overlaps)
            continue;
        char *text = s_display(t, l, tally->shown[cands[i].id]);
        if (text == NULL) {
            rc = -1;
            break;
        }
        out->items[out->count++] =
            (keyterm_t){text, cands[i].id, t->words[cands[i].id], cands[i].score};
    }
    free(cands);
    if (rc != 0)
        keyterms_free(out);
    return rc;
}

void
keyterms_free(keyterms_t *k)
{
    for (size_t i = 0; i < k->count; i++)
        free(k->items[i].text);
    memset(k, 0, sizeof *k);
}
