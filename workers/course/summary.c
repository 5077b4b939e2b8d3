/* summary.c - see summary.h. */
#include "summary.h"

#include "glue.h"

#include "strbuf.h"
#include "utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CANDIDATE_MIN_WORDS 6
#define CANDIDATE_MAX_WORDS 50
#define REDUNDANT 0.6 /* cosine above which a sentence repeats one already taken */
#define CODE_SIGNS "{}<>\\|=;$"
#define CODE_SIGNS_MAX 3 /* more of these in a sentence: code, not prose */

bool
summary_sentence_ok(const char *text, const sentences_t *all, const sentence_t *s, size_t min_words,
                    size_t max_words)
{
    if (!s->terminated || s->count < min_words || s->count > max_words)
        return false;
    uint32_t cp;
    utf8_decode(text + s->start, s->end - s->start, &cp);
    if (!(utf8_is_digit(cp) || (utf8_is_letter(cp) && !utf8_is_lower(cp))))
        return false;
    /* Code: a few signs of it are fine in prose ("the \\question command"), more are not. */
    size_t signs = 0;
    for (size_t i = s->start; i < s->end; i++)
        signs += text[i] != '\0' && strchr(CODE_SIGNS, text[i]) != NULL;
    if (signs > CODE_SIGNS_MAX || signs * 40 > s->end - s->start)
        return false;
    /* Words run together by an extraction that lost its spaces ("Namehtmlhelp.button.print"):
     * no sentence to show. */
    if (glue_long_run(text + s->start, s->end - s->start))
        return false;
    size_t lettered = 0;
    for (size_t k = s->first; k < s->first + s->count; k++)
        lettered += (all->tokens[k].flags & TOKEN_LETTER) != 0;
    return lettered * 10 >= s->count * 7;
}

bool
summary_enough_text(const terms_t *t, size_t lesson)
{
    const sentences_t *s = t->lessons[lesson].sentences;
    return s->nsentences >= SUMMARY_MIN_SENTENCES && s->ntokens >= SUMMARY_MIN_WORDS;
}

/* A sentence as a sparse vector: distinct word ids, sorted, with tf * idf weights. */
typedef struct {
    long *ids;
    double *weights;
    size_t n;
    double norm;
} vector_t;

static int
s_long_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* The vector of sentence s (words that are key-term candidates: no stop words). */
static int
s_vector(const terms_t *t, const terms_lesson_t *l, const sentence_t *s, vector_t *v)
{
    memset(v, 0, sizeof *v);
    v->ids = malloc((s->count + 1) * sizeof *v->ids);
    v->weights = malloc((s->count + 1) * sizeof *v->weights);
    if (v->ids == NULL || v->weights == NULL)
        return -1;
    size_t m = 0;
    for (size_t k = s->first; k < s->first + s->count; k++) {
        long id = l->word_ids[k];
        if (t->candidate[id])
            v->ids[m++] = id;
    }
    qsort(v->ids, m, sizeof *v->ids, s_long_cmp);
    double sum = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v->ids[j] == v->ids[i])
            j++;
        double w = (double)(j - i) * terms_idf(t, v->ids[i]);
        v->ids[v->n] = v->ids[i];
        v->weights[v->n++] = w;
        sum += w * w;
        i = j;
    }
    v->norm = sqrt(sum);
    return 0;
}

static void
s_vector_free(vector_t *v)
{
    free(v->ids);
    free(v->weights);
    memset(v, 0, sizeof *v);
}

static double
s_cosine(const vector_t *a, const vector_t *b)
{
    if (a->norm <= 0 || b->norm <= 0)
        return 0;
    double dot = 0;
    for (size_t i = 0, j = 0; i < a->n && j < b->n;) {
        if (a->ids[i] == b->ids[j])
            dot += a->weights[i++] * b->weights[j++];
        else if (a->ids[i] < b->ids[j])
            i++;
        else
            j++;
    }
    return dot / (a->norm * b->norm);
}

/* Cosine of v with the lesson's centroid (word counts of the tally times idf). */
static double
s_centrality(const terms_t *t, const terms_tally_t *tally, const vector_t *v, double norm)
{
    if (v->norm <= 0 || norm <= 0)
        return 0;
    double dot = 0;
    for (size_t i = 0; i < v->n; i++)
        dot += v->weights[i] * tally->count[v->ids[i]] * terms_idf(t, v->ids[i]);
    return dot / (v->norm * norm);
}

