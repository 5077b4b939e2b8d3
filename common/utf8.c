/* utf8.c - see utf8.h. */
#include "utf8.h"

size_t
utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    *cp = UTF8_REPLACEMENT;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 1;
    }
    if (len < need)
        return 1;
    for (size_t i = 1; i < need; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 1;
        v = (v << 6) | (u[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 1;
    *cp = v;
    return need;
}

size_t
utf8_encode(uint32_t cp, char out[4])
{
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = UTF8_REPLACEMENT;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

bool
utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        /* A genuine U+FFFD takes 3 bytes; the replacement of an invalid byte takes 1. */
        if (cp == UTF8_REPLACEMENT && n == 1)
            return false;
        i += n;
    }
    return true;
}

size_t
utf8_cut(const char *s, size_t len, size_t max)
{
    if (max >= len)
        return len;
    size_t n = max;
    /* Step back over continuation bytes to the start of the character that crosses max. */
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80 && max - n < 3)
        n--;
    return n;
}

size_t
utf8_char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
        i--;
    return i;
}

size_t
utf8_length(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; count++) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
    }
    return count;
}

/* ---------------------------------------------------------------- classes */

bool
utf8_is_digit(uint32_t cp)
{
    return (cp >= '0' && cp <= '9') || (cp >= 0xff10 && cp <= 0xff19);
}

bool
utf8_is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200b) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

bool
utf8_is_dash(uint32_t cp)
{
    return cp == '-' || cp == 0xad || cp == 0x2010 || cp == 0x2011;
}

bool
utf8_is_cjk(uint32_t cp)
{
    return (cp >= 0x2e80 && cp <= 0x2fff) || (cp >= 0x3040 && cp <= 0x9fff) ||
           (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xff66 && cp <= 0xff9f) ||
           (cp >= 0x20000 && cp <= 0x3ffff);
}

bool
utf8_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    if (cp < 0x100)
        return cp == 0xaa || cp == 0xb5 || cp == 0xba || (cp >= 0xc0 && cp != 0xd7 && cp != 0xf7);
    if (cp < 0x370) /* Latin Extended-A/B, IPA, modifier letters, combining marks */
        return true;
    if (cp < 0x2000) /* Greek .. Greek Extended, less the few punctuation marks of those blocks */
        return cp != 0x37e && cp != 0x387 && cp != 0x55d && cp != 0x589 && cp != 0x5be &&
               cp != 0x5c0 && cp != 0x5c3 && cp != 0x60c && cp != 0x61b && cp != 0x61f &&
               cp != 0x6d4 && cp != 0x964 && cp != 0x965;
    if (cp < 0x2c00) /* punctuation, symbols, arrows, mathematics, boxes, dingbats */
        return (cp >= 0x2070 && cp <= 0x209f) || (cp >= 0x2100 && cp <= 0x214f && cp != 0x2122);
    if (cp < 0x2e00)
        return true;
    if (cp < 0x2e80)
        return false;
    if (cp < 0x3000)
        return true;
    if (cp < 0x3040) /* CJK symbols and punctuation, but the iteration and ideographic marks */
        return cp == 0x3005 || cp == 0x3006 || cp == 0x3007;
    if (cp < 0xd800)
        return cp != 0x30fb; /* katakana middle dot separates words */
    if (cp < 0xf900)
        return false; /* surrogates, private use */
    if (cp < 0xfe00)
        return true;
    if (cp < 0xfe70)
        return false;
    if (cp < 0xff00)
        return cp != 0xfeff;
    if (cp < 0xfff0)
        return (cp >= 0xff21 && cp <= 0xff3a) || (cp >= 0xff41 && cp <= 0xff5a) ||
               (cp >= 0xff66 && cp <= 0xffdc);
    if (cp < 0x1f000)
        return cp >= 0x10000;
    return cp >= 0x20000 && cp < 0xe0000;
}

/* ---------------------------------------------------------------- case */

/* Ranges where upper and lower case alternate: [first, last], upper at even or odd offsets. */
typedef struct {
    uint32_t first;
    uint32_t last;
    bool upper_even; /* upper case at the even code points of the range */
} pairs_t;

static const pairs_t s_pairs[] = {
    {0x100, 0x12f, true},  {0x132, 0x137, true},   {0x139, 0x148, false},  {0x14a, 0x177, true},
    {0x179, 0x17e, false}, {0x1cd, 0x1dc, false},  {0x1de, 0x1ef, true},   {0x1f8, 0x21f, true},
    {0x222, 0x233, true},  {0x460, 0x481, true},   {0x48a, 0x4bf, true},   {0x4c1, 0x4ce, false},
    {0x4d0, 0x52f, true},  {0x1e00, 0x1e95, true}, {0x1ea0, 0x1eff, true},
};

/* The pair range holding cp, or NULL. */
static const pairs_t *
s_pair_of(uint32_t cp)
{
    for (size_t i = 0; i < sizeof s_pairs / sizeof s_pairs[0]; i++) {
        if (cp >= s_pairs[i].first && cp <= s_pairs[i].last)
            return &s_pairs[i];
    }
    return NULL;
}

static bool
s_pair_is_upper(const pairs_t *p, uint32_t cp)
{
    return ((cp & 1u) == 0) == p->upper_even;
}

uint32_t
utf8_lower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 0x20 : cp;
    if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
        return cp + 0x20;
    if (cp < 0x100)
        return cp;
    if (cp == 0x130)
        return 'i';
    if (cp == 0x178)
        return 0xff;
    if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2)
        return cp + 0x20;
    if (cp == 0x386)
        return 0x3ac;
    if (cp >= 0x388 && cp <= 0x38a)
        return cp + 0x25;
    if (cp == 0x38c)
        return 0x3cc;
    if (cp == 0x38e || cp == 0x38f)
        return cp + 0x3f;
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 0x50;
    if (cp >= 0x410 && cp <= 0x42f)
        return cp + 0x20;
    if (cp >= 0x531 && cp <= 0x556)
        return cp + 0x30;
    if (cp >= 0xff21 && cp <= 0xff3a)
        return cp + 0x20;
    const pairs_t *p = s_pair_of(cp);
    if (p != NULL && s_pair_is_upper(p, cp))
        return cp + 1;
    return cp;
}

bool
utf8_is_upper(uint32_t cp)
{
    return utf8_lower(cp) != cp;
}

bool
utf8_is_lower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'a' && cp <= 'z';
    if (cp < 0x100)
        return cp == 0xb5 || (cp >= 0xdf && cp != 0xf7);
    if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17f)
        return true;
    if ((cp >= 0x3ac && cp <= 0x3ce) || (cp >= 0x430 && cp <= 0x45f) ||
        (cp >= 0x561 && cp <= 0x587) || (cp >= 0xff41 && cp <= 0xff5a))
        return true;
    const pairs_t *p = s_pair_of(cp);
    return p != NULL && !s_pair_is_upper(p, cp);
}
