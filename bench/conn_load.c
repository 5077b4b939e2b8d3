/*
 * conn_load.c - many HTTP/1.1 keep-alive connections from one epoll loop, connect time
 * counted (benchmark 6, docs/performance.md "Benchmarks").
 *
 * Connection i is due at t0 + i * ramp / N: a non-blocking connect from a loopback source
 * address (127.2.x.y, 50 connections per address, as a classroom behind one address), then a
 * request, its whole answer, --think seconds, and the next request on the same connection,
 * until --seconds after t0. A request's latency runs from the moment it was due (for the
 * first one, the connection's due time: the connect is in it) to the last byte of its
 * answer. As a browser would, a connection is opened again (counted as "reopened", the new
 * connect in the latency) when the server closed it while idle, answered with "Connection:
 * close", or reset a kept-alive one before any byte of the answer; any other failure ends the
 * connection, counted by kind. After the end, requests in flight get --grace seconds; any
 * still unanswered then count as timeouts.
 *
 * Requests: GET PATH (several --path: connection i uses path i mod n), or with --body FILE a
 * POST of the file's bytes (Content-Type --type, default application/pdf). A bearer token
 * goes in every request.
 *
 * Why C: a client that cannot open 5,500 connections within the second it means to measures
 * itself. "late_max_ms" is the longest this loop came to a due connect or request after its
 * due time; when it is small the figures are the server's.
 *
 * usage: conn_load -p PORT --path PATH [--path PATH...] [-T TOKEN] [-n CONNS] [-s SECONDS]
 *                  [-r RAMP] [-k THINK] [--body FILE] [--type CT] [--grace S]
 * Prints one line of "key value" pairs: conns served answers rps p50_ms p99_ms max_ms
 * first_p99_ms first_max_ms connect_p99_ms late_max_ms errors refused reset timeout
 * non2xx reopened mb_per_s.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PER_ADDRESS 50
#define HEAD_MAX 8192
#define MAX_PATHS 64

/* A connection's state: IDLE (no socket, or a kept-alive one between requests), CONNECTING
 * (non-blocking connect in progress), SENDING (request partly written), READING (waiting for
 * or inside the answer), DONE (finished for good: the run ended or it failed). */
typedef enum { CONN_IDLE, CONN_CONNECTING, CONN_SENDING, CONN_READING, CONN_DONE } conn_state_t;

/* Where the answer parser is: in the head, in a Content-Length body, in a chunked body. */
typedef enum {
    BODY_HEAD,
    BODY_LENGTH,
    BODY_CHUNK_SIZE,
    BODY_CHUNK_DATA,
    BODY_CHUNK_END
} body_state_t;

typedef struct {
    int fd;
    int index;
    conn_state_t state;
    body_state_t body;
    double due;        /* when the current request (or the connect before it) was due */
    double connect_at; /* when connect() was called */
    double first;      /* due time of the connection's first request */
    bool answered;     /* at least one answer */
    bool reused;       /* the socket has carried an answer: the server may close it any time */
    bool close_after;  /* the answer said "Connection: close" */
    size_t sent;       /* bytes of the request written */
    size_t head_len;
    long long remaining; /* body bytes (or chunk bytes) still to come */
    int status;
    char head[HEAD_MAX];
} conn_t;

typedef struct {
    double *v;
    size_t n, cap;
} samples_t;

/* Options. */
static int s_port;
static const char *s_paths[MAX_PATHS];
static int s_path_count;
static const char *s_token = "";
static int s_conns = 5500;
static double s_seconds = 10, s_ramp = 1, s_think = 1, s_grace = 10;
static const char *s_body_file;
static const char *s_type = "application/pdf";

/* Requests, built once per path. */
static char *s_requests[MAX_PATHS];
static size_t s_request_len[MAX_PATHS];
static char *s_body;
static size_t s_body_len;

/* Results. */
static samples_t s_lat, s_first, s_connects;
static long s_errors_refused, s_errors_reset, s_errors_timeout, s_errors_other, s_non2xx;
static long s_reopened;
static double s_late_max;
static double s_body_bytes_answered;
static long s_active; /* connections connecting, sending or reading */

/* Requests whose think time is running, in due order (every think is the same length, so
 * appending keeps it sorted): a ring of connection indexes. */
