/*
 * course_check.c - see course_check.h. Each s_check_* returns 0 or -1 with the first fault in
 * the context; paths name the field as docs/api.md does ("modules[1].lessons[0].text").
 */
#include "course_check.h"

#include "json_in.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *why;
    size_t why_size;
    long long pages; /* source.pages */
    size_t lessons;  /* lessons seen so far, whole course */
} check_t;

static int
s_fail(check_t *c, const char *path, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->why_size, "%s: %s", path, what);
    return -1;
}

/* The member key of obj as a string of min..max bytes (nullable: null gives *out NULL). */
static int
s_string(check_t *c, const json_in_value_t *obj, const char *key, const char *path, size_t min,
         size_t max, bool nullable, const json_in_value_t **out)
{
    char at[192];
    snprintf(at, sizeof at, "%s%s%s", path, path[0] != '\0' ? "." : "", key);
    const json_in_value_t *v = json_in_member(obj, key);
    if (out != NULL)
        *out = NULL;
    if (v == NULL)
        return s_fail(c, at, "missing");
    if (nullable && v->type == JSON_IN_NULL)
        return 0;
    if (v->type != JSON_IN_STRING)
        return s_fail(c, at, nullable ? "not a string or null" : "not a string");
    if (v->len < min || v->len > max)
        return s_fail(c, at, "%zu bytes, not %zu..%zu", v->len, min, max);
    if (out != NULL)
        *out = v;
    return 0;
}

/* The member key of obj as an integer in lo..hi. */
static int
s_integer(check_t *c, const json_in_value_t *obj, const char *key, const char *path, long long lo,
          long long hi, long long *out)
{
    char at[192];
    snprintf(at, sizeof at, "%s.%s", path, key);
    const json_in_value_t *v = json_in_member(obj, key);
    if (v == NULL)
        return s_fail(c, at, "missing");
    if (v->type != JSON_IN_NUMBER || !v->is_integer)
        return s_fail(c, at, "not an integer");
    if (v->integer < lo || v->integer > hi)
        return s_fail(c, at, "%lld is not within %lld..%lld", v->integer, lo, hi);
    *out = v->integer;
    return 0;
}

/* The member key of obj as an array of min..max items (optional: absent is fine, *out NULL). */
static int
s_array(check_t *c, const json_in_value_t *obj, const char *key, const char *path, size_t min,
        size_t max, bool optional, const json_in_value_t **out)
{
    char at[192];
    snprintf(at, sizeof at, "%s%s%s", path, path[0] != '\0' ? "." : "", key);
    const json_in_value_t *v = json_in_member(obj, key);
    *out = NULL;
    if (v == NULL)
        return optional ? 0 : s_fail(c, at, "missing");
    if (v->type != JSON_IN_ARRAY)
        return s_fail(c, at, "not an array");
    if (v->count < min || v->count > max)
        return s_fail(c, at, "%zu items, not %zu..%zu", v->count, min, max);
    *out = v;
    return 0;
}

/* page_start and page_end of obj: within lo..hi, start <= end. */
static int
s_range(check_t *c, const json_in_value_t *obj, const char *path, long long lo, long long hi,
        long long *start, long long *end)
{
    if (s_integer(c, obj, "page_start", path, lo, hi, start) != 0 ||
        s_integer(c, obj, "page_end", path, lo, hi, end) != 0)
        return -1;
    if (*start > *end)
        return s_fail(c, path, "page_start %lld after page_end %lld", *start, *end);
    return 0;
}

static int
s_check_source(check_t *c, const json_in_value_t *root)
{
    const json_in_value_t *source = json_in_member(root, "source");
    if (source == NULL || source->type != JSON_IN_OBJECT)
        return s_fail(c, "source", source == NULL ? "missing" : "not an object");
    const json_in_value_t *sha;
    if (s_string(c, source, "filename", "source", 0, COURSE_TITLE_MAX, false, NULL) != 0 ||
        s_string(c, source, "sha256", "source", 64, 64, false, &sha) != 0 ||
        s_string(c, source, "pdf_title", "source", 0, COURSE_META_MAX, true, NULL) != 0 ||
        s_string(c, source, "author", "source", 0, COURSE_META_MAX, true, NULL) != 0)
        return -1;
    if (strspn(sha->text, "0123456789abcdef") != 64)
        return s_fail(c, "source.sha256", "not 64 lower-case hex digits");
    return s_integer(c, source, "pages", "source", 1, COURSE_PAGES_MAX, &c->pages);
}

