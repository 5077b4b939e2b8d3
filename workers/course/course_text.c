/* course_text.c - see course_text.h. */
#include "course_text.h"

#include "glue.h"
#include "sentences.h"
#include "stopwords.h"
#include "strbuf.h"
#include "summary.h"
#include "terms.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

int
course_text_page_at(const course_text_lesson_t *lesson, size_t offset)
{
    int page = lesson->page_start;
    if (lesson->page_offsets == NULL)
        return page;
    for (int p = lesson->page_start + 1; p <= lesson->page_end; p++) {
        if (lesson->page_offsets[p - lesson->page_start] > offset)
            break;
        /* A page without text starts where the next one does: skip to the last of them. */
        page = p;
    }
    return page;
}

/* Everything an analysis holds while it runs. */
typedef struct {
    stopwords_t *stopwords;
    sentences_t *sentences; /* by lesson */
    terms_t terms;
    terms_tally_t tally;
    summary_t *summaries; /* by lesson */
    size_t n;
} analysis_t;

static void
s_analysis_free(analysis_t *a)
{
    if (a->sentences != NULL) {
        for (size_t i = 0; i < a->n; i++)
            sentences_free(&a->sentences[i]);
    }
    if (a->summaries != NULL) {
        for (size_t i = 0; i < a->n; i++)
            summary_free(&a->summaries[i]);
    }
    free(a->sentences);
    free(a->summaries);
    terms_tally_free(&a->tally);
    terms_free(&a->terms);
    stopwords_destroy(&a->stopwords);
}

/* Words and sentences of every lesson, the language, and the document's term statistics. */
static int
s_read_lessons(analysis_t *a, const course_text_lesson_t *lessons, course_text_t *out)
{
    for (size_t i = 0; i < a->n; i++) {
        if (sentences_split(lessons[i].text, lessons[i].len, &a->sentences[i]) != 0 ||
            terms_add_lesson(&a->terms, lessons[i].text, lessons[i].len, &a->sentences[i]) != 0)
            return -1;
    }
    unsigned lang = terms_language(&a->terms);
    memcpy(out->language, stopwords_code(lang), strlen(stopwords_code(lang)) + 1);
    return terms_finish(&a->terms, stopwords_mask_for(lang));
}

static int
s_summarise(analysis_t *a, const course_text_lesson_t *lessons, course_text_t *out)
{
    for (size_t i = 0; i < a->n; i++) {
        if (terms_tally(&a->terms, i, &a->tally) != 0 ||
            keyterms_pick(&a->terms, i, &a->tally, &out->lessons[i].keyterms) != 0 ||
            summary_build(&a->terms, i, &a->tally, &a->summaries[i]) != 0)
            return -1;
        out->lessons[i].summary = a->summaries[i].text;
        a->summaries[i].text = NULL;
        /* An index or a table of contents is no lesson to summarise: it keeps its text only
         * (its sentence scores stay for the quiz, which asks it nothing). */
        if (quiz_is_index(lessons[i].title, lessons[i].text, lessons[i].len)) {
            keyterms_free(&out->lessons[i].keyterms);
            memset(&out->lessons[i].keyterms, 0, sizeof out->lessons[i].keyterms);
            if (out->lessons[i].summary != NULL)
                out->lessons[i].summary[0] = '\0';
        } else if (out->lessons[i].summary != NULL && out->lessons[i].summary[0] == '\0' &&
                   a->sentences[i].ntokens >= SUMMARY_MIN_WORDS &&
                   glue_word_runs(lessons[i].text, lessons[i].len) >= 2) {
            /* Its sentences are words glued together: its headings and key terms instead. */
            char *outline =
                glue_outline(lessons[i].text, lessons[i].len, &out->lessons[i].keyterms);
            if (outline == NULL)
                return -1;
            free(out->lessons[i].summary);
            out->lessons[i].summary = outline;
        }
    }
    return 0;
}

/* The whole text for the quiz's checks (quiz_doc_t): as written and lower-cased. */
static int
s_quiz_doc(const course_text_lesson_t *lessons, size_t n, strbuf_t *text, strbuf_t *lower,
           bool *boilerplate)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strbuf_append_cstr(text, "\n\n");
        strbuf_append(text, lessons[i].text, lessons[i].len);
        boilerplate[i] = quiz_is_boilerplate(lessons[i].title, lessons[i].text, lessons[i].len);
    }
    bool space = false;
    for (size_t i = 0; i < text->len;) {
        uint32_t cp;
        i += utf8_decode(text->data + i, text->len - i, &cp);
        bool ws = cp == ' ' || cp == '\n' || cp == '\t' || cp == '\r';
        if (ws && !space)
            strbuf_append_char(lower, ' ');
        else if (!ws)
            strbuf_append_cp(lower, utf8_lower(cp));
        space = ws;
    }
    return strbuf_failed(text) || strbuf_failed(lower) ? -1 : 0;
}

