/*
 * extract_main.c - profai-extract: parse one PDF in a short-lived, limited process.
 *
 * The worker starts one of these per job (docs/worker.md, "The extractor process"): the PDF
 * arrives on stdin, the course JSON (exit 0) or a refusal "<code>\n<sentence>\n" (exit 2)
 * leaves on stdout, progress lines go to fd 3, logs to stderr. The process limits itself
 * before it reads a byte of the PDF, because poppler has a long history of bugs on hostile
 * files: whatever happens inside poppler stays inside this process.
 */
#define _GNU_SOURCE /* O_PATH */
#include "conf.h"
#include "course/course_build.h"
#include "course/docmodel_wire.h"
#include "extract_contract.h"
#include "heap_pages.h"
#include "log.h"
#include "page_meet.h"
#include "pdf_reader.h"
#include "profai/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *title;
    const char *filename;
    const char *sha256;
    const char *job; /* for log lines only */
    long long max_pages;
    long long quiz_per_lesson; /* 0: the default (course_text.h) */
    long long quiz_per_course;
    long long page_delay_ms;
    long long address_space; /* 0 = leave the inherited limit */
    long long cpu_seconds;
    long long open_files;
    long long file_size;
    long long parent_pid;      /* 0 = do not check */
    long long split_above;     /* more pages than this: exit EXTRACT_EXIT_SPLIT; 0 = never */
    int first_page, last_page; /* --pages A-B: write that part of the model; 0 = whole */
    bool merge;                /* --merge: stdin holds the parts, stdout gets the course */
    int meet;                  /* --meet: 0 none, 1 up, 2 down (page_meet.h, fd 4) */
    bool seccomp;              /* enter the seccomp allow-list (default) */
    log_level_t log_level;
} extract_args_t;

/* Progress lines: stage changes always, page lines at most every 100 ms. */
typedef struct {
    bool enabled;
    char stage[33];
    long long last_ms;
} progress_t;

static const char *s_job = "-";

#if defined(__SANITIZE_ADDRESS__)
/*
 * `make check-asan` (mk/asan.mk) builds everything with AddressSanitizer and UBSan. The worker
 * starts the extractor with an empty environment, so ASAN_OPTIONS cannot reach it: these are
 * its options. No leak check (LeakSanitizer stops the world with ptrace, which the seccomp
 * filter kills, and a parse lives for seconds), no symbolizer (it would be exec'd), and a NULL
 * from malloc instead of a report for the huge allocations hostile PDFs ask for, as glibc
 * does. A crash signal kills it as in production (handle_segv=0 and the like: the worker
 * reports the signal, where ASan would turn it into exit status 1). ASan's shadow memory
 * takes terabytes of address space, so the sanitized extractor cannot live under RLIMIT_AS
 * and skips it (docs/security.md). Production builds never see this.
 */
#define EXTRACT_RLIMIT_AS 0
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
int __lsan_is_turned_off(void);
/* Off even when a test runs the extractor directly with ASAN_OPTIONS=detect_leaks=1. */
int
__lsan_is_turned_off(void)
{
    return 1;
}
const char *
__asan_default_options(void)
{
    return "detect_leaks=0:symbolize=0:allocator_may_return_null=1:color=never:"
           "handle_segv=0:handle_sigbus=0:handle_sigfpe=0";
}
const char *
__ubsan_default_options(void)
{
    return "print_stacktrace=0:halt_on_error=1:color=never";
}
#else
#define EXTRACT_RLIMIT_AS 1
#endif

/* For the SIGABRT handler (s_on_abort): whether stdout already holds part of an answer. */
static volatile sig_atomic_t s_output_started;

static long long
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Exit 2 with a refusal on stdout: the worker turns it into RESULT ok=false. */
static void __attribute__((noreturn)) s_refuse(profai_error_t error, const char *message)
{
    const char *code = profai_error_name(error);
    char buf[EXTRACT_REFUSAL_MAX];
    int n = snprintf(buf, sizeof buf, "%s\n%s\n", code, message);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = snprintf(buf, sizeof buf, "%s\n%s\n", code, "The PDF could not be processed.");
    s_output_started = 1;
    if (s_write_all(STDOUT_FILENO, buf, (size_t)n) != 0)
        exit(1);
    exit(EXTRACT_EXIT_REFUSED);
}

/* ---------------------------------------------------------------- options */