/* Optional lesson fields of the extractor (docs/api.md 5): checked when present. */
static int
s_check_lesson_extras(check_t *c, const json_in_value_t *lesson, const char *path)
{
    if (json_in_member(lesson, "id") != NULL &&
        s_string(c, lesson, "id", path, 1, COURSE_ID_MAX, false, NULL) != 0)
        return -1;
    if (json_in_member(lesson, "summary") != NULL &&
        s_string(c, lesson, "summary", path, 0, COURSE_SUMMARY_MAX, false, NULL) != 0)
        return -1;
    const json_in_value_t *terms;
    if (s_array(c, lesson, "key_terms", path, 0, COURSE_KEY_TERMS_MAX, true, &terms) != 0)
        return -1;
    for (size_t i = 0; terms != NULL && i < terms->count; i++)
        if (terms->items[i].type != JSON_IN_STRING || terms->items[i].len == 0 ||
            terms->items[i].len > COURSE_TITLE_MAX)
            return s_fail(c, path, "key_terms[%zu] is not a string of 1..%d bytes", i,
                          COURSE_TITLE_MAX);
    return 0;
}

static int
s_check_module(check_t *c, const json_in_value_t *module, size_t m)
{
    char path[64];
    snprintf(path, sizeof path, "modules[%zu]", m);
    if (module->type != JSON_IN_OBJECT)
        return s_fail(c, path, "not an object");
    long long start, end;
    const json_in_value_t *generated = json_in_member(module, "generated");
    const json_in_value_t *lessons;
    if (s_string(c, module, "title", path, 0, COURSE_TITLE_MAX, false, NULL) != 0 ||
        s_range(c, module, path, 1, c->pages, &start, &end) != 0)
        return -1;
    if (generated == NULL || generated->type != JSON_IN_BOOL)
        return s_fail(c, path, "generated: missing or not a boolean");
    if (json_in_member(module, "id") != NULL &&
        s_string(c, module, "id", path, 1, COURSE_ID_MAX, false, NULL) != 0)
        return -1;
    if (s_array(c, module, "lessons", path, 1, COURSE_LESSONS_MAX, false, &lessons) != 0)
        return -1;
    for (size_t l = 0; l < lessons->count; l++) {
        const json_in_value_t *lesson = &lessons->items[l];
        char at[96];
        snprintf(at, sizeof at, "%s.lessons[%zu]", path, l);
        if (lesson->type != JSON_IN_OBJECT)
            return s_fail(c, at, "not an object");
        if (++c->lessons > COURSE_LESSONS_MAX)
            return s_fail(c, at, "more than %d lessons in the course", COURSE_LESSONS_MAX);
        long long ls, le;
        if (s_string(c, lesson, "title", at, 0, COURSE_TITLE_MAX, false, NULL) != 0 ||
            s_range(c, lesson, at, start, end, &ls, &le) != 0 ||
            s_string(c, lesson, "text", at, 0, (size_t)-1, false, NULL) != 0 ||
            s_check_lesson_extras(c, lesson, at) != 0)
            return -1;
    }
    return 0;
}

/* Whether some lesson of the course has this id. */
static bool
s_lesson_exists(const json_in_value_t *modules, const char *id)
{
    for (size_t m = 0; m < modules->count; m++) {
        const json_in_value_t *lessons = json_in_member(&modules->items[m], "lessons");
        for (size_t l = 0; l < lessons->count; l++) {
            const json_in_value_t *lid = json_in_member(&lessons->items[l], "id");
            if (lid != NULL && lid->type == JSON_IN_STRING && strcmp(lid->text, id) == 0)
                return true;
        }
    }
    return false;
}

