"""The FastAPI/uvicorn baseline of the HTTP benchmark (docs/performance.md, "Benchmarks"):
the same two read endpoints as ProfAI's frontend, over the same PostgreSQL data, as the first
version's stack would serve them (bearer token looked up per request, no answer cache).

    BENCH_CONNINFO="host=... dbname=..." python3 -m uvicorn fastapi_app:app --workers 2 ...

GET /ping answers without the database: it tells the framework's own cost from PostgreSQL's.
"""

import hashlib
import os
import socket
import threading

import psycopg2.pool
from fastapi import FastAPI, Header, HTTPException, Response


def _set_nodelay(protocol_class) -> None:
    """uvicorn 0.17 sets TCP_NODELAY on accepted connections when it runs one process, but not
    with --workers N (each worker serves a socket inherited from the supervisor), and it sends
    an answer's head and body in two writes: Nagle then holds the body until the client's
    delayed ACK, 40 ms per request on a keep-alive connection (strace: no TCP_NODELAY, two
    sendto per answer). Setting it here measures FastAPI, not that."""
    made = protocol_class.connection_made

    def connection_made(self, transport):
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        made(self, transport)
    protocol_class.connection_made = connection_made


from uvicorn.protocols.http import h11_impl  # noqa: E402
_set_nodelay(h11_impl.H11Protocol)
try:
    from uvicorn.protocols.http import httptools_impl  # noqa: E402
    _set_nodelay(httptools_impl.HttpToolsProtocol)
except ImportError:  # httptools not installed: uvicorn uses h11
    pass

app = FastAPI()
_pool = None
_pool_lock = threading.Lock()
# FastAPI runs these handlers on AnyIO's thread pool (40 threads); like ProfAI's frontend, each
# process keeps at most 16 PostgreSQL connections, and a request waits for a free one.
POOL = 16
_free = threading.BoundedSemaphore(POOL)

JOB_SQL = (
    "SELECT json_build_object('job_id', j.id, 'title', j.title, 'state', j.state, "
    "'progress', j.progress, 'stage', j.stage, 'attempts', j.attempts, "
    "'error', CASE WHEN j.error_code IS NULL THEN NULL "
    "ELSE json_build_object('code', j.error_code, 'message', j.error) END, "
    "'course_id', CASE WHEN j.state = 'succeeded' THEN j.course_id END, "
    "'created_at', j.created_at, 'started_at', j.started_at, "
    "'finished_at', j.finished_at)::text FROM jobs j WHERE j.id = %s AND j.owner_id = %s")
COURSE_SQL = "SELECT id::text, job_id::text, (doc - 'quiz' - 'id' - 'job_id')::text " \
             "FROM courses WHERE id = %s"


def pool():
    global _pool
    with _pool_lock:  # one pool per process, whichever request thread comes first
        if _pool is None:
            _pool = psycopg2.pool.ThreadedConnectionPool(1, POOL, os.environ["BENCH_CONNINFO"])
    return _pool


def query(sql, *params):
    with _free:
        return _query(sql, *params)


def _query(sql, *params):
    conn = pool().getconn()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()
    finally:
        pool().putconn(conn)


def user(authorization):
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401)
    digest = hashlib.sha256(authorization[7:].strip().encode()).digest()
    row = query("SELECT u.id::text, u.role FROM tokens t JOIN users u ON u.id = t.user_id "
                "WHERE t.hash = %s AND t.revoked_at IS NULL", psycopg2.Binary(digest))
    if row is None:
        raise HTTPException(401)
    return row


@app.get("/api/v1/jobs/{job_id}")
def get_job(job_id: str, authorization: str = Header(None)):
    uid, _ = user(authorization)
    row = query(JOB_SQL, job_id, uid)
    if row is None:
        raise HTTPException(404)
    return Response(row[0], media_type="application/json")


@app.get("/api/v1/courses/{course_id}")
def get_course(course_id: str, authorization: str = Header(None)):
    user(authorization)
    row = query(COURSE_SQL, course_id)
    if row is None:
        raise HTTPException(404)
    body = '{"id":"%s","job_id":"%s",%s' % (row[0], row[1], row[2][1:])
    return Response(body, media_type="application/json")


@app.get("/ping")
def ping():
    return Response("pong", media_type="text/plain")
