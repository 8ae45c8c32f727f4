"""The sync drop-in against segment-analytics-python 2.4.0: 8 threads x 5,000 `track()`, then `flush()`.

Each contender runs in a fresh process, interleaved and repeated, against one local SegmentSink in
this process. Per run: end-to-end events/s (first call to the last event counted at the sink),
CPU seconds per event of the calling process, peak RSS, and p50/p99 of one `track()` call in a
calling thread. Contenders: analytics-async's `analytics_async.sync.Client` at its defaults, and
segment-analytics-python at its defaults and with `max_queue_size=1_000_000` (its default queue of
10,000 drops events in a burst like this one).

Run: `python -m pip install -e '.[bench]' && python -m benchmarks.bench_sync [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import threading
import time
from typing import Any

THREADS = 8
CALLS = 5_000
CONTENDERS = ["analytics-async", "segment-analytics-python", "segment-analytics-python (1M queue)"]


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's peak across fork+exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name: str, host: str) -> None:
    """In a fresh process: the burst, then flush; prints one JSON line of measurements."""
    if name == "analytics-async":
        from analytics_async.sync import Client  # noqa: PLC0415 - each child loads only its contender

        client = Client("wk", host=host)
    else:
        from segment.analytics import Client  # type: ignore[no-redef] # noqa: PLC0415

        client = Client("wk", host=host, max_queue_size=1_000_000 if "1M" in name else 10_000)
    durations: list[list[float]] = [[] for _ in range(THREADS)]

    def calls(t: int) -> None:
        clock = time.perf_counter
        mine = durations[t]
        for i in range(CALLS):
            props = {"revenue": 39.95 + i, "shipping": "2-day", "n": i, "ok": True, "tags": ["a", "b", "c"]}
            start = clock()
            client.track(f"user-{t}-{i % 100}", "Order Completed", props)
            mine.append(clock() - start)

    start = time.time()
    threads = [threading.Thread(target=calls, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.flush()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    all_calls = sorted(d for ds in durations for d in ds)
    print(json.dumps({
        "start": start, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": peak_rss_mb(),
        "p50_us": all_calls[len(all_calls) // 2] * 1e6, "p99_us": all_calls[int(len(all_calls) * 0.99)] * 1e6,
    }))  # fmt: skip
    client.shutdown() if hasattr(client, "shutdown") else client.join()


async def run_one(name: str, sink: Any, arrivals: list[float]) -> dict[str, float]:
    """One fresh process of `name`; the measurements with the sink's count and last arrival."""
    before = len(sink.events)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bench_sync", "--child", name, sink.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await process.communicate()
    result = json.loads(out.decode().strip().splitlines()[-1])
    await asyncio.sleep(0.5)  # the last responses land
    received = len(sink.events) - before
    elapsed = arrivals[0] - result["start"]
    return {**result, "received": received, "events_per_s": received / elapsed,
            "cpu_us_per_event": result["cpu"] / (THREADS * CALLS) * 1e6}  # fmt: skip


async def main(rounds: int) -> None:
    """Interleave the contenders `rounds` times; print medians."""
    from analytics_async.testing import SegmentSink  # noqa: PLC0415 - not loaded in the children

    arrivals = [0.0]

    async def stamp(request: object, n: int) -> None:
        arrivals[0] = time.time()  # a request arrives: the sink then answers 200 and records it

    sink = SegmentSink(responder=stamp)
    await sink.start()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CONTENDERS}
    for _ in range(rounds):
        for name in CONTENDERS:
            results[name].append(await run_one(name, sink, arrivals))
    await sink.stop()
    base = statistics.median(r["events_per_s"] for r in results[CONTENDERS[1]])
    print(
        f"| contender ({THREADS} threads x {CALLS:,} calls) | events/s | vs official | received | CPU us/event | peak RSS MB | p50 call us | p99 call us |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"| {name} | {med['events_per_s']:,.0f} | {med['events_per_s'] / base:.2f}x | {med['received']:,.0f} | "
            f"{med['cpu_us_per_event']:.1f} | {med['rss_mb']:.0f} | {med['p50_us']:.1f} | {med['p99_us']:.1f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
    else:
        asyncio.run(main(args.rounds))
