/*
 * submit_client.c - the submitting client of the job benchmarks (docs/performance.md,
 * "Benchmarks"): N job.submit requests over one MDPC02 DEALER, pipelined with a window of
 * outstanding requests, optionally paced at a fixed offered rate.
 *
 * usage: submit_client -e ENDPOINT -u OWNER (-s SHA256 | -S FILE) -n N [-w WINDOW] [-r RATE]
 *                      [-o OUT]
 *   -S  PDF hashes, one per line: job i uses line i (modulo their count)
 *   -w  requests outstanding at most (default 256)
 *   -r  offered load in submissions/s (default 0: as fast as the window allows)
 *   -o  write "<job_id> <send ns> <ack ns>" (CLOCK_REALTIME) per acknowledged job
 * Prints one line: "acked A errors E seconds S rate R first_error CODE".
 * A submission is acknowledged when its SUBMITTED (ok) arrives: the broker sends it only
 * after the job row is committed. Exits 1 when nothing moves for 60 s.
 */
#include "profai/proto.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int64_t sent_ns;
    int64_t ack_ns;
    char job_id[PROTO_UUID_LEN + 1];
} sub_t;

static int64_t
s_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
s_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
s_usage(void)
{
    fprintf(stderr, "usage: submit_client -e ENDPOINT -u OWNER (-s SHA256 | -S FILE) -n N "
                    "[-w WINDOW] [-r RATE] [-o OUT]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *endpoint = NULL, *owner = NULL, *sha = NULL, *out_path = NULL, *sha_path = NULL;
    long n = 0, window = 256;
    double rate = 0;
    int c;
    while ((c = getopt(argc, argv, "e:u:s:S:n:w:r:o:")) != -1) {
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'u':
            owner = optarg;
            break;
        case 's':
            sha = optarg;
            break;
        case 'S':
            sha_path = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'w':
            window = atol(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'o':
            out_path = optarg;
            break;
        default:
            s_usage();
        }
    }
    if (endpoint == NULL || owner == NULL || (sha == NULL) == (sha_path == NULL) || n < 1 ||
        window < 1)
        s_usage();
    /* The hashes to use in turn: -s's one, or -S's lines. */
    char(*shas)[PROTO_SHA256_LEN + 1] = NULL;
    size_t n_shas = 0;
    if (sha_path != NULL) {
        FILE *f = fopen(sha_path, "r");
        char line[128];
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '\0')
                continue;
            char(*more)[PROTO_SHA256_LEN + 1] = realloc(shas, (n_shas + 1) * sizeof *shas);
            if (more == NULL)
                return 1;
            shas = more;
            if (strlen(line) != PROTO_SHA256_LEN) {
                fprintf(stderr, "submit_client: not a SHA-256: %s\n", line);
                return 1;
            }
            memcpy(shas[n_shas++], line, PROTO_SHA256_LEN + 1);
        }
        if (f != NULL)
            fclose(f);
        if (n_shas == 0) {
            fprintf(stderr, "submit_client: no hash in %s\n", sha_path);
            return 1;
        }
    }
    sub_t *subs = calloc(n + 1, sizeof *subs);
    if (subs == NULL)
        return 1;
    zsys_handler_set(NULL);
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 0);
    zsock_set_rcvhwm(sock, 0);
    zsock_set_immediate(sock, 1);
    if (sock == NULL || zsock_connect(sock, "%s", endpoint) != 0) {
        fprintf(stderr, "submit_client: cannot connect to %s\n", endpoint);
        return 1;
    }
    proto_submit_t sub = {0};
    snprintf(sub.owner, sizeof sub.owner, "%s", owner);
    snprintf(sub.title, sizeof sub.title, "Bench");
    snprintf(sub.filename, sizeof sub.filename, "b.pdf");
    if (sha != NULL)
        snprintf(sub.sha256, sizeof sub.sha256, "%s", sha);

    long sent = 0, acked = 0, errors = 0, answered = 0;
    char first_error[PROTO_CODE_MAX + 1] = "-";
    int64_t start = s_mono_ns(), last_progress = start;
    zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    while (answered < n) {
        int64_t now = s_mono_ns();
        long due = n;
        if (rate > 0) {
            due = (long)((double)(now - start) / 1e9 * rate) + 1;
            if (due > n)
                due = n;
        }
        while (sent < due && sent - answered < window) {
            sub.rid = (uint64_t)sent + 1;
            if (n_shas > 0)
                snprintf(sub.sha256, sizeof sub.sha256, "%s", shas[(size_t)sent % n_shas]);
            proto_buf_t body = {0};
            proto_error_t err;
            if (proto_submit_encode(&sub, &body, &err) != 0) {
                fprintf(stderr, "submit_client: %s\n", err.detail);
                return 1;
            }
            zmsg_t *msg = mdpc_build(MDPC_REQUEST, PROTO_SERVICE_SUBMIT, body.data, body.size);
            proto_buf_free(&body);
            subs[sent + 1].sent_ns = s_realtime_ns();
            if (msg == NULL || zmsg_send(&msg, sock) != 0) {
                zmsg_destroy(&msg);
                break; /* not connected yet: retry after the poll */
            }
            sent++;
        }
        long timeout = 100;
        if (rate > 0 && sent < n)
            timeout = 1;
        if (zmq_poll(&item, 1, timeout) < 0)
            break;
        while (zsock_events(sock) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv(sock);
            if (msg == NULL)
                break;
            mdpc_view_t view;
            proto_submitted_t reply;
            proto_error_t err;
            if (mdpc_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &err) == 0 &&
                proto_submitted_decode(view.body, view.body_len, &reply, &err) == 0 &&
                reply.rid >= 1 && reply.rid <= (uint64_t)n && subs[reply.rid].ack_ns == 0) {
                sub_t *s = &subs[reply.rid];
                s->ack_ns = s_realtime_ns();
                answered++;
                if (reply.ok) {
                    acked++;
                    memcpy(s->job_id, reply.job_id, sizeof s->job_id);
                } else {
                    if (errors++ == 0)
                        snprintf(first_error, sizeof first_error, "%s", reply.error_code);
                }
                last_progress = s_mono_ns();
            }
            zmsg_destroy(&msg);
        }
        if (s_mono_ns() - last_progress > 60 * 1000000000LL) {
            fprintf(stderr, "submit_client: no reply for 60 s (%ld of %ld answered)\n", answered,
                    n);
            break;
        }
    }
    double seconds = (double)(s_mono_ns() - start) / 1e9;
    printf("acked %ld errors %ld seconds %.3f rate %.1f first_error %s\n", acked, errors, seconds,
           acked / seconds, first_error);
    if (out_path != NULL) {
        FILE *out = fopen(out_path, "w");
        if (out == NULL) {
            perror(out_path);
            return 1;
        }
        for (long i = 1; i <= n; i++)
            if (subs[i].job_id[0] != '\0')
                fprintf(out, "%s %lld %lld\n", subs[i].job_id, (long long)subs[i].sent_ns,
                        (long long)subs[i].ack_ns);
        fclose(out);
    }
    zsock_destroy(&sock);
    free(subs);
    free(shas);
    return answered == n ? 0 : 1;
}