static int *s_ring;
static size_t s_ring_head, s_ring_len;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
s_sample(samples_t *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            perror("realloc");
            exit(1);
        }
    }
    s->v[s->n++] = v;
}

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) in ms; NaN when empty. Sorts the samples. */
static double
s_pct_ms(samples_t *s, double p)
{
    if (s->n == 0)
        return 0.0 / 0.0;
    qsort(s->v, s->n, sizeof *s->v, s_compare);
    size_t rank = (size_t)(p / 100.0 * s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1] * 1e3;
}

static void
s_late(double due, double now)
{
    if (now - due > s_late_max)
        s_late_max = now - due;
}

static void
s_close(conn_t *c, int epfd)
{
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

static void s_connect(conn_t *c, int epfd, double now);

/* The connection failed: a kept-alive socket the server closed before any byte of the answer
 * is opened again, as browsers do (counted as reopened, timed from the first attempt); any
 * other failure ends the connection for good, counted by err (an errno value). */
static void
s_fail(conn_t *c, int epfd, int err)
{
    if (c->reused && c->state != CONN_CONNECTING && c->body == BODY_HEAD && c->head_len == 0 &&
        (err == ECONNRESET || err == EPIPE)) {
        s_close(c, epfd);
        s_reopened++;
        s_connect(c, epfd, s_now());
        return;
    }
    if (err == ECONNREFUSED)
        s_errors_refused++;
    else if (err == ECONNRESET || err == EPIPE)
        s_errors_reset++;
    else if (err == ETIMEDOUT)
        s_errors_timeout++;
    else
        s_errors_other++;
    if (c->state != CONN_IDLE && c->state != CONN_DONE)
        s_active--;
    s_close(c, epfd);
    c->state = CONN_DONE;
}

static int
s_watch(conn_t *c, int epfd, int op, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(epfd, op, c->fd, &ev);
}

/* Open the socket and start the connect; the request follows once it is writable. */
static void
s_connect(conn_t *c, int epfd, double now)
{
    int n = c->index / PER_ADDRESS;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr =
        htonl((127u << 24) | (2u << 16) | ((unsigned)(n / 250) << 8) | (unsigned)(n % 250 + 1));
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s_port)};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        perror("socket");
        exit(1);
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Let connect() choose the port per destination: 5,500 sockets never run out. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
        perror("bind");
        exit(1);
    }
    c->connect_at = now;
    c->reused = false;
    c->sent = 0;
    c->state = CONN_CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        s_fail(c, epfd, errno);
        return;
    }
    if (s_watch(c, epfd, EPOLL_CTL_ADD, EPOLLOUT) != 0) {
        perror("epoll_ctl");
        exit(1);
    }
}

/* Write what is left of the request; wait for the answer once it is all out. */
static void
s_send(conn_t *c, int epfd)
{
    const char *req = s_requests[c->index % s_path_count];
    size_t len = s_request_len[c->index % s_path_count];
    while (c->sent < len + s_body_len) {
        ssize_t n;
        if (c->sent < len)
            n = send(c->fd, req + c->sent, len - c->sent, MSG_NOSIGNAL);
        else
            n = send(c->fd, s_body + (c->sent - len), s_body_len - (c->sent - len), MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            c->state = CONN_SENDING; /* the rest when the socket is writable again */
            (void)s_watch(c, epfd, EPOLL_CTL_MOD, EPOLLOUT);
            return;
        }
        if (n < 0) {
            s_fail(c, epfd, errno);
            return;
        }
        c->sent += (size_t)n;
    }
    c->state = CONN_READING;
    c->body = BODY_HEAD;
    c->head_len = 0;
    (void)s_watch(c, epfd, EPOLL_CTL_MOD, EPOLLIN);
}

/* The request is due: on the kept-alive socket, or a new one if there is none. */
static void
s_request(conn_t *c, int epfd, double now)
{
    s_late(c->due, now);
    s_active++;
    if (c->fd < 0) {
        s_connect(c, epfd, now);
        return;
    }
    c->sent = 0;
    c->state = CONN_SENDING;
    c->body = BODY_HEAD;
    c->head_len = 0;
    s_send(c, epfd);
}

