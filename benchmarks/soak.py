"""Soak: a steady stream of events, with bursts, through scripted outages; nothing unaccounted.

    python -m pip install -e '.[bench]' && python -m benchmarks.soak [--events 1000000] [--rate 5000] [--write]

Events are tracked at `--rate` per second (fresh properties each), plus bursts of `--burst` events,
into the counting sink (its own process) at the library's default settings. The sink's mode changes
on a schedule scaled to the run (for the full run: 30 s of 503, 20 s of connection resets, 15 s of
429 + Retry-After, 10 s of a server that accepts and never answers, 10 s of lost responses (the
events recorded, then 500), with normal service between). Every second: RSS, queue depth, batches
in flight, delivered/s, open file descriptors, asyncio tasks. At the end a closing flush with a
10 s deadline. Reports (and `check()` asserts): every accepted event delivered or failed with a
reason, 0 unaccounted; the sink's unique ids equal the delivered count; duplicates only from lost
responses; RSS growth after warm-up (the end of the first outage, when the queue has filled once)
below 10 MB; fds and tasks bounded; WARNING lines counted; the deadline met.
Writes benchmarks/soak.csv and soak.png (--write: docs/soak.csv, docs/soak.png and the soak section
of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from analytics_async import Analytics
from benchmarks.compare import Sink
from benchmarks.report import write_section

ROOT = Path(__file__).resolve().parent.parent
FULL = 1_000_000
SCHEDULE = [("ok", 25.0), ("503", 30.0), ("ok", 20.0), ("reset", 20.0), ("ok", 20.0), ("429", 15.0),
            ("ok", 20.0), ("hang", 10.0), ("ok", 20.0), ("lost", 10.0), ("ok", 10.0)]  # fmt: skip
"""(mode, seconds) of the full run (200 s at 5,000 events/s); a shorter run scales every phase."""


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Warnings(logging.Handler):
    """Counts the library's WARNING lines (a flood would show here)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def set_mode(sink: Sink, mode: str) -> None:
    request = urllib.request.Request(f"{sink.url}/mode/{mode}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10):
        pass


async def soak(events: int, rate: float, burst: int, sink: Sink) -> dict[str, Any]:
    """Run the stream and the schedule; return the samples and the totals."""
    scale = events / rate / sum(seconds for _, seconds in SCHEDULE)
    phases, at = [], 0.0
    for mode, seconds in SCHEDULE:
        phases.append((at, mode))
        at += seconds * scale
    duration = at
    warnings = Warnings()
    logging.getLogger("analytics_async").addHandler(warnings)
    analytics = Analytics(write_key="soak", host=sink.url)
    samples: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    bursts = [duration * f for f in (0.1, 0.45, 0.8)]  # during service, an outage and a recovery
    steady = max(0.0, events - burst * len(bursts)) / duration  # events per second between bursts
    mode_now = ""
    last_sample, last_delivered = start, 0
    while sent < events or loop.time() - start < duration:
        now = loop.time() - start
        mode = next(m for t, m in reversed(phases) if t <= now)
        if mode != mode_now:
            await asyncio.to_thread(set_mode, sink, mode)
            mode_now = mode
        due = min(events, int(now * steady) + burst * sum(1 for b in bursts if b <= now))
        while sent < due:
            await analytics.track(event="Soak", user_id=f"u{sent % 1000}",
                                  properties={"n": sent, "price": sent * 0.01, "phase": mode})  # fmt: skip
            sent += 1
        if loop.time() - last_sample >= 1.0:
            stats = analytics.stats()
            samples.append({
                "t": round(now, 2), "mode": mode, "rss_mb": round(rss_mb(), 1), "queue": stats.queue_depth,
                "in_flight": stats.batches_in_flight, "fds": open_fds(), "tasks": len(asyncio.all_tasks()),
                "delivered_per_s": (stats.delivered - last_delivered) / (loop.time() - last_sample),
            })  # fmt: skip
            last_sample, last_delivered = loop.time(), stats.delivered
        await asyncio.sleep(0.01)
    await asyncio.to_thread(set_mode, sink, "ok")
    closing = time.monotonic()
    await analytics.flush(close=True, timeout=10)
    close_s = time.monotonic() - closing
    logging.getLogger("analytics_async").removeHandler(warnings)
    stats = analytics.stats()
    counted = await asyncio.to_thread(sink.call, "GET", "/stats")
    # Warm-up ends with the first outage: by then the queue has filled once (its memory is kept).
    first_outage_end = phases[2][0]
    warm = [s["rss_mb"] for s in samples if s["t"] >= first_outage_end] or [rss_mb()]
    return {
        "events": events, "accepted": stats.accepted, "delivered": stats.delivered,
        "failed": dict(stats.failed), "dropped": dict(stats.dropped),
        "unaccounted": stats.accepted - stats.delivered - sum(stats.failed.values()) - sum(stats.dropped.values()),
        "unique_at_sink": counted["unique"], "duplicates": counted["duplicates"], "lost_responses": counted["lost"],
        "peak_rss_mb": max(s["rss_mb"] for s in samples) if samples else rss_mb(), "warm_rss_mb": warm[0],
        "final_rss_mb": round(rss_mb(), 1), "max_fds": max((s["fds"] for s in samples), default=0),
        "max_tasks": max((s["tasks"] for s in samples), default=0), "warnings": warnings.count,
        "close_s": round(close_s, 2), "duration_s": round(duration, 1), "samples": samples,
    }  # fmt: skip


def check(result: dict[str, Any]) -> list[str]:
    """The promises, as readable failures (empty: all held)."""
    problems = []
    if result["unaccounted"] != 0:
        problems.append(f"{result['unaccounted']} events unaccounted")
    if result["accepted"] != result["events"]:
        problems.append(f"accepted {result['accepted']} of {result['events']}")
    if result["unique_at_sink"] != result["delivered"]:
        problems.append(f"sink has {result['unique_at_sink']} unique ids, {result['delivered']} delivered")
    if result["duplicates"] > result["lost_responses"]:
        problems.append(f"{result['duplicates']} duplicates, only {result['lost_responses']} lost responses")
    if result["final_rss_mb"] - result["warm_rss_mb"] >= 10:
        problems.append(f"RSS grew {result['final_rss_mb'] - result['warm_rss_mb']:.1f} MB after warm-up")
    if result["max_fds"] > 64 or result["max_tasks"] > 64:
        problems.append(f"fds up to {result['max_fds']}, tasks up to {result['max_tasks']}")
    if result["close_s"] > 11:
        problems.append(f"the closing flush took {result['close_s']} s (deadline 10 s)")
    return problems


def write_outputs(result: dict[str, Any], directory: Path) -> tuple[Path, Path | None]:
    """The samples as CSV, and the chart (None without matplotlib)."""
    csv_path, png_path = directory / "soak.csv", directory / "soak.png"
    samples = result["samples"]
    with csv_path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(samples[0]))
        writer.writeheader()
        writer.writerows(samples)
    try:
        import matplotlib  # noqa: PLC0415 - the bench extra
    except ImportError:
        return csv_path, None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    t = [s["t"] for s in samples]
    figure, axes = plt.subplots(4, 1, figsize=(10, 8), sharex=True)
    for axis, key, label in zip(axes, ("delivered_per_s", "queue", "in_flight", "rss_mb"),
                                ("delivered/s", "queue depth", "batches in flight", "RSS (MB)"), strict=True):  # fmt: skip
        axis.plot(t, [s[key] for s in samples])
        axis.set_ylabel(label, fontsize=8)
        previous = None
        for s in samples:
            if s["mode"] != previous and s["mode"] != "ok":
                axis.axvline(s["t"], color="red", alpha=0.3)
                if axis is axes[0]:
                    axis.annotate(s["mode"], (s["t"], 0), fontsize=7, color="red")
            previous = s["mode"]
    axes[-1].set_xlabel("seconds")
    figure.suptitle(f"soak: {result['events']:,} events through outages (red: a fault begins)")
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    return csv_path, png_path


