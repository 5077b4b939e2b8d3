/* sentences.c - see sentences.h. */
#include "sentences.h"

#include "strbuf.h"

#include "utf8.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Words after which a full stop does not end a sentence (lower case, without the stop). */
static const char *const s_abbreviations[] = {
    "e.g",  "i.e", "etc",  "vs",  "cf",  "dr",   "mr",  "mrs", "ms",   "prof",
    "st",   "fig", "figs", "no",  "nr",  "vol",  "pp",  "p",   "ca",   "approx",
    "resp", "z.b", "bzw",  "usw", "vgl", "sr",   "sra", "mme", "mlle", "art",
    "abs",  "ex",  "eq",   "ref", "sec", "ch",   "jr",  "inc", "ltd",  "dept",
    "ed",   "eds", "al",   "op",  "cit", "ibid", "env", "min", "max",  "s"};

static bool
s_is_abbreviation(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof s_abbreviations / sizeof s_abbreviations[0]; i++) {
        if (strlen(s_abbreviations[i]) == n && strncasecmp(s_abbreviations[i], w, n) == 0)
            return true;
    }
    return false;
}

/* Script classes that separate words in texts without spaces. */
enum { SCRIPT_OTHER, SCRIPT_HAN, SCRIPT_HIRAGANA, SCRIPT_KATAKANA };

static int
s_script(uint32_t cp)
{
    if ((cp >= 0x3040 && cp <= 0x309f))
        return SCRIPT_HIRAGANA;
    if ((cp >= 0x30a0 && cp <= 0x30ff) || (cp >= 0x31f0 && cp <= 0x31ff) ||
        (cp >= 0xff66 && cp <= 0xff9f))
        return SCRIPT_KATAKANA;
    if (utf8_is_cjk(cp))
        return SCRIPT_HAN;
    return SCRIPT_OTHER;
}

static bool
s_joiner(uint32_t cp)
{
    return cp == '-' || cp == '.' || cp == '_' || cp == 0x2010 || cp == 0x2011;
}

typedef struct {
    const char *text;
    size_t len;
    sentences_t *out;
    size_t tokens_cap;
    size_t sentences_cap;
    size_t sentence_start; /* byte where the current sentence starts */
    size_t sentence_first; /* its first token */
    bool failed;
} splitter_t;

static void
s_add_token(splitter_t *sp, size_t start, size_t end, unsigned flags)
{
    sentences_t *o = sp->out;
    if (array_grow((void **)&o->tokens, &sp->tokens_cap, o->ntokens + 1, sizeof *o->tokens) != 0) {
        sp->failed = true;
        return;
    }
    if (o->ntokens == sp->sentence_first)
        flags |= TOKEN_INITIAL;
    o->tokens[o->ntokens++] = (token_t){(uint32_t)start, (uint32_t)end, flags};
}

static bool
s_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* Close the sentence that ends at byte `end` (exclusive); the next starts after it. */
static void
s_end_sentence(splitter_t *sp, size_t end, bool terminated)
{
    sentences_t *o = sp->out;
    size_t start = sp->sentence_start;
    while (start < end && s_space(sp->text[start]))
        start++;
    size_t stop = end;
    while (stop > start && s_space(sp->text[stop - 1]))
        stop--;
    if (stop > start && o->ntokens > sp->sentence_first) {
        if (array_grow((void **)&o->sentences, &sp->sentences_cap, o->nsentences + 1,
                       sizeof *o->sentences) != 0) {
            sp->failed = true;
            return;
        }
        o->sentences[o->nsentences++] = (sentence_t){start, stop, sp->sentence_first,
                                                     o->ntokens - sp->sentence_first, terminated};
        for (size_t k = sp->sentence_first; terminated && k < o->ntokens; k++)
            o->tokens[k].flags |= TOKEN_PROSE;
    }
    sp->sentence_start = end;
    sp->sentence_first = o->ntokens;
}

