/* quiz.c - see quiz.h. */
#define _GNU_SOURCE /* memmem */
#include "quiz.h"

#include "quiz_equiv.h"

#include "strbuf.h"
#include "strmap.h"
#include "summary.h"
#include "utf8.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define POOL_LESSONS 40 /* distractors come from lessons at most this far away */
#define POOL_MAX 128    /* distractor candidates looked at per question */

static void s_question_free(quiz_question_t *q);

/* ---------------------------------------------------------------- text helpers */

static void
s_lower(const char *s, size_t len, strbuf_t *out)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        strbuf_append_cp(out, utf8_lower(cp));
    }
}

static bool
s_contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0 || nlen > hlen)
        return false;
    for (size_t i = 0; i + nlen <= hlen; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
            return true;
    }
    return false;
}

bool
quiz_reveals(const char *prompt, const char *answer)
{
    strbuf_t p, a;
    strbuf_init(&p);
    strbuf_init(&a);
    s_lower(prompt, strlen(prompt), &p);
    s_lower(answer, strlen(answer), &a);
    bool reveals = strbuf_failed(&p) || strbuf_failed(&a) || a.len == 0;
    if (!reveals)
        reveals = s_contains(p.data, p.len, a.data, a.len);
    for (size_t i = 0; i < a.len && !reveals;) {
        uint32_t cp;
        size_t n = utf8_decode(a.data + i, a.len - i, &cp);
        if (!utf8_is_word(cp)) {
            i += n;
            continue;
        }
        size_t start = i;
        while (i < a.len) {
            n = utf8_decode(a.data + i, a.len - i, &cp);
            if (!utf8_is_word(cp))
                break;
            i += n;
        }
        size_t wlen = i - start;
        if (utf8_length(a.data + start, wlen) >= 4)
            reveals = s_contains(p.data, p.len, a.data + start,
                                 quiz_equiv_stem_len(a.data + start, wlen));
    }
    strbuf_free(&p);
    strbuf_free(&a);
    return reveals;
}

int
quiz_answer_position(size_t n)
{
    static const unsigned char perms[24][4] = {
        {0, 1, 2, 3}, {0, 1, 3, 2}, {0, 2, 1, 3}, {0, 2, 3, 1}, {0, 3, 1, 2}, {0, 3, 2, 1},
        {1, 0, 2, 3}, {1, 0, 3, 2}, {1, 2, 0, 3}, {1, 2, 3, 0}, {1, 3, 0, 2}, {1, 3, 2, 0},
        {2, 0, 1, 3}, {2, 0, 3, 1}, {2, 1, 0, 3}, {2, 1, 3, 0}, {2, 3, 0, 1}, {2, 3, 1, 0},
        {3, 0, 1, 2}, {3, 0, 2, 1}, {3, 1, 0, 2}, {3, 1, 2, 0}, {3, 2, 0, 1}, {3, 2, 1, 0}};
    uint64_t block = n / 4;
    char key[24];
    size_t len = 0;
    do {
        key[len++] = (char)('0' + block % 10);
        block /= 10;
    } while (block > 0);
    return perms[strmap_hash(key, len) % 24][n % 4];
}

/* Kind of spelling: 0 lower case, 1 Capitalised, 2 ACRONYM or CamelCase, 3 digits/symbols. */
static int
s_shape(const char *s)
{
    size_t len = strlen(s), upper = 0, letters = 0;
    bool first_upper = false, other = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (utf8_is_letter(cp)) {
            if (utf8_is_upper(cp)) {
                upper++;
                first_upper = first_upper || letters == 0;
            }
            letters++;
        } else if (cp != ' ') {
            other = true;
        }
        i += n;
    }
    if (other)
        return 3;
    if (upper == 0)
        return 0;
    return upper == 1 && first_upper ? 1 : 2;
}

/* ---------------------------------------------------------------- distractors */

typedef struct {
    const keyterm_t *term;
    size_t distance;
    unsigned rank[5]; /* compared in order; lower is better */
    uint64_t tie;
} pool_item_t;

