/* terms.c - see terms.h. */
#include "terms.h"

#include "strbuf.h"
#include "utf8.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CJK_SHARE 0.3 /* more Chinese/Japanese letters than this: no language guess */

int
terms_init(terms_t *t, const stopwords_t *stopwords)
{
    memset(t, 0, sizeof *t);
    t->stopwords = stopwords;
    t->grams = strmap_new();
    return t->grams != NULL ? 0 : -1;
}

void
terms_free(terms_t *t)
{
    strmap_destroy(&t->grams);
    free(t->langs);
    free(t->words);
    free(t->candidate);
    free(t->df);
    free(t->last);
    for (size_t i = 0; i < t->nlessons; i++) {
        free(t->lessons[i].word_ids);
        free(t->lessons[i].grams);
    }
    free(t->lessons);
    memset(t, 0, sizeof *t);
}

/* Make room in the arrays by gram id for id; new entries are zero. */
static int
s_ensure(terms_t *t, long id)
{
    size_t need = (size_t)id + 1;
    if (need <= t->cap)
        return 0;
    size_t cap = t->cap != 0 ? t->cap : 1024;
    while (cap < need)
        cap *= 2;
    unsigned char *langs = realloc(t->langs, cap);
    if (langs != NULL)
        t->langs = langs;
    unsigned char *words = realloc(t->words, cap);
    if (words != NULL)
        t->words = words;
    bool *candidate = realloc(t->candidate, cap * sizeof *candidate);
    if (candidate != NULL)
        t->candidate = candidate;
    int *df = realloc(t->df, cap * sizeof *df);
    if (df != NULL)
        t->df = df;
    long *last = realloc(t->last, cap * sizeof *last);
    if (last != NULL)
        t->last = last;
    if (langs == NULL || words == NULL || candidate == NULL || df == NULL || last == NULL)
        return -1;
    size_t old = t->cap;
    memset(t->langs + old, 0, cap - old);
    memset(t->words + old, 0, cap - old);
    memset(t->candidate + old, 0, (cap - old) * sizeof *candidate);
    memset(t->df + old, 0, (cap - old) * sizeof *df);
    for (size_t i = old; i < cap; i++)
        t->last[i] = -1;
    t->cap = cap;
    return 0;
}

/* Intern a gram; new single words get their stop-word languages. */
static long
s_intern(terms_t *t, const char *s, size_t len, int words)
{
    size_t before = strmap_count(t->grams);
    long id = strmap_intern(t->grams, s, len);
    if (id < 0 || s_ensure(t, id) != 0)
        return -1;
    if ((size_t)id >= before) {
        t->words[id] = (unsigned char)words;
        if (words == 1)
            t->langs[id] = (unsigned char)stopwords_langs(t->stopwords, s, len);
    }
    return id;
}

int
terms_add_lesson(terms_t *t, const char *text, size_t len, const sentences_t *s)
{
    if (array_grow((void **)&t->lessons, &t->lessons_cap, t->nlessons + 1, sizeof *t->lessons) != 0)
        return -1;
    terms_lesson_t *lesson = &t->lessons[t->nlessons];
    memset(lesson, 0, sizeof *lesson);
    lesson->text = text;
    lesson->len = len;
    lesson->sentences = s;
    lesson->word_ids = malloc((s->ntokens + 1) * sizeof *lesson->word_ids);
    if (lesson->word_ids == NULL)
        return -1;
    t->nlessons++;
    strbuf_t lower;
    strbuf_init(&lower);
    for (size_t k = 0; k < s->ntokens; k++) {
        const token_t *tok = &s->tokens[k];
        strbuf_reset(&lower);
        for (size_t i = tok->start; i < tok->end;) {
            uint32_t cp;
            i += utf8_decode(text + i, tok->end - i, &cp);
            strbuf_append_cp(&lower, utf8_lower(cp));
            t->letters += utf8_is_letter(cp);
            t->cjk += utf8_is_cjk(cp);
        }
        long id = strbuf_failed(&lower) ? -1 : s_intern(t, lower.data, lower.len, 1);
        if (id < 0) {
            strbuf_free(&lower);
            return -1;
        }
        lesson->word_ids[k] = id;
        t->counted++;
        for (int i = 0; i < STOPWORDS_LANGUAGES; i++)
            t->hits[i] += (t->langs[id] & stopwords_bit(i)) != 0;
    }
    strbuf_free(&lower);
    return 0;
}

