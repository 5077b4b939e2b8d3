/*
 * beanstalk_load.c - the beanstalkd baseline of the throughput benchmark (docs/performance.md,
 * "Benchmarks"): one producer connection putting N jobs (pipelined, a window of outstanding
 * puts, each acknowledged by INSERTED), and K consumer connections, one thread each, doing
 * reserve / delete. Completion of a job = its DELETED reply (with the binlog, beanstalkd has
 * written the delete record by then; fsynced per its -f policy).
 *
 * usage: beanstalk_load -p PORT -n N [-k CONSUMERS] [-w WINDOW]
 * Prints: "puts_per_s P jobs_per_s J seconds S".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int s_port;
static long s_n;
static atomic_long s_done;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
s_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

/* A buffered line reader over a socket. */
typedef struct {
    int fd;
    char buf[65536];
    size_t len;
} reader_t;

/* Next line (without CRLF) into out; 0, or -1 on EOF. */
static int
s_line(reader_t *r, char *out, size_t size)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl != NULL) {
            size_t n = nl - r->buf + 1;
            size_t copy = n - 1 < size - 1 ? n - 1 : size - 1;
            memcpy(out, r->buf, copy);
            if (copy > 0 && out[copy - 1] == '\r')
                copy--;
            out[copy] = '\0';
            memmove(r->buf, r->buf + n, r->len - n);
            r->len -= n;
            return 0;
        }
        ssize_t got = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (got <= 0)
            return -1;
        r->len += got;
    }
}

static void
s_write(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w <= 0) {
            perror("write");
            exit(1);
        }
        s += w;
        len -= w;
    }
}

static void *
s_consumer(void *arg)
{
    (void)arg;
    reader_t *r = calloc(1, sizeof *r);
    r->fd = s_connect();
    char line[256], cmd[64];
    while (atomic_load(&s_done) < s_n) {
        s_write(r->fd, "reserve-with-timeout 1\r\n", 24);
        if (s_line(r, line, sizeof line) != 0)
            break;
        unsigned long long id;
        if (sscanf(line, "RESERVED %llu", &id) != 1)
            continue;                          /* TIMED_OUT */
        if (s_line(r, line, sizeof line) != 0) /* the job's body */
            break;
        int n = snprintf(cmd, sizeof cmd, "delete %llu\r\n", id);
        s_write(r->fd, cmd, n);
        if (s_line(r, line, sizeof line) != 0)
            break;
        if (strcmp(line, "DELETED") == 0)
            atomic_fetch_add(&s_done, 1);
    }
    close(r->fd);
    free(r);
    return NULL;
}

int
main(int argc, char **argv)
{
    int k = 64;
    long window = 256;
    int c;
    while ((c = getopt(argc, argv, "p:n:k:w:")) != -1) {
        switch (c) {
        case 'p':
            s_port = atoi(optarg);
            break;
        case 'n':
            s_n = atol(optarg);
            break;
        case 'k':
            k = atoi(optarg);
            break;
        case 'w':
            window = atol(optarg);
            break;
        default:
            fprintf(stderr, "usage: beanstalk_load -p PORT -n N [-k K] [-w WINDOW]\n");
            return 2;
        }
    }
    if (s_port <= 0 || s_n < 1 || k < 1)
        return 2;
    pthread_t *threads = calloc(k, sizeof *threads);
    double start = s_now();
    for (int i = 0; i < k; i++)
        pthread_create(&threads[i], NULL, s_consumer, NULL);
    reader_t *r = calloc(1, sizeof *r);
    r->fd = s_connect();
    static const char put[] = "put 0 0 60 2\r\nok\r\n";
    long sent = 0, inserted = 0;
    char line[256];
    while (inserted < s_n) {
        while (sent < s_n && sent - inserted < window) {
            s_write(r->fd, put, sizeof put - 1);
            sent++;
        }
        if (s_line(r, line, sizeof line) != 0) {
            fprintf(stderr, "beanstalk_load: connection closed\n");
            return 1;
        }
        if (strncmp(line, "INSERTED", 8) != 0) {
            fprintf(stderr, "beanstalk_load: put answered %s\n", line);
            return 1;
        }
        inserted++;
    }
    double put_s = s_now() - start;
    for (int i = 0; i < k; i++)
        pthread_join(threads[i], NULL);
    double all = s_now() - start;
    printf("puts_per_s %.1f jobs_per_s %.1f seconds %.3f\n", s_n / put_s, s_n / all, all);
    return 0;
}
