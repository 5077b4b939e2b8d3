/*
 * pg_queue.c - the plain PostgreSQL queue baseline of the throughput benchmark
 * (docs/performance.md, "Benchmarks"): one producer connection inserting N jobs, one committed
 * transaction each, and K consumer connections (one thread each) claiming the oldest queued
 * row with FOR UPDATE SKIP LOCKED and completing it in the same transaction (state 'done', a
 * tiny result, finished_at), the classic pattern: BEGIN; SELECT ... FOR UPDATE SKIP LOCKED;
 * UPDATE; COMMIT.
 *
 * usage: pg_queue -d CONNINFO -n N [-k CONSUMERS]
 * Creates (anew) the table bench_q. Prints: "puts_per_s P jobs_per_s J seconds S".
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *s_conninfo;
static long s_n;
static atomic_long s_done;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static PGconn *
s_connect(void)
{
    PGconn *db = PQconnectdb(s_conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "pg_queue: %s", PQerrorMessage(db));
        exit(1);
    }
    return db;
}

/* Run a statement that must succeed; its result (caller clears). */
static PGresult *
s_exec(PGconn *db, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "pg_queue: %s: %s", sql, PQerrorMessage(db));
        exit(1);
    }
    return res;
}

static void *
s_consumer(void *arg)
{
    (void)arg;
    PGconn *db = s_connect();
    while (atomic_load(&s_done) < s_n) {
        PQclear(s_exec(db, "BEGIN", 0, NULL));
        PGresult *res = s_exec(db,
                               "SELECT id FROM bench_q WHERE state = 'queued' ORDER BY id "
                               "LIMIT 1 FOR UPDATE SKIP LOCKED",
                               0, NULL);
        if (PQntuples(res) == 0) {
            PQclear(res);
            PQclear(s_exec(db, "COMMIT", 0, NULL));
            usleep(1000);
            continue;
        }
        const char *params[1] = {PQgetvalue(res, 0, 0)};
        PQclear(s_exec(db,
                       "UPDATE bench_q SET state = 'done', finished_at = now(), "
                       "result = '{\"title\":\"Bench\",\"modules\":[]}' WHERE id = $1",
                       1, params));
        PQclear(res);
        PQclear(s_exec(db, "COMMIT", 0, NULL));
        atomic_fetch_add(&s_done, 1);
    }
    PQfinish(db);
    return NULL;
}

int
main(int argc, char **argv)
{
    int k = 64;
    int c;
    while ((c = getopt(argc, argv, "d:n:k:")) != -1) {
        switch (c) {
        case 'd':
            s_conninfo = optarg;
            break;
        case 'n':
            s_n = atol(optarg);
            break;
        case 'k':
            k = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: pg_queue -d CONNINFO -n N [-k K]\n");
            return 2;
        }
    }
    if (s_conninfo == NULL || s_n < 1 || k < 1)
        return 2;
    PGconn *db = s_connect();
    PQclear(s_exec(db, "DROP TABLE IF EXISTS bench_q", 0, NULL));
    PQclear(s_exec(db,
                   "CREATE TABLE bench_q (id bigserial PRIMARY KEY, state text NOT NULL DEFAULT "
                   "'queued', payload text NOT NULL, result text, created_at timestamptz NOT "
                   "NULL DEFAULT now(), finished_at timestamptz)",
                   0, NULL));
    PQclear(
        s_exec(db, "CREATE INDEX bench_q_queued ON bench_q (id) WHERE state = 'queued'", 0, NULL));
    pthread_t *threads = calloc(k, sizeof *threads);
    double start = s_now();
    for (int i = 0; i < k; i++)
        pthread_create(&threads[i], NULL, s_consumer, NULL);
    for (long i = 0; i < s_n; i++)
        PQclear(s_exec(db, "INSERT INTO bench_q (payload) VALUES ('b.pdf')", 0, NULL));
    double put_s = s_now() - start;
    for (int i = 0; i < k; i++)
        pthread_join(threads[i], NULL);
    double all = s_now() - start;
    printf("puts_per_s %.1f jobs_per_s %.1f seconds %.3f\n", s_n / put_s, s_n / all, all);
    PQfinish(db);
    return 0;
}
