/*
 * noop_worker.c - a lightweight ProfAI worker for the benchmarks (docs/performance.md,
 * "Benchmarks"): K MDPW02 connections in one process, each announcing course.build and
 * answering every REQUEST at once with a FINAL ok carrying a tiny course document.
 *
 * It speaks the real protocol through libprofai (docs/protocol.md): READY, heartbeats, JOB
 * decoded with proto_job_decode, RESULT encoded with proto_result_encode, the address echoed.
 *
 * usage: noop_worker -e ENDPOINT [-n SOCKETS] [-t THREADS] [-H HEARTBEAT_MS] [-o LOG] [--hold]
 *   -n      connections (default 64), each one job at a time, like a worker slot
 *   -H      heartbeat interval in ms (default 1000, the broker's default)
 *   -L      liveness: after this many intervals without a word from the broker, or on its
 *           DISCONNECT, a connection starts over on a new socket with READY, as profai-worker's
 *           slots do (default 3)
 *           (a restart is counted and reported at exit)
 *   -o      append "<job_id> <attempt> <CLOCK_REALTIME ns>" for every REQUEST received
 *   --hold  never answer: keep every job received (and keep heartbeating), like a worker busy
 *           on a long PDF; for the failure-detection benchmark
 *   -t      threads (default 1), each serving its share of the connections: an epoll set of
 *           their ZMQ_FDs (a wake-up costs the sockets that woke it), or with -F one zmq_poll
 *           over all of them (each wake-up checks every socket)
 *   -F      announce protocol 1.2's fetch capability: a JOB that carries a PDF reference is
 *           answered once its PDF was fetched from the blob endpoint and checked
 *           (docs/protocol.md 3.6; profai-worker's own pdf_fetch module)
 * SIGTERM/SIGINT end it (DISCONNECT on every connection).
 */
#include "daemon/pdf_fetch.h"
#include "profai/proto.h"
#include "profai/worker_identity.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NOOP_SOCKETS_MAX 4096

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static int64_t
s_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
s_usage(void)
{
    fprintf(
        stderr,
        "usage: noop_worker -e ENDPOINT [-n SOCKETS] [-t THREADS] [-H HEARTBEAT_MS] [-L LIVENESS] "
        "[-o LOG] "
        "[--hold] [-F]\n");
    exit(2);
}

/* The course document of every answer: the core keys the broker stores (docs/api.md). */
static int
s_course(const proto_job_t *job, char *buf, size_t size)
{
    return snprintf(buf, size,
                    "{\"title\":\"%s\",\"structure\":\"pages\",\"source\":{\"filename\":\"b.pdf\","
                    "\"sha256\":\"%s\",\"pages\":1,\"pdf_title\":null,\"author\":null},"
                    "\"modules\":[{\"title\":\"Page 1\",\"page_start\":1,\"page_end\":1,"
                    "\"generated\":true,\"lessons\":[{\"title\":\"Page 1\",\"page_start\":1,"
                    "\"page_end\":1,\"text\":\"Cells divide.\"}]}]}",
                    "Bench", job->sha256);
}

/* A connection's job whose PDF is being fetched (-F). */
typedef struct {
    pdf_fetch_t *fetch;
    uint8_t address[PROTO_ADDRESS_MAX];
    size_t address_len;
    proto_job_t job;
} s_pending_t;

static int
s_reply(zsock_t *sock, const proto_job_t *job, const uint8_t *address, size_t address_len)
{
    proto_error_t err;
    char course[1024];
    int n = s_course(job, course, sizeof course);
    proto_result_t result = {.ok = true, .course = (const uint8_t *)course, .course_len = n};
    proto_buf_t body = {0};
    if (proto_result_encode(&result, &body, &err) != 0) {
        fprintf(stderr, "noop_worker: cannot encode RESULT: %s\n", err.detail);
        return -1;
    }
    zmsg_t *reply = mdpw_build_job_message(MDPW_FINAL, address, address_len, body.data, body.size);
    proto_buf_free(&body);
    if (reply == NULL || zmsg_send(&reply, sock) != 0) {
        zmsg_destroy(&reply);
        fprintf(stderr, "noop_worker: cannot send FINAL\n");
        return -1;
    }
    return 0;
}

static void
s_send(zsock_t *sock, zmsg_t *msg)
{
    if (msg == NULL || zmsg_send(&msg, sock) != 0)
        zmsg_destroy(&msg);
}

