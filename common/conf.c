/* conf.c - see conf.h. */
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

zconfig_t *
conf_load(const char *path, char *err, size_t err_size)
{
    if (path == NULL)
        return zconfig_new("root", NULL);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_size, "cannot open config file %s: %s", path, strerror(errno));
        return NULL;
    }
    fclose(f);
    zconfig_t *root = zconfig_load(path);
    if (root == NULL)
        snprintf(err, err_size, "config file %s is not valid ZPL (see docs/configuration.md)",
                 path);
    return root;
}

const char *
conf_str(zconfig_t *root, const char *path, const char *def)
{
    const char *v = zconfig_get(root, path, NULL);
    return (v == NULL || *v == '\0') ? def : v;
}

int
conf_int(zconfig_t *root, const char *path, long long def, long long min, long long max,
         long long *out, char *err, size_t err_size)
{
    const char *v = conf_str(root, path, NULL);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    int rc = conf_parse_int(v, min, max, out);
    if (rc == -2)
        snprintf(err, err_size, "%s = %s is out of range [%lld, %lld]", path, v, min, max);
    else if (rc != 0)
        snprintf(err, err_size, "%s = %s is not an integer", path, v);
    return rc == 0 ? 0 : -1;
}