static void
s_usage(FILE *out)
{
    fprintf(out,
            "Usage: profai-extract [OPTIONS] < file.pdf > result 3> progress\n"
            "Parse one PDF into a ProfAI course document (JSON). Started by profai-worker, one\n"
            "process per job; see docs/worker.md for the full contract.\n"
            "\n"
            "  stdin   the PDF (at most 64 MiB)\n"
            "  stdout  exit 0: the course JSON; exit 2: \"<error_code>\\n<sentence>\\n\"\n"
            "  fd 3    optional pipe: \"progress <0-100> <stage> <page> <pages>\" lines\n"
            "  stderr  log lines\n"
            "\n"
            "Options (sizes accept the suffixes k, M, G):\n"
            "  --title T             course title given by the teacher\n"
            "  --filename F          original file name (informational)\n"
            "  --sha256 H            SHA-256 of the PDF (informational)\n"
            "  --job TOKEN           job token, shown in log lines\n"
            "  --max-pages N         refuse longer PDFs as too_large (default 5000; 0 = none)\n"
            "  --quiz-per-lesson N   questions per lesson at most (default 3)\n"
            "  --quiz-per-course N   questions per course at most (default 60)\n"
            "  --page-delay-ms N     TEST SEAM: sleep N ms per page (default 0)\n"
            "  --address-space B     RLIMIT_AS (default 1G; 0 = inherit)\n"
            "  --cpu-seconds N       RLIMIT_CPU (default 120; 0 = inherit)\n"
            "  --open-files N        RLIMIT_NOFILE (default 64; 0 = inherit)\n"
            "  --file-size B         RLIMIT_FSIZE (default 64M; 0 = inherit)\n"
            "  --parent-pid PID      exit at once if the parent is no longer PID\n"
            "  --split-above N       a PDF of more than N pages is not read: exit 3 with\n"
            "                        \"split <pages>\\n\" on stdout (the worker splits it)\n"
            "  --pages A-B           read pages A to B only; stdout gets that part of the\n"
            "                        document model instead of a course\n"
            "  --meet up|down        with --pages: share the range with one more reader\n"
            "                        through the 8-byte memfd on fd 4, reading from its\n"
            "                        first page up (or last page down) until they meet\n"
            "  --merge               stdin holds the parts of every page, in page order\n"
            "                        (instead of a PDF); stdout gets the course\n"
            "  --no-seccomp          skip the system-call allow-list and the Landlock file\n"
            "                        rules (for valgrind; never in production)\n"
            "  -v, --log-level L     error, warn, info or debug (default warn)\n"
            "  -h, --help            this text\n"
            "  --version             print the version\n"
            "\n"
            "Exit status: 0 course (or part) written; 2 refused (not_pdf, encrypted, damaged,\n"
            "no_text, too_large, internal); 3 split (--split-above only); anything else is\n"
            "a crash.\n");
}

static void __attribute__((noreturn)) s_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "profai-extract: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'profai-extract --help'.\n");
    s_refuse(PROFAI_ERR_INTERNAL, "The PDF parser was started with invalid options.");
}