unsigned
terms_language(const terms_t *t)
{
    if (t->letters > 0 && (double)t->cjk > CJK_SHARE * (double)t->letters)
        return 0;
    return stopwords_guess(t->hits, t->counted);
}

bool
terms_is_stop(const terms_t *t, long id)
{
    return id >= 0 && (size_t)id < t->cap && t->words[id] == 1 &&
           (t->langs[id] & t->stop_mask) != 0;
}

/* May a single word be a key term: no stop word, a letter, 3 to 40 characters (2 for
 * Chinese and Japanese), not only hiragana (particles)? */
static bool
s_word_candidate(const terms_t *t, long id)
{
    if (terms_is_stop(t, id))
        return false;
    size_t len;
    const char *s = strmap_key(t->grams, id, &len);
    size_t chars = 0, letters = 0, cjk = 0, kana = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        chars++;
        letters += utf8_is_letter(cp);
        cjk += utf8_is_cjk(cp);
        kana += cp >= 0x3040 && cp <= 0x309f;
    }
    size_t min = cjk == chars ? 2 : TERMS_MIN_CHARS;
    return letters > 0 && chars >= min && chars <= TERMS_MAX_CHARS && kana < chars;
}

static void
s_count_df(terms_t *t, long id, long lesson)
{
    if (t->last[id] != lesson) {
        t->last[id] = lesson;
        t->df[id]++;
    }
}

static int
s_add_at(terms_lesson_t *l, size_t *cap, long id, size_t token, int words)
{
    if (array_grow((void **)&l->grams, cap, l->ngrams + 1, sizeof *l->grams) != 0)
        return -1;
    l->grams[l->ngrams++] = (gram_at_t){(int32_t)id, (uint32_t)token, words};
    return 0;
}

/* The phrase of `words` words starting at token k, or -1 when it is not one: every word a
 * candidate, each following the previous one after a single space. */
static long
s_phrase(terms_t *t, const terms_lesson_t *l, size_t k, size_t end, int words, strbuf_t *buf)
{
    if (k + (size_t)words > end)
        return -2;
    strbuf_reset(buf);
    for (int w = 0; w < words; w++) {
        long id = l->word_ids[k + (size_t)w];
        if (!t->candidate[id])
            return -2;
        if (w > 0 && !(l->sentences->tokens[k + (size_t)w].flags & TOKEN_JOINED))
            return -2;
        size_t len;
        const char *s = strmap_key(t->grams, id, &len);
        if (w > 0)
            strbuf_append_char(buf, ' ');
        strbuf_append(buf, s, len);
    }
    if (strbuf_failed(buf))
        return -1;
    long id = s_intern(t, buf->data, buf->len, words);
    if (id >= 0)
        t->candidate[id] = true;
    return id;
}

static int
s_lesson_grams(terms_t *t, size_t index, strbuf_t *buf)
{
    terms_lesson_t *l = &t->lessons[index];
    size_t cap = 0;
    const sentences_t *s = l->sentences;
    for (size_t si = 0; si < s->nsentences; si++) {
        size_t first = s->sentences[si].first;
        size_t end = first + s->sentences[si].count;
        for (size_t k = first; k < end; k++) {
            long id = l->word_ids[k];
            if (!t->candidate[id])
                continue;
            if (s_add_at(l, &cap, id, k, 1) != 0)
                return -1;
            s_count_df(t, id, (long)index);
            for (int words = 2; words <= TERMS_MAX_WORDS; words++) {
                long pid = s_phrase(t, l, k, end, words, buf);
                if (pid == -2)
                    break;
                if (pid < 0 || s_add_at(l, &cap, pid, k, words) != 0)
                    return -1;
                s_count_df(t, pid, (long)index);
            }
        }
    }
    return 0;
}