static int
s_pool_cmp(const void *a, const void *b)
{
    const pool_item_t *x = a, *y = b;
    for (int i = 0; i < 5; i++) {
        if (x->rank[i] != y->rank[i])
            return x->rank[i] < y->rank[i] ? -1 : 1;
    }
    if (x->tie != y->tie)
        return x->tie < y->tie ? -1 : 1;
    return x->term->id < y->term->id ? -1 : x->term->id > y->term->id;
}

static unsigned
s_absdiff(size_t a, size_t b)
{
    return (unsigned)(a > b ? a - b : b - a);
}

/* Collect key terms of the lessons nearest to `lesson`. */
static size_t
s_pool(const terms_t *t, const quiz_doc_t *doc, const keyterms_t *keyterms, size_t lesson,
       const keyterm_t *answer, const terms_tally_t *tally, pool_item_t *pool)
{
    size_t n = 0;
    size_t alen = strlen(answer->text);
    int ashape = s_shape(answer->text);
    for (size_t d = 1; d <= POOL_LESSONS && n < POOL_MAX; d++) {
        for (int side = 0; side < 2 && n < POOL_MAX; side++) {
            if ((side == 0 && d > lesson) || (side == 1 && lesson + d >= t->nlessons))
                continue;
            size_t j = side == 0 ? lesson - d : lesson + d;
            if (doc->boilerplate != NULL && doc->boilerplate[j])
                continue;
            for (size_t k = 0; k < keyterms[j].count && n < POOL_MAX; k++) {
                const keyterm_t *c = &keyterms[j].items[k];
                size_t clen = strlen(c->text);
                pool_item_t *p = &pool[n++];
                p->term = c;
                p->distance = d;
                p->rank[0] = tally->count[c->id] > 0;
                p->rank[1] = s_absdiff((size_t)c->words, (size_t)answer->words);
                p->rank[2] = s_shape(c->text) != ashape;
                p->rank[3] = s_absdiff(clen, alen) / 4;
                p->rank[4] = (unsigned)d;
                p->tie = strmap_hash(c->text, clen) ^ strmap_hash(answer->text, alen);
            }
        }
    }
    return n;
}

/* The ending of a term's last word that tells its part of speech apart from a noun's:
 * 1 "-ly" (adverb), 2 "-ed" (participle); 0 otherwise ("-ing" makes nouns as often). */
static int
s_ending(const char *s)
{
    size_t n = strlen(s);
    if (n < 5)
        return 0;
    if (strcmp(s + n - 2, "ly") == 0)
        return 1;
    return strcmp(s + n - 2, "ed") == 0 ? 2 : 0;
}

/* Is c of the same kind as the answer: a word count off by one at most, a length no more
 * than 2.5 times the other's, the same ending (s_ending), no person's name for a concept? */
static bool
s_same_kind(const quiz_doc_t *doc, const keyterm_t *c, const keyterm_t *answer, bool answer_name)
{
    if (s_absdiff((size_t)c->words, (size_t)answer->words) > 1)
        return false;
    size_t cl = utf8_length(c->text, strlen(c->text));
    size_t al = utf8_length(answer->text, strlen(answer->text));
    if (cl > 3 * al || al > 3 * cl)
        return false;
    if (s_ending(c->text) != s_ending(answer->text))
        return false;
    return answer_name || !quiz_is_name(doc, c->text);
}

/* Is candidate c fit to stand beside the answer and the distractors chosen so far? */
static bool
s_distractor_ok(const terms_t *t, const keyterm_t *c, const keyterm_t *answer,
                const char *prompt_lower, size_t prompt_len, const keyterm_t **chosen,
                size_t nchosen)
{
    size_t clen, alen;
    const char *cl = terms_text(t, c->id, &clen);
    const char *al = terms_text(t, answer->id, &alen);
    if (keyterms_overlap(cl, clen, al, alen) || s_contains(prompt_lower, prompt_len, cl, clen))
        return false;
    if (strstr(c->text, QUIZ_BLANK) != NULL)
        return false;
    for (size_t i = 0; i < nchosen; i++) {
        size_t olen;
        const char *ol = terms_text(t, chosen[i]->id, &olen);
        if (keyterms_overlap(cl, clen, ol, olen))
            return false;
    }
    return true;
}