static void
s_args_parse(int argc, char **argv, extract_args_t *a)
{
    enum {
        OPT_TITLE = 256,
        OPT_FILENAME,
        OPT_SHA256,
        OPT_JOB,
        OPT_MAX_PAGES,
        OPT_QUIZ_LESSON,
        OPT_QUIZ_COURSE,
        OPT_PAGE_DELAY,
        OPT_ADDRESS_SPACE,
        OPT_CPU,
        OPT_OPEN_FILES,
        OPT_FILE_SIZE,
        OPT_PARENT,
        OPT_NO_SECCOMP,
        OPT_SPLIT_ABOVE,
        OPT_PAGES,
        OPT_MERGE,
        OPT_MEET,
        OPT_VERSION
    };
    static const struct option options[] = {
        {"title", required_argument, NULL, OPT_TITLE},
        {"filename", required_argument, NULL, OPT_FILENAME},
        {"sha256", required_argument, NULL, OPT_SHA256},
        {"job", required_argument, NULL, OPT_JOB},
        {"max-pages", required_argument, NULL, OPT_MAX_PAGES},
        {"quiz-per-lesson", required_argument, NULL, OPT_QUIZ_LESSON},
        {"quiz-per-course", required_argument, NULL, OPT_QUIZ_COURSE},
        {"page-delay-ms", required_argument, NULL, OPT_PAGE_DELAY},
        {"address-space", required_argument, NULL, OPT_ADDRESS_SPACE},
        {"cpu-seconds", required_argument, NULL, OPT_CPU},
        {"open-files", required_argument, NULL, OPT_OPEN_FILES},
        {"file-size", required_argument, NULL, OPT_FILE_SIZE},
        {"parent-pid", required_argument, NULL, OPT_PARENT},
        {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
        {"split-above", required_argument, NULL, OPT_SPLIT_ABOVE},
        {"pages", required_argument, NULL, OPT_PAGES},
        {"merge", no_argument, NULL, OPT_MERGE},
        {"meet", required_argument, NULL, OPT_MEET},
        {"log-level", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0}};
    *a = (extract_args_t){.max_pages = 5000,
                          .address_space = 1LL << 30,
                          .cpu_seconds = 120,
                          .open_files = 64,
                          .file_size = 64LL << 20,
                          .seccomp = true,
                          .log_level = PROFAI_LOG_WARN};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":v:h", options, NULL)) != -1) {
        long long *number = NULL;
        long long max = 1LL << 40;
        switch (c) {
        case OPT_TITLE:
            a->title = optarg;
            break;
        case OPT_FILENAME:
            a->filename = optarg;
            break;
        case OPT_SHA256:
            a->sha256 = optarg;
            break;
        case OPT_JOB:
            a->job = optarg;
            break;
        case OPT_MAX_PAGES:
            number = &a->max_pages, max = 10000000;
            break;
        case OPT_QUIZ_LESSON:
            number = &a->quiz_per_lesson, max = 100;
            break;
        case OPT_QUIZ_COURSE:
            number = &a->quiz_per_course, max = 100000;
            break;
        case OPT_PAGE_DELAY:
            number = &a->page_delay_ms, max = 60000;
            break;
        case OPT_ADDRESS_SPACE:
            number = &a->address_space;
            break;
        case OPT_CPU:
            number = &a->cpu_seconds, max = 86400;
            break;
        case OPT_OPEN_FILES:
            number = &a->open_files, max = 1 << 20;
            break;
        case OPT_FILE_SIZE:
            number = &a->file_size;
            break;
        case OPT_PARENT:
            number = &a->parent_pid, max = 1 << 30;
            break;
        case OPT_NO_SECCOMP:
            a->seccomp = false;
            break;
        case OPT_SPLIT_ABOVE:
            number = &a->split_above, max = 10000000;
            break;
        case OPT_PAGES: {
            int first = 0, last = 0, end = 0;
            if (sscanf(optarg, "%9d-%9d%n", &first, &last, &end) != 2 || optarg[end] != '\0' ||
                first < 1 || last < first)
                s_usage_error("invalid page range '%s'", optarg);
            a->first_page = first, a->last_page = last;
            break;
        }
        case OPT_MERGE:
            a->merge = true;
            break;
        case OPT_MEET:
            if (strcmp(optarg, "up") == 0)
                a->meet = 1;
            else if (strcmp(optarg, "down") == 0)
                a->meet = 2;
            else
                s_usage_error("--meet takes up or down, not '%s'", optarg);
            break;
        case 'v':
            if (log_level_parse(optarg, &a->log_level) != 0)
                s_usage_error("unknown log level '%s'", optarg);
            break;
        case 'h':
            s_usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("profai-extract %s\n", PROFAI_VERSION);
            exit(0);
        case ':':
            s_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            s_usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (number != NULL && conf_parse_int(optarg, 0, max, number) != 0)
            s_usage_error("invalid number '%s'", optarg);
    }
    if (optind < argc)
        s_usage_error("unexpected argument '%s' (the PDF comes on stdin)", argv[optind]);
    if (a->open_files != 0 && a->open_files < 8)
        s_usage_error("--open-files must be 0 or at least 8%s", "");
    if ((a->merge ? 1 : 0) + (a->first_page > 0 ? 1 : 0) + (a->split_above > 0 ? 1 : 0) > 1)
        s_usage_error("--merge, --pages and --split-above exclude each other%s", "");
    if (a->meet != 0 && (a->first_page == 0 || a->last_page <= a->first_page))
        s_usage_error("--meet needs --pages A-B with A < B%s", "");
}

/* The heap reserved on huge pages at start (heap_pages.h): what the course of a 2,000-page
 * document's merge touches, about 100 MB. Address space only, until touched. */
