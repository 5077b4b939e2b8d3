/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const double metrics_bounds_request[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t metrics_bounds_request_n =
    sizeof metrics_bounds_request / sizeof metrics_bounds_request[0];
const double metrics_bounds_job[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
const size_t metrics_bounds_job_n = sizeof metrics_bounds_job / sizeof metrics_bounds_job[0];

void
metrics_counter_add(metrics_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

uint64_t
metrics_counter_get(const metrics_counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void
metrics_histogram_init(metrics_histogram_t *h, const double *bounds, size_t n)
{
    h->bounds = bounds;
    h->n = n > METRICS_BUCKETS_MAX ? METRICS_BUCKETS_MAX : n;
    for (size_t i = 0; i <= METRICS_BUCKETS_MAX; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum_us, 0);
}

void
metrics_histogram_observe_us(metrics_histogram_t *h, uint64_t us)
{
    double s = (double)us / 1e6;
    size_t i = 0;
    while (i < h->n && s > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

/* Append s with backslash and line feed escaped, and the double quote too when quote. */
static void
s_escaped(strbuf_t *b, const char *s, bool quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            strbuf_append(b, "\\\\", 2);
        else if (*s == '\n')
            strbuf_append(b, "\\n", 2);
        else if (quote && *s == '"')
            strbuf_append(b, "\\\"", 2);
        else
            strbuf_append_char(b, *s);
    }
}

void
metrics_family(strbuf_t *b, const char *name, const char *type, const char *help)
{
    strbuf_append_cstr(b, "# HELP ");
    strbuf_append_cstr(b, name);
    strbuf_append_char(b, ' ');
    s_escaped(b, help, false);
    strbuf_append_cstr(b, "\n# TYPE ");
    strbuf_append_cstr(b, name);
    strbuf_append_char(b, ' ');
    strbuf_append_cstr(b, type);
    strbuf_append_char(b, '\n');
}

/* name{labels[,extra_name="extra_value"]} and a space. */
static void
s_series(strbuf_t *b, const char *name, const char *suffix, const char *const *labels,
         const char *extra_name, const char *extra_value)
{
    strbuf_append_cstr(b, name);
    if (suffix != NULL)
        strbuf_append_cstr(b, suffix);
    bool any = false;
    for (size_t i = 0; labels != NULL && labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
        strbuf_append_char(b, any ? ',' : '{');
        any = true;
        strbuf_append_cstr(b, labels[i]);
        strbuf_append_cstr(b, "=\"");
        s_escaped(b, labels[i + 1], true);
        strbuf_append_char(b, '"');
    }
    if (extra_name != NULL) {
        strbuf_append_char(b, any ? ',' : '{');
        any = true;
        strbuf_append_cstr(b, extra_name);
        strbuf_append_cstr(b, "=\"");
        strbuf_append_cstr(b, extra_value);
        strbuf_append_char(b, '"');
    }
    if (any)
        strbuf_append_char(b, '}');
    strbuf_append_char(b, ' ');
}

static void
s_u64_line(strbuf_t *b, uint64_t value)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%llu\n", (unsigned long long)value);
    strbuf_append(b, num, (size_t)n);
}

void
metrics_sample(strbuf_t *b, const char *name, const char *const *labels, double value)
{
    s_series(b, name, NULL, labels, NULL, NULL);
    char num[48];
    int n;
    if (isnan(value))
        n = snprintf(num, sizeof num, "NaN\n");
    else if (isinf(value))
        n = snprintf(num, sizeof num, "%s\n", value > 0 ? "+Inf" : "-Inf");
    else
        n = snprintf(num, sizeof num, "%.17g\n", value);
    strbuf_append(b, num, (size_t)n);
}

void
metrics_sample_u64(strbuf_t *b, const char *name, const char *const *labels, uint64_t value)
{
    s_series(b, name, NULL, labels, NULL, NULL);
    s_u64_line(b, value);
}

void
metrics_histogram_write(strbuf_t *b, const char *name, const char *const *labels,
                        const metrics_histogram_t *h)
{
    uint64_t cumulative = 0;
    char le[32];
    for (size_t i = 0; i <= h->n; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->n)
            snprintf(le, sizeof le, "%g", h->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        s_series(b, name, "_bucket", labels, "le", le);
        s_u64_line(b, cumulative);
    }
    uint64_t sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    s_series(b, name, "_sum", labels, NULL, NULL);
    char num[48];
    int n = snprintf(num, sizeof num, "%llu.%06llu\n", (unsigned long long)(sum_us / 1000000),
                     (unsigned long long)(sum_us % 1000000));
    strbuf_append(b, num, (size_t)n);
    s_series(b, name, "_count", labels, NULL, NULL);
    s_u64_line(b, cumulative);
}