/* Three distractors for answer in prompt; false when there are not enough. */
static bool
s_distractors(const terms_t *t, const quiz_doc_t *doc, const keyterms_t *keyterms, size_t lesson,
              const keyterm_t *answer, const terms_tally_t *tally, const char *prompt,
              const keyterm_t *out[QUIZ_CHOICES - 1])
{
    pool_item_t pool[POOL_MAX];
    size_t n = s_pool(t, doc, keyterms, lesson, answer, tally, pool);
    qsort(pool, n, sizeof *pool, s_pool_cmp);
    strbuf_t lower;
    strbuf_init(&lower);
    s_lower(prompt, strlen(prompt), &lower);
    bool answer_name = quiz_is_name(doc, answer->text);
    size_t k = 0;
    for (size_t i = 0; i < n && k < QUIZ_CHOICES - 1 && !strbuf_failed(&lower); i++) {
        const keyterm_t *c = pool[i].term;
        if (s_distractor_ok(t, c, answer, lower.data, lower.len, out, k) &&
            s_same_kind(doc, c, answer, answer_name) &&
            !quiz_also_correct(doc, prompt, answer->text, c->text))
            out[k++] = c;
    }
    strbuf_free(&lower);
    return k == QUIZ_CHOICES - 1;
}

/* ---------------------------------------------------------------- questions */

/* Does the word at text[start..end) stand apart: after a space, an opening bracket or quote,
 * and before a space or a punctuation mark that ends a phrase ("Net::CUPS" does not)? */
static bool
s_stands_apart(const char *text, size_t sstart, size_t send, size_t start, size_t end)
{
    unsigned char before = start > sstart ? (unsigned char)text[start - 1] : ' ';
    if (before < 0x80 && strchr(" ([\"'", before) == NULL)
        return false;
    if (end >= send)
        return true;
    char c = text[end];
    if (c == ' ')
        return true;
    if (strchr(".,;:!?)]\"'", c) == NULL && (unsigned char)c < 0x80)
        return false;
    return end + 1 >= send || text[end + 1] == ' ' || (unsigned char)c >= 0x80;
}

/* Token index where gram `id` occurs in sentence s, when exactly once; SIZE_MAX otherwise. */
static size_t
s_single_occurrence(const terms_lesson_t *l, const sentence_t *s, long id)
{
    size_t lo = 0, hi = l->ngrams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->grams[mid].token < s->first)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t found = SIZE_MAX, count = 0;
    for (size_t i = lo; i < l->ngrams && l->grams[i].token < s->first + s->count; i++) {
        if (l->grams[i].id == id) {
            found = l->grams[i].token;
            count++;
        }
    }
    return count == 1 ? found : SIZE_MAX;
}

/* The sentence with the term at token `at` (words long) replaced by the blank. */
static char *
s_prompt(const terms_lesson_t *l, const sentence_t *s, size_t at, int words)
{
    const token_t *first = &l->sentences->tokens[at];
    const token_t *last = &l->sentences->tokens[at + (size_t)words - 1];
    strbuf_t out;
    strbuf_init(&out);
    strbuf_append(&out, l->text + s->start, first->start - s->start);
    strbuf_append_cstr(&out, QUIZ_BLANK);
    strbuf_append(&out, l->text + last->end, s->end - last->end);
    return strbuf_steal(&out, NULL);
}

static int
s_add_question(quiz_t *quiz, size_t lesson, size_t sentence, char *prompt, const keyterm_t *answer,
               const keyterm_t *const distractors[QUIZ_CHOICES - 1])
{
    if (array_grow((void **)&quiz->items, &quiz->cap, quiz->count + 1, sizeof *quiz->items) != 0) {
        free(prompt);
        return -1;
    }
    quiz_question_t q = {lesson, sentence, prompt, {NULL}, quiz_answer_position(quiz->count)};
    bool failed = false;
    for (int i = 0, d = 0; i < QUIZ_CHOICES; i++) {
        const char *text = i == q.answer ? answer->text : distractors[d++]->text;
        q.choices[i] = strdup(text);
        failed = failed || q.choices[i] == NULL;
    }
    if (failed) {
        free(prompt);
        for (int i = 0; i < QUIZ_CHOICES; i++)
            free(q.choices[i]);
        return -1;
    }
    quiz->items[quiz->count++] = q;
    return 0;
}

