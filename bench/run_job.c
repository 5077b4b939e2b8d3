/*
 * run_job.c - one job's whole course, as a worker slot runs it, for the benchmarks
 * (docs/performance.md, "Benchmarks", 4): the PDF from a file goes through job_runner (the
 * code profai-worker runs: the sandboxed profai-extract, split across processes for a large
 * PDF) and the wall time from start to the RESULT is printed, without a broker.
 *
 * usage: run_job -x PROFAI_EXTRACT [-s SPLIT_PAGES] [-p SPLIT_PROCESSES] [-m MAX_PAGES] FILE.pdf
 *   -s  worker/split_pages (default 200; 0 = never split)
 *   -p  worker/split_processes (default: online CPUs)
 *   -m  limits/max_pages (default 0 = none)
 * Prints "wall_s <seconds> cpu_path_s <seconds> ok <0|1> parts <K> summary <the worker's log
 * summary>" and exits 0 when the course was built. cpu_path_s is the processor time on the job's
 * critical path (job_runner_cpu_path): its wall time on a host with a free core per extractor.
 */
#include "daemon/job_runner.h"

#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
s_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t *
s_file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *data = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *grown = realloc(data, cap);
            if (grown == NULL) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = grown;
        }
        size_t n = fread(data + *len, 1, cap - *len, f);
        if (n == 0)
            break;
        *len += n;
    }
    fclose(f);
    return data;
}

int
main(int argc, char **argv)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    job_limits_t limits = {.log_level = "warn",
                           .address_space = 1LL << 30,
                           .cpu_seconds = 600,
                           .wall_ms = 900000,
                           .open_files = 64,
                           .file_size = 64LL << 20,
                           .quiz_per_lesson = 3,
                           .quiz_per_course = 60,
                           .split_pages = 200,
                           .split_processes = online > 16  ? 16
                                              : online < 1 ? 1
                                                           : online};
    int c;
    while ((c = getopt(argc, argv, "x:s:p:m:")) != -1) {
        switch (c) {
        case 'x':
            limits.extract_path = optarg;
            break;
        case 's':
            limits.split_pages = atoll(optarg);
            break;
        case 'p':
            limits.split_processes = atoll(optarg);
            break;
        case 'm':
            limits.max_pages = atoll(optarg);
            break;
        default:
            return 2;
        }
    }
    if (limits.extract_path == NULL || optind + 1 != argc) {
        fprintf(stderr, "usage: run_job -x PROFAI_EXTRACT [-s N] [-p N] [-m N] FILE.pdf\n");
        return 2;
    }
    proto_job_t job = {.attempt = 1};
    snprintf(job.job_id, sizeof job.job_id, "00000000-0000-4000-8000-000000000000");
    snprintf(job.title, sizeof job.title, "Bench");
    snprintf(job.filename, sizeof job.filename, "bench.pdf");
    memset(job.sha256, '0', PROTO_SHA256_LEN);
    job.pdf = s_file_read(argv[optind], &job.pdf_len);
    if (job.pdf == NULL) {
        perror(argv[optind]);
        return 1;
    }
    char err[256];
    double started = s_now_s();
    job_runner_t *runner = job_runner_start(&limits, &job, "bench", s_now_ms(), err, sizeof err);
    if (runner == NULL) {
        fprintf(stderr, "run_job: %s\n", err);
        return 1;
    }
    while (!job_runner_check(runner, s_now_ms())) {
        int64_t wait = job_runner_next_check(runner) - s_now_ms();
        struct pollfd pfd = {job_runner_fd(runner), POLLIN, 0};
        if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, wait < 0 ? 0 : (int)wait) > 0)
            (void)job_runner_read_progress(runner);
    }
    proto_buf_t body = {0};
    job_outcome_t outcome;
    char summary[160];
    int rc = job_runner_take_result(runner, &body, &outcome, summary, sizeof summary);
    double wall = s_now_s() - started;
    int parts = job_runner_parts(runner);
    double cpu_path = job_runner_cpu_path(runner);
    job_runner_destroy(&runner);
    printf("wall_s %.3f cpu_path_s %.3f ok %d parts %d summary %s\n", wall, cpu_path,
           outcome == JOB_OUTCOME_OK, parts, summary);
    proto_buf_free(&body);
    free((void *)job.pdf);
    return rc == 0 && outcome == JOB_OUTCOME_OK ? 0 : 1;
}
