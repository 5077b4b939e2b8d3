/*
 * test_pdf_cache.c - unit tests of the broker's PDF cache (broker/pdf_cache.h): kept on a
 * second sighting only, and then only under its own SHA-256, bounded in size and count, oldest
 * replaced first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pdf_cache.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The SHA-256 (hex) of data into hex (65 bytes). */
static void
s_sha(const void *data, size_t len, char *hex)
{
    gchar *h = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
    snprintf(hex, 65, "%s", h);
    g_free(h);
}

static void
test_put_get(void **state)
{
    (void)state;
    pdf_cache_t *cache = pdf_cache_new();
    assert_non_null(cache);
    const char pdf[] = "%PDF-1.4 a";
    char sha[65], other[65];
    s_sha(pdf, sizeof pdf, sha);
    s_sha("else", 4, other);
    size_t len = 0;
    assert_null(pdf_cache_get(cache, sha, &len));
    /* A first sighting is only remembered, even under another hash (nothing is hashed). */
    assert_int_equal(pdf_cache_put(cache, other, (const uint8_t *)pdf, sizeof pdf), 1);
    assert_null(pdf_cache_get(cache, other, &len));
    /* The second is checked: never kept under another hash, however often offered. */
    assert_int_equal(pdf_cache_put(cache, other, (const uint8_t *)pdf, sizeof pdf), -1);
    assert_int_equal(pdf_cache_put(cache, other, (const uint8_t *)pdf, sizeof pdf), -1);
    assert_null(pdf_cache_get(cache, other, &len));
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 1);
    assert_null(pdf_cache_get(cache, sha, &len));
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 0);
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 0);
    const uint8_t *got = pdf_cache_get(cache, sha, &len);
    assert_non_null(got);
    assert_int_equal(len, sizeof pdf);
    assert_memory_equal(got, pdf, sizeof pdf);
    assert_int_equal(pdf_cache_put(cache, "short", (const uint8_t *)pdf, sizeof pdf), -1);
    pdf_cache_destroy(&cache);
    assert_null(cache);
    pdf_cache_destroy(&cache); /* NULL accepted */
}

static void
test_bounds(void **state)
{
    (void)state;
    pdf_cache_t *cache = pdf_cache_new();
    uint8_t *big = calloc(1, PDF_CACHE_ITEM_MAX + 1);
    assert_non_null(big);
    char sha[65];
    s_sha(big, PDF_CACHE_ITEM_MAX + 1, sha);
    assert_int_equal(pdf_cache_put(cache, sha, big, PDF_CACHE_ITEM_MAX + 1), -1);
    s_sha(big, PDF_CACHE_ITEM_MAX, sha);
    assert_int_equal(pdf_cache_put(cache, sha, big, PDF_CACHE_ITEM_MAX), 1);
    assert_int_equal(pdf_cache_put(cache, sha, big, PDF_CACHE_ITEM_MAX), 0);
    free(big);
    /* PDF_CACHE_ITEMS more: the first (the large one) is replaced, the rest stay. */
    char first[65];
    for (int i = 0; i < PDF_CACHE_ITEMS; i++) {
        char pdf[32];
        int n = snprintf(pdf, sizeof pdf, "%%PDF %d", i);
        s_sha(pdf, (size_t)n, i == 0 ? first : sha);
        assert_int_equal(
            pdf_cache_put(cache, i == 0 ? first : sha, (const uint8_t *)pdf, (size_t)n), 1);
        assert_int_equal(
            pdf_cache_put(cache, i == 0 ? first : sha, (const uint8_t *)pdf, (size_t)n), 0);
    }
    size_t len;
    char large[65];
    uint8_t *again = calloc(1, PDF_CACHE_ITEM_MAX);
    s_sha(again, PDF_CACHE_ITEM_MAX, large);
    free(again);
    assert_null(pdf_cache_get(cache, large, &len));
    assert_non_null(pdf_cache_get(cache, first, &len));
    assert_non_null(pdf_cache_get(cache, sha, &len));
    pdf_cache_destroy(&cache);
}

/* The hashes of first sightings are bounded: after PDF_CACHE_SEEN others, a PDF offered again
 * counts as a first sighting once more; within them, as a second. */
static void
test_seen_bound(void **state)
{
    (void)state;
    pdf_cache_t *cache = pdf_cache_new();
    const char pdf[] = "%PDF-1.4 seen";
    char sha[65], other[65];
    s_sha(pdf, sizeof pdf, sha);
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 1);
    for (int i = 0; i < PDF_CACHE_SEEN - 1; i++) {
        char o[32];
        s_sha(o, (size_t)snprintf(o, sizeof o, "%%PDF other %d", i), other);
        assert_int_equal(pdf_cache_put(cache, other, (const uint8_t *)o, strlen(o)), 1);
    }
    /* PDF_CACHE_SEEN offered: sha is the oldest, still remembered. */
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 0);
    size_t len;
    assert_non_null(pdf_cache_get(cache, sha, &len));
    pdf_cache_destroy(&cache);

    cache = pdf_cache_new();
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 1);
    for (int i = 0; i < PDF_CACHE_SEEN; i++) {
        char o[32];
        s_sha(o, (size_t)snprintf(o, sizeof o, "%%PDF other %d", i), other);
        assert_int_equal(pdf_cache_put(cache, other, (const uint8_t *)o, strlen(o)), 1);
    }
    /* One more than the ring holds: sha was forgotten, so this is a first sighting again. */
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 1);
    assert_null(pdf_cache_get(cache, sha, &len));
    assert_int_equal(pdf_cache_put(cache, sha, (const uint8_t *)pdf, sizeof pdf), 0);
    assert_non_null(pdf_cache_get(cache, sha, &len));
    pdf_cache_destroy(&cache);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_seen_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
