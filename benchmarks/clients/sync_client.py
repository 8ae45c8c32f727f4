"""A sync drop-in in a fresh process: `threads` threads x `calls` `track()` calls, then `flush()`.

    python -m benchmarks.clients.sync_client THREADS CALLS URL {ours|official|official-1m}

Each call gets fresh properties (as an app's would). Prints one JSON line: wall seconds from the first
call until `flush()` returned (everything answered), CPU seconds of the whole process (interpreter
start, imports and the client's construction included: the drop-in imports aiohttp when it is
constructed, the official SDK imports requests with its module), peak RSS (VmHWM), and p50/p99 of
one call.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from typing import Any

from benchmarks.clients.common import peak_rss_mb


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_client(mode: str, url: str) -> Any:
    """The contender at its defaults (the official SDK also with a queue that does not drop)."""
    if mode == "ours":
        from analytics_async.sync import Client  # noqa: PLC0415 - each process loads only its contender

        return Client("bench", host=url)
    from segment.analytics import Client as Official  # noqa: PLC0415

    return Official("bench", host=url, max_queue_size=1_000_000 if mode == "official-1m" else 10_000)


def main() -> None:
    threads, calls, url, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = make_client(mode, url)
    durations: list[list[float]] = [[] for _ in range(threads)]

    def burst(t: int) -> None:
        clock, mine = time.perf_counter, durations[t]
        for i in range(calls):
            properties = {"revenue": 39.95 + i, "shipping": "2-day", "n": i, "ok": True, "tags": ["a", "b"]}
            start = clock()
            client.track(f"user-{t}-{i % 100}", "Order Completed", properties)
            mine.append(clock() - start)

    workers = [threading.Thread(target=burst, args=(t,)) for t in range(threads)]
    t0 = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    calls_s = time.perf_counter() - t0
    client.flush()
    total_s = time.perf_counter() - t0
    cpu = cpu_s()
    every = sorted(d for ds in durations for d in ds)
    print(json.dumps({
        "calls_s": calls_s, "total_s": total_s, "cpu_s": cpu, "peak_rss_mb": peak_rss_mb(),
        "p50_us": every[len(every) // 2] * 1e6, "p99_us": every[int(len(every) * 0.99)] * 1e6,
    }), flush=True)  # fmt: skip
    client.join()


if __name__ == "__main__":
    main()
