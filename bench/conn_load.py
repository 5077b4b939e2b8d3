#!/usr/bin/python3
"""conn_load.py - many HTTP/1.1 keep-alive connections, connect time counted (benchmark 6 at
5,500 connections, docs/performance.md "Benchmarks").

Connection i is due at t0 + i * ramp / N: it connects, then sends GET PATH, waits for the
whole answer, thinks --think seconds, and again, until --seconds after t0. A request's latency
runs from the moment it was due (for the first one, the connection's due time: the connect
is counted) to the last byte of its answer. One asyncio loop holds every connection; users
are spread over loopback source addresses 127.2.x.y, 50 per address, as a classroom behind
one address would be.

Prints one line: "conns N served S rps R p50_ms A p99_ms B first_max_ms C errors E non2xx X"
where served counts connections that got at least one answer and first_max_ms is the longest
wait of any connection for its first answer (connect included; a connection never served
counts as --seconds).

usage: conn_load.py --port PORT --path PATH --token TOKEN [--conns N] [--seconds S]
                    [--ramp S] [--think S]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

PER_ADDRESS = 50


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def user(i: int, a, t0: float, stats: dict) -> None:
    due = t0 + i * a.ramp / a.conns
    end = t0 + a.seconds
    await asyncio.sleep(max(0.0, due - time.monotonic()))
    n = i // PER_ADDRESS
    source = f"127.2.{n // 250}.{n % 250 + 1}"
    request = (f"GET {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {a.token}"
               f"\r\n\r\n").encode()
    first = None
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", a.port, local_addr=(source, 0)), a.seconds + 10)
        while due < end:
            writer.write(request)
            status = await asyncio.wait_for(read_answer(reader), a.seconds + 10)
            now = time.monotonic()
            stats["lat"].append(now - due)
            if first is None:
                first = now - due
            if status >= 300:
                stats["non2xx"] += 1
            due = now + a.think
            await asyncio.sleep(a.think)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
            IndexError):
        stats["errors"] += 1
    finally:
        if writer is not None:
            writer.close()
    stats["first"].append(first if first is not None else float(a.seconds))
    if first is not None:
        stats["served"] += 1


async def main_async(a) -> None:
    stats = {"lat": [], "first": [], "served": 0, "errors": 0, "non2xx": 0}
    t0 = time.monotonic() + 0.2
    await asyncio.gather(*(user(i, a, t0, stats) for i in range(a.conns)))
    lat = stats["lat"]
    print(f"conns {a.conns} served {stats['served']} rps {len(lat) / a.seconds:.1f} "
          f"p50_ms {pct(lat, 50) * 1e3:.2f} p99_ms {pct(lat, 99) * 1e3:.2f} "
          f"first_max_ms {max(stats['first']) * 1e3:.1f} errors {stats['errors']} "
          f"non2xx {stats['non2xx']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--conns", type=int, default=5500)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--ramp", type=float, default=1.0)
    ap.add_argument("--think", type=float, default=1.0)
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