/* One answer is complete: record it, then think (or end). */
static void
s_answered(conn_t *c, int epfd, double now, double end)
{
    s_active--;
    s_sample(&s_lat, now - c->due);
    c->reused = true;
    if (!c->answered) {
        c->answered = true;
        s_sample(&s_first, now - c->first);
    }
    if (c->status >= 300)
        s_non2xx++;
    else if (s_body_len)
        s_body_bytes_answered += (double)s_body_len;
    c->due = now + s_think;
    if (c->due >= end) {
        s_close(c, epfd);
        c->state = CONN_DONE;
        return;
    }
    c->state = CONN_IDLE;
    if (c->close_after) {
        s_close(c, epfd); /* the next request opens a new connection */
        s_reopened++;
        s_ring[(s_ring_head + s_ring_len++) % (size_t)s_conns] = c->index;
        return;
    }
    /* While idle, an EOF (the server closing the kept-alive connection) is noticed here. */
    (void)s_watch(c, epfd, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
    s_ring[(s_ring_head + s_ring_len++) % (size_t)s_conns] = c->index;
}

/* The answer head is complete (head[0..end)): status and how the body is framed.
 * 0, or -1 when the answer cannot be read. */
static int
s_parse_head(conn_t *c, size_t end)
{
    c->head[end - 1] = '\0';
    if (strncmp(c->head, "HTTP/1.", 7) != 0 || end < 12)
        return -1;
    c->status = atoi(c->head + 9);
    c->remaining = 0;
    c->body = BODY_LENGTH;
    c->close_after = false;
    for (char *line = strstr(c->head, "\r\n"); line != NULL;) {
        char *h = line + 2, *next = strstr(h, "\r\n");
        if (next != NULL)
            *next = '\0'; /* one header line at a time */
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            c->remaining = atoll(h + 15);
        else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 && strstr(h, "chunked"))
            c->body = BODY_CHUNK_SIZE;
        else if (strncasecmp(h, "Connection:", 11) == 0 && strcasestr(h, "close"))
            c->close_after = true;
        line = next;
    }
    return 0;
}

/* Consume body bytes data[0..len); true when the answer is complete. A framing error sets
 * *bad. Chunk-size lines are gathered in head[] (free again once the head is parsed). */
static bool
s_consume(conn_t *c, const char *data, size_t len, bool *bad)
{
    size_t i = 0;
    for (;;) {
        switch (c->body) {
        case BODY_LENGTH:
        case BODY_CHUNK_DATA: {
            size_t take = (size_t)c->remaining < len - i ? (size_t)c->remaining : len - i;
            c->remaining -= (long long)take;
            i += take;
            if (c->remaining > 0)
                return false;
            if (c->body == BODY_LENGTH)
                return true;
            c->body = BODY_CHUNK_END; /* the CRLF after the chunk's data */
            c->head_len = 0;
            continue;
        }
        case BODY_CHUNK_SIZE:
        case BODY_CHUNK_END:
            while (i < len && (c->head_len == 0 || c->head[c->head_len - 1] != '\n')) {
                if (c->head_len + 1 >= HEAD_MAX) {
                    *bad = true;
                    return false;
                }
                c->head[c->head_len++] = data[i++];
            }
            if (c->head_len == 0 || c->head[c->head_len - 1] != '\n')
                return false;
            c->head[c->head_len] = '\0';
            c->head_len = 0;
            if (c->body == BODY_CHUNK_END) {
                if (c->remaining < 0) /* the empty line after the last chunk */
                    return true;
                c->body = BODY_CHUNK_SIZE;
                continue;
            }
            c->remaining = strtoll(c->head, NULL, 16);
            if (c->remaining == 0) {
                c->remaining = -1; /* next: the empty line that ends the body */
                c->body = BODY_CHUNK_END;
            } else {
                c->body = BODY_CHUNK_DATA;
            }
            continue;
        case BODY_HEAD:
            break;
        }
        *bad = true;
        return false;
    }
}