/* Answer a REQUEST at once, or (-F, a PDF by reference) start fetching its PDF into pending.
 * 1: answered; 0: fetching; -1: failed. */
static int
s_answer(zsock_t *sock, const mdpw_view_t *view, s_pending_t *pending, int heartbeat, int liveness)
{
    proto_job_t job;
    proto_error_t err;
    if (proto_job_decode(view->body, view->body_len, &job, &err) != 0) {
        fprintf(stderr, "noop_worker: bad JOB: %s\n", err.detail);
        return -1;
    }
    if (job.pdf_size == 0)
        return s_reply(sock, &job, view->address, view->address_len) == 0 ? 1 : -1;
    curve_keys_t plain;
    memset(&plain, 0, sizeof plain);
    char why[256];
    pending->fetch =
        pdf_fetch_new(job.pdf_endpoint, &plain, view->address, view->address_len, job.pdf_size,
                      job.sha256, (int64_t)heartbeat * liveness, zclock_mono(), why, sizeof why);
    if (pending->fetch == NULL) {
        fprintf(stderr, "noop_worker: cannot fetch: %s\n", why);
        return -1;
    }
    memcpy(pending->address, view->address, view->address_len);
    pending->address_len = view->address_len;
    pending->job = job;
    pending->job.pdf = NULL;
    return 0;
}

static int s_fetch_identity; /* -F */

/* A new connection that announces READY; NULL on failure. */
static zsock_t *
s_connect(const char *endpoint)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (sock == NULL)
        return NULL;
    zsock_set_maxmsgsize(sock, (int)(PROTO_PDF_MAX + 64u * 1024));
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 0);
    if (s_fetch_identity) {
        uint8_t random[WORKER_IDENTITY_RANDOM], identity[WORKER_IDENTITY_SIZE];
        if (getrandom(random, sizeof random, 0) == (ssize_t)sizeof random) {
            size_t len =
                worker_identity_format(identity, random, "bench", (uint32_t)getpid(), "noop");
            len = worker_identity_add_fetch(identity, len);
            zmq_setsockopt(zsock_resolve(sock), ZMQ_ROUTING_ID, identity, len);
        }
    }
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        zsock_destroy(&sock);
        return NULL;
    }
    s_send(sock, mdpw_build_ready(PROTO_SERVICE_COURSE));
    return sock;
}

/* One thread's share of the connections: its own slice of the arrays (-t). */
typedef struct {
    const char *endpoint;
    int heartbeat, liveness, hold;
    FILE *log;
    int count;
    zsock_t **socks;
    int64_t *last_sent, *last_heard;
    s_pending_t *pending;
    zmq_pollitem_t *items; /* 2 * count, this thread's own */
    int *fetch_of;         /* count, this thread's own */
    uint64_t answered, received, restarts;
    uint64_t swept; /* REQUESTs found without a ZMQ_FD signal (s_serve_epoll's sweep) */
} s_slice_t;

/* Read every message waiting on connection i and answer it. Returns with ZMQ_EVENTS read after
 * the last send, so its ZMQ_FD signals again when more arrives (what s_serve_epoll needs).
 * Returns the REQUESTs read. */
static uint64_t
s_drain(s_slice_t *sl, int i, int64_t now)
{
    uint64_t before = sl->received;
    zsock_t *sock = sl->socks[i];
    while (zsock_events(sock) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(sock);
        if (msg == NULL)
            break;
        if (sl->last_heard[i] != 0)
            sl->last_heard[i] = now;
        mdpw_view_t view;
        proto_error_t err;
        if (mdpw_parse(msg, PROTO_JOB_BODY_MAX, &view, &err) != 0) {
            fprintf(stderr, "noop_worker: bad message: %s\n", err.detail);
        } else if (view.command == MDPW_REQUEST) {
            sl->received++;
            if (sl->log != NULL) {
                char job_id[PROTO_UUID_LEN + 1] = "";
                uint32_t attempt = 0;
                char secret[PROTO_SECRET_LEN + 1];
                size_t len = proto_token_split_secret(view.address, view.address_len, secret);
                if (proto_token_parse(view.address, len, job_id, &attempt) == 0)
                    fprintf(sl->log, "%s %u %lld\n", job_id, attempt, (long long)s_realtime_ns());
                fflush(sl->log);
            }
            if (!sl->hold && sl->pending[i].fetch == NULL &&
                s_answer(sock, &view, &sl->pending[i], sl->heartbeat, sl->liveness) == 1) {
                sl->answered++;
                sl->last_sent[i] = now;
            }
        } else if (view.command == MDPW_DISCONNECT) {
            sl->last_heard[i] = 0; /* start over on a new socket, as a slot does */
        }
        zmsg_destroy(&msg);
    }
    return sl->received - before;
}