#define EXTRACT_HEAP_RESERVE ((size_t)128 << 20)
/* The same for an extractor that builds a course with the whole address space (a whole PDF,
 * or the merge of a split one): the merge of the 2,372-page document touches about 140 MB of
 * heap, and what lay past 128 MiB (the quiz's text indexes, built last) was faulted in 4 KiB
 * at a time, 70 % of its page faults. Only with 1 GiB of address space or more (the
 * default); a part's reader, with a share of it, keeps the smaller reserve. */
#define EXTRACT_COURSE_HEAP_RESERVE ((size_t)256 << 20)

/* ---------------------------------------------------------------- sandbox */

/* Lower a limit; never raise it above the inherited hard limit (that would fail). */
static int
s_limit(int resource, long long soft, long long hard)
{
    struct rlimit cur;
    if (getrlimit(resource, &cur) != 0)
        return -1;
    struct rlimit want = {(rlim_t)soft, (rlim_t)hard};
    if (cur.rlim_max != RLIM_INFINITY && want.rlim_max > cur.rlim_max)
        want.rlim_max = cur.rlim_max;
    if (want.rlim_cur > want.rlim_max)
        want.rlim_cur = want.rlim_max;
    return setrlimit(resource, &want);
}

static int
s_sandbox_limits(const extract_args_t *a)
{
    int rc = s_limit(RLIMIT_CORE, 0, 0);
    if (a->address_space > 0 && EXTRACT_RLIMIT_AS)
        rc |= s_limit(RLIMIT_AS, a->address_space, a->address_space);
    /* SIGXCPU at the soft limit, SIGKILL one second later if it is caught or ignored. */
    if (a->cpu_seconds > 0)
        rc |= s_limit(RLIMIT_CPU, a->cpu_seconds, a->cpu_seconds + 1);
    if (a->file_size > 0)
        rc |= s_limit(RLIMIT_FSIZE, a->file_size, a->file_size);
    if (a->open_files > 0)
        rc |= s_limit(RLIMIT_NOFILE, a->open_files, a->open_files);
    return rc;
}

/* A rule that fails only when libseccomp does not know the call on this architecture. */
#define ALLOW(ctx, call, ...)                                                                      \
    (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(call), __VA_ARGS__) == 0 ? 0 : -1)

/*
 * The seccomp allow-list: after this, the process can read what it was given, allocate memory,
 * open files read-only (poppler's CMaps and encodings, /etc/localtime), write to stdout,
 * stderr and the progress pipe, and exit. Anything else - exec, sockets, fork, ptrace, writing
 * files - kills it with SIGSYS, which the worker reports as parser_crashed.
 *
 * The list was taken from strace of profai-extract on the generated test PDFs and the Debian
 * manuals (docs/worker.md, "Sandbox"), plus the calls glibc needs to abort and to sleep.
 * --no-seccomp turns it off, and Landlock with it (valgrind cannot run under them).
 */
