/* mathlite.c - see mathlite.h. */
#include "mathlite.h"

#define LN2 0.69314718055994530942

double
mathlite_log(double x)
{
    if (!(x > 0))
        return 0;
    /* x = m * 2^e with m in [1, 2); then ln(m) = 2 atanh((m - 1) / (m + 1)), a series in
     * z^2 with z <= 1/3 that converges quickly. */
    int e = 0;
    while (x >= 2) {
        x /= 2;
        e++;
    }
    while (x < 1) {
        x *= 2;
        e--;
    }
    double z = (x - 1) / (x + 1);
    double z2 = z * z, term = z, sum = 0;
    for (int k = 1; k < 60; k += 2) {
        sum += term / k;
        term *= z2;
        if (term < 1e-18)
            break;
    }
    return 2 * sum + e * LN2;
}

double
mathlite_sqrt(double x)
{
    if (!(x > 0))
        return 0;
    /* Newton's method from a power-of-two first guess; quadratic convergence. */
    double guess = 1;
    double y = x;
    while (y >= 4) {
        y /= 4;
        guess *= 2;
    }
    while (y < 0.25) {
        y *= 4;
        guess /= 2;
    }
    for (int i = 0; i < 8; i++)
        guess = 0.5 * (guess + x / guess);
    return guess;
}