READING = (
    "How to read it: at the defaults the queue holds 10,000 events, two seconds of this stream, so"
    " during each outage the queue fills and newer events are dropped, each reported (QueueFullError:"
    " callback, `error` event, `stats().dropped`), none silently; sizing the queue for an outage of"
    " D seconds at R events/s (`max_queue_size >= R * D`) keeps them"
    " ([delivery.md](delivery.md#memory-and-backpressure)). After service returns, delivery resumes"
    " within the retry backoff (up to about 8 s after the 30 s of 503s). Duplicates come only from the"
    " lost responses, with the same messageId (Segment deduplicates them)."
)


def render(result: dict[str, Any], command: str, problems: list[str]) -> str:
    rows = [("events tracked", f"{result['events']:,} over {result['duration_s']} s"),
            ("delivered", f"{result['delivered']:,}"), ("failed", str(result["failed"] or "none")),
            ("dropped (queue full, reported)", str(result["dropped"] or "none")),
            ("unaccounted", str(result["unaccounted"])),
            ("unique ids at the sink", f"{result['unique_at_sink']:,}"),
            ("duplicates at the sink / lost responses", f"{result['duplicates']:,} / {result['lost_responses']:,}"),
            ("RSS after warm-up / peak / final (MB)", f"{result['warm_rss_mb']} / {result['peak_rss_mb']} / {result['final_rss_mb']}"),
            ("open fds / asyncio tasks (max)", f"{result['max_fds']} / {result['max_tasks']}"),
            ("WARNING lines", str(result["warnings"])), ("closing flush (deadline 10 s)", f"{result['close_s']} s")]  # fmt: skip
    lines = ["## Soak through outages", "", f"`{command}`: " + __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| measure | result |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], "",
             "All promises held." if not problems else "Broken: " + "; ".join(problems), "", READING, "",
             "![soak: delivered/s, queue depth, batches in flight and RSS over time](soak.png)", "",
             "Samples per second: [soak.csv](soak.csv).", ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=FULL)
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--burst", type=int, default=50_000)
    parser.add_argument(
        "--write", action="store_true", help="write docs/soak.* and the docs/benchmarks.md section"
    )
    args = parser.parse_args()
    sink = Sink()
    try:
        result = asyncio.run(soak(args.events, args.rate, args.burst, sink))
    finally:
        sink.stop()
    problems = check(result)
    directory = ROOT / "docs" if args.write else ROOT / "benchmarks"
    write_outputs(result, directory)
    command = f"python -m benchmarks.soak --events {args.events} --rate {args.rate:g} --burst {args.burst}"
    text = render(result, command, problems)
    if args.write:
        write_section(ROOT / "docs" / "benchmarks.md", "soak", text)
    print(text)
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
