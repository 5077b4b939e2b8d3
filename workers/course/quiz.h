/*
 * quiz.h - multiple-choice questions from a lesson's own sentences. Method:
 * docs/course-generation.md, "Quiz".
 *
 * For each key term of a lesson with enough text (in key-term order, up to QUIZ_PER_LESSON
 * questions): the most central sentence of 8 to 40 words (summary scores) that holds the
 * term exactly once as whole words, with the term replaced by QUIZ_BLANK. The question is
 * dropped when the answer can still be read in the prompt (case-insensitively, or a word of
 * it, or its singular/plural) or when three distractors cannot be found: key terms of other
 * lessons (nearest lessons first) that do not occur in the prompt, differ from the answer and
 * from each other (case-insensitively, as whole words, and as plurals), preferring those
 * absent from the lesson, with the same number of words, the same kind of spelling (lower
 * case, Capitalised, ACRONYM/CamelCase, with digits or symbols) and a similar length. The
 * answer's position comes from a fixed permutation of 0..3 per block of four questions, so
 * positions are used equally over a course and cannot be guessed from the question number.
 */
#ifndef PROFAI_QUIZ_H
#define PROFAI_QUIZ_H

#include "keyterms.h"
#include "terms.h"

#include <stddef.h>

#define QUIZ_BLANK "_____"
#define QUIZ_CHOICES 4
#define QUIZ_PER_LESSON 3
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

/* Add the questions of lesson `lesson` to quiz. keyterms[0..t->nlessons) are every lesson's
 * key terms; tally holds this lesson's counts (terms_tally); scores are its sentences'
 * summary scores (summary_t.scores). Returns -1 when out of memory. Deterministic. */
int quiz_add_lesson(const terms_t *t, const keyterms_t *keyterms, size_t lesson,
                    const terms_tally_t *tally, const double *scores, quiz_t *quiz)
    __attribute__((warn_unused_result));
void quiz_free(quiz_t *quiz);

/* Is the answer readable in the prompt? Case-insensitive: the answer itself, or any of its
 * words of 4 characters or more without a plural ending ("membranes" -> "membrane"). */
bool quiz_reveals(const char *prompt, const char *answer);

/* The answer position of question number n (0-based over the course). */
int quiz_answer_position(size_t n);

#endif