/* Connection i's liveness: start over when the broker was silent too long, heartbeat when due.
 * 1 when it started over on a new socket. */
static int
s_keep_alive(s_slice_t *sl, int i, int64_t now)
{
    if (now - sl->last_heard[i] >= (int64_t)sl->heartbeat * sl->liveness) {
        /* The broker is gone (or restarted): start over, as a worker slot does. */
        zsock_t *fresh = s_connect(sl->endpoint);
        if (fresh == NULL)
            return 0;
        zsock_destroy(&sl->socks[i]);
        sl->socks[i] = fresh;
        sl->restarts++;
        sl->last_sent[i] = sl->last_heard[i] = now;
        return 1;
    }
    if (now - sl->last_sent[i] >= sl->heartbeat) {
        s_send(sl->socks[i], mdpw_build_heartbeat());
        sl->last_sent[i] = now;
    }
    return 0;
}

/* Serve a slice of the connections until SIGTERM/SIGINT (the loop of one thread) with one
 * zmq_poll over all of them: every wake-up checks each socket (a getpid and a poll entry per
 * socket in libzmq). Used with -F, whose PDF fetch sockets join the poll. */
static void *
s_serve(void *arg)
{
    s_slice_t *sl = arg;
    int count = sl->count;
    s_pending_t *pending = sl->pending;
    zmq_pollitem_t *items = sl->items;
    int *fetch_of = sl->fetch_of;
    for (int i = 0; i < count; i++)
        items[i] = (zmq_pollitem_t){zsock_resolve(sl->socks[i]), 0, ZMQ_POLLIN, 0};
    while (!s_stop) {
        /* Fetch sockets after the connections: items[count + k] is connection fetch_of[k]'s. */
        int nfetch = 0;
        for (int i = 0; i < count; i++)
            if (pending[i].fetch != NULL) {
                items[count + nfetch] = (zmq_pollitem_t){
                    zsock_resolve(pdf_fetch_socket(pending[i].fetch)), 0, ZMQ_POLLIN, 0};
                fetch_of[nfetch++] = i;
            }
        int rc = zmq_poll(items, count + nfetch, nfetch > 0 ? 50 : sl->heartbeat / 2 + 1);
        if (rc < 0)
            break;
        int64_t now = zclock_mono();
        for (int k = 0; k < nfetch; k++) {
            s_pending_t *p = &pending[fetch_of[k]];
            pdf_fetch_state_t state = pdf_fetch_service(p->fetch, now);
            if (state == PDF_FETCH_RUNNING)
                continue;
            if (state == PDF_FETCH_FAILED) {
                /* As profai-worker does: the attempt fails with internal and is retried. */
                fprintf(stderr, "noop_worker: fetch failed: %s\n", pdf_fetch_error(p->fetch));
                proto_result_t failed = {.ok = false, .error_code = "internal"};
                proto_buf_t body = {0};
                proto_error_t perr;
                if (proto_result_encode(&failed, &body, &perr) == 0)
                    s_send(sl->socks[fetch_of[k]],
                           mdpw_build_job_message(MDPW_FINAL, p->address, p->address_len, body.data,
                                                  body.size));
                proto_buf_free(&body);
            } else if (s_reply(sl->socks[fetch_of[k]], &p->job, p->address, p->address_len) == 0)
                sl->answered++, sl->last_sent[fetch_of[k]] = now;
            pdf_fetch_destroy(&p->fetch);
        }
        for (int i = 0; i < count; i++) {
            if (items[i].revents & ZMQ_POLLIN)
                s_drain(sl, i, now);
            if (s_keep_alive(sl, i, now))
                items[i].socket = zsock_resolve(sl->socks[i]);
        }
    }
    return NULL;
}

/* Whether connection i's ZMQ_FD is readable now: a command (a message's activate_read among
 * them) waits in its mailbox, so epoll reports it. For the count of missed wake-ups only. */