/* The best unused sentence for `term`: most central first, ties to the earlier. */
static size_t
s_best_sentence(const terms_lesson_t *l, const keyterm_t *term, const double *scores,
                const bool *used, size_t *at)
{
    const sentences_t *ss = l->sentences;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < ss->nsentences; i++) {
        const sentence_t *s = &ss->sentences[i];
        if (used[i] || scores[i] < 0 || (best != SIZE_MAX && scores[i] <= scores[best]))
            continue;
        if (!summary_sentence_ok(l->text, ss, s, QUIZ_MIN_WORDS, QUIZ_MAX_WORDS))
            continue;
        size_t where = s_single_occurrence(l, s, term->id);
        if (where == SIZE_MAX ||
            !s_stands_apart(l->text, s->start, s->end, l->sentences->tokens[where].start,
                            l->sentences->tokens[where + (size_t)term->words - 1].end))
            continue;
        best = i;
        *at = where;
    }
    return best;
}

/* Try to make a question of `term`; 1 when one was added, 0 when not, -1 on failure. */
/* Sentences about the document's licence make no question. */
static bool
s_legal(const char *prompt)
{
    static const char *const words[] = {"licen", "copyright", "warrant", "free software found"};
    strbuf_t lower;
    strbuf_init(&lower);
    s_lower(prompt, strlen(prompt), &lower);
    bool legal = strbuf_failed(&lower);
    for (size_t i = 0; i < sizeof words / sizeof *words && !legal; i++)
        legal = strstr(lower.data, words[i]) != NULL;
    strbuf_free(&lower);
    return legal;
}

static int
s_question(const terms_t *t, const quiz_doc_t *doc, const keyterms_t *keyterms, size_t lesson,
           const terms_tally_t *tally, const double *scores, const keyterm_t *term, bool *used,
           quiz_t *quiz)
{
    const terms_lesson_t *l = &t->lessons[lesson];
    size_t at = 0;
    size_t si = s_best_sentence(l, term, scores, used, &at);
    if (si == SIZE_MAX)
        return 0;
    const sentence_t *s = &l->sentences->sentences[si];
    if (s_contains(l->text + s->start, s->end - s->start, QUIZ_BLANK, strlen(QUIZ_BLANK)))
        return 0;
    char *prompt = s_prompt(l, s, at, term->words);
    if (prompt == NULL)
        return -1;
    const keyterm_t *distractors[QUIZ_CHOICES - 1];
    if (quiz_reveals(prompt, term->text) || s_legal(prompt) ||
        !s_distractors(t, doc, keyterms, lesson, term, tally, prompt, distractors)) {
        free(prompt);
        return 0;
    }
    used[si] = true;
    return s_add_question(quiz, lesson, si, prompt, term, distractors) == 0 ? 1 : -1;
}

int
quiz_add_lesson(const terms_t *t, const quiz_doc_t *doc, const keyterms_t *keyterms, size_t lesson,
                const terms_tally_t *tally, const double *scores, quiz_t *quiz)
{
    if (!summary_enough_text(t, lesson) || t->nlessons < 2)
        return 0;
    if (doc->boilerplate != NULL && doc->boilerplate[lesson])
        return 0;
    const terms_lesson_t *l = &t->lessons[lesson];
    bool *used = calloc(l->sentences->nsentences + 1, sizeof *used);
    if (used == NULL)
        return -1;
    int made = 0, rc = 0;
    for (size_t k = 0; k < keyterms[lesson].count && made < doc->per_lesson; k++) {
        int r = s_question(t, doc, keyterms, lesson, tally, scores, &keyterms[lesson].items[k],
                           used, quiz);
        if (r < 0) {
            rc = -1;
            break;
        }
        made += r;
    }
    free(used);
    return rc;
}

void
quiz_free(quiz_t *quiz)
{
    for (size_t i = 0; i < quiz->count; i++)
        s_question_free(&quiz->items[i]);
    free(quiz->items);
    memset(quiz, 0, sizeof *quiz);
}

/* ---------------------------------------------------------------- the document */