/* Read what the socket has of the answer. */
static void
s_read(conn_t *c, int epfd, double now, double end)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            s_fail(c, epfd, errno);
            return;
        }
        if (n == 0) {
            s_fail(c, epfd, ECONNRESET);
            return;
        }
        size_t off = 0;
        if (c->body == BODY_HEAD) {
            size_t take =
                (size_t)n < HEAD_MAX - 1 - c->head_len ? (size_t)n : HEAD_MAX - 1 - c->head_len;
            memcpy(c->head + c->head_len, buf, take);
            size_t old = c->head_len;
            c->head_len += take;
            c->head[c->head_len] = '\0';
            char *eoh = strstr(c->head + (old > 3 ? old - 3 : 0), "\r\n\r\n");
            if (!eoh) {
                if (c->head_len >= HEAD_MAX - 1)
                    s_fail(c, epfd, EPROTO);
                continue;
            }
            size_t head_end = (size_t)(eoh - c->head) + 4;
            off = head_end - old;
            if (s_parse_head(c, head_end) != 0) {
                s_fail(c, epfd, EPROTO);
                return;
            }
        }
        bool bad = false;
        bool done = s_consume(c, buf + off, (size_t)n - off, &bad);
        if (bad) {
            s_fail(c, epfd, EPROTO);
            return;
        }
        if (done) {
            s_answered(c, epfd, now, end);
            return;
        }
    }
}

/* An event on a connection. */
static void
s_event(conn_t *c, int epfd, double now, double end)
{
    switch (c->state) {
    case CONN_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            s_fail(c, epfd, err);
            return;
        }
        s_sample(&s_connects, now - c->connect_at);
        c->sent = 0;
        c->state = CONN_SENDING;
        s_send(c, epfd);
        return;
    }
    case CONN_SENDING:
        s_send(c, epfd);
        return;
    case CONN_READING:
        s_read(c, epfd, now, end);
        return;
    case CONN_IDLE:
        /* The server closed the kept-alive connection: open another for the next request. */
        s_close(c, epfd);
        s_reopened++;
        return;
    case CONN_DONE:
        return;
    }
}

static void
s_build_requests(void)
{
    for (int i = 0; i < s_path_count; i++) {
        char extra[128] = "";
        if (s_body)
            snprintf(extra, sizeof extra, "Content-Type: %s\r\nContent-Length: %zu\r\n", s_type,
                     s_body_len);
        size_t cap = strlen(s_paths[i]) + strlen(s_token) + strlen(extra) + 128;
        s_requests[i] = malloc(cap);
        if (!s_requests[i])
            exit(1);
        int n = snprintf(s_requests[i], cap,
                         "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n%s\r\n",
                         s_body ? "POST" : "GET", s_paths[i], s_token, extra);
        s_request_len[i] = (size_t)n;
    }
}

static void
s_read_body(void)
{
    FILE *f = fopen(s_body_file, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        perror(s_body_file);
        exit(2);
    }
    s_body_len = (size_t)st.st_size;
    s_body = malloc(s_body_len ? s_body_len : 1);
    if (!s_body || fread(s_body, 1, s_body_len, f) != s_body_len) {
        perror(s_body_file);
        exit(2);
    }
    fclose(f);
}

static void
s_usage(void)
{
    fprintf(stderr, "usage: conn_load -p PORT --path PATH [--path PATH...] [-T TOKEN] [-n CONNS]"
                    " [-s SECONDS] [-r RAMP] [-k THINK] [--body FILE] [--type CT] [--grace S]\n");
    exit(2);
}

static void
s_options(int argc, char **argv)
{
    static const struct option longs[] = {{"port", required_argument, NULL, 'p'},
                                          {"path", required_argument, NULL, 'P'},
                                          {"token", required_argument, NULL, 'T'},
                                          {"conns", required_argument, NULL, 'n'},
                                          {"seconds", required_argument, NULL, 's'},
                                          {"ramp", required_argument, NULL, 'r'},
                                          {"think", required_argument, NULL, 'k'},
                                          {"body", required_argument, NULL, 'b'},
                                          {"type", required_argument, NULL, 'y'},
                                          {"grace", required_argument, NULL, 'g'},
                                          {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "p:P:T:n:s:r:k:b:y:g:", longs, NULL)) != -1) {
        switch (ch) {
        case 'p':
            s_port = atoi(optarg);
            break;
        case 'P':
            if (s_path_count == MAX_PATHS)
                s_usage();
            s_paths[s_path_count++] = optarg;
            break;
        case 'T':
            s_token = optarg;
            break;
        case 'n':
            s_conns = atoi(optarg);
            break;
        case 's':
            s_seconds = atof(optarg);
            break;
        case 'r':
            s_ramp = atof(optarg);
            break;
        case 'k':
            s_think = atof(optarg);
            break;
        case 'b':
            s_body_file = optarg;
            break;
        case 'y':
            s_type = optarg;
            break;
        case 'g':
            s_grace = atof(optarg);
            break;
        default:
            s_usage();
        }
    }
    if (s_port <= 0 || s_path_count == 0 || s_conns <= 0 || s_seconds <= 0 || s_think < 0)
        s_usage();
}

