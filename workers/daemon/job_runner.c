/* job_runner.c - see job_runner.h. */
#define _GNU_SOURCE
#include "job_runner.h"

#include "extract/page_meet.h"
#include "extract_contract.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(EXTRACT_INPUT_MAX == PROTO_PDF_MAX, "extractor input limit != PROTO_PDF_MAX");
_Static_assert(EXTRACT_OUTPUT_MAX == PROTO_COURSE_MAX, "extractor output limit != course max");

/* How far below the limit the kernel enforced getrusage may report the processor time: the
 * kernel checks RLIMIT_CPU against its precise run time at a tick, wait4 reports utime + stime
 * rebuilt from sampled ticks. 0.1 s was measured on an idle machine; on a loaded 2-core one a
 * child killed at a 2 s limit was reported at 1.7 s. A fraction of the limit, at least 0.1 s. */
#define CPU_ACCOUNTING_MARGIN_S 0.1
#define CPU_ACCOUNTING_MARGIN_SHARE 0.25
/* After the pipe closes, how often to look for the child's exit status. */
#define REAP_RETRY_MS 10
/* While a split document's parts are read, how often to look for a child that ended: one
 * that fails must stop the others at once, and their shared pipe ends only with the last. */
#define SPLIT_POLL_MS 20
/* The least address space a part's reader is given: below it, fewer parts (docs/worker.md). */
#define SPLIT_ADDRESS_SPACE_MIN (256LL << 20)
/* The first fd the child does not inherit: 0, 1, 2 and the progress pipe stay (and, for a
 * reader that shares its range, the shared word: EXTRACT_MEET_FD). */
#define CHILD_FD_FIRST_CLOSED (EXTRACT_PROGRESS_FD + 1)

/* One extractor process of the attempt. */
typedef struct {
    pid_t pid;       /* 0 once reaped (or never started) */
    int status;      /* waitpid status, valid once reaped */
    double cpu_used; /* its user + system seconds, valid once reaped */
    int out_fd;      /* its stdout memfd */
    int first, last; /* its pages when it reads a part, else 0 */
    int done;        /* pages of its part it reported read */
    int meet;        /* 0; 1 or 2: it shares first..last with the next (up) or previous (down) */
    int meet_fd;     /* the word it shares (page_meet.h), -1 when none */
} child_t;

/* What the attempt's children are doing. */
typedef enum {
    PHASE_WHOLE, /* one extractor: the whole job, or it answers "split" (with split_pages) */
    PHASE_PARTS, /* nparts extractors, each reading one page range */
    PHASE_MERGE, /* one extractor building the course from the parts */
    PHASE_DONE   /* `result` names the child (or start_failed) the outcome comes from */
} phase_t;

struct job_runner_t {
    job_limits_t limits; /* copied; its strings borrowed */
    char title[PROTO_TITLE_MAX + 1];
    char filename[PROTO_FILENAME_MAX + 1];
    char sha256[PROTO_SHA256_LEN + 1];
    char token[PROTO_ADDRESS_MAX + 1];
    int pdf_fd; /* the sealed PDF, kept for the parts' readers; -1 once not needed */
    phase_t phase;
    child_t kids[EXTRACT_SPLIT_PARTS_MAX];
    int nkids;
    int result;         /* the child whose end is the outcome; -1: start_failed */
    int split_parts;    /* readers a split may start: 0 = do not split */
    int pages;          /* the document's pages, once a split said so */
    int nparts;         /* the parts it was split into, once it was */
    int progress_fd;    /* read end of the current step's progress pipe; -1 after EOF */
    int64_t deadline;   /* monotonic ms */
    int64_t next_check; /* monotonic ms */
    long long wall_ms;
    long long cpu_seconds;
    bool killed_for_deadline;
    double cpu_path;        /* processor seconds of the steps before this one */
    double cpu_step;        /* the most one extractor of this step used */
    char start_failed[160]; /* why a later step could not start */
    proto_progress_t progress;
    char line[EXTRACT_PROGRESS_LINE_MAX];
    size_t line_len;
    bool line_overflow; /* the current line is too long: drop it up to its newline */
};

/* ---------------------------------------------------------------- start */

/* Keep fds that become the child's 0, 1, 3 and 4 above 4, so the dup2 actions of one cannot
 * overwrite another. */
static int
s_fd_high(int fd)
{
    if (fd < 0 || fd > EXTRACT_MEET_FD)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return high;
}