static bool
s_signalled(s_slice_t *sl, int i)
{
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(zsock_resolve(sl->socks[i]), ZMQ_FD, &fd, &len) != 0)
        return false;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

/* A connection's ZMQ_FD into the epoll set, tagged with its index; -1 on failure. */
static int
s_watch(int ep, zsock_t *sock, int i)
{
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(zsock_resolve(sock), ZMQ_FD, &fd, &len) != 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* The same service without -F, waking only for the connections that have something: each
 * socket's ZMQ_FD in an epoll set, so a wake-up costs the sockets that woke it, not all of
 * them. Heartbeats and liveness are a sweep every S_SWEEP_MS that makes no system call for a
 * connection with nothing due.
 *
 * ZMQ_FD is edge-triggered at the level of the socket's mailbox: the I/O thread signals it
 * only when a command arrives in an empty mailbox (a message into an empty pipe sends one,
 * activate_read), and every zmq operation on the socket (recv, send, ZMQ_EVENTS) may read the
 * mailbox and so consume the signal. So after EVERY operation on a socket, the loop reads
 * ZMQ_EVENTS until it shows no POLLIN (s_drain ends so); the one operation outside s_drain is
 * the sweep's heartbeat, whose send (zmq_send processes commands at most once a millisecond
 * per socket) may take the signal of a REQUEST that arrived since the last epoll_wait: that
 * connection is drained at once. With this, no REQUEST waits for a sweep (the worker counts
 * those found in a heartbeat's drain while its ZMQ_FD had not signalled before the send:
 * "requests found without a wake-up"). One signal does not come at all: a new socket's first
 * message (below). Before, every connection was also read every 100 ms (2,000 system calls
 * per 100 ms at 1,000 connections), which hid that one, and the count included REQUESTs whose
 * signal the heartbeat's own send had taken (docs/performance.md, "The no-op worker's first
 * message, and the WAL flush measured"). */
#define S_SWEEP_MS 20
static void *
s_serve_epoll(void *arg)
{
    s_slice_t *sl = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("noop_worker: epoll_create1");
        return NULL;
    }
    int64_t now = zclock_mono();
    for (int i = 0; i < sl->count; i++) {
        if (s_watch(ep, sl->socks[i], i) != 0) {
            perror("noop_worker: epoll_ctl");
            close(ep);
            return NULL;
        }
        /* A new socket's inbound pipe starts awake: the first message into it sends no
         * activate_read, so ZMQ_FD would not signal it. Reading ZMQ_EVENTS once (s_drain)
         * finds the pipe empty and puts it to sleep; from then on a message into it signals. */
        sl->swept += s_drain(sl, i, now);
    }
    struct epoll_event events[256];
    int64_t next_sweep = 0;
    while (!s_stop) {
        now = zclock_mono();
        int wait = next_sweep > now ? (int)(next_sweep - now) : 0;
        int n = epoll_wait(ep, events, (int)(sizeof events / sizeof events[0]), wait);
        if (n < 0 && errno != EINTR)
            break;
        now = zclock_mono();
        for (int k = 0; k < n; k++)
            s_drain(sl, (int)events[k].data.u32, now);
        if (now < next_sweep)
            continue;
        for (int i = 0; i < sl->count; i++) {
            bool silent = now - sl->last_heard[i] >= (int64_t)sl->heartbeat * sl->liveness;
            bool due = now - sl->last_sent[i] >= sl->heartbeat;
            if (!silent && !due)
                continue; /* no system call for a connection with nothing due */
            /* Before a heartbeat's send or a start over: was a wake-up pending? */
            bool signalled = s_signalled(sl, i);
            if (silent) {
                /* A wake-up can be late on a busy machine: read what waits first, so that only
                 * a connection really silent starts over. */
                uint64_t got = s_drain(sl, i, now);
                sl->swept += signalled ? 0 : got;
                signalled = false;
            }
            if (s_keep_alive(sl, i, now)) {
                /* A restart's old socket left the set when it was closed; the new one joins. */
                if (s_watch(ep, sl->socks[i], i) != 0)
                    perror("noop_worker: epoll_ctl");
            }
            /* The send may have consumed the signal: drain now, as after every operation. */
            uint64_t got = s_drain(sl, i, now);
            sl->swept += signalled ? 0 : got;
        }
        next_sweep = now + S_SWEEP_MS;
    }
    close(ep);
    return NULL;
}

