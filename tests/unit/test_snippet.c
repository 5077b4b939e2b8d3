/*
 * test_snippet.c - unit tests of search snippets as HTML (frontend/snippet.h): escaping, the
 * match marks made <mark> and always balanced, white space folded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "snippet.h"

#include <string.h>

static void
s_expect(const char *text, const char *html)
{
    strbuf_t out;
    strbuf_init(&out);
    assert_int_equal(snippet_html(text, strlen(text), &out), 0);
    assert_string_equal(out.data ? out.data : "", html);
    strbuf_free(&out);
}

static void
test_escapes_everything_but_the_marks(void **state)
{
    (void)state;
    s_expect("a <b> & \"c\" 'd'", "a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;");
    s_expect("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
    s_expect("the \x01photo\x02 cell", "the <mark>photo</mark> cell");
}

static void
test_marks_are_balanced(void **state)
{
    (void)state;
    s_expect("\x01open", "<mark>open</mark>");
    s_expect("stray\x02 stop", "stray stop");
    s_expect("\x01\x01twice\x02\x02", "<mark>twice</mark>");
    s_expect("", "");
}

static void
test_white_space_folds(void **state)
{
    (void)state;
    s_expect("  lead\t\n tail  ", "lead tail");
    s_expect("a\r\n\f\vb", "a b");
    /* white space inside a mark is kept (folded), as ts_headline gave it */
    s_expect("\x01 x \x02 y", "<mark> x </mark> y");
    s_expect("été … ok", "été … ok");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_everything_but_the_marks),
        cmocka_unit_test(test_marks_are_balanced),
        cmocka_unit_test(test_white_space_folds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