/* A sealed memfd holding data: the child can read it but neither change nor grow it. */
static int
s_memfd_with(const char *name, const uint8_t *data, size_t len)
{
    int fd = s_fd_high(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        done += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        goto fail;
    if (lseek(fd, 0, SEEK_SET) != 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/* A new open file of the sealed memfd fd, with an offset of its own: children that read the
 * same PDF at once must not share one. */
static int
s_memfd_reopen(int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return s_fd_high(open(path, O_RDONLY | O_CLOEXEC));
}

/* The parser runs `nice` steps below the worker (capped at 19), so on a shared host the
 * frontend, the edge and PostgreSQL answer users first. Set from here, just after the spawn:
 * posix_spawn has no attribute for it, and the parser's sandbox is not the place. The child
 * is ours and only made nicer, so this fails only when it has already exited: nothing to do. */
static void
s_nice_child(pid_t pid, long long nice)
{
    if (nice <= 0)
        return;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    if (base == -1 && errno != 0)
        base = 0;
    long long target = base + nice;
    (void)setpriority(PRIO_PROCESS, (id_t)pid, (int)(target > 19 ? 19 : target));
}

/* Start one extractor as kids[self->nkids] with stdin in_fd, the progress pipe's write end
 * pipe_w, the given address space and mode option ("" for none), and for a reader that shares
 * its range the shared word's memfd meet (borrowed; -1: none) as EXTRACT_MEET_FD, going up
 * (meet_dir 1) or down (2). 0 or -1 (errno). */
static int
s_spawn(job_runner_t *self, const char *mode, long long address_space, int in_fd, int pipe_w,
        int meet, int meet_dir)
{
    const job_limits_t *limits = &self->limits;
    child_t *kid = &self->kids[self->nkids];
    *kid = (child_t){.out_fd = s_fd_high(memfd_create("profai-course", MFD_CLOEXEC)),
                     .meet_fd = meet >= 0 ? fcntl(meet, F_DUPFD_CLOEXEC, EXTRACT_MEET_FD + 1) : -1};
    int meet_fd = kid->meet_fd;
    if (kid->out_fd < 0 || (meet >= 0 && meet_fd < 0)) {
        if (kid->out_fd >= 0)
            close(kid->out_fd);
        if (meet_fd >= 0)
            close(meet_fd);
        *kid = (child_t){.out_fd = -1, .meet_fd = -1};
        return -1;
    }
    char opt[16][PROTO_FILENAME_MAX + 32];
    snprintf(opt[0], sizeof opt[0], "--title=%s", self->title);
    snprintf(opt[1], sizeof opt[1], "--filename=%s", self->filename);
    snprintf(opt[2], sizeof opt[2], "--sha256=%s", self->sha256);
    snprintf(opt[3], sizeof opt[3], "--job=%s", self->token);
    snprintf(opt[4], sizeof opt[4], "--max-pages=%lld", limits->max_pages);
    snprintf(opt[5], sizeof opt[5], "--page-delay-ms=%lld", limits->page_delay_ms);
    snprintf(opt[6], sizeof opt[6], "--address-space=%lld", address_space);
    snprintf(opt[7], sizeof opt[7], "--cpu-seconds=%lld", limits->cpu_seconds);
    snprintf(opt[8], sizeof opt[8], "--open-files=%lld", limits->open_files);
    snprintf(opt[9], sizeof opt[9], "--file-size=%lld", limits->file_size);
    snprintf(opt[10], sizeof opt[10], "--parent-pid=%ld", (long)getpid());
    snprintf(opt[11], sizeof opt[11], "--log-level=%s", limits->log_level);
    snprintf(opt[12], sizeof opt[12], "--quiz-per-lesson=%lld", limits->quiz_per_lesson);
    snprintf(opt[13], sizeof opt[13], "--quiz-per-course=%lld", limits->quiz_per_course);
    snprintf(opt[14], sizeof opt[14], "%s", mode);
    snprintf(opt[15], sizeof opt[15], "%s",
             meet < 0        ? ""
             : meet_dir == 1 ? "--meet=up"
                             : "--meet=down");
    char *argv[18] = {(char *)limits->extract_path};
    int argc = 1;
    for (int i = 0; i < 16; i++) {
        if (opt[i][0] != '\0')
            argv[argc++] = opt[i];
    }
    argv[argc] = NULL;
    /* The parser gets no environment: nothing of the worker's leaks into it. */
    char *envp[] = {NULL};

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, kid->out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipe_w, EXTRACT_PROGRESS_FD);
    if (meet_fd >= 0)
        posix_spawn_file_actions_adddup2(&actions, meet_fd, EXTRACT_MEET_FD);
    posix_spawn_file_actions_addclosefrom_np(&actions, meet_fd >= 0 ? EXTRACT_MEET_FD + 1
                                                                    : CHILD_FD_FIRST_CLOSED);
    /* Default signal handling and an empty mask in the child; its own process group, so a
     * Ctrl-C on the worker's terminal reaches the worker (which drains) and not the parsers. */
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawn(&kid->pid, limits->extract_path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        close(kid->out_fd);
        if (meet_fd >= 0)
            close(meet_fd);
        *kid = (child_t){.out_fd = -1, .meet_fd = -1};
        errno = rc;
        return -1;
    }
    s_nice_child(kid->pid, limits->nice);
    self->nkids++;
    return 0;
}

/* A fresh progress pipe for the next step: *pipe_w gets the write end for the children. */
static int
s_pipe_open(job_runner_t *self, int *pipe_w)
{
    int fds[2] = {-1, -1};
    if (self->progress_fd >= 0)
        close(self->progress_fd);
    self->progress_fd = -1;
    self->line_len = 0;
    self->line_overflow = false;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fds[0] = s_fd_high(fds[0]);
    fds[1] = s_fd_high(fds[1]);
    if (fds[0] < 0 || fds[1] < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return -1;
    }
    self->progress_fd = fds[0];
    *pipe_w = fds[1];
    return 0;
}

/* How many readers a split of this job may start: 0 when it must not split. */
static int
s_split_parts(const job_limits_t *limits)
{
    long long parts = limits->split_processes;
    if (limits->split_pages <= 0 || parts < 2)
        return 0;
    if (parts > EXTRACT_SPLIT_PARTS_MAX)
        parts = EXTRACT_SPLIT_PARTS_MAX;
    /* The parts read at once share the job's address space: each gets its share, and a share
     * too small to read a PDF in means fewer parts. */
    if (limits->address_space > 0 && parts > limits->address_space / SPLIT_ADDRESS_SPACE_MIN)
        parts = limits->address_space / SPLIT_ADDRESS_SPACE_MIN;
    return parts >= 2 ? (int)parts : 0;
}

job_runner_t *
job_runner_start(const job_limits_t *limits, const proto_job_t *job, const char *token, int64_t now,
                 char *err, size_t err_size)
{
    int pipe_w = -1;
    job_runner_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->limits = *limits;
    snprintf(self->title, sizeof self->title, "%s", job->title);
    snprintf(self->filename, sizeof self->filename, "%s", job->filename);
    snprintf(self->sha256, sizeof self->sha256, "%s", job->sha256);
    snprintf(self->token, sizeof self->token, "%s", token);
    self->pdf_fd = self->progress_fd = -1;
    self->phase = PHASE_WHOLE;
    self->wall_ms = limits->wall_ms;
    self->cpu_seconds = limits->cpu_seconds;
    if (self->cpu_seconds == 0) { /* 0 = inherit: the worker's own limit is the child's */
        struct rlimit rl;
        if (getrlimit(RLIMIT_CPU, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            self->cpu_seconds = (long long)rl.rlim_cur;
    }
    self->deadline = now + limits->wall_ms;
    self->next_check = self->deadline;
    self->progress.progress = 0;
    snprintf(self->progress.stage, sizeof self->progress.stage, "starting");
    self->split_parts = s_split_parts(limits);

    char mode[48] = "";
    if (self->split_parts > 0)
        snprintf(mode, sizeof mode, "--split-above=%lld", limits->split_pages);
    self->pdf_fd = s_memfd_with("profai-pdf", job->pdf, job->pdf_len);
    if (self->pdf_fd < 0 || s_pipe_open(self, &pipe_w) != 0)
        goto fail;
    if (s_spawn(self, mode, limits->address_space, self->pdf_fd, pipe_w, -1, 0) != 0)
        goto fail;
    /* Only the child may hold the write end: its exit is then our end of file. */
    close(pipe_w);
    if (self->split_parts == 0) {
        close(self->pdf_fd);
        self->pdf_fd = -1;
    }
    if (limits->crash_attempts > 0 && job->attempt <= limits->crash_attempts)
        kill(self->kids[0].pid, SIGSEGV); /* test seam: a crash the worker cannot tell */
    return self;
fail:
    snprintf(err, err_size, "cannot start the extractor: %s", strerror(errno));
    if (pipe_w >= 0)
        close(pipe_w);
    job_runner_destroy(&self);
    return NULL;
}

/* SIGKILL every child still running and reap it. */
static void
s_kill_all(job_runner_t *self)
{
    for (int i = 0; i < self->nkids; i++) {
        if (self->kids[i].pid > 0)
            kill(self->kids[i].pid, SIGKILL);
    }
    for (int i = 0; i < self->nkids; i++) {
        child_t *kid = &self->kids[i];
        if (kid->pid <= 0)
            continue;
        while (waitpid(kid->pid, &kid->status, 0) < 0 && errno == EINTR)
            ;
        kid->pid = 0;
    }
}

/* Close the children's outputs and forget them, for the next step. */
static void
s_kids_clear(job_runner_t *self)
{
    self->cpu_path += self->cpu_step;
    self->cpu_step = 0;
    for (int i = 0; i < self->nkids; i++) {
        if (self->kids[i].out_fd >= 0)
            close(self->kids[i].out_fd);
        if (self->kids[i].meet_fd >= 0)
            close(self->kids[i].meet_fd);
        self->kids[i].meet_fd = -1;
    }
    self->nkids = 0;
}

void
job_runner_destroy(job_runner_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    job_runner_t *self = *self_p;
    s_kill_all(self);
    s_kids_clear(self);
    if (self->progress_fd >= 0)
        close(self->progress_fd);
    if (self->pdf_fd >= 0)
        close(self->pdf_fd);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- progress */

int
job_runner_fd(const job_runner_t *self)
{
    return self->progress_fd;
}

const proto_progress_t *
job_runner_progress(const job_runner_t *self)
{
    return &self->progress;
}

pid_t
job_runner_pid(const job_runner_t *self)
{
    for (int i = 0; i < self->nkids; i++) {
        if (self->kids[i].pid > 0)
            return self->kids[i].pid;
    }
    return 0;
}

double
job_runner_cpu_path(const job_runner_t *self)
{
    return self->cpu_path + self->cpu_step;
}

int
job_runner_parts(const job_runner_t *self)
{
    return self->nparts > 0 ? self->nparts : 1;
}

/* A line of a part's reader: its pages read so far become the job's, summed over the parts
 * (which of them wrote it, its page number says). Other stages of the readers are not news. */
static bool
s_progress_part(job_runner_t *self, const proto_progress_t *p)
{
    if (strcmp(p->stage, "text") != 0 || p->page == 0)
        return false;
    uint32_t sum = 0;
    for (int i = 0; i < self->nkids; i++) {
        child_t *kid = &self->kids[i];
        uint64_t word = 0;
        if (kid->meet != 0) {
            /* Readers that share a range: what each took, from the word they share. */
            if (pread(kid->meet_fd, &word, sizeof word, 0) == (ssize_t)sizeof word) {
                int up = 0, down = 0;
                page_meet_taken(word, kid->first, kid->last, &up, &down);
                kid->done = kid->meet == 1 ? up : down;
            }
        } else if ((int)p->page >= kid->first && (int)p->page <= kid->last &&
                   (int)p->page - kid->first + 1 > kid->done) {
            kid->done = (int)p->page - kid->first + 1;
        }
        sum += (uint32_t)kid->done;
    }
    proto_progress_t next = {.progress = 5 + (uint32_t)(90ULL * sum / (uint32_t)self->pages),
                             .page = sum,
                             .pages = (uint32_t)self->pages};
    snprintf(next.stage, sizeof next.stage, "text");
    if (next.page == self->progress.page && strcmp(self->progress.stage, "text") == 0)
        return false;
    self->progress = next;
    return true;
}

/* A decimal number of at most 9 digits at *p, advancing *p. */
static bool
s_number(const char **p, uint32_t *out)
{
    const char *s = *p;
    uint32_t v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 9) {
        v = v * 10 + (uint32_t)(*s - '0');
        s++, digits++;
    }
    if (digits == 0)
        return false;
    *out = v;
    *p = s;
    return true;
}

/* "progress <0-100> <stage> <page> <pages>": anything else is ignored. */
static bool
s_progress_parse(const char *line, proto_progress_t *out)
{
    proto_progress_t p = {0};
    const char *s = line;
    if (strncmp(s, "progress ", 9) != 0)
        return false;
    s += 9;
    if (!s_number(&s, &p.progress) || p.progress > 100 || *s++ != ' ')
        return false;
    size_t n = 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_')
        n++;
    if (n == 0 || n > PROTO_STAGE_MAX || s[n] != ' ')
        return false;
    memcpy(p.stage, s, n);
    p.stage[n] = '\0';
    s += n + 1;
    if (!s_number(&s, &p.page) || *s++ != ' ' || !s_number(&s, &p.pages) || *s != '\0')
        return false;
    if (p.pages > 0 && p.page > p.pages)
        return false;
    *out = p;
    return true;
}

bool
job_runner_read_progress(job_runner_t *self)
{
    bool updated = false;
    char buf[4096];
    while (self->progress_fd >= 0) {
        ssize_t n = read(self->progress_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            /* End of file: the child exited (or closed fd 3); reap it soon. */
            close(self->progress_fd);
            self->progress_fd = -1;
            self->next_check = 0;
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (c == '\n') {
                self->line[self->line_len] = '\0';
                proto_progress_t p;
                if (!self->line_overflow && s_progress_parse(self->line, &p)) {
                    if (self->phase == PHASE_PARTS) {
                        updated = s_progress_part(self, &p) || updated;
                    } else {
                        self->progress = p;
                        updated = true;
                    }
                }
                self->line_len = 0;
                self->line_overflow = false;
            } else if (self->line_len + 1 < sizeof self->line) {
                self->line[self->line_len++] = c;
            } else {
                self->line_overflow = true;
            }
        }
    }
    return updated;
}

/* ---------------------------------------------------------------- completion */

/* Reap every child that ended (wait4 also gives its processor time). ECHILD (someone else
 * reaped it: cannot happen in the worker) counts as a crash. */
static void
s_reap(job_runner_t *self)
{
    for (int i = 0; i < self->nkids; i++) {
        child_t *kid = &self->kids[i];
        if (kid->pid <= 0)
            continue;
        int status = 0;
        struct rusage ru = {0};
        pid_t r = wait4(kid->pid, &status, WNOHANG, &ru);
        if (r == kid->pid)
            kid->cpu_used = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        if (r == kid->pid && kid->cpu_used > self->cpu_step)
            self->cpu_step = kid->cpu_used;
        if (r == kid->pid || (r < 0 && errno == ECHILD)) {
            kid->status = r == kid->pid ? status : 255 << 8;
            kid->pid = 0;
        }
    }
}

static bool
s_exited_with(const child_t *kid, int code)
{
    return kid->pid == 0 && WIFEXITED(kid->status) && WEXITSTATUS(kid->status) == code;
}

/* The end of the attempt: its outcome comes from child `which` (-1: start_failed). */
static void
s_done(job_runner_t *self, int which)
{
    s_kill_all(self);
    self->result = which;
    self->phase = PHASE_DONE;
}

/* A later step could not start: the attempt fails as internal. */
static void
s_fail_start(job_runner_t *self, const char *what)
{
    snprintf(self->start_failed, sizeof self->start_failed, "%s: %s", what, strerror(errno));
    s_done(self, -1);
}

/* The whole-job child said "split <pages>": start one reader per page range, each on its own
 * open file of the PDF, with its share of the address space; their pipe is shared. Readers
 * 2j and 2j+1 share the range of both (docs/worker.md, "Large documents"): one reads up from
 * its first page, the other down from its last, until they meet, so the pair ends together
 * however the pages' content is spread. An odd last reader reads its range alone. */
static void
s_start_parts(job_runner_t *self)
{
    char line[EXTRACT_SPLIT_LINE_MAX + 1] = "";
    ssize_t n = pread(self->kids[0].out_fd, line, EXTRACT_SPLIT_LINE_MAX, 0);
    int pages = 0, end = 0;
    if (n <= 0 || sscanf(line, "split %9d\n%n", &pages, &end) != 1 || end != n || pages < 2) {
        s_done(self, 0); /* an answer the worker does not understand: a crash (exit 3) */
        return;
    }
    int parts = self->split_parts < pages ? self->split_parts : pages;
    s_kids_clear(self);
    self->pages = pages;
    self->nparts = parts;
    self->phase = PHASE_PARTS;
    int pipe_w = -1;
    if (s_pipe_open(self, &pipe_w) != 0) {
        s_fail_start(self, "cannot open a progress pipe");
        return;
    }
    long long space = self->limits.address_space / parts;
    int meet_fd = -1;
    for (int i = 0; i < parts; i++) {
        bool paired = i + 1 < parts || i % 2 == 1;
        int lead = paired ? i - i % 2 : i;       /* the pair's first reader */
        int past = paired ? lead + 2 : lead + 1; /* one past its last reader */
        int first = (int)(1 + (long long)pages * lead / parts);
        int last = (int)((long long)pages * past / parts);
        int meet = paired ? 1 + i % 2 : 0;
        char mode[48];
        snprintf(mode, sizeof mode, "--pages=%d-%d", first, last);
        if (meet == 1)
            meet_fd = s_fd_high(page_meet_create(first, last));
        int in_fd = s_memfd_reopen(self->pdf_fd);
        int rc = in_fd >= 0 && (meet == 0 || meet_fd >= 0)
                     ? s_spawn(self, mode, space, in_fd, pipe_w, meet != 0 ? meet_fd : -1, meet)
                     : -1;
        int why = errno;
        if (in_fd >= 0)
            close(in_fd);
        if (meet == 2 || rc != 0) {
            if (meet_fd >= 0)
                close(meet_fd);
            meet_fd = -1;
        }
        if (rc != 0) {
            close(pipe_w);
            errno = why;
            s_fail_start(self, "cannot start a part's extractor");
            return;
        }
        child_t *kid = &self->kids[self->nkids - 1];
        kid->first = first;
        kid->last = last;
        kid->meet = meet;
    }
    close(pipe_w);
    close(self->pdf_fd);
    self->pdf_fd = -1;
}

/* Read the child's stdout memfd: at most max bytes; -1 when bigger (errno EFBIG) or on error.
 * Caller owns *data (may be NULL when empty). */
static int s_output_read(int fd, size_t max, uint8_t **data, size_t *len);

/* Every part was read: one more extractor builds the course from the parts, in page order,
 * alone, with the job's whole address space. */
static void
s_start_merge(job_runner_t *self)
{
    uint8_t *all = NULL;
    size_t total = 0;
    for (int i = 0; i < self->nkids; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (s_output_read(self->kids[i].out_fd, EXTRACT_MODEL_MAX - total, &data, &len) != 0) {
            free(all);
            s_fail_start(self, "cannot read the parts of the document");
            return;
        }
        uint8_t *grown = len > 0 ? realloc(all, total + len) : all;
        if (len > 0 && grown == NULL) {
            free(data);
            free(all);
            s_fail_start(self, "cannot read the parts of the document");
            return;
        }
        all = grown;
        if (len > 0)
            memcpy(all + total, data, len);
        total += len;
        free(data);
    }
    s_kids_clear(self);
    self->phase = PHASE_MERGE;
    int in_fd = s_memfd_with("profai-parts", all, total);
    free(all);
    int pipe_w = -1;
    if (in_fd < 0 || s_pipe_open(self, &pipe_w) != 0) {
        if (in_fd >= 0)
            close(in_fd);
        s_fail_start(self, "cannot pass the parts on");
        return;
    }
    int rc = s_spawn(self, "--merge", self->limits.address_space, in_fd, pipe_w, -1, 0);
    int why = errno;
    close(in_fd);
    close(pipe_w);
    errno = why;
    if (rc != 0)
        s_fail_start(self, "cannot start the extractor that merges the parts");
}

bool
job_runner_check(job_runner_t *self, int64_t now)
{
    if (self->phase == PHASE_DONE)
        return true;
    s_reap(self);
    if (now >= self->deadline && !self->killed_for_deadline) {
        for (int i = 0; i < self->nkids; i++) {
            if (self->kids[i].pid > 0)
                kill(self->kids[i].pid, SIGKILL);
        }
        self->killed_for_deadline = true;
    }
    switch (self->phase) {
    case PHASE_WHOLE:
        if (self->kids[0].pid != 0)
            break;
        if (self->split_parts > 0 && !self->killed_for_deadline &&
            s_exited_with(&self->kids[0], EXTRACT_EXIT_SPLIT))
            s_start_parts(self);
        else
            s_done(self, 0);
        break;
    case PHASE_PARTS: {
        /* The first part that did not end well is the attempt's outcome (no partial course);
         * the others are killed. */
        int running = 0;
        for (int i = 0; i < self->nkids && self->phase == PHASE_PARTS; i++) {
            if (self->kids[i].pid != 0)
                running++;
            else if (self->killed_for_deadline || !s_exited_with(&self->kids[i], 0))
                s_done(self, i);
        }
        if (self->phase == PHASE_PARTS && running == 0)
            s_start_merge(self);
        break;
    }
    case PHASE_MERGE:
        if (self->kids[0].pid == 0)
            s_done(self, 0);
        break;
    case PHASE_DONE:
        break;
    }
    if (self->phase == PHASE_DONE)
        return true;
    /* Once the pipe closed or the child was killed, its exit is imminent: poll for it. */
    if (self->progress_fd < 0 || self->killed_for_deadline)
        self->next_check = now + REAP_RETRY_MS;
    else if (self->phase == PHASE_PARTS)
        self->next_check =
            now + SPLIT_POLL_MS < self->deadline ? now + SPLIT_POLL_MS : self->deadline;
    else
        self->next_check = self->deadline;
    return false;
}

int64_t
job_runner_next_check(const job_runner_t *self)
{
    return self->next_check;
}

/* Mark result failed with code and a formatted sentence for the teacher. */
static void s_result_fail(proto_result_t *result, profai_error_t code, const char *fmt, ...)
    PROFAI_PRINTF(3, 4);

static void
s_result_fail(proto_result_t *result, profai_error_t code, const char *fmt, ...)
{
    result->ok = false;
    snprintf(result->error_code, sizeof result->error_code, "%s", profai_error_name(code));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->error, sizeof result->error, fmt, ap);
    va_end(ap);
}

int
job_runner_failure_body(profai_error_t code, const char *sentence, proto_buf_t *body)
{
    proto_result_t result = {.ok = false};
    proto_error_t err;
    s_result_fail(&result, code, "%s", sentence);
    return proto_result_encode(&result, body, &err);
}

static int
s_output_read(int fd, size_t max, uint8_t **data, size_t *len)
{
    struct stat st;
    *data = NULL;
    *len = 0;
    if (fstat(fd, &st) != 0)
        return -1;
    if ((uint64_t)st.st_size > max) {
        errno = EFBIG;
        return -1;
    }
    size_t size = (size_t)st.st_size;
    if (size == 0)
        return 0;
    uint8_t *buf = malloc(size);
    if (buf == NULL)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, buf + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            errno = n == 0 ? EIO : errno;
            return -1;
        }
        done += (size_t)n;
    }
    *data = buf;
    *len = size;
    return 0;
}

/* Is name, exactly, one of the codes an extractor may refuse with (extract_contract.h)? */
static bool
s_is_refusal_code(const char *name)
{
    profai_error_t code = profai_error_from_name(name);
    if (strcmp(profai_error_name(code), name) != 0)
        return false; /* unknown names map to internal */
    switch (code) {
    case PROFAI_ERR_NOT_PDF:
    case PROFAI_ERR_ENCRYPTED:
    case PROFAI_ERR_DAMAGED:
    case PROFAI_ERR_NO_TEXT:
    case PROFAI_ERR_TOO_LARGE:
    case PROFAI_ERR_INTERNAL:
        return true;
    default:
        return false;
    }
}

/* Parse "<code>\n<sentence>\n" written by a refusing extractor into result. */
static void
s_refusal_parse(const uint8_t *data, size_t len, proto_result_t *result)
{
    char text[EXTRACT_REFUSAL_MAX + 1];
    size_t n = len < EXTRACT_REFUSAL_MAX ? len : EXTRACT_REFUSAL_MAX;
    if (data != NULL)
        memcpy(text, data, n);
    text[n] = '\0';
    char *nl = strchr(text, '\n');
    char *sentence = nl != NULL ? nl + 1 : (char *)"";
    if (nl != NULL)
        *nl = '\0';
    char *end = strchr(sentence, '\n');
    if (end != NULL)
        *end = '\0';
    if (!s_is_refusal_code(text)) {
        s_result_fail(result, PROFAI_ERR_INTERNAL,
                      "The PDF parser gave an answer the worker does not understand.");
        return;
    }
    snprintf(result->error_code, sizeof result->error_code, "%.32s", text);
    if (!proto_is_utf8(sentence, strlen(sentence)) || strlen(sentence) > PROTO_ERROR_MAX)
        sentence = (char *)"The PDF could not be processed.";
    snprintf(result->error, sizeof result->error, "%s", sentence);
}

/* The processor time a SIGKILLed child may lack and still count as killed by RLIMIT_CPU. */
static double
s_cpu_margin(long long cpu_seconds)
{
    double share = CPU_ACCOUNTING_MARGIN_SHARE * (double)cpu_seconds;
    return share > CPU_ACCOUNTING_MARGIN_S ? share : CPU_ACCOUNTING_MARGIN_S;
}

/* Fill result from the status and output of the child the outcome comes from; *data is the
 * course when ok. */
static job_outcome_t
s_outcome(job_runner_t *self, proto_result_t *result, uint8_t **data, size_t *len, char *summary,
          size_t summary_size)
{
    if (self->result < 0) {
        s_result_fail(result, PROFAI_ERR_INTERNAL, "The worker could not run the PDF parser.");
        snprintf(summary, summary_size, "%s (%s)", result->error_code, self->start_failed);
        return JOB_OUTCOME_FAILED;
    }
    const child_t *kid = &self->kids[self->result];
    int st = kid->status;
    /* RLIMIT_CPU sends SIGXCPU at cpu_seconds and SIGKILL when the hard limit is reached (a
     * second later in extract_main.c; an inherited limit may have no such gap). A
     * SIGKILL before the child used that much processor time came from elsewhere: the kernel's
     * out-of-memory killer or an operator. The kernel's accounting and getrusage's differ by a
     * few ticks, hence the margin. */
    bool cpu_limit =
        WIFSIGNALED(st) &&
        (WTERMSIG(st) == SIGXCPU ||
         (WTERMSIG(st) == SIGKILL && self->cpu_seconds > 0 &&
          kid->cpu_used + s_cpu_margin(self->cpu_seconds) >= (double)self->cpu_seconds));
    if (self->killed_for_deadline || cpu_limit) {
        if (self->killed_for_deadline)
            s_result_fail(result, PROFAI_ERR_TIMEOUT,
                          "Reading this PDF took longer than the %lld seconds allowed.",
                          self->wall_ms / 1000);
        else
            s_result_fail(result, PROFAI_ERR_TIMEOUT,
                          "Reading this PDF needed more than the %lld seconds of processor time "
                          "allowed.",
                          self->cpu_seconds);
        snprintf(summary, summary_size, "%s (%s)", result->error_code,
                 self->killed_for_deadline ? "wall clock" : "cpu");
        return JOB_OUTCOME_TIMEOUT;
    }
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
        s_result_fail(result, PROFAI_ERR_PARSER_CRASHED,
                      "The PDF parser was stopped from outside (signal 9) while reading this "
                      "file.");
        snprintf(summary, summary_size,
                 "%s (SIGKILL after %.1f s of processor time: the out-of-memory killer or an "
                 "operator)",
                 result->error_code, kid->cpu_used);
        return JOB_OUTCOME_CRASHED;
    }
    if (WIFSIGNALED(st)) {
        s_result_fail(result, PROFAI_ERR_PARSER_CRASHED,
                      "The PDF parser crashed (signal %d) on this file.", WTERMSIG(st));
        /* SIGSYS is the seccomp allow-list at work: worth telling the operator apart. */
        snprintf(summary, summary_size, "%s (signal %d%s)", result->error_code, WTERMSIG(st),
                 WTERMSIG(st) == SIGSYS ? ", a system call outside the sandbox" : "");
        return JOB_OUTCOME_CRASHED;
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code != EXTRACT_EXIT_OK && code != EXTRACT_EXIT_REFUSED) {
        s_result_fail(result, PROFAI_ERR_PARSER_CRASHED,
                      "The PDF parser stopped unexpectedly (exit status %d) on this file.", code);
        snprintf(summary, summary_size, "%s (exit status %d)", result->error_code, code);
        return JOB_OUTCOME_CRASHED;
    }
    size_t max = code == EXTRACT_EXIT_OK ? PROTO_COURSE_MAX : EXTRACT_REFUSAL_MAX;
    if (s_output_read(kid->out_fd, max, data, len) != 0) {
        bool big = errno == EFBIG && code == EXTRACT_EXIT_OK;
        int why = errno;
        s_result_fail(result, big ? PROFAI_ERR_TOO_LARGE : PROFAI_ERR_INTERNAL, "%s",
                      big ? "The course built from this PDF is larger than 32 MiB."
                          : "The worker could not read the PDF parser's answer.");
        errno = why;
        snprintf(summary, summary_size, "%s (reading output: %s)", result->error_code,
                 strerror(errno));
        return big ? JOB_OUTCOME_REFUSED : JOB_OUTCOME_FAILED;
    }
    if (code == EXTRACT_EXIT_REFUSED) {
        s_refusal_parse(*data, *len, result);
        free(*data);
        *data = NULL;
        *len = 0;
        snprintf(summary, summary_size, "%s", result->error_code);
        return JOB_OUTCOME_REFUSED;
    }
    if (*len == 0 || !proto_is_utf8((const char *)*data, *len)) {
        s_result_fail(result, PROFAI_ERR_INTERNAL,
                      "The PDF parser produced an invalid course document.");
        snprintf(summary, summary_size, "%s (invalid course document)", result->error_code);
        return JOB_OUTCOME_FAILED;
    }
    result->ok = true;
    result->course = *data;
    result->course_len = *len;
    if (self->pages > 0)
        snprintf(summary, summary_size, "ok (%zu bytes, %d parts)", *len, self->nparts);
    else
        snprintf(summary, summary_size, "ok (%zu bytes)", *len);
    return JOB_OUTCOME_OK;
}

int
job_runner_take_result(job_runner_t *self, proto_buf_t *body, job_outcome_t *outcome, char *summary,
                       size_t summary_size)
{
    if (self->phase != PHASE_DONE)
        return -1;
    proto_result_t result = {.ok = false};
    proto_error_t err;
    uint8_t *data = NULL;
    size_t len = 0;
    *outcome = s_outcome(self, &result, &data, &len, summary, summary_size);
    int rc = proto_result_encode(&result, body, &err);
    free(data);
    return rc;
}