static int
s_sandbox_enter(bool enabled)
{
    if (!enabled)
        return 0;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (ctx == NULL)
        return -1;
    int rc = 0;
    static const int plain[] = {SCMP_SYS(read),
                                SCMP_SYS(pread64),
                                SCMP_SYS(readv),
                                SCMP_SYS(lseek),
                                SCMP_SYS(close),
                                SCMP_SYS(fstat),
                                SCMP_SYS(newfstatat),
                                SCMP_SYS(statx),
                                SCMP_SYS(getdents64),
                                SCMP_SYS(fcntl),
                                SCMP_SYS(mmap),
                                SCMP_SYS(munmap),
                                SCMP_SYS(mremap),
                                SCMP_SYS(mprotect),
                                SCMP_SYS(brk),
                                SCMP_SYS(madvise),
                                SCMP_SYS(futex),
                                SCMP_SYS(nanosleep),
                                SCMP_SYS(clock_nanosleep),
                                SCMP_SYS(clock_gettime),
                                SCMP_SYS(gettimeofday),
                                SCMP_SYS(getrandom),
                                SCMP_SYS(sysinfo),
                                SCMP_SYS(sched_getaffinity),
                                SCMP_SYS(sched_yield),
                                SCMP_SYS(rt_sigaction),
                                SCMP_SYS(rt_sigprocmask),
                                SCMP_SYS(rt_sigreturn),
                                SCMP_SYS(getpid),
                                SCMP_SYS(gettid),
                                SCMP_SYS(exit),
                                SCMP_SYS(exit_group)};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
    /* Output only where the contract puts it: stdout, stderr, the progress pipe. */
    for (int fd = STDOUT_FILENO; fd <= EXTRACT_PROGRESS_FD && rc == 0; fd++) {
        rc |= ALLOW(ctx, write, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
        rc |= ALLOW(ctx, writev, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
    }
    /* Files may be opened for reading only: no O_WRONLY/O_RDWR, no O_CREAT, no O_TRUNC. */
    scmp_datum_t mask = O_ACCMODE | O_CREAT | O_TRUNC;
    rc |= ALLOW(ctx, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, mask, O_RDONLY));
    /* Signals to itself only (abort, raise): a parser taken over by a PDF must not be able to
     * signal the worker or its neighbours, which run as the same user. */
    rc |= ALLOW(ctx, tgkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    /* getrlimit (glibc asks through prlimit64 with no new limit). */
    rc |= ALLOW(ctx, prlimit64, 1, SCMP_A2(SCMP_CMP_EQ, 0));
#if defined(__SANITIZE_ADDRESS__)
    /* make check-asan only: ASan asks where the signal stack is (no new one) whenever the
     * stack unwinds past a frame, as when poppler throws a C++ exception; before a report is
     * written, the sanitizer runtime reads /proc/self/exe and opens /proc/self/cmdline with
     * the plain open call (Landlock refuses it, which the runtime survives). */
    rc |= ALLOW(ctx, sigaltstack, 1, SCMP_A0(SCMP_CMP_EQ, 0));
    rc |= ALLOW(ctx, readlink, 0);
    rc |= ALLOW(ctx, readlinkat, 0);
    rc |= ALLOW(ctx, open, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, mask, O_RDONLY));
#endif
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0)
        errno = -rc > 0 ? -rc : EINVAL;
    return rc == 0 ? 0 : -1;
}

/* Landlock rights this kernel knows (ABI version abi): all of them are handled, so every one
 * that no rule grants is denied. Bits newer than Debian 12's headers are spelled out. */
static __u64
s_landlock_rights(int abi)
{
    __u64 rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0-12 */
    if (abi >= 2)
        rights |= 1ULL << 13; /* REFER */
    if (abi >= 3)
        rights |= 1ULL << 14; /* TRUNCATE */
    if (abi >= 5)
        rights |= 1ULL << 15; /* IOCTL_DEV */
    return rights;
}

/* Allow reading what lies beneath path (a directory) or path itself (a file); a path that
 * does not exist is skipped. */
static int
s_landlock_allow_read(int ruleset, const char *path)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    struct landlock_path_beneath_attr rule = {.parent_fd = fd,
                                              .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE};
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
        rule.allowed_access |= LANDLOCK_ACCESS_FS_READ_DIR;
    int rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    close(fd);
    return rc;
}

/*
 * Landlock: from here on the process may open files only to read them, and only the system's
 * shared data and libraries (poppler's CMaps and encodings, iconv modules, time zones). The
 * seccomp filter cannot look at paths; without this a parser taken over by a crafted PDF could
 * read any file the worker's user can (configuration, /proc/<pid>/environ of its neighbours)
 * and hide it in the course it returns. 1 when the kernel has no Landlock (the other layers
 * still hold), 0 once entered, -1 on failure. Needs PR_SET_NO_NEW_PRIVS first.
 */
static int
s_landlock_enter(void)
{
    int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        return 1; /* ENOSYS or EOPNOTSUPP: not built in, or disabled at boot */
    struct landlock_ruleset_attr attr = {.handled_access_fs = s_landlock_rights(abi)};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        return -1;
    static const char *const readable[] = {"/usr/share", "/usr/lib", "/lib", "/etc/localtime"};
    int rc = 0;
    for (size_t i = 0; i < sizeof readable / sizeof readable[0] && rc == 0; i++)
        rc = s_landlock_allow_read(ruleset, readable[i]);
    if (rc == 0)
        rc = (int)syscall(SYS_landlock_restrict_self, ruleset, 0);
    close(ruleset);
    return rc == 0 ? 0 : -1;
}

/*
 * Poppler (gmalloc), glib (g_malloc) and the C++ runtime (operator new, then std::terminate)
 * abort right after malloc fails, with ENOMEM still in errno. Under RLIMIT_AS that is the PDF
 * asking for more memory than a parse may have, which is deterministic: answer too_large with
 * a sentence instead of dying as a "crash". Any other abort stays a crash. Only
 * async-signal-safe calls here; no fd is opened, so nothing beyond 0-3 is ever held.
 */
