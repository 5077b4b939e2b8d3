/*
 * mathlite.h - the natural logarithm and square root, without libm.
 *
 * The unit tests and profai-extract link libprofai.a without -lm; course generation needs
 * only these two functions, to about 1e-12 relative accuracy, deterministic everywhere.
 */
#ifndef PROFAI_MATHLITE_H
#define PROFAI_MATHLITE_H

/* ln(x) for x > 0; 0 for x <= 0 (callers never pass it). */
double mathlite_log(double x);
/* sqrt(x) for x >= 0; 0 for x <= 0. */
double mathlite_sqrt(double x);

#endif