int
terms_finish(terms_t *t, unsigned stop_mask)
{
    t->stop_mask = stop_mask;
    size_t words = strmap_count(t->grams);
    for (size_t id = 0; id < words; id++)
        t->candidate[id] = t->words[id] == 1 && s_word_candidate(t, (long)id);
    strbuf_t buf;
    strbuf_init(&buf);
    int rc = 0;
    for (size_t i = 0; i < t->nlessons && rc == 0; i++)
        rc = s_lesson_grams(t, i, &buf);
    strbuf_free(&buf);
    return rc;
}

double
terms_idf(const terms_t *t, long id)
{
    double df = id >= 0 && (size_t)id < t->cap ? t->df[id] : 0;
    return log((1.0 + (double)t->nlessons) / (1.0 + df)) + 1.0;
}

const char *
terms_text(const terms_t *t, long id, size_t *len)
{
    return strmap_key(t->grams, id, len);
}

/* ---------------------------------------------------------------- tally */

void
terms_tally_init(terms_tally_t *tally)
{
    memset(tally, 0, sizeof *tally);
    tally->lesson = -1;
}

void
terms_tally_free(terms_tally_t *tally)
{
    free(tally->count);
    free(tally->first);
    free(tally->shown);
    free(tally->shown_rank);
    free(tally->touched);
    terms_tally_init(tally);
}

static int
s_tally_reserve(terms_tally_t *tally, size_t ids)
{
    if (ids <= tally->cap)
        return 0;
    int *count = calloc(ids, sizeof *count);
    size_t *first = malloc(ids * sizeof *first);
    size_t *shown = malloc(ids * sizeof *shown);
    unsigned char *rank = malloc(ids);
    if (count == NULL || first == NULL || shown == NULL || rank == NULL) {
        free(count);
        free(first);
        free(shown);
        free(rank);
        return -1;
    }
    free(tally->count);
    free(tally->first);
    free(tally->shown);
    free(tally->shown_rank);
    tally->count = count;
    tally->first = first;
    tally->shown = shown;
    tally->shown_rank = rank;
    tally->cap = ids;
    tally->ntouched = 0;
    return 0;
}

int
terms_tally(const terms_t *t, size_t lesson, terms_tally_t *tally)
{
    for (size_t i = 0; i < tally->ntouched; i++)
        tally->count[tally->touched[i]] = 0;
    tally->ntouched = 0;
    tally->lesson = -1;
    if (s_tally_reserve(tally, strmap_count(t->grams) + 1) != 0)
        return -1;
    const terms_lesson_t *l = &t->lessons[lesson];
    if (l->ngrams > tally->touched_cap) {
        long *touched = realloc(tally->touched, l->ngrams * sizeof *touched);
        if (touched == NULL)
            return -1;
        tally->touched = touched;
        tally->touched_cap = l->ngrams;
    }
    for (size_t i = 0; i < l->ngrams; i++) {
        const gram_at_t *g = &l->grams[i];
        unsigned flags = l->sentences->tokens[g->token].flags;
        unsigned char rank = (flags & TOKEN_INITIAL) ? 2 : (flags & TOKEN_PROSE) ? 0 : 1;
        if (tally->count[g->id]++ == 0) {
            tally->touched[tally->ntouched++] = g->id;
            tally->first[g->id] = i;
            tally->shown[g->id] = i;
            tally->shown_rank[g->id] = rank;
        } else if (rank < tally->shown_rank[g->id]) {
            tally->shown[g->id] = i;
            tally->shown_rank[g->id] = rank;
        }
    }
    tally->lesson = (long)lesson;
    return 0;
}
