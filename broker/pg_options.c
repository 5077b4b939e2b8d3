/*
 * pg_options.c - see pg_options.h.
 */
#include "pg_options.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
pg_options_merge(const char *ours, const char *conninfo, const char *pgoptions)
{
    /* NULL: not key=value nor a URI (a bare database name, which libpq takes as such, or an
     * error libpq reports at connect): no options of its own. */
    PQconninfoOption *opts = PQconninfoParse(conninfo != NULL ? conninfo : "", NULL);
    const char *theirs = NULL;
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val != NULL && o->val[0] != '\0')
            theirs = o->val;
    if (theirs == NULL && pgoptions != NULL && pgoptions[0] != '\0')
        theirs = pgoptions;
    size_t size = strlen(ours) + (theirs != NULL ? 1 + strlen(theirs) : 0) + 1;
    char *out = malloc(size);
    if (out != NULL)
        snprintf(out, size, "%s%s%s", ours, theirs != NULL ? " " : "",
                 theirs != NULL ? theirs : "");
    if (opts != NULL)
        PQconninfoFree(opts);
    return out;
}