/* Does lower-case word w[0..n) occur in text as a whole word written in lower case? */
static bool
s_has_lower_word(const quiz_doc_t *doc, const char *w, size_t n)
{
    const char *text = doc->text;
    size_t len = doc->len;
    text_search_t s;
    text_search_init(&s, doc->text_index, text, len, w, n);
    for (const char *at = text_search_next(&s); at != NULL; at = text_search_next(&s)) {
        size_t i = (size_t)(at - text);
        unsigned char before = i > 0 ? (unsigned char)text[i - 1] : ' ';
        unsigned char after = i + n < len ? (unsigned char)text[i + n] : ' ';
        if (before < 0x80 && !isalnum(before) && after < 0x80 && !isalnum(after))
            return true;
    }
    return false;
}

bool
quiz_is_name(const quiz_doc_t *doc, const char *term)
{
    size_t len = strlen(term), words = 0;
    strbuf_t word;
    strbuf_init(&word);
    bool name = true;
    for (size_t i = 0; i < len && name;) {
        while (i < len && term[i] == ' ')
            i++;
        if (i >= len)
            break;
        strbuf_reset(&word);
        size_t letters = 0;
        bool upper_first = false;
        while (i < len && term[i] != ' ' && name) {
            uint32_t cp;
            i += utf8_decode(term + i, len - i, &cp);
            if (utf8_is_letter(cp)) {
                if (letters == 0)
                    upper_first = utf8_is_upper(cp);
                else if (utf8_is_upper(cp))
                    name = false; /* ACRONYM or CamelCase */
                letters++;
                strbuf_append_cp(&word, utf8_lower(cp));
            } else if (cp != '-' && cp != '\'') {
                name = false;
            }
        }
        words++;
        name = name && upper_first && letters >= 2 && !strbuf_failed(&word) &&
               !s_has_lower_word(doc, word.data, word.len);
    }
    strbuf_free(&word);
    return name && words >= 2 && words <= 3;
}

/* The start of the last `words` words of s[0..len) (s ends with a space or a word). */
static size_t
s_last_words(const char *s, size_t len, int words)
{
    size_t i = len;
    while (i > 0 && s[i - 1] == ' ')
        i--;
    for (int w = 0; w < words && i > 0; w++) {
        while (i > 0 && s[i - 1] != ' ')
            i--;
        if (w + 1 < words)
            while (i > 0 && s[i - 1] == ' ')
                i--;
    }
    return i;
}

/* The end of the first `words` words of s[0..len). */
static size_t
s_first_words(const char *s, size_t len, int words)
{
    size_t i = 0;
    for (int w = 0; w < words && i < len; w++) {
        while (i < len && s[i] == ' ')
            i++;
        while (i < len && s[i] != ' ')
            i++;
    }
    return i;
}

/* Lower-case s with whitespace runs as one space. */
static void
s_lower_spaced(const char *s, strbuf_t *out)
{
    strbuf_t raw;
    strbuf_init(&raw);
    s_lower(s, strlen(s), &raw);
    bool space = false;
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.data[i];
        bool ws = c == ' ' || c == '\n' || c == '\t' || c == '\r';
        if (ws && !space)
            strbuf_append(out, " ", 1);
        else if (!ws)
            strbuf_append(out, &c, 1);
        space = ws;
    }
    strbuf_free(&raw);
}

/* Does the document hold form right after the left context p[left..at) (either article "a"
 * or "an" as its last word) and right before p[after..right)? */
