/*
 * metrics.h - metrics in Prometheus text format (exposition format 0.0.4): counters and
 * fixed-bucket histograms that many threads update with C11 atomics, and the writers of the
 * text (HELP and TYPE lines, samples with escaped labels, histogram series).
 *
 * The caller owns every metric (plain structs, usually static or in its service's state) and
 * builds the page into its strbuf_t on each scrape; nothing here allocates but the strbuf, nor
 * logs. Names follow the conventions: counters end in _total, durations are in seconds.
 */
#ifndef PROFAI_METRICS_H
#define PROFAI_METRICS_H

#include "strbuf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Most finite buckets a histogram takes (+Inf is added). */
#define METRICS_BUCKETS_MAX 16

/* A counter any thread may add to. */
typedef _Atomic uint64_t metrics_counter_t;

/* A histogram of durations: bounds are the finite upper bounds in seconds, ascending,
 * borrowed (static storage). counts are per bucket (not cumulative; the last is +Inf). */
typedef struct {
    const double *bounds;
    size_t n;
    _Atomic uint64_t counts[METRICS_BUCKETS_MAX + 1];
    _Atomic uint64_t sum_us;
} metrics_histogram_t;

/* Bounds for request latencies (5 ms .. 10 s) and for job times (0.1 s .. 1 h). */
extern const double metrics_bounds_request[];
extern const size_t metrics_bounds_request_n;
extern const double metrics_bounds_job[];
extern const size_t metrics_bounds_job_n;

void metrics_counter_add(metrics_counter_t *c, uint64_t n);
uint64_t metrics_counter_get(const metrics_counter_t *c);

/* Set up h with bounds (n at most METRICS_BUCKETS_MAX; more are ignored), all counts 0. */
void metrics_histogram_init(metrics_histogram_t *h, const double *bounds, size_t n);
/* Count one observation of us microseconds. */
void metrics_histogram_observe_us(metrics_histogram_t *h, uint64_t us);

/* The "# HELP" and "# TYPE" lines of a family (type: "counter", "gauge", "histogram"). */
void metrics_family(strbuf_t *b, const char *name, const char *type, const char *help);

/* One sample line. labels: name, value, name, value, ..., NULL (or NULL for none); values are
 * escaped as the format wants (backslash, double quote, line feed). */
void metrics_sample(strbuf_t *b, const char *name, const char *const *labels, double value);
void metrics_sample_u64(strbuf_t *b, const char *name, const char *const *labels, uint64_t value);

/* The series of a histogram family member: name_bucket{...,le="..."} (cumulative, +Inf last),
 * name_sum (seconds) and name_count. */
void metrics_histogram_write(strbuf_t *b, const char *name, const char *const *labels,
                             const metrics_histogram_t *h);

/* The Content-Type of the text format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