static void
s_on_abort(int sig)
{
    if (!s_output_started && errno == ENOMEM) {
        static const char answer[] =
            "too_large\nThis PDF needs more memory than the parser may use.\n";
        static const char line[] = "profai-extract: out of memory (RLIMIT_AS) on job ";
        (void)!write(STDERR_FILENO, line, sizeof line - 1);
        (void)!write(STDERR_FILENO, s_job, strlen(s_job));
        (void)!write(STDERR_FILENO, "\n", 1);
        (void)!write(STDOUT_FILENO, answer, sizeof answer - 1);
        _exit(EXTRACT_EXIT_REFUSED);
    }
    (void)sig; /* returning lets abort() restore the default action and die by SIGABRT */
}

/* Everything that protects the machine from the PDF, before the PDF is read. */
static void
s_sandbox_setup(const extract_args_t *a)
{
    /* Die with the worker: an orphaned parser would hold memory and CPU for nobody. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        s_refuse(PROFAI_ERR_INTERNAL, "The PDF parser could not start safely.");
    if (a->parent_pid > 0 && getppid() != (pid_t)a->parent_pid)
        exit(1); /* the worker died before we armed PDEATHSIG: nobody waits for us */
    if (s_sandbox_limits(a) != 0) {
        log_error("job=%s cannot set resource limits: %s", s_job, strerror(errno));
        s_refuse(PROFAI_ERR_INTERNAL, "The PDF parser could not start safely.");
    }
    /* Past RLIMIT_FSIZE a write fails with EFBIG instead of killing us; a worker that closed
     * the progress pipe gives EPIPE instead of a signal. */
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction abort_action = {.sa_handler = s_on_abort};
    sigemptyset(&abort_action.sa_mask);
    sigaction(SIGABRT, &abort_action, NULL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        log_error("job=%s cannot set no_new_privs: %s", s_job, strerror(errno));
        s_refuse(PROFAI_ERR_INTERNAL, "The PDF parser could not start safely.");
    }
    int landlock = a->seccomp ? s_landlock_enter() : 1;
    if (landlock < 0 || s_sandbox_enter(a->seccomp) != 0) {
        log_error("job=%s cannot enter the sandbox: %s", s_job, strerror(errno));
        s_refuse(PROFAI_ERR_INTERNAL, "The PDF parser could not start safely.");
    }
    if (landlock > 0 && a->seccomp)
        log_debug("job=%s no Landlock in this kernel: files are limited by seccomp only", s_job);
}

/* ---------------------------------------------------------------- input and progress */

/* How reading the PDF from stdin went. */
typedef enum {
    INPUT_OK,        /* *out holds the PDF */
    INPUT_TOO_LARGE, /* more than max bytes */
    INPUT_IO_ERROR,  /* read failed (errno) */
    INPUT_NO_MEMORY, /* out of memory (RLIMIT_AS) */
} input_status_t;

/* Read all of fd, at most max bytes; the caller owns *out on INPUT_OK. */
static input_status_t
s_input_read(int fd, size_t max, GBytes **out)
{
    struct stat st;
    size_t cap = 1 << 20;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    if (cap > max + 1)
        cap = max + 1;
    size_t len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        goto io;
    for (;;) {
        if (len == cap) {
            if (cap > max)
                break;
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nbuf = realloc(buf, ncap);
            if (nbuf == NULL)
                goto io;
            buf = nbuf;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto io;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max) {
        free(buf);
        return INPUT_TOO_LARGE;
    }
    *out = g_bytes_new_take(buf, len);
    return INPUT_OK;
io:;
    input_status_t status = errno == ENOMEM ? INPUT_NO_MEMORY : INPUT_IO_ERROR;
    int saved = errno;
    free(buf);
    errno = saved;
    return status;
}

static void
s_progress_write(void *arg, const char *stage, int percent, int page, int pages)
{
    progress_t *p = arg;
    if (!p->enabled)
        return;
    long long now = s_now_ms();
    bool same_stage = strcmp(stage, p->stage) == 0;
    if (same_stage && now - p->last_ms < 100 && page != pages)
        return;
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    p->last_ms = now;
    char line[EXTRACT_PROGRESS_LINE_MAX];
    int n = snprintf(line, sizeof line, "progress %d %s %d %d\n", percent, stage, page, pages);
    if (n > 0 && (size_t)n < sizeof line && s_write_all(EXTRACT_PROGRESS_FD, line, (size_t)n) != 0)
        p->enabled = false; /* the worker stopped listening; parsing goes on */
}

/* Poppler reports parse problems through GLib; they are the PDF's fault, not ours. */
static void
s_poppler_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer arg)
{
    unsigned *count = arg;
    if (++*count <= 20)
        log_debug("job=%s poppler: %.300s", s_job, message);
}