int
main(int argc, char **argv)
{
    const char *endpoint = NULL, *log_path = NULL;
    int count = 64, heartbeat = 1000, liveness = 3, hold = 0, threads = 1;
    static const struct option options[] = {{"hold", no_argument, NULL, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "e:n:H:L:o:Ft:", options, NULL)) != -1) {
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'n':
            count = atoi(optarg);
            break;
        case 'H':
            heartbeat = atoi(optarg);
            break;
        case 'L':
            liveness = atoi(optarg);
            break;
        case 'o':
            log_path = optarg;
            break;
        case 'h':
            hold = 1;
            break;
        case 'F':
            s_fetch_identity = 1;
            break;
        case 't':
            threads = atoi(optarg);
            break;
        default:
            s_usage();
        }
    }
    if (endpoint == NULL || count < 1 || count > NOOP_SOCKETS_MAX || heartbeat < 1 ||
        liveness < 1 || threads < 1 || threads > count)
        s_usage();
    FILE *log = NULL;
    if (log_path != NULL && (log = fopen(log_path, "a")) == NULL) {
        perror(log_path);
        return 1;
    }
    zsys_set_io_threads(1);
    zsys_set_max_sockets(2 * count + 16); /* closed sockets linger until reaped */
    zsys_handler_set(NULL);
    signal(SIGTERM, s_on_signal);
    signal(SIGINT, s_on_signal);

    zsock_t **socks = calloc(count, sizeof *socks);
    int64_t *last_sent = calloc(count, sizeof *last_sent);
    int64_t *last_heard = calloc(count, sizeof *last_heard);
    zmq_pollitem_t *items = calloc(2 * (size_t)count, sizeof *items);
    s_pending_t *pending = calloc(count, sizeof *pending);
    int *fetch_of = calloc(count, sizeof *fetch_of);
    if (socks == NULL || last_sent == NULL || last_heard == NULL || items == NULL ||
        pending == NULL || fetch_of == NULL)
        return 1;
    for (int i = 0; i < count; i++) {
        if ((socks[i] = s_connect(endpoint)) == NULL) {
            fprintf(stderr, "noop_worker: cannot connect to %s\n", endpoint);
            return 1;
        }
        last_sent[i] = last_heard[i] = zclock_mono();
        items[i] = (zmq_pollitem_t){zsock_resolve(socks[i]), 0, ZMQ_POLLIN, 0};
    }
    /* -t threads, each serving its own contiguous slice of the connections. */
    s_slice_t *slices = calloc((size_t)threads, sizeof *slices);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (slices == NULL || tids == NULL)
        return 1;
    for (int t = 0, first = 0; t < threads; t++) {
        int n = count / threads + (t < count % threads ? 1 : 0);
        slices[t] = (s_slice_t){endpoint,
                                heartbeat,
                                liveness,
                                hold,
                                log,
                                n,
                                socks + first,
                                last_sent + first,
                                last_heard + first,
                                pending + first,
                                items + 2 * first,
                                fetch_of + first,
                                0,
                                0,
                                0,
                                0};
        first += n;
    }
    for (int t = 0; t < threads; t++)
        if (pthread_create(&tids[t], NULL, s_fetch_identity ? s_serve : s_serve_epoll,
                           &slices[t]) != 0) {
            fprintf(stderr, "noop_worker: cannot start a thread\n");
            return 1;
        }
    uint64_t answered = 0, received = 0, restarts = 0, swept = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        answered += slices[t].answered;
        received += slices[t].received;
        restarts += slices[t].restarts;
        swept += slices[t].swept;
    }
    free(slices);
    free(tids);
    for (int i = 0; i < count; i++) {
        s_send(socks[i], mdpw_build_disconnect());
        zsock_destroy(&socks[i]);
    }
    if (log != NULL)
        fclose(log);
    fprintf(stderr,
            "noop_worker: %llu requests received, %llu answered, %llu restarts, %llu requests "
            "found without a wake-up\n",
            (unsigned long long)received, (unsigned long long)answered,
            (unsigned long long)restarts, (unsigned long long)swept);
    free(socks);
    free(last_sent);
    free(last_heard);
    for (int i = 0; i < count; i++)
        pdf_fetch_destroy(&pending[i].fetch);
    free(pending);
    free(fetch_of);
    free(items);
    return 0;
}