static int
s_quiz(analysis_t *a, const course_text_lesson_t *lessons, const course_text_options_t *options,
       course_text_t *out)
{
    keyterms_t *all = malloc((a->n + 1) * sizeof *all);
    bool *boilerplate = calloc(a->n + 1, sizeof *boilerplate);
    strbuf_t text, lower;
    strbuf_init(&text);
    strbuf_init(&lower);
    int rc = all != NULL && boilerplate != NULL ? 0 : -1;
    if (rc == 0)
        rc = s_quiz_doc(lessons, a->n, &text, &lower, boilerplate);
    int per_lesson = options != NULL && options->quiz_per_lesson > 0 ? options->quiz_per_lesson
                                                                     : QUIZ_PER_LESSON;
    int per_course = options != NULL && options->quiz_per_course > 0 ? options->quiz_per_course
                                                                     : QUIZ_PER_COURSE;
    /* Without the indexes every distractor would scan the whole document (text_index.h); an
     * index that cannot be had (memory) only makes the searches slower. */
    text_index_t *text_index = rc == 0 ? text_index_new(text.data, text.len) : NULL;
    text_index_t *lower_index = rc == 0 ? text_index_new(lower.data, lower.len) : NULL;
    quiz_doc_t doc = {text.data,   text.len,   lower.data, lower.len,
                      boilerplate, per_lesson, text_index, lower_index};
    for (size_t i = 0; i < a->n && rc == 0; i++)
        all[i] = out->lessons[i].keyterms;
    for (size_t i = 0; i < a->n && rc == 0; i++) {
        rc = terms_tally(&a->terms, i, &a->tally);
        if (rc == 0)
            rc = quiz_add_lesson(&a->terms, &doc, all, i, &a->tally, a->summaries[i].scores,
                                 &out->quiz);
    }
    if (rc == 0)
        quiz_select(&out->quiz, (size_t)per_course);
    text_index_free(text_index);
    text_index_free(lower_index);
    free(all);
    free(boilerplate);
    strbuf_free(&text);
    strbuf_free(&lower);
    if (rc != 0)
        return -1;
    out->source_pages = calloc(out->quiz.count + 1, sizeof *out->source_pages);
    if (out->source_pages == NULL)
        return -1;
    for (size_t q = 0; q < out->quiz.count; q++) {
        const quiz_question_t *item = &out->quiz.items[q];
        const sentence_t *s = &a->sentences[item->lesson].sentences[item->sentence];
        out->source_pages[q] = course_text_page_at(&lessons[item->lesson], s->start);
    }
    return 0;
}

int
course_text_analyse(const course_text_lesson_t *lessons, size_t n,
                    const course_text_options_t *options, course_text_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->language, "und", 4);
    analysis_t a = {.n = n};
    terms_tally_init(&a.tally);
    int rc = -1;
    a.stopwords = stopwords_new();
    a.sentences = calloc(n + 1, sizeof *a.sentences);
    a.summaries = calloc(n + 1, sizeof *a.summaries);
    out->lessons = calloc(n + 1, sizeof *out->lessons);
    if (a.stopwords == NULL || a.sentences == NULL || a.summaries == NULL || out->lessons == NULL ||
        terms_init(&a.terms, a.stopwords) != 0)
        goto done;
    out->nlessons = n;
    if (s_read_lessons(&a, lessons, out) != 0 || s_summarise(&a, lessons, out) != 0 ||
        s_quiz(&a, lessons, options, out) != 0)
        goto done;
    rc = 0;
done:
    s_analysis_free(&a);
    if (rc != 0)
        course_text_free(out);
    return rc;
}

void
course_text_free(course_text_t *ct)
{
    if (ct->lessons != NULL) {
        for (size_t i = 0; i < ct->nlessons; i++) {
            free(ct->lessons[i].summary);
            keyterms_free(&ct->lessons[i].keyterms);
        }
    }
    free(ct->lessons);
    quiz_free(&ct->quiz);
    free(ct->source_pages);
    memset(ct, 0, sizeof *ct);
    memcpy(ct->language, "und", 4);
}