/* ---------------------------------------------------------------- modes */

/* Exit EXTRACT_EXIT_SPLIT with "split <pages>\n": the worker reads this PDF in parts. */
static void __attribute__((noreturn)) s_split(int pages)
{
    char line[EXTRACT_SPLIT_LINE_MAX];
    int n = snprintf(line, sizeof line, "split %d\n", pages);
    s_output_started = 1;
    if (s_write_all(STDOUT_FILENO, line, (size_t)n) != 0)
        exit(1);
    exit(EXTRACT_EXIT_SPLIT);
}

/* The course of model as the options describe it (title, file, quiz sizes): *out, *len.
 * 0 or -1 (err set). */
static int
s_course_build(const extract_args_t *args, docmodel_t *model, char **out, size_t *len,
               course_error_t *err)
{
    course_source_t source = {args->title,
                              args->filename,
                              args->sha256,
                              {(int)args->quiz_per_lesson, (int)args->quiz_per_course}};
    return course_build(model, &source, EXTRACT_OUTPUT_MAX, out, len, err);
}

/* The PDF in bytes: the course, or with --pages that part of the model (*out, *len); with
 * --split-above, a PDF of more pages exits EXTRACT_EXIT_SPLIT. 0 or -1 (err set). */
/* --meet: the shared word, mapped before the sandbox (main). */
static page_meet_t s_meet;

static int
s_meet_next(void *arg)
{
    return page_meet_next(arg);
}

static int
s_from_pdf(const extract_args_t *args, GBytes *bytes, progress_t *progress, char **out, size_t *len,
           course_error_t *err)
{
    PopplerDocument *doc = NULL;
    if (pdf_reader_open(bytes, &doc, err) != 0)
        return -1;
    int pages = poppler_document_get_n_pages(doc);
    /* Too many pages stays the refusal it is: pdf_reader_read gives it. */
    if (args->split_above > 0 && pages > args->split_above &&
        (args->max_pages == 0 || pages <= args->max_pages)) {
        g_object_unref(doc);
        s_split(pages);
    }
    pdf_reader_options_t options = {.max_pages = (int)args->max_pages,
                                    .max_output = EXTRACT_OUTPUT_MAX,
                                    .page_delay_ms = (int)args->page_delay_ms,
                                    .first_page = args->first_page,
                                    .last_page = args->last_page,
                                    .next_page = args->meet != 0 ? s_meet_next : NULL,
                                    .next_arg = &s_meet,
                                    .progress = s_progress_write,
                                    .progress_arg = progress};
    docmodel_t model;
    int rc = pdf_reader_read(doc, &options, &model, err);
    g_object_unref(doc);
    if (rc != 0)
        return -1;
    if (args->first_page > 0) {
        /* Sharing a range, the part is the pages this reader took (page_meet.h). */
        int first = args->meet != 0 ? s_meet.read_first : args->first_page;
        int last = args->meet != 0 ? s_meet.read_last : args->last_page;
        rc = docmodel_wire_encode(&model, first, last, first == 1, (uint8_t **)out, len);
        if (rc != 0)
            course_fail_memory(err);
    } else {
        rc = s_course_build(args, &model, out, len, err);
    }
    docmodel_free(&model);
    return rc;
}