static bool
s_fits(const quiz_doc_t *doc, const strbuf_t *p, size_t left, size_t at, size_t after, size_t right,
       const char *form, size_t flen, strbuf_t *needle)
{
    bool fits = true;
    if (left < at) {
        /* "a" and "an" are one article: "exported to an ODS file" fits "exported to a _____". */
        const char *ctx = p->data + left;
        size_t clen = at - left;
        bool found = false;
        for (int v = 0; v < 2 && !found; v++) {
            strbuf_reset(needle);
            if (v == 0) {
                strbuf_append(needle, ctx, clen);
            } else if (clen >= 3 && memcmp(ctx + clen - 3, " a ", 3) == 0) {
                strbuf_append(needle, ctx, clen - 1);
                strbuf_append_cstr(needle, "n ");
            } else if (clen >= 4 && memcmp(ctx + clen - 4, " an ", 4) == 0) {
                strbuf_append(needle, ctx, clen - 2);
                strbuf_append_char(needle, ' ');
            } else {
                break;
            }
            strbuf_append(needle, form, flen);
            found = !strbuf_failed(needle) &&
                    text_index_contains(doc->lower_index, doc->lower, doc->lower_len, needle->data,
                                        needle->len);
        }
        fits = found;
    }
    if (fits && right > after) {
        strbuf_reset(needle);
        strbuf_append(needle, form, flen);
        strbuf_append(needle, p->data + after, right - after);
        fits = !strbuf_failed(needle) &&
               text_index_contains(doc->lower_index, doc->lower, doc->lower_len, needle->data,
                                   needle->len);
    }
    return fits;
}

bool
quiz_also_correct(const quiz_doc_t *doc, const char *prompt, const char *answer,
                  const char *candidate)
{
    if (answer != NULL && quiz_equiv_terms(doc, answer, candidate))
        return true;
    strbuf_t p, c, needle;
    strbuf_init(&p);
    strbuf_init(&c);
    strbuf_init(&needle);
    s_lower_spaced(prompt, &p);
    s_lower_spaced(candidate, &c);
    const char *blank = p.data != NULL ? strstr(p.data, QUIZ_BLANK) : NULL;
    bool correct = false;
    if (blank != NULL && !strbuf_failed(&c) && c.len > 0 && doc->lower != NULL) {
        size_t at = (size_t)(blank - p.data);
        size_t after = at + strlen(QUIZ_BLANK);
        size_t left = s_last_words(p.data, at, 2);
        size_t right = after + s_first_words(p.data + after, p.len - after, 2);
        if (left < at || right > after) {
            /* The candidate as it is, in the singular, and in the plural. */
            size_t stem = quiz_equiv_stem_len(c.data, c.len);
            correct =
                s_fits(doc, &p, left, at, after, right, c.data, c.len, &needle) ||
                (stem < c.len && s_fits(doc, &p, left, at, after, right, c.data, stem, &needle));
            if (!correct) {
                strbuf_t plural;
                strbuf_init(&plural);
                strbuf_append(&plural, c.data, c.len);
                strbuf_append_char(&plural, 's');
                correct = !strbuf_failed(&plural) &&
                          s_fits(doc, &p, left, at, after, right, plural.data, plural.len, &needle);
                strbuf_free(&plural);
            }
        }
    }
    strbuf_free(&p);
    strbuf_free(&c);
    strbuf_free(&needle);
    return correct;
}

/* Does lower-case title t hold keyword k at the start of a word (whole word when whole)? */
static bool
s_title_word(const char *t, const char *k, bool whole)
{
    size_t n = strlen(k);
    for (const char *f = strstr(t, k); f != NULL; f = strstr(f + 1, k)) {
        bool start = f == t || !isalnum((unsigned char)f[-1]);
        bool end = !isalnum((unsigned char)f[n]);
        if (start && (end || !whole))
            return true;
    }
    return false;
}

/* Does lower-case s hold one of words[0..n) (prefixes unless whole)? */
static bool
s_title_has(const char *title, const char *const *words, size_t n, bool whole)
{
    if (title == NULL)
        return false;
    strbuf_t lower;
    strbuf_init(&lower);
    s_lower(title, strlen(title), &lower);
    bool found = false;
    for (size_t i = 0; i < n && !found && lower.data != NULL; i++)
        found = s_title_word(lower.data, words[i], whole);
    strbuf_free(&lower);
    return found;
}