static int
s_check_question(check_t *c, const json_in_value_t *q, size_t i, const json_in_value_t *modules)
{
    char path[64];
    snprintf(path, sizeof path, "quiz[%zu]", i);
    if (q->type != JSON_IN_OBJECT)
        return s_fail(c, path, "not an object");
    const json_in_value_t *lesson, *choices;
    long long answer, page;
    if (s_string(c, q, "id", path, 1, COURSE_ID_MAX, false, NULL) != 0 ||
        s_string(c, q, "lesson", path, 1, COURSE_ID_MAX, false, &lesson) != 0 ||
        s_string(c, q, "prompt", path, 1, COURSE_META_MAX, false, NULL) != 0 ||
        s_array(c, q, "choices", path, COURSE_CHOICES, COURSE_CHOICES, false, &choices) != 0 ||
        s_integer(c, q, "answer", path, 0, COURSE_CHOICES - 1, &answer) != 0 ||
        s_integer(c, q, "source_page", path, 1, c->pages, &page) != 0)
        return -1;
    for (size_t k = 0; k < choices->count; k++) {
        const json_in_value_t *choice = &choices->items[k];
        if (choice->type != JSON_IN_STRING || choice->len == 0 || choice->len > COURSE_TITLE_MAX)
            return s_fail(c, path, "choices[%zu] is not a string of 1..%d bytes", k,
                          COURSE_TITLE_MAX);
        for (size_t j = 0; j < k; j++)
            if (strcmp(choices->items[j].text, choice->text) == 0)
                return s_fail(c, path, "choices[%zu] repeats choices[%zu]", k, j);
    }
    if (!s_lesson_exists(modules, lesson->text))
        return s_fail(c, path, "lesson \"%.16s\" is not a lesson of the course", lesson->text);
    return 0;
}

static int
s_check_course(check_t *c, const json_in_value_t *root)
{
    static const char *const structures[] = {"outline", "headings", "pages"};
    static const char *const languages[] = {"en", "fr", "de", "es", "und"};
    if (root->type != JSON_IN_OBJECT)
        return s_fail(c, "course", "not an object");
    const json_in_value_t *structure, *language = NULL, *modules, *quiz;
    if (s_string(c, root, "title", "", 0, COURSE_TITLE_MAX, false, NULL) != 0 ||
        s_check_source(c, root) != 0 ||
        s_string(c, root, "structure", "", 1, 16, false, &structure) != 0)
        return -1;
    bool known = false;
    for (size_t i = 0; i < sizeof structures / sizeof structures[0]; i++)
        known = known || strcmp(structure->text, structures[i]) == 0;
    if (!known)
        return s_fail(c, "structure", "not outline, headings or pages");
    if (json_in_member(root, "language") != NULL) {
        if (s_string(c, root, "language", "", 1, 3, false, &language) != 0)
            return -1;
        known = false;
        for (size_t i = 0; i < sizeof languages / sizeof languages[0]; i++)
            known = known || strcmp(language->text, languages[i]) == 0;
        if (!known)
            return s_fail(c, "language", "not en, fr, de, es or und");
    }
    if (s_array(c, root, "modules", "", 1, COURSE_MODULES_MAX, false, &modules) != 0)
        return -1;
    for (size_t m = 0; m < modules->count; m++)
        if (s_check_module(c, &modules->items[m], m) != 0)
            return -1;
    if (s_array(c, root, "quiz", "", 0, COURSE_QUIZ_MAX, true, &quiz) != 0)
        return -1;
    for (size_t i = 0; quiz != NULL && i < quiz->count; i++)
        if (s_check_question(c, &quiz->items[i], i, modules) != 0)
            return -1;
    return 0;
}

int
course_check(const char *json, size_t len, char *why, size_t why_size)
{
    check_t c = {.why = why, .why_size = why_size};
    char err[160];
    json_in_limits_t limits = {.max_depth = COURSE_DEPTH_MAX, .max_values = COURSE_VALUES_MAX};
    json_in_doc_t *doc = json_in_parse(json, len, &limits, err, sizeof err);
    if (doc == NULL) {
        snprintf(why, why_size, "not JSON: %s", err);
        return -1;
    }
    int rc = s_check_course(&c, json_in_root(doc));
    json_in_free(&doc);
    return rc;
}
