/*
 * utf8.h - UTF-8 decoding and the few character classes course generation needs.
 *
 * Pure C without locale: the extractor runs with an empty environment inside a seccomp
 * sandbox, and results must not depend on the machine's locale. Classes and case mapping are
 * tables of this module, exact for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic, and
 * approximate elsewhere (any code point of a script block counts as a letter; scripts without
 * case have no upper or lower case).
 */
#ifndef PROFAI_UTF8_H
#define PROFAI_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xFFFDu

/* Decode the character at s (len > 0 bytes available). Returns the bytes it takes (1..4) and
 * sets *cp. An invalid or truncated sequence, an overlong form, a surrogate or a value past
 * U+10FFFF takes 1 byte and gives UTF8_REPLACEMENT, so a decoder loop always advances. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Encode cp (UTF8_REPLACEMENT when not a valid scalar value) into out; returns 1..4. */
size_t utf8_encode(uint32_t cp, char out[4]);

/* True when s[0..len) is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* The largest n <= max such that s[0..n) ends on a character boundary (s is len bytes). */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* Where the character that holds byte i of s starts: i stepped back over continuation bytes
 * (10xxxxxx), any number of them, down to 0 at most. Scanning backwards with it and decoding
 * forwards from its result visits the last character of a text first. */
size_t utf8_char_start(const char *s, size_t i);

/* Number of characters (code points) of s[0..len), invalid bytes counting one each. */
size_t utf8_length(const char *s, size_t len);

/* Character classes. */
bool utf8_is_letter(uint32_t cp); /* letters, combining marks and ideographs of any script */
bool utf8_is_digit(uint32_t cp);  /* ASCII and fullwidth digits */
bool utf8_is_upper(uint32_t cp);  /* has a lower-case mapping */
bool utf8_is_lower(uint32_t cp);  /* a lower-case letter of a cased script */
bool utf8_is_space(uint32_t cp);  /* ASCII whitespace, NBSP and the Unicode spaces */
bool utf8_is_dash(uint32_t cp);   /* '-', soft hyphen, U+2010 hyphen, U+2011 */
bool utf8_is_cjk(uint32_t cp);    /* scripts written without spaces between words */
static inline bool
utf8_is_word(uint32_t cp)
{
    return utf8_is_letter(cp) || utf8_is_digit(cp);
}

/* Simple case mapping (one code point to one), identity outside the tables. */
uint32_t utf8_lower(uint32_t cp);

#endif
