/*
 * docmodel_wire.c - see docmodel_wire.h.
 *
 * One part, every number in host byte order (u32 unsigned, i32 signed, f32 IEEE binary32):
 *
 *   "PDM1"  u32 pages  u32 first  u32 last  u32 flags (bit 0: outline and metadata follow)
 *   per page first..last:
 *       f32 height  u32 text_len  text bytes (no NUL)  u32 nlines
 *       per line: u32 offset  u32 len  f32 size  f32 x0 y0 x1 y1  u8 flags (1 bold, 2 mono)
 *   when flags bit 0:
 *       str title  str author  u32 nentries
 *       per entry: u32 level  i32 page  f32 top  str title
 *   str: u32 len (0xffffffff: absent) and len bytes
 */
#include "docmodel_wire.h"

#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_MAGIC "PDM1"
#define WIRE_FLAG_OUTLINE 1u
#define WIRE_LINE_BOLD 1u
#define WIRE_LINE_MONO 2u
#define WIRE_ABSENT 0xffffffffu
/* The fewest bytes a page and a line take: what bounds a count before it is allocated. */
#define WIRE_PAGE_MIN 12u
#define WIRE_LINE_MIN 29u
#define WIRE_ENTRY_MIN 16u

/* ---------------------------------------------------------------- encode */

static void
s_put_u32(strbuf_t *b, uint32_t v)
{
    strbuf_append(b, (const char *)&v, sizeof v);
}

static void
s_put_f32(strbuf_t *b, float v)
{
    strbuf_append(b, (const char *)&v, sizeof v);
}

static void
s_put_str(strbuf_t *b, const char *s)
{
    if (s == NULL) {
        s_put_u32(b, WIRE_ABSENT);
        return;
    }
    size_t n = strlen(s);
    s_put_u32(b, (uint32_t)n);
    strbuf_append(b, s, n);
}

int
docmodel_wire_encode(const docmodel_t *dm, int first, int last, bool with_outline, uint8_t **data,
                     size_t *len)
{
    *data = NULL;
    *len = 0;
    if (first < 1 || last < first || last > dm->pages)
        return -1;
    strbuf_t b;
    strbuf_init(&b);
    strbuf_append(&b, WIRE_MAGIC, 4);
    s_put_u32(&b, (uint32_t)dm->pages);
    s_put_u32(&b, (uint32_t)first);
    s_put_u32(&b, (uint32_t)last);
    s_put_u32(&b, with_outline ? WIRE_FLAG_OUTLINE : 0);
    size_t li = 0;
    while (li < dm->nlines && dm->lines[li].page < first)
        li++;
    for (int p = first; p <= last; p++) {
        const char *text = dm->texts[p - 1] != NULL ? dm->texts[p - 1] : "";
        size_t text_len = strlen(text);
        s_put_f32(&b, dm->heights[p - 1]);
        s_put_u32(&b, (uint32_t)text_len);
        strbuf_append(&b, text, text_len);
        size_t end = li;
        while (end < dm->nlines && dm->lines[end].page == p)
            end++;
        s_put_u32(&b, (uint32_t)(end - li));
        for (; li < end; li++) {
            const text_line_t *l = &dm->lines[li];
            s_put_u32(&b, (uint32_t)(l->text - text));
            s_put_u32(&b, (uint32_t)l->len);
            s_put_f32(&b, l->size);
            s_put_f32(&b, l->x0);
            s_put_f32(&b, l->y0);
            s_put_f32(&b, l->x1);
            s_put_f32(&b, l->y1);
            strbuf_append_char(
                &b, (char)((l->bold ? WIRE_LINE_BOLD : 0) | (l->mono ? WIRE_LINE_MONO : 0)));
        }
    }
    if (with_outline) {
        s_put_str(&b, dm->title);
        s_put_str(&b, dm->author);
        s_put_u32(&b, (uint32_t)dm->nentries);
        for (size_t i = 0; i < dm->nentries; i++) {
            const doc_entry_t *e = &dm->entries[i];
            int32_t page = e->page;
            s_put_u32(&b, (uint32_t)e->level);
            strbuf_append(&b, (const char *)&page, sizeof page);
            s_put_f32(&b, e->top);
            s_put_str(&b, e->title);
        }
    }
    if (strbuf_failed(&b)) {
        strbuf_free(&b);
        return -1;
    }
    *data = (uint8_t *)strbuf_steal(&b, len);
    return 0;
}

