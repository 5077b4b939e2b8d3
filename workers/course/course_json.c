/* course_json.c - see course_json.h. */
#include "course_json.h"

#include <stdio.h>

static void
s_json_lesson(json_t *j, const plan_lesson_t *l, size_t index, const course_text_result_t *r)
{
    char id[32];
    snprintf(id, sizeof id, "l%zu", index + 1);
    json_object_begin(j);
    json_key(j, "id");
    json_cstring(j, id);
    json_key(j, "title");
    json_cstring(j, l->title);
    json_key(j, "page_start");
    json_int(j, l->start);
    json_key(j, "page_end");
    json_int(j, l->end);
    json_key(j, "text");
    json_string(j, l->text != NULL ? l->text : "", l->len);
    json_key(j, "summary");
    json_cstring(j, r != NULL && r->summary != NULL ? r->summary : "");
    json_key(j, "key_terms");
    json_array_begin(j);
    for (size_t i = 0; r != NULL && i < r->keyterms.count; i++)
        json_cstring(j, r->keyterms.items[i].text);
    json_array_end(j);
    json_object_end(j);
}

static void
s_json_modules(json_t *j, const plan_t *plan, const course_text_t *analysis, size_t max_output)
{
    size_t lesson = 0;
    json_key(j, "modules");
    json_array_begin(j);
    for (size_t i = 0; i < plan->nmodules && j->len <= max_output; i++) {
        const plan_module_t *m = &plan->modules[i];
        char id[32];
        snprintf(id, sizeof id, "m%zu", i + 1);
        json_object_begin(j);
        json_key(j, "id");
        json_cstring(j, id);
        json_key(j, "title");
        json_cstring(j, m->title);
        json_key(j, "page_start");
        json_int(j, m->start);
        json_key(j, "page_end");
        json_int(j, m->end);
        json_key(j, "generated");
        json_bool(j, m->generated);
        json_key(j, "lessons");
        json_array_begin(j);
        for (size_t k = 0; k < m->nlessons && j->len <= max_output; k++) {
            const course_text_result_t *r =
                lesson < analysis->nlessons ? &analysis->lessons[lesson] : NULL;
            s_json_lesson(j, &m->lessons[k], lesson, r);
            lesson++;
        }
        json_array_end(j);
        json_object_end(j);
    }
    json_array_end(j);
}

static void
s_json_quiz(json_t *j, const course_text_t *analysis, size_t max_output)
{
    const quiz_t *quiz = &analysis->quiz;
    json_key(j, "quiz");
    json_array_begin(j);
    for (size_t i = 0; i < quiz->count && j->len <= max_output; i++) {
        const quiz_question_t *q = &quiz->items[i];
        char id[32], lesson[32];
        snprintf(id, sizeof id, "q%zu", i + 1);
        snprintf(lesson, sizeof lesson, "l%zu", q->lesson + 1);
        json_object_begin(j);
        json_key(j, "id");
        json_cstring(j, id);
        json_key(j, "lesson");
        json_cstring(j, lesson);
        json_key(j, "prompt");
        json_cstring(j, q->prompt);
        json_key(j, "choices");
        json_array_begin(j);
        for (int c = 0; c < QUIZ_CHOICES; c++)
            json_cstring(j, q->choices[c]);
        json_array_end(j);
        json_key(j, "answer");
        json_int(j, q->answer);
        json_key(j, "source_page");
        json_int(j, analysis->source_pages[i]);
        json_object_end(j);
    }
    json_array_end(j);
}

void
course_json_write(json_t *j, const course_source_t *source, const docmodel_t *doc,
                  const plan_t *plan, const course_text_t *analysis, size_t max_output)
{
    json_object_begin(j);
    json_key(j, "title");
    json_cstring(j, source->title != NULL ? source->title
                    : doc->title != NULL  ? doc->title
                                          : "Untitled course");
    json_key(j, "source");
    json_object_begin(j);
    json_key(j, "filename");
    json_cstring(j, source->filename != NULL ? source->filename : "");
    json_key(j, "sha256");
    json_cstring(j, source->sha256 != NULL ? source->sha256 : "");
    json_key(j, "pages");
    json_int(j, doc->pages);
    json_key(j, "pdf_title");
    json_cstring(j, doc->title);
    json_key(j, "author");
    json_cstring(j, doc->author);
    json_object_end(j);
    json_key(j, "structure");
    json_cstring(j, plan_structure_name(plan->structure));
    json_key(j, "language");
    json_cstring(j, analysis->language);
    s_json_modules(j, plan, analysis, max_output);
    s_json_quiz(j, analysis, max_output);
    json_object_end(j);
}
