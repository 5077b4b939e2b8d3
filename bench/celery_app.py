"""The Celery baseline of the throughput benchmark (docs/performance.md, "Benchmarks").

A no-op task on a Redis broker (the benchmark starts Redis with AOF on, appendfsync
everysec), acknowledged late (after the task ran). The task's "result commit" is one INCR of
a counter in the same Redis, which the producer watches to know when every job is done.

    BENCH_REDIS_URL=redis://127.0.0.1:PORT/0 python3 -m celery -A celery_app worker ...
    BENCH_REDIS_URL=... python3 celery_app.py N     # submit N jobs, wait, print jobs/s
"""

import os
import sys
import time

import redis
from celery import Celery

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("bench", broker=URL)
app.conf.update(task_acks_late=True, task_ignore_result=True, worker_prefetch_multiplier=1,
                broker_transport_options={"visibility_timeout": 3600},
                worker_hijack_root_logger=False)
_counter = None


@app.task(name="bench.noop")
def noop(title):
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(URL)
    _counter.incr("bench:done")


def main(n: int) -> None:
    r = redis.Redis.from_url(URL)
    r.delete("bench:done")
    start = time.monotonic()
    for _ in range(n):
        noop.apply_async(("Bench",))
    put = time.monotonic() - start
    deadline = time.monotonic() + 600
    while int(r.get("bench:done") or 0) < n:
        if time.monotonic() > deadline:
            sys.exit("celery: timed out")
        time.sleep(0.01)
    total = time.monotonic() - start
    print(f"puts_per_s {n / put:.1f} jobs_per_s {n / total:.1f} seconds {total:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