/* Scan one word starting at i; returns the byte after it. */
static size_t
s_word(splitter_t *sp, size_t i)
{
    const char *t = sp->text;
    size_t start = i;
    unsigned flags = 0;
    int script = -1;
    bool kana_only = true;
    size_t end = i;
    while (i < sp->len) {
        uint32_t cp;
        size_t n = utf8_decode(t + i, sp->len - i, &cp);
        if (utf8_is_word(cp)) {
            int sc = s_script(cp);
            if (script >= 0 && sc != script && (sc != SCRIPT_OTHER || script != SCRIPT_OTHER))
                break;
            if (script < 0 && utf8_is_upper(cp))
                flags |= TOKEN_UPPER;
            if (utf8_is_letter(cp))
                flags |= TOKEN_LETTER;
            kana_only = kana_only && sc == SCRIPT_HIRAGANA;
            script = sc;
            i += n;
            end = i;
            continue;
        }
        /* A joiner between two word characters of a Latin-like script stays in the word. */
        if (s_joiner(cp) && script == SCRIPT_OTHER && i + n < sp->len) {
            uint32_t next;
            utf8_decode(t + i + n, sp->len - i - n, &next);
            if (utf8_is_word(next) && s_script(next) == SCRIPT_OTHER) {
                i += n;
                continue;
            }
        }
        break;
    }
    if (kana_only)
        flags |= TOKEN_KANA;
    if (sp->out->ntokens > sp->sentence_first && start >= 1 && t[start - 1] == ' ' &&
        sp->out->tokens[sp->out->ntokens - 1].end == start - 1)
        flags |= TOKEN_JOINED;
    s_add_token(sp, start, end, flags);
    return end;
}

/* After a sentence mark at [i, i + n): the byte after any closing quotes or brackets. */
static size_t
s_after_closers(const char *t, size_t len, size_t i)
{
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode(t + i, len - i, &cp);
        if (!(cp == '.' || cp == '!' || cp == '?' || cp == ')' || cp == ']' || cp == '"' ||
              cp == '\'' || cp == 0x2019 || cp == 0x201d || cp == 0xbb || cp == 0x2026))
            break;
        i += n;
    }
    return i;
}

/* Does a full stop at `dot` end the sentence (the next non-space character is at `next`)? */
static bool
s_stop_ends(splitter_t *sp, size_t dot, size_t next)
{
    if (next < sp->len) {
        uint32_t cp;
        utf8_decode(sp->text + next, sp->len - next, &cp);
        if (utf8_is_lower(cp))
            return false;
    }
    const sentences_t *o = sp->out;
    if (o->ntokens == 0 || sp->text[dot] != '.')
        return true;
    const token_t *w = &o->tokens[o->ntokens - 1];
    if (w->end != dot)
        return true;
    size_t n = w->end - w->start;
    if (s_is_abbreviation(sp->text + w->start, n))
        return false;
    /* An initial: a single upper-case letter ("J. S. Bach"). */
    uint32_t cp;
    size_t step = utf8_decode(sp->text + w->start, n, &cp);
    return !(step == n && utf8_is_upper(cp));
}

int
sentences_split(const char *text, size_t len, sentences_t *out)
{
    memset(out, 0, sizeof *out);
    splitter_t sp = {.text = text, .len = len, .out = out};
    size_t i = 0;
    while (i < len && !sp.failed) {
        uint32_t cp;
        size_t n = utf8_decode(text + i, len - i, &cp);
        if (utf8_is_word(cp)) {
            i = s_word(&sp, i);
            continue;
        }
        if (cp == '\n') {
            s_end_sentence(&sp, i, false);
            i += n;
            continue;
        }
        if (cp == 0x3002 || cp == 0xff01 || cp == 0xff1f) {
            s_end_sentence(&sp, i + n, true);
            i += n;
            continue;
        }
        if (cp == '.' || cp == '!' || cp == '?' || cp == 0x2026) {
            size_t after = s_after_closers(text, len, i);
            if (after >= len) {
                s_end_sentence(&sp, len, true);
                i = len;
                continue;
            }
            if (text[after] == ' ' || text[after] == '\n') {
                size_t next = after;
                while (next < len && s_space(text[next]))
                    next++;
                if (s_stop_ends(&sp, i, next)) {
                    s_end_sentence(&sp, after, true);
                    i = after;
                    continue;
                }
            }
            i = after > i ? after : i + n;
            continue;
        }
        i += n;
    }
    if (!sp.failed)
        s_end_sentence(&sp, len, false);
    if (sp.failed) {
        sentences_free(out);
        return -1;
    }
    return 0;
}

void
sentences_free(sentences_t *s)
{
    if (s == NULL)
        return;
    free(s->tokens);
    free(s->sentences);
    memset(s, 0, sizeof *s);
}
