/*
 * quiz.h - multiple-choice questions from a lesson's own sentences. Method:
 * docs/course-generation.md, "Quiz".
 *
 * For each key term of a lesson with enough text (in key-term order, up to the document's
 * per_lesson questions; none from boilerplate: licence, copyright, front matter, contents,
 * indexes, bibliographies): the most central sentence of 8 to 40 words (summary scores) that holds
 * the term exactly once as whole words, with the term replaced by QUIZ_BLANK. The question is
 * dropped when the answer can still be read in the prompt (case-insensitively, or a word of
 * it, or its singular/plural) or when three distractors cannot be found: key terms of other
 * lessons (nearest lessons first) that do not occur in the prompt, differ from the answer and
 * from each other (case-insensitively, as whole words, and as plurals), preferring those
 * absent from the lesson, with the same number of words, the same kind of spelling (lower
 * case, Capitalised, ACRONYM/CamelCase, with digits or symbols) and a similar length; never
 * a term of a boilerplate lesson, a word count off by more than one, a length more than
 * 3 times the other's, a different ending of the last word among -ly, -ed (adverbs and
 * participles are not nouns), a person's name (quiz_is_name) for an answer that is none,
 * nor a term that also completes the sentence (quiz_also_correct). The
 * answer's position comes from a fixed permutation of 0..3 per block of four questions, so
 * positions are used equally over a course and cannot be guessed from the question number.
 */
#ifndef PROFAI_QUIZ_H
#define PROFAI_QUIZ_H

#include "keyterms.h"
#include "terms.h"
#include "text_index.h"

#include <stddef.h>

#define QUIZ_BLANK "_____"
#define QUIZ_CHOICES 4
#define QUIZ_PER_LESSON 3  /* default questions per lesson */
#define QUIZ_PER_COURSE 60 /* default questions per course */
#define QUIZ_MIN_WORDS 8
#define QUIZ_MAX_WORDS 40

typedef struct {
    size_t lesson;               /* index of its lesson */
    size_t sentence;             /* index of the sentence in the lesson */
    char *prompt;                /* owned */
    char *choices[QUIZ_CHOICES]; /* owned */
    int answer;                  /* index into choices */
} quiz_question_t;

typedef struct {
    quiz_question_t *items; /* owned; in lesson order */
    size_t count;
    size_t cap;
} quiz_t;

/* The whole document, as the quiz checks distractors against it. Borrowed strings. */
typedef struct {
    const char *text; /* every lesson's clean text, joined by "\n\n" */
    size_t len;
    const char *lower; /* the same lower-cased, whitespace runs as one space */
    size_t lower_len;
    const bool *boilerplate; /* by lesson (may be NULL): asks nothing, lends no distractor */
    int per_lesson;          /* questions per lesson at most */
    /* Indexes of text and lower (text_index.h); either may be NULL (searches then scan). */
    const text_index_t *text_index;
    const text_index_t *lower_index;
} quiz_doc_t;

/* Add the questions of lesson `lesson` to quiz. keyterms[0..t->nlessons) are every lesson's
 * key terms; tally holds this lesson's counts (terms_tally); scores are its sentences'
 * summary scores (summary_t.scores). Returns -1 when out of memory. Deterministic. */
int quiz_add_lesson(const terms_t *t, const quiz_doc_t *doc, const keyterms_t *keyterms,
                    size_t lesson, const terms_tally_t *tally, const double *scores, quiz_t *quiz)
    __attribute__((warn_unused_result));

/* Keep at most max questions (max > 0): first every lesson's first question, then every
 * lesson's second, and so on, in lesson order; drop a question whose prompt, or whose
 * sentence with the answer restored, equals an earlier one's once case, spaces and digits
 * are left out; then give the answers their positions (quiz_answer_position) anew. */
void quiz_select(quiz_t *quiz, size_t max);

/* Is this lesson a back-of-book index or a table of contents: by its title ("Index",
 * "Contents", "Table des matières", ...) or by its text (40 words or more, a quarter of them
 * page numbers)? title may be NULL. Such a lesson gets no summary and no key terms either. */
bool quiz_is_index(const char *title, const char *text, size_t len);

/* Does text read as a back-of-book index or a table of contents: fewer than 30 words of
 * running text (runs of 6 words or more of 3 letters or more), and either at least 8 lines
 * with a letter, half of which or more end with a page number ("membrane, 12, 45", "2.1 Cells
 * . . . 7"; not "threshold: 250"), or, its entries joined into paragraphs, 3 dot leaders or
 * more and page numbers a quarter of its words or more? Stricter than quiz_is_index's share of
 * numbers, which code with line numbers also has: this one decides that a lesson is left out
 * of the course. */
bool quiz_is_index_listing(const char *text, size_t len);

/* Is this lesson boilerplate: an index or contents (quiz_is_index), or by its title licence,
 * copyright, front matter (and its chapters: acknowledgements, preface, foreword, dedication,
 * "about this book"), bibliography, references? title may be NULL. */
bool quiz_is_boilerplate(const char *title, const char *text, size_t len);

/* Is term a person's name: two or three Capitalised words none of which the document
 * (doc->text) ever writes in lower case ("Hiroto Kagotani"; not "General Public")? */
bool quiz_is_name(const quiz_doc_t *doc, const char *term);

/* Is candidate also a correct answer to prompt (which holds QUIZ_BLANK) whose answer is
 * answer (NULL: not known)? It is when it says the same as the answer (quiz_equiv_terms: the
 * same normalised form, an abbreviation of it or its expansion, a synonym the document
 * defines), or when the document holds it, in the singular or the plural, after the two
 * words before the blank (the articles "a" and "an" being one) and before the two words
 * after it (each side that has words). */
bool quiz_also_correct(const quiz_doc_t *doc, const char *prompt, const char *answer,
                       const char *candidate);
void quiz_free(quiz_t *quiz);

/* Is the answer readable in the prompt? Case-insensitive: the answer itself, or any of its
 * words of 4 characters or more without a plural ending ("membranes" -> "membrane"). */
bool quiz_reveals(const char *prompt, const char *answer);

/* The answer position of question number n (0-based over the course). */
int quiz_answer_position(size_t n);

#endif
