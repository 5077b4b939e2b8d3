/*
 * fuzz_check.h - the property check shared by the fuzz targets in fuzz/.
 *
 * A fuzz target checks properties of the codec (round trips, limits, pointers), not only that
 * it does not crash. A broken property must stop libFuzzer and leave a crash file, so the
 * check prints what failed and where, then aborts (assert() would vanish under -DNDEBUG).
 */
#ifndef PROFAI_FUZZ_CHECK_H
#define PROFAI_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
