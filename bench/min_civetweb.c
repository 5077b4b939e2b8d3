/*
 * min_civetweb.c - the minimal civetweb handler of the HTTP benchmark (docs/performance.md,
 * "Benchmarks"): the ceiling of civetweb itself on this machine. Answers every GET under
 * /api/v1/jobs/ and /api/v1/courses/ with 200 and a fixed JSON body read from a file at start
 * (the answer ProfAI's frontend gave for the same request), without looking at anything else;
 * GET /api/v1/courses?... (a search) with the -s file's bytes, and POST /api/v1/jobs (an
 * upload) by reading the whole body, discarding it, and answering 202.
 *
 * usage: min_civetweb -p PORT -t THREADS -j JOB.json -c COURSE.json [-s SEARCH.json]
 * Runs until SIGTERM or SIGINT.
 */
#include <civetweb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *data;
    size_t len;
} body_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static int
s_answer(struct mg_connection *conn, void *cbdata)
{
    /* Head and body in one write: two small writes meet Nagle and delayed ACKs (40 ms). */
    const body_t *body = cbdata;
    mg_write(conn, body->data, body->len);
    return 200;
}

/* What a prefix answers: GET of the prefix itself (a list or search) the list's bytes, GET
 * of anything under it the item's; POST an upload. */
typedef struct {
    const char *prefix;
    body_t item, list;
} route_t;

static int
s_route(struct mg_connection *conn, void *cbdata)
{
    const route_t *route = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (strcmp(ri->request_method, "POST") == 0) {
        /* An upload: take the whole body, keep none of it. */
        static const char accepted[] = "HTTP/1.1 202 Accepted\r\n"
                                       "Content-Type: application/json\r\n"
                                       "Content-Length: 2\r\n\r\n{}";
        char buf[65536];
        while (mg_read(conn, buf, sizeof buf) > 0)
            ;
        mg_write(conn, accepted, sizeof accepted - 1);
        return 202;
    }
    bool list = strcmp(ri->local_uri, route->prefix) == 0 && route->list.data != NULL;
    return s_answer(conn, (void *)(list ? &route->list : &route->item));
}

/* The whole answer to a GET: status line, headers and the file's bytes. */
static body_t
s_read(const char *path)
{
    body_t b = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    b.len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     b.len);
    b.data = malloc(n + b.len);
    if (b.data == NULL || fread(b.data + n, 1, b.len, f) != b.len) {
        fprintf(stderr, "min_civetweb: cannot read %s\n", path);
        exit(1);
    }
    memcpy(b.data, head, n);
    b.len += n;
    fclose(f);
    return b;
}

int
main(int argc, char **argv)
{
    const char *port = NULL, *threads = "64", *job_path = NULL, *course_path = NULL;
    const char *search_path = NULL;
    int c;
    while ((c = getopt(argc, argv, "p:t:j:c:s:")) != -1) {
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 't':
            threads = optarg;
            break;
        case 'j':
            job_path = optarg;
            break;
        case 'c':
            course_path = optarg;
            break;
        case 's':
            search_path = optarg;
            break;
        default:
            return 2;
        }
    }
    if (port == NULL || job_path == NULL || course_path == NULL) {
        fprintf(stderr, "usage: min_civetweb -p PORT -t THREADS -j JOB.json -c COURSE.json "
                        "[-s SEARCH.json]\n");
        return 2;
    }
    static route_t jobs = {.prefix = "/api/v1/jobs"}, courses = {.prefix = "/api/v1/courses"};
    jobs.item = s_read(job_path);
    courses.item = s_read(course_path);
    if (search_path != NULL)
        courses.list = s_read(search_path);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%s", port);
    const char *options[] = {
        "listening_ports", listen, "num_threads", threads, "enable_keep_alive", "yes",
        "tcp_nodelay",     "1",    NULL};
    mg_init_library(0);
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    struct mg_context *ctx = mg_start(&callbacks, NULL, options);
    if (ctx == NULL) {
        fprintf(stderr, "min_civetweb: cannot start on %s\n", listen);
        return 1;
    }
    mg_set_request_handler(ctx, "/api/v1/jobs", s_route, &jobs);
    mg_set_request_handler(ctx, "/api/v1/courses", s_route, &courses);
    signal(SIGTERM, s_on_signal);
    signal(SIGINT, s_on_signal);
    while (!s_stop)
        pause();
    mg_stop(ctx);
    return 0;
}