int
main(int argc, char **argv)
{
    s_options(argc, argv);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (s_body_file)
        s_read_body();
    s_build_requests();
    conn_t *conns = calloc((size_t)s_conns, sizeof *conns);
    s_ring = calloc((size_t)s_conns, sizeof *s_ring);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || !s_ring || epfd < 0) {
        perror("setup");
        return 1;
    }
    double t0 = s_now() + 0.2, end = t0 + s_seconds;
    for (int i = 0; i < s_conns; i++) {
        conns[i].fd = -1;
        conns[i].index = i;
        conns[i].state = CONN_IDLE;
        conns[i].due = conns[i].first = t0 + i * s_ramp / s_conns;
    }
    int next_open = 0; /* connections are first due in index order */
    struct epoll_event events[512];
    long in_flight = s_conns;
    double now = s_now();
    while (in_flight > 0 && now < end + s_grace) {
        /* Start what is due: first connects, then requests after think times. */
        while (next_open < s_conns && conns[next_open].due <= now)
            s_request(&conns[next_open++], epfd, now);
        while (s_ring_len > 0) {
            conn_t *c = &conns[s_ring[s_ring_head]];
            if (c->due > now)
                break;
            s_ring_head = (s_ring_head + 1) % (size_t)s_conns;
            s_ring_len--;
            if (c->state == CONN_IDLE)
                s_request(c, epfd, now);
        }
        double next = end + s_grace;
        if (next_open < s_conns && conns[next_open].due < next)
            next = conns[next_open].due;
        if (s_ring_len > 0 && conns[s_ring[s_ring_head]].due < next)
            next = conns[s_ring[s_ring_head]].due;
        int wait_ms = (int)((next - now) * 1e3 + 0.999);
        int n = epoll_wait(epfd, events, 512, wait_ms < 0 ? 0 : wait_ms);
        now = s_now();
        for (int i = 0; i < n; i++)
            s_event(events[i].data.ptr, epfd, now, end);
        in_flight = next_open < s_conns || s_ring_len > 0 || s_active > 0;
    }
    /* Whatever is still waiting after the grace period timed out; a connection never
     * answered waited the whole run. */
    long served = 0;
    for (int i = 0; i < s_conns; i++) {
        conn_t *c = &conns[i];
        if (c->state != CONN_DONE && c->state != CONN_IDLE)
            s_errors_timeout++;
        if (c->answered)
            served++;
        else
            s_sample(&s_first, now - c->first);
        s_close(c, epfd);
    }
    double seconds = s_seconds;
    long errors = s_errors_refused + s_errors_reset + s_errors_timeout + s_errors_other;
    size_t answers = s_lat.n;
    printf("conns %d served %ld answers %zu rps %.1f p50_ms %.2f p99_ms %.2f max_ms %.1f "
           "first_p99_ms %.1f first_max_ms %.1f connect_p99_ms %.2f late_max_ms %.1f "
           "errors %ld refused %ld reset %ld timeout %ld non2xx %ld reopened %ld "
           "mb_per_s %.2f\n",
           s_conns, served, answers, answers / seconds, s_pct_ms(&s_lat, 50), s_pct_ms(&s_lat, 99),
           s_pct_ms(&s_lat, 100), s_pct_ms(&s_first, 99), s_pct_ms(&s_first, 100),
           s_pct_ms(&s_connects, 99), s_late_max * 1e3, errors, s_errors_refused, s_errors_reset,
           s_errors_timeout, s_non2xx, s_reopened, s_body_bytes_answered / seconds / 1e6);
    return 0;
}