static double
s_centroid_norm(const terms_t *t, const terms_tally_t *tally)
{
    double sum = 0;
    for (size_t i = 0; i < tally->ntouched; i++) {
        long id = tally->touched[i];
        if (t->words[id] != 1)
            continue;
        double w = tally->count[id] * terms_idf(t, id);
        sum += w * w;
    }
    return sqrt(sum);
}

typedef struct {
    size_t index;
    double score;
} ranked_t;

static int
s_ranked_cmp(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int
s_size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* How many sentences a summary of a lesson with n candidate sentences takes. */
static size_t
s_target(size_t n)
{
    size_t k = n < 8 ? 2 : n < 20 ? 3 : SUMMARY_MAX_SENTENCES;
    return k < n ? k : n;
}

/* Take the best sentences, skipping near-repeats; writes their indices (sorted) to chosen. */
static int
s_choose(const terms_t *t, const terms_lesson_t *l, ranked_t *ranked, size_t n, size_t *chosen,
         size_t *nchosen)
{
    vector_t picked[SUMMARY_MAX_SENTENCES];
    size_t k = 0, want = s_target(n);
    int rc = 0;
    for (size_t i = 0; i < n && k < want; i++) {
        vector_t v;
        if (s_vector(t, l, &l->sentences->sentences[ranked[i].index], &v) != 0) {
            s_vector_free(&v);
            rc = -1;
            break;
        }
        bool redundant = false;
        for (size_t j = 0; j < k && !redundant; j++)
            redundant = s_cosine(&v, &picked[j]) > REDUNDANT;
        if (redundant) {
            s_vector_free(&v);
            continue;
        }
        picked[k] = v;
        chosen[k++] = ranked[i].index;
    }
    for (size_t j = 0; j < k; j++)
        s_vector_free(&picked[j]);
    qsort(chosen, k, sizeof *chosen, s_size_cmp);
    *nchosen = k;
    return rc;
}

static int
s_score_all(const terms_t *t, const terms_lesson_t *l, const terms_tally_t *tally, summary_t *out,
            ranked_t *ranked, size_t *nranked)
{
    const sentences_t *s = l->sentences;
    double norm = s_centroid_norm(t, tally);
    size_t n = 0;
    for (size_t i = 0; i < s->nsentences; i++) {
        out->scores[i] = -1;
        if (!summary_sentence_ok(l->text, s, &s->sentences[i], CANDIDATE_MIN_WORDS,
                                 CANDIDATE_MAX_WORDS))
            continue;
        vector_t v;
        if (s_vector(t, l, &s->sentences[i], &v) != 0) {
            s_vector_free(&v);
            return -1;
        }
        out->scores[i] = s_centrality(t, tally, &v, norm);
        s_vector_free(&v);
        ranked[n++] = (ranked_t){i, out->scores[i]};
    }
    *nranked = n;
    return 0;
}

int
summary_build(const terms_t *t, size_t lesson, const terms_tally_t *tally, summary_t *out)
{
    memset(out, 0, sizeof *out);
    const terms_lesson_t *l = &t->lessons[lesson];
    const sentences_t *s = l->sentences;
    out->count = s->nsentences;
    out->scores = malloc((s->nsentences + 1) * sizeof *out->scores);
    ranked_t *ranked = malloc((s->nsentences + 1) * sizeof *ranked);
    strbuf_t text;
    strbuf_init(&text);
    int rc = -1;
    if (out->scores == NULL || ranked == NULL)
        goto done;
    size_t n = 0;
    if (s_score_all(t, l, tally, out, ranked, &n) != 0)
        goto done;
    if (summary_enough_text(t, lesson) && n >= 2) {
        qsort(ranked, n, sizeof *ranked, s_ranked_cmp);
        size_t chosen[SUMMARY_MAX_SENTENCES], nchosen = 0;
        if (s_choose(t, l, ranked, n, chosen, &nchosen) != 0)
            goto done;
        for (size_t i = 0; i < nchosen && nchosen >= 2; i++) {
            const sentence_t *c = &s->sentences[chosen[i]];
            if (i > 0)
                strbuf_append_char(&text, ' ');
            strbuf_append(&text, l->text + c->start, c->end - c->start);
        }
    }
    out->text = strbuf_steal(&text, NULL);
    if (out->text != NULL)
        rc = 0;
done:
    free(ranked);
    strbuf_free(&text);
    if (rc != 0)
        summary_free(out);
    return rc;
}

void
summary_free(summary_t *s)
{
    free(s->scores);
    free(s->text);
    memset(s, 0, sizeof *s);
}
