/*
 * conf_int.c - see conf.h: conf_parse_int, apart from the zconfig readers in conf.c so that
 * a program that parses integers only (profai-extract's options) does not load czmq and the
 * 19 shared libraries it brings (ZeroMQ, Kerberos, systemd, ...) at every start.
 */
#include "conf.h"

#include <errno.h>
#include <stdlib.h>

int
conf_parse_int(const char *text, long long min, long long max, long long *out)
{
    errno = 0;
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    if (errno != 0 || end == text)
        return -1;
    long long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024LL, end++;
    else if (*end == 'M')
        mult = 1024LL * 1024, end++;
    else if (*end == 'G')
        mult = 1024LL * 1024 * 1024, end++;
    if (*end != '\0')
        return -1;
    if (n > max / mult || n < min / (mult > 0 ? mult : 1))
        return -2;
    n *= mult;
    if (n < min || n > max)
        return -2;
    *out = n;
    return 0;
}