bool
quiz_is_index(const char *title, const char *text, size_t len)
{
    static const char *const words[] = {"index",    "contents", "table des matières",
                                        "sommaire", "inhalt",   "índice"};
    if (s_title_has(title, words, sizeof words / sizeof *words, true))
        return true;
    /* Untitled: numbers are a quarter of its words or more. */
    size_t tokens = 0, numbers = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && isspace((unsigned char)text[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        bool digits = true;
        while (i < len && !isspace((unsigned char)text[i])) {
            char ch = text[i++];
            digits = digits && (isdigit((unsigned char)ch) || ch == ',' || ch == '-');
        }
        tokens++;
        numbers += digits && isdigit((unsigned char)text[start]);
    }
    return tokens >= 40 && 4 * numbers >= tokens;
}

/* Does the line [at, end) end with a page reference: a last word of digits (commas and
 * hyphens allowed: "12,", "45-47") after a space, a comma or a dot leader, not after a colon
 * or an equals sign (a setting's value: "threshold : 250")? */
static bool
s_line_ends_with_page(const char *at, const char *end)
{
    while (end > at && isspace((unsigned char)end[-1]))
        end--;
    const char *word = end;
    while (word > at && !isspace((unsigned char)word[-1]))
        word--;
    const char *before = word;
    while (word < end && *word == '.') /* a dot leader glued to the number: ". . .12" */
        word++;
    if (word == end || !isdigit((unsigned char)word[0]))
        return false;
    for (const char *c = word; c < end; c++)
        if (!isdigit((unsigned char)*c) && *c != ',' && *c != '-')
            return false;
    while (before > at && before[-1] == ' ')
        before--;
    return before > at && before[-1] != ':' && before[-1] != '=';
}

/* Words of text[0..len) in runs of 6 or more prose words (3 letters or more, alphabetic but
 * for a final punctuation mark): running text, which an index or a contents listing has not. */
static size_t
s_prose_words(const char *text, size_t len)
{
    size_t prose = 0, run = 0;
    for (size_t i = 0; i <= len;) {
        while (i < len && isspace((unsigned char)text[i]))
            i++;
        size_t start = i;
        while (i < len && !isspace((unsigned char)text[i]))
            i++;
        size_t end = i;
        while (end > start && strchr(".,;:!?)", text[end - 1]) != NULL)
            end--;
        bool word = end - start >= 3;
        size_t wide = 0; /* bytes of other scripts: Chinese and Japanese have no spaces */
        for (size_t k = start; k < end && word; k++) {
            word = isalpha((unsigned char)text[k]) || (unsigned char)text[k] >= 0x80;
            wide += (unsigned char)text[k] >= 0x80;
        }
        if (word && wide >= 45) /* a sentence of 15 characters or more, written without spaces */
            prose += 6;
        if (word) {
            run++;
        } else {
            prose += run >= 6 ? run : 0;
            run = 0;
        }
        if (i >= len) {
            prose += run >= 6 ? run : 0;
            break;
        }
    }
    return prose;
}

bool
quiz_is_index_listing(const char *text, size_t len)
{
    if (s_prose_words(text, len) >= 30)
        return false;
    size_t lines = 0, numbered = 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        bool letter = false;
        for (size_t k = i; k < end && !letter; k++)
            letter = isalpha((unsigned char)text[k]) || (unsigned char)text[k] >= 0xc0;
        if (letter) {
            lines++;
            numbered += s_line_ends_with_page(text + i, text + end);
        }
        i = end + 1;
    }
    if (lines >= 8 && 2 * numbered >= lines)
        return true;
    /* Entries joined into paragraphs: dot leaders, and page numbers a quarter of the words. */
    size_t tokens = 0, numbers = 0, leaders = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && isspace((unsigned char)text[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && !isspace((unsigned char)text[i]))
            i++;
        while (start < i && text[start] == '.')
            start++;
        if (start == i) {
            leaders++;
            continue;
        }
        tokens++;
        bool digits = isdigit((unsigned char)text[start]);
        for (size_t k = start; k < i && digits; k++)
            digits = isdigit((unsigned char)text[k]) || (k + 1 == i && text[k] == ',');
        numbers += digits;
    }
    return leaders >= 3 && tokens > 0 && 4 * numbers >= tokens;
}

bool
quiz_is_boilerplate(const char *title, const char *text, size_t len)
{
    static const char *const prefixes[] = {
        "licen",      "copyright",    "front matter",   "bibliograph",     "acknowledg",
        "colophon",   "legal notice", "remerciement",   "mentions l",      "preface",
        "foreword",   "dedication",   "préface",        "avant-propos",    "vorwort",
        "danksagung", "prefacio",     "agradecimiento", "about this book", "about the author"};
    static const char *const words[] = {"references", "références", "bibliography"};
    return s_title_has(title, prefixes, sizeof prefixes / sizeof *prefixes, false) ||
           s_title_has(title, words, sizeof words / sizeof *words, true) ||
           quiz_is_index(title, text, len);
}