/* --merge: the parts of a split document in bytes; the course in *out, *len. */
static int
s_from_parts(const extract_args_t *args, GBytes *bytes, progress_t *progress, char **out,
             size_t *len, course_error_t *err)
{
    gsize size = 0;
    const uint8_t *data = g_bytes_get_data(bytes, &size);
    docmodel_t model;
    char why[256];
    int rc = docmodel_wire_decode(data, size, &model, why, sizeof why);
    if (rc == -2)
        return course_fail_memory(err);
    if (rc != 0) {
        log_error("job=%s the parts of the document are not valid: %s", s_job, why);
        return course_fail(err, PROFAI_ERR_INTERNAL,
                           "The parts of this PDF read by the parser do not fit together.");
    }
    s_progress_write(progress, "building", 96, model.pages, model.pages);
    rc = course_check_text(&model, EXTRACT_OUTPUT_MAX, err);
    if (rc == 0)
        rc = s_course_build(args, &model, out, len, err);
    docmodel_free(&model);
    return rc;
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
    /* Look at fd 3 before anything opens a file: otherwise fd 3 might be our own file. */
    progress_t progress = {.enabled = fcntl(EXTRACT_PROGRESS_FD, F_GETFD) != -1};
    extract_args_t args;
    s_args_parse(argc, argv, &args);
    if (args.job != NULL)
        s_job = args.job;
    log_init("extract", args.log_level);
    /* The word shared with the other reader of the range: mapped before the sandbox, its fd
     * closed, so the process holds no descriptor beyond 0-3. */
    if (args.meet != 0) {
        if (page_meet_open(&s_meet, EXTRACT_MEET_FD, args.meet == 2, args.first_page,
                           args.last_page) != 0) {
            log_error("job=%s --meet without a shared word on fd %d: %s", s_job, EXTRACT_MEET_FD,
                      strerror(errno));
            s_refuse(PROFAI_ERR_INTERNAL, "The PDF could not be read by the parser.");
        }
        close(EXTRACT_MEET_FD);
    }
    s_sandbox_setup(&args);
    /* Within RLIMIT_AS (set above): a heap that cannot grow stays on normal pages. */
    bool course =
        args.first_page == 0 && (args.address_space == 0 || args.address_space >= 1LL << 30);
    heap_pages_reserve(course ? EXTRACT_COURSE_HEAP_RESERVE : EXTRACT_HEAP_RESERVE);

    long long started = s_now_ms();
    s_progress_write(&progress, "parsing", 1, 0, 0);
    GBytes *bytes = NULL;
    course_error_t err = {PROFAI_OK, {0}};
    switch (
        s_input_read(STDIN_FILENO, args.merge ? EXTRACT_MODEL_MAX : EXTRACT_INPUT_MAX, &bytes)) {
    case INPUT_OK:
        break;
    case INPUT_TOO_LARGE:
        if (args.merge)
            s_refuse(PROFAI_ERR_TOO_LARGE, "The text of this PDF is larger than allowed.");
        s_refuse(PROFAI_ERR_TOO_LARGE, "This file is larger than the 64 MiB limit.");
    case INPUT_NO_MEMORY:
        course_fail_memory(&err);
        s_refuse(err.code, err.message);
    case INPUT_IO_ERROR:
        log_error("job=%s cannot read the PDF from stdin: %s", s_job, strerror(errno));
        s_refuse(PROFAI_ERR_INTERNAL, "The PDF could not be read by the parser.");
    }

    unsigned poppler_messages = 0;
    guint handler =
        g_log_set_handler("Poppler", G_LOG_LEVEL_MASK, s_poppler_log, &poppler_messages);
    char *json = NULL;
    size_t len = 0;
    int rc = args.merge ? s_from_parts(&args, bytes, &progress, &json, &len, &err)
                        : s_from_pdf(&args, bytes, &progress, &json, &len, &err);
    g_bytes_unref(bytes);
    g_log_remove_handler("Poppler", handler);
    log_debug("job=%s parsed in %lld ms: %s, %zu bytes, %u poppler messages", s_job,
              s_now_ms() - started, rc == 0 ? "ok" : profai_error_name(err.code), len,
              poppler_messages);
    if (rc != 0)
        s_refuse(err.code, err.message);
    /* Refuse before writing: past RLIMIT_FSIZE the write would leave half a document. */
    if (args.file_size > 0 && len > (size_t)args.file_size) {
        free(json);
        s_refuse(PROFAI_ERR_TOO_LARGE, "The course built from this PDF is larger than allowed.");
    }
    s_output_started = 1;
    if (s_write_all(STDOUT_FILENO, json, len) != 0) {
        free(json);
        log_error("job=%s cannot write the course: %s", s_job, strerror(errno));
        return 1;
    }
    /* Done: the process ends here, so nothing is torn down. The exit handlers would only free
     * poppler's and glib's global state (font tables, type system) page by page. */
    _exit(EXTRACT_EXIT_OK);
}