/* ---------------------------------------------------------------- decode */

/* A cursor over the bytes; `bad` is set at the first read past the end. */
typedef struct {
    const uint8_t *p;
    size_t left;
    bool bad;
} cursor_t;

static void
s_get(cursor_t *c, void *out, size_t n)
{
    if (c->bad || c->left < n) {
        c->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
}

static uint32_t
s_get_u32(cursor_t *c)
{
    uint32_t v;
    s_get(c, &v, sizeof v);
    return v;
}

static float
s_get_f32(cursor_t *c)
{
    float v;
    s_get(c, &v, sizeof v);
    return v;
}

/* A borrowed view of n bytes, or NULL past the end. */
static const char *
s_get_bytes(cursor_t *c, size_t n)
{
    if (c->bad || c->left < n) {
        c->bad = true;
        return NULL;
    }
    const char *at = (const char *)c->p;
    c->p += n;
    c->left -= n;
    return at;
}

static int s_why(char *why, size_t why_size, const char *fmt, ...) PROFAI_PRINTF(3, 4);

static int
s_why(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* A string field: *out gets a NUL-terminated copy (NULL when absent). 0; -1 when the bytes
 * are bad (why set); -2 when out of memory. Titles the reader wrote are trimmed already and
 * at most DOCMODEL_TITLE_MAX bytes; docmodel_title_dup keeps them as they are. */
static int
s_get_str(cursor_t *c, char **out, char *why, size_t why_size)
{
    *out = NULL;
    uint32_t n = s_get_u32(c);
    if (c->bad)
        return s_why(why, why_size, "a string is cut short");
    if (n == WIRE_ABSENT)
        return 0;
    if (n > DOCMODEL_TITLE_MAX)
        return s_why(why, why_size, "a title of %u bytes", n);
    const char *s = s_get_bytes(c, n);
    if (s == NULL)
        return s_why(why, why_size, "a string is cut short");
    if (memchr(s, '\0', n) != NULL)
        return s_why(why, why_size, "a title holds a NUL byte");
    char *copy = malloc((size_t)n + 1);
    if (copy == NULL)
        return -2;
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = copy;
    return 0;
}

/* The outline and metadata of the first part. */
static int
s_decode_outline(cursor_t *c, docmodel_t *dm, char *why, size_t why_size)
{
    int rc = s_get_str(c, &dm->title, why, why_size);
    if (rc == 0)
        rc = s_get_str(c, &dm->author, why, why_size);
    if (rc != 0)
        return rc;
    uint32_t n = s_get_u32(c);
    if (c->bad || n > DOCMODEL_OUTLINE_ITEMS_MAX || n > c->left / WIRE_ENTRY_MIN)
        return s_why(why, why_size, "an outline of %u entries in %zu bytes", n, c->left);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t level = s_get_u32(c);
        int32_t page;
        s_get(c, &page, sizeof page);
        float top = s_get_f32(c);
        char *title = NULL;
        rc = s_get_str(c, &title, why, why_size);
        if (rc != 0)
            return rc;
        if (level < 1 || level > DOCMODEL_OUTLINE_DEPTH_MAX) {
            free(title);
            return s_why(why, why_size, "an outline entry at level %u", level);
        }
        if (array_grow((void **)&dm->entries, &dm->entries_cap, dm->nentries + 1,
                       sizeof *dm->entries) != 0) {
            free(title);
            return -2;
        }
        dm->entries[dm->nentries++] = (doc_entry_t){(int)level, title, page, top};
    }
    return 0;
}

/* One part's pages into dm (whose page count the first part set). */
static int
s_decode_pages(cursor_t *c, docmodel_t *dm, int first, int last, char *why, size_t why_size)
{
    for (int p = first; p <= last; p++) {
        float height = s_get_f32(c);
        uint32_t text_len = s_get_u32(c);
        const char *text = s_get_bytes(c, text_len);
        if (text == NULL)
            return s_why(why, why_size, "page %d is cut short", p);
        if (memchr(text, '\0', text_len) != NULL)
            return s_why(why, why_size, "page %d holds a NUL byte", p);
        const char *copy = docmodel_page_set(dm, p, text, text_len, height);
        if (copy == NULL)
            return -2;
        uint32_t nlines = s_get_u32(c);
        if (c->bad || nlines > c->left / WIRE_LINE_MIN)
            return s_why(why, why_size, "page %d has %u lines in %zu bytes", p, nlines, c->left);
        if (array_grow((void **)&dm->lines, &dm->lines_cap, dm->nlines + nlines,
                       sizeof *dm->lines) != 0)
            return -2;
        for (uint32_t i = 0; i < nlines; i++) {
            uint32_t offset = s_get_u32(c), len = s_get_u32(c);
            text_line_t line = {.page = p};
            line.size = s_get_f32(c);
            line.x0 = s_get_f32(c), line.y0 = s_get_f32(c);
            line.x1 = s_get_f32(c), line.y1 = s_get_f32(c);
            uint8_t flags = 0;
            s_get(c, &flags, 1);
            if (c->bad)
                return s_why(why, why_size, "page %d is cut short", p);
            if (offset > text_len || len > text_len - offset)
                return s_why(why, why_size, "a line of page %d lies outside its text", p);
            line.text = copy + offset;
            line.len = len;
            line.bold = (flags & WIRE_LINE_BOLD) != 0;
            line.mono = (flags & WIRE_LINE_MONO) != 0;
            dm->lines[dm->nlines++] = line;
        }
    }
    return 0;
}

int
docmodel_wire_decode(const uint8_t *data, size_t len, docmodel_t *dm, char *why, size_t why_size)
{
    memset(dm, 0, sizeof *dm);
    cursor_t c = {data, len, false};
    int rc = 0, next = 1, parts = 0;
    while (rc == 0 && (parts == 0 || c.left > 0)) {
        const char *magic = s_get_bytes(&c, 4);
        uint32_t pages = s_get_u32(&c), first = s_get_u32(&c), last = s_get_u32(&c);
        uint32_t flags = s_get_u32(&c);
        if (c.bad || memcmp(magic, WIRE_MAGIC, 4) != 0) {
            rc = s_why(why, why_size, "part %d has no valid header", parts + 1);
            break;
        }
        if (parts == 0) {
            /* Every page takes WIRE_PAGE_MIN bytes: the count cannot exceed what is there. */
            if (pages < 1 || pages > len / WIRE_PAGE_MIN || pages > INT32_MAX) {
                rc = s_why(why, why_size, "a document of %u pages in %zu bytes", pages, len);
                break;
            }
            if (docmodel_init(dm, (int)pages) != 0) {
                rc = -2;
                break;
            }
        }
        if (pages != (uint32_t)dm->pages || first != (uint32_t)next || last < first ||
            last > pages) {
            rc = s_why(why, why_size, "part %d covers pages %u-%u of %u after page %d", parts + 1,
                       first, last, pages, next - 1);
            break;
        }
        if ((flags & WIRE_FLAG_OUTLINE) != (parts == 0 ? WIRE_FLAG_OUTLINE : 0) ||
            (flags & ~WIRE_FLAG_OUTLINE) != 0) {
            rc = s_why(why, why_size, "part %d has flags %u", parts + 1, flags);
            break;
        }
        rc = s_decode_pages(&c, dm, (int)first, (int)last, why, why_size);
        if (rc == 0 && parts == 0)
            rc = s_decode_outline(&c, dm, why, why_size);
        next = (int)last + 1;
        parts++;
    }
    if (rc == 0 && next != dm->pages + 1)
        rc = s_why(why, why_size, "the parts end at page %d of %d", next - 1, dm->pages);
    if (rc != 0)
        docmodel_free(dm);
    return rc;
}