/* ---------------------------------------------------------------- selection */

/* Key of a text: lower case without spaces and digits. */
static void
s_prompt_key(const char *s, strbuf_t *out)
{
    strbuf_t lower;
    strbuf_init(&lower);
    s_lower(s, strlen(s), &lower);
    for (size_t i = 0; i < lower.len; i++) {
        char c = lower.data[i];
        if (!isspace((unsigned char)c) && !isdigit((unsigned char)c))
            strbuf_append(out, &c, 1);
    }
    strbuf_free(&lower);
}

static void
s_question_free(quiz_question_t *q)
{
    free(q->prompt);
    for (int c = 0; c < QUIZ_CHOICES; c++)
        free(q->choices[c]);
}

void
quiz_select(quiz_t *quiz, size_t max)
{
    size_t n = quiz->count;
    if (n == 0)
        return;
    unsigned char *keep = calloc(n, 1);
    size_t *rank = calloc(n, sizeof *rank);
    strbuf_t *keys = calloc(2 * n, sizeof *keys);
    if (keep == NULL || rank == NULL || keys == NULL) {
        free(keep), free(rank), free(keys);
        return; /* out of memory: the quiz stays as it is */
    }
    size_t maxrank = 0;
    for (size_t i = 0; i < n; i++) {
        const quiz_question_t *q = &quiz->items[i];
        strbuf_init(&keys[2 * i]);
        strbuf_init(&keys[2 * i + 1]);
        s_prompt_key(q->prompt, &keys[2 * i]);
        const char *blank = strstr(q->prompt, QUIZ_BLANK);
        strbuf_t restored;
        strbuf_init(&restored);
        if (blank != NULL) {
            strbuf_append(&restored, q->prompt, (size_t)(blank - q->prompt));
            strbuf_append_cstr(&restored, q->choices[q->answer]);
            strbuf_append_cstr(&restored, blank + strlen(QUIZ_BLANK));
        }
        if (restored.data != NULL)
            s_prompt_key(restored.data, &keys[2 * i + 1]);
        strbuf_free(&restored);
        bool same = false;
        for (size_t j = 0; j < i && !same; j++) {
            if (keep[j] == 2)
                continue;
            for (int a = 0; a < 2 && !same; a++) {
                const strbuf_t *x = &keys[2 * i + a], *y = &keys[2 * j + a];
                same = x->len > 0 && x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
            }
        }
        keep[i] = same ? 2 : 0; /* 2: a duplicate, never kept */
    }
    /* Rank: the question's place among its lesson's questions that are no duplicates. */
    for (size_t i = 0, prev = SIZE_MAX; i < n; i++) {
        if (keep[i] == 2)
            continue;
        bool same_lesson = prev != SIZE_MAX && quiz->items[prev].lesson == quiz->items[i].lesson;
        rank[i] = same_lesson ? rank[prev] + 1 : 0;
        maxrank = rank[i] > maxrank ? rank[i] : maxrank;
        prev = i;
    }
    size_t kept = 0;
    for (size_t r = 0; r <= maxrank && kept < max; r++) {
        for (size_t i = 0; i < n && kept < max; i++) {
            if (keep[i] == 0 && rank[i] == r) {
                keep[i] = 1;
                kept++;
            }
        }
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i] == 1)
            quiz->items[out++] = quiz->items[i];
        else
            s_question_free(&quiz->items[i]);
        strbuf_free(&keys[2 * i]);
        strbuf_free(&keys[2 * i + 1]);
    }
    quiz->count = out;
    for (size_t i = 0; i < out; i++) {
        quiz_question_t *q = &quiz->items[i];
        int p = quiz_answer_position(i);
        char *answer = q->choices[q->answer];
        q->choices[q->answer] = q->choices[p];
        q->choices[p] = answer;
        q->answer = p;
    }
    free(keep), free(rank), free(keys);
}
