/*
 * store_batch.c - see store_batch.h.
 */
#include "store_batch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Statements with a batch form among one segment's operations, at most (more: the others
 * travel at their own place). */
#define OPEN_MAX 16

static uint64_t
s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The keys seen since the window began: open addressing over item indexes; a slot belongs to
 * the current window when its generation is the window's. */
typedef struct {
    size_t *slot;
    unsigned *gen;
    size_t mask;
    unsigned window;
} s_keys_t;

static bool
s_keys_seen_add(s_keys_t *keys, const store_batch_item_t *items, size_t i)
{
    size_t at = (size_t)s_hash(items[i].key) & keys->mask;
    while (keys->gen[at] == keys->window) {
        if (strcmp(items[keys->slot[at]].key, items[i].key) == 0)
            return true;
        at = (at + 1) & keys->mask;
    }
    keys->gen[at] = keys->window;
    keys->slot[at] = i;
    return false;
}

int
store_batch_plan(const store_batch_item_t *items, size_t n, size_t *anchor)
{
    for (size_t i = 0; i < n; i++)
        anchor[i] = i;
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    s_keys_t keys = {calloc(size, sizeof *keys.slot), calloc(size, sizeof *keys.gen), size - 1, 1};
    if (keys.slot == NULL || keys.gen == NULL) {
        free(keys.slot);
        free(keys.gen);
        return -1;
    }
    struct {
        const store_stmt_t *stmt;
        size_t anchor;
    } open[OPEN_MAX];
    size_t nopen = 0;
    for (size_t i = 0; i < n; i++) {
        const store_batch_item_t *it = &items[i];
        if (it->key == NULL) { /* a barrier: nothing moves across it */
            keys.window++;
            nopen = 0;
            continue;
        }
        if (s_keys_seen_add(&keys, items, i)) {
            /* Its key was seen: nothing after it may move before it. A new window begins
             * with it. */
            keys.window++;
            nopen = 0;
            (void)s_keys_seen_add(&keys, items, i);
        }
        if (!it->batchable)
            continue;
        size_t k = 0;
        while (k < nopen && open[k].stmt != it->stmt)
            k++;
        if (k < nopen)
            anchor[i] = open[k].anchor;
        else if (nopen < OPEN_MAX)
            open[nopen++] = (typeof(open[0])){it->stmt, i};
    }
    free(keys.slot);
    free(keys.gen);
    return 0;
}

char *
store_batch_array(const char *const *values, size_t n, size_t *len)
{
    size_t size = 3; /* { } NUL */
    for (size_t i = 0; i < n; i++) {
        size += 3; /* quotes and comma */
        for (const char *p = values[i]; *p != '\0'; p++)
            size += (*p == '"' || *p == '\\') ? 2 : 1;
    }
    char *out = malloc(size);
    if (out == NULL)
        return NULL;
    char *w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *w++ = ',';
        *w++ = '"';
        for (const char *p = values[i]; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                *w++ = '\\';
            *w++ = *p;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    *len = (size_t)(w - out);
    return out;
}

static void
s_clear_all(PGresult **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PQclear(out[i]);
        out[i] = NULL;
    }
}

int
store_batch_split(const PGresult *res, size_t n, PGresult **out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    /* The ordinal, then at least one column: a row is added by setting a value. */
    int nfields = PQnfields(res) - 1;
    if (nfields < 1)
        return -1;
    PGresAttDesc attrs[nfields];
    for (int c = 0; c < nfields; c++) {
        attrs[c] = (PGresAttDesc){.name = PQfname(res, c + 1),
                                  .tableid = PQftable(res, c + 1),
                                  .columnid = PQftablecol(res, c + 1),
                                  .format = PQfformat(res, c + 1),
                                  .typid = PQftype(res, c + 1),
                                  .typlen = PQfsize(res, c + 1),
                                  .atttypmod = PQfmod(res, c + 1)};
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
        if (out[i] == NULL || !PQsetResultAttrs(out[i], nfields, attrs)) {
            s_clear_all(out, n);
            return -1;
        }
    }
    for (int r = 0; r < PQntuples(res); r++) {
        char *end;
        unsigned long long k = strtoull(PQgetvalue(res, r, 0), &end, 10);
        if (PQgetisnull(res, r, 0) || *end != '\0' || k < 1 || k > n) {
            s_clear_all(out, n);
            return -1;
        }
        PGresult *dst = out[k - 1];
        int row = PQntuples(dst);
        for (int c = 0; c < nfields; c++) {
            bool null = PQgetisnull(res, r, c + 1);
            if (!PQsetvalue(dst, row, c, null ? NULL : PQgetvalue(res, r, c + 1),
                            null ? -1 : PQgetlength(res, r, c + 1))) {
                s_clear_all(out, n);
                return -1;
            }
        }
    }
    return 0;
}
