/* course_build.c - see course_build.h. */
#include "course_build.h"

#include "course_text.h"
#include "plan.h"
#include "quiz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
course_fail(course_error_t *err, profai_error_t code, const char *fmt, ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

int
course_fail_memory(course_error_t *err)
{
    return course_fail(err, PROFAI_ERR_TOO_LARGE,
                       "This PDF needs more memory than the parser may use.");
}

int
course_fail_text_size(course_error_t *err, size_t max_output)
{
    return course_fail(err, PROFAI_ERR_TOO_LARGE,
                       "This PDF holds more text than a course may have (%zu MiB).",
                       max_output >> 20);
}

int
course_fail_no_text(course_error_t *err)
{
    return course_fail(err, PROFAI_ERR_NO_TEXT,
                       "This PDF contains no text that can be extracted; it may be made of "
                       "scanned images. Please upload a PDF whose text can be selected.");
}

int
course_check_text(const docmodel_t *doc, size_t max_output, course_error_t *err)
{
    size_t total = 0;
    bool any = false;
    for (int i = 0; i < doc->pages; i++) {
        const char *body = doc->texts[i] != NULL ? doc->texts[i] : "";
        size_t len = strlen(body);
        total += len;
        if (total > max_output)
            return course_fail_text_size(err, max_output);
        docmodel_trim(&body, &len);
        any = any || len > 0;
    }
    return any ? 0 : course_fail_no_text(err);
}

static int
s_fail_output(course_error_t *err, size_t max_output)
{
    return course_fail(err, PROFAI_ERR_TOO_LARGE,
                       "The course built from this PDF is larger than %zu MiB.", max_output >> 20);
}

/* A back-of-book index or a table of contents, once rendered: no lesson (issue 11). */
static bool
s_is_index(const plan_lesson_t *lesson, void *arg)
{
    (void)arg;
    return quiz_is_index(lesson->title, NULL, 0) ||
           quiz_is_index_listing(lesson->text, lesson->len);
}

/* The clean text of every lesson, indexes and tables of contents left out, then what
 * course_text derives from the others. */
static int
s_render_lessons(const docmodel_t *doc, plan_t *plan, const course_source_t *source,
                 size_t max_output, course_text_t *analysis, course_error_t *err)
{
    size_t total = 0, count = 0;
    for (size_t i = 0; i < plan->nmodules; i++) {
        plan_module_t *m = &plan->modules[i];
        for (size_t j = 0; j < m->nlessons; j++) {
            plan_lesson_t *l = &m->lessons[j];
            if (plan_render_lesson(doc, l) != 0)
                return course_fail_memory(err);
            total += l->len;
            if (total > max_output)
                return s_fail_output(err, max_output);
        }
    }
    (void)plan_drop_lessons(plan, s_is_index, NULL);
    for (size_t i = 0; i < plan->nmodules; i++)
        count += plan->modules[i].nlessons;
    course_text_lesson_t *input = calloc(count + 1, sizeof *input);
    if (input == NULL)
        return course_fail_memory(err);
    size_t k = 0;
    for (size_t i = 0; i < plan->nmodules; i++) {
        for (size_t j = 0; j < plan->modules[i].nlessons; j++) {
            plan_lesson_t *l = &plan->modules[i].lessons[j];
            input[k++] =
                (course_text_lesson_t){l->text, l->len, l->start, l->end, l->offsets, l->title};
        }
    }
    int rc = 0;
    if (course_text_analyse(input, k, &source->quiz, analysis) != 0)
        rc = course_fail_memory(err);
    free(input);
    return rc;
}

int
course_build(docmodel_t *doc, const course_source_t *source, size_t max_output, char **json,
             size_t *len, course_error_t *err)
{
    int rc = -1;
    plan_t plan = {0};
    course_text_t analysis = {0};
    json_t j;
    json_init(&j);
    *json = NULL;
    *len = 0;
    if (plan_make(doc, &plan) != 0) {
        course_fail_memory(err);
        goto done;
    }
    if (s_render_lessons(doc, &plan, source, max_output, &analysis, err) != 0)
        goto done;
    course_json_write(&j, source, doc, &plan, &analysis, max_output);
    if (j.len > max_output) {
        s_fail_output(err, max_output);
        goto done;
    }
    if (json_failed(&j)) {
        course_fail_memory(err);
        goto done;
    }
    *json = json_steal(&j, len);
    rc = 0;
done:
    json_free(&j);
    course_text_free(&analysis);
    plan_free(&plan);
    return rc;
}
