/* quiz_score.c - see quiz_score.h. */
#define _GNU_SOURCE
#include "quiz_score.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
quiz_key_parse(quiz_key_t *key, const char *text, size_t len)
{
    memset(key, 0, sizeof *key);
    size_t max = 1;
    for (size_t i = 0; i < len; i++)
        max += text[i] == '\n';
    key->text = strndup(text, len);
    key->questions = calloc(max, sizeof *key->questions);
    if (key->text == NULL || key->questions == NULL) {
        quiz_key_free(key);
        return -1;
    }
    char *save = NULL;
    for (char *line = strtok_r(key->text, "\n", &save); line != NULL && key->count < max;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '*' && line[1] == '\t') {
            key->per_attempt = atoi(line + 2) > 0 ? atoi(line + 2) : 0;
            continue;
        }
        char *answer = strchr(line, '\t');
        char *lesson = answer ? strchr(answer + 1, '\t') : NULL;
        if (lesson == NULL)
            continue;
        *answer++ = '\0';
        *lesson++ = '\0';
        key->questions[key->count++] = (quiz_question_t){
            .id = line, .answer = atoi(answer), .lesson = lesson, .chosen = -1, .in_scope = true};
    }
    key->in_scope = key->count; /* the whole quiz until an attempt names a lesson */
    return 0;
}

void
quiz_key_free(quiz_key_t *key)
{
    if (key == NULL)
        return;
    free(key->text);
    free(key->questions);
    memset(key, 0, sizeof *key);
}

void
quiz_scope_set(quiz_key_t *key, const char *lesson)
{
    snprintf(key->lesson, sizeof key->lesson, "%s", lesson ? lesson : "");
    key->in_scope = 0;
    for (size_t k = 0; k < key->count; k++) {
        quiz_question_t *q = &key->questions[k];
        q->in_scope = key->lesson[0] == '\0' || strcmp(q->lesson, key->lesson) == 0;
        key->in_scope += q->in_scope;
    }
}

int
quiz_attempt_scope(quiz_key_t *key, const json_in_value_t *root, char *why, size_t why_size)
{
    if (root->type != JSON_IN_OBJECT) {
        snprintf(why, why_size, "the body must be a JSON object");
        return -1;
    }
    for (size_t i = 0; i < root->count; i++) {
        if (strcmp(root->keys[i], "answers") != 0 && strcmp(root->keys[i], "lesson") != 0) {
            snprintf(why, why_size, "unknown member \"%.64s\" (only \"answers\" and \"lesson\")",
                     root->keys[i]);
            return -1;
        }
    }
    const json_in_value_t *lesson = json_in_member(root, "lesson");
    if (lesson != NULL &&
        (lesson->type != JSON_IN_STRING || lesson->len == 0 || lesson->len > QUIZ_LESSON_MAX ||
         memchr(lesson->text, '\0', lesson->len) != NULL)) {
        snprintf(why, why_size, "\"lesson\" must be a lesson id (a string of 1 to %d bytes)",
                 QUIZ_LESSON_MAX);
        return -1;
    }
    quiz_scope_set(key, lesson ? lesson->text : NULL);
    return 0;
}

int
quiz_answers_note(quiz_key_t *key, const json_in_value_t *root, char *why, size_t why_size)
{
    const json_in_value_t *answers = json_in_member(root, "answers");
    if (answers == NULL || answers->type != JSON_IN_OBJECT) {
        snprintf(why, why_size, "\"answers\" must be an object of question ids to choices 0-3");
        return -1;
    }
    for (size_t i = 0; i < answers->count; i++) {
        const char *qid = answers->keys[i];
        const json_in_value_t *v = &answers->items[i];
        size_t k = 0;
        while (k < key->count && strcmp(key->questions[k].id, qid) != 0)
            k++;
        if (k == key->count) {
            snprintf(why, why_size, "the quiz has no question \"%.64s\"", qid);
            return -1;
        }
        const quiz_question_t *q = &key->questions[k];
        if (!q->in_scope && key->lesson[0] != '\0' && strcmp(q->lesson, key->lesson) != 0) {
            snprintf(why, why_size, "question \"%.64s\" is not one of lesson \"%.64s\"", qid,
                     key->lesson);
            return -1;
        }
        if (!q->in_scope) {
            snprintf(why, why_size,
                     "question \"%.64s\" is not one of the %d dealt to you for this attempt "
                     "(GET .../quiz shows them)",
                     qid, key->per_attempt);
            return -1;
        }
        if (v->type != JSON_IN_NUMBER || !v->is_integer || v->integer < 0 || v->integer > 3) {
            snprintf(why, why_size, "the answer to \"%.64s\" must be an integer from 0 to 3", qid);
            return -1;
        }
        key->questions[k].chosen = (int)v->integer;
    }
    return 0;
}

int
quiz_answers_take(quiz_key_t *key, const json_in_value_t *root, char *why, size_t why_size)
{
    if (quiz_attempt_scope(key, root, why, why_size) != 0)
        return -1;
    return quiz_answers_note(key, root, why, why_size);
}

int
quiz_score(const quiz_key_t *key, json_t *answers, json_t *results)
{
    int score = 0;
    json_object_begin(answers);
    json_array_begin(results);
    for (size_t i = 0; i < key->count; i++) {
        const quiz_question_t *q = &key->questions[i];
        if (!q->in_scope)
            continue;
        bool correct = q->chosen == q->answer;
        score += correct;
        if (q->chosen >= 0) {
            json_key(answers, q->id);
            json_int(answers, q->chosen);
        }
        json_object_begin(results);
        json_key(results, "question");
        json_cstring(results, q->id);
        json_key(results, "lesson");
        json_cstring(results, q->lesson[0] ? q->lesson : NULL);
        json_key(results, "chosen");
        if (q->chosen >= 0)
            json_int(results, q->chosen);
        else
            json_null(results);
        json_key(results, "correct");
        json_bool(results, correct);
        json_key(results, "answer");
        json_int(results, q->answer);
        json_object_end(results);
    }
    json_object_end(answers);
    json_array_end(results);
    return score;
}

int
quiz_reveal_from(int max_attempts, bool privileged)
{
    if (privileged)
        return 0;
    return max_attempts > 0 ? max_attempts : -1;
}

int
quiz_attempt_limit(int max_attempts, bool privileged)
{
    return privileged ? 0 : max_attempts;
}
