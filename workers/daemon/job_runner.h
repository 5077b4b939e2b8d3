/*
 * job_runner.h - run one job's PDF parse in a profai-extract child process.
 *
 * The worker holds ZeroMQ sockets and never parses a PDF itself: each job gets a fresh
 * profai-extract started with posix_spawn (never fork in a process with a ZeroMQ context),
 * with the PDF in a sealed memfd on stdin, an empty memfd on stdout and a pipe on fd 3 for
 * progress lines (docs/worker.md, "The extractor process"). The runner is driven from the
 * worker's event loop: poll job_runner_fd() for input, call job_runner_read_progress() when it
 * is readable and job_runner_check() at job_runner_next_check() at the latest.
 *
 * A PDF of more than split_pages pages is read by several extractors at once, one per page
 * range, and one more builds the course from their parts (docs/worker.md, "Large documents:
 * split across processes"); the job's progress, deadline and outcome stay those of one
 * attempt, and the first child that fails fails it.
 *
 * Not a library in the protocol/ sense: it returns errors and leaves logging to the worker.
 */
#ifndef PROFAI_JOB_RUNNER_H
#define PROFAI_JOB_RUNNER_H

#include "profai/errors.h"
#include "profai/proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What the extractor may use, from the [limits] section of worker.conf (0 = inherit). */
typedef struct {
    const char *extract_path; /* borrowed, valid while runners live */
    const char *log_level;    /* passed to the extractor: "error" .. "debug" */
    long long address_space;  /* bytes */
    long long cpu_seconds;
    long long wall_ms; /* the worker kills the child past this */
    long long open_files;
    long long file_size; /* bytes */
    long long nice;      /* added to the worker's niceness for each extractor (0-19) */
    long long max_pages;
    /* Large documents: more pages than split_pages (0 = never) are read by up to
     * split_processes extractors at once (1 = never), each with address_space divided by
     * their number. The worker lowers split_processes by its other running jobs. */
    long long split_pages;
    long long split_processes;
    long long quiz_per_lesson; /* questions per lesson and per course at most */
    long long quiz_per_course;
    long long page_delay_ms; /* TEST SEAM, 0 in production */
    /* TEST SEAM, 0 in production: the extractor of each of a job's first crash_attempts
     * attempts is killed with SIGSEGV as soon as it has started, as a parser crash would. */
    long long crash_attempts;
} job_limits_t;

/* How a finished job ended, for logs. */
typedef enum {
    JOB_OUTCOME_NONE = 0, /* still running */
    JOB_OUTCOME_OK,       /* course produced */
    JOB_OUTCOME_REFUSED,  /* the extractor refused the PDF (exit 2) */
    JOB_OUTCOME_CRASHED,  /* died of a signal or an unexpected exit status */
    JOB_OUTCOME_TIMEOUT,  /* wall deadline or CPU limit */
    JOB_OUTCOME_FAILED    /* the worker could not run or read the extractor */
} job_outcome_t;

typedef struct job_runner_t job_runner_t;

/* Start the extractor for `job` (borrowed; its PDF is copied before this returns). `limits`
 * is copied; its strings are borrowed and must live as long as the runner. `token`
 * (borrowed) goes to the extractor's log lines. Returns NULL with a reason in err when the
 * child cannot be started. `now` is the monotonic clock in ms. */
job_runner_t *job_runner_start(const job_limits_t *limits, const proto_job_t *job,
                               const char *token, int64_t now, char *err, size_t err_size);

/* Kill a child that is still running (SIGKILL, then wait for it), close everything, free,
 * and set *self_p to NULL. Accepts NULL. */
void job_runner_destroy(job_runner_t **self_p);

/* The progress pipe to poll for input, or -1 once it reached end of file. It may change
 * after job_runner_check (a split document's next step): ask again before each poll. */
int job_runner_fd(const job_runner_t *self);

/* Read whatever the progress pipe holds (never blocks). Returns true when a new progress
 * line was parsed; junk and over-long lines are ignored. */
bool job_runner_read_progress(job_runner_t *self);

/* The latest progress: starts as {0, "starting"}. Borrowed from self. */
const proto_progress_t *job_runner_progress(const job_runner_t *self);

/* Reap the child if it exited, and kill it if it passed its wall deadline. Returns true once
 * the job is finished and its result can be taken. */
bool job_runner_check(job_runner_t *self, int64_t now);

/* When job_runner_check must run next at the latest (monotonic ms). */
int64_t job_runner_next_check(const job_runner_t *self);

/* The RESULT body of a finished job (job_runner_check returned true). Caller owns body.
 * The outcome and a short summary for the log ("ok", "no_text", "signal 11") are filled in. */
int job_runner_take_result(job_runner_t *self, proto_buf_t *body, job_outcome_t *outcome,
                           char *summary, size_t summary_size) PROFAI_MUST_CHECK;

/* Encode a RESULT with ok = false: for failures before any child runs. Caller owns body. */
int job_runner_failure_body(profai_error_t code, const char *sentence,
                            proto_buf_t *body) PROFAI_MUST_CHECK;

/* The first running extractor's pid, 0 when none runs. */
pid_t job_runner_pid(const job_runner_t *self);

/* How many extractors read the document at once: 1, or the parts of a split document. */
int job_runner_parts(const job_runner_t *self);

/* Processor seconds on the attempt's critical path so far: for each step (the first
 * extractor, the parts, the merge), the most that one of its reaped extractors used. What
 * the attempt takes on a host with a free core per extractor (docs/performance.md). */
double job_runner_cpu_path(const job_runner_t *self);

#endif
