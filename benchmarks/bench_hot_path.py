"""Per-event cost of `await analytics.track(...)` through the whole pipeline, against baselines.

Everything runs in one process and one event loop, interleaved, so ratios hold on a noisy machine:
- `build+dumps floor`: building the same message dict by hand and serializing it (no library);
- `track (disable=True)`: the full pipeline (build, validate, serialize, queue, batch, settle) minus HTTP;
- `track + null HTTP`: the same with batches handed to an in-memory HTTPClient answering 200;
- `... + otel metrics`: the same, instrumented with `analytics_async.otel` (an SDK MeterProvider with
  an in-memory reader, collected once at the end); only when the OpenTelemetry SDK is installed.

Run: `python -m benchmarks.bench_hot_path [--events N] [--repeat R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import time
import uuid

from analytics_async import Analytics, HTTPRequest, HTTPResponse
from analytics_async._message.build import now_iso
from analytics_async._message.codec import dumps


class NullHTTP:
    """An HTTPClient that answers 200 at once without touching the network."""

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Answer 200."""
        return HTTPResponse(200, "OK")

    async def aclose(self) -> None:
        """Nothing to release."""


HAVE_OTEL_SDK = importlib.util.find_spec("opentelemetry.sdk") is not None
PROPS = {"revenue": 39.95, "shipping": "2-day", "items": [{"sku": "a1", "qty": 2}, {"sku": "b7", "qty": 1}]}


async def floor(events: int) -> float:
    """Seconds to build and serialize `events` messages by hand."""
    start = time.perf_counter()
    for _ in range(events):
        dumps(
            {
                "type": "track", "event": "Item Purchased", "properties": dict(PROPS), "userId": "019mr8mf4r",
                "context": {"library": {"name": "analytics-async", "version": "0"}}, "integrations": {},
                "timestamp": now_iso(), "messageId": str(uuid.uuid4()), "_metadata": {"pythonVersion": "3"},
            }
        )  # fmt: skip
    return time.perf_counter() - start


async def library(events: int, *, disable: bool, otel: bool = False) -> float:
    """Seconds to track `events` events and flush them."""
    analytics = Analytics(write_key="bench", flush_at=100, disable=disable, http_client=NullHTTP())
    reader = None
    if otel:
        from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415 - optional
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: PLC0415

        from analytics_async.otel import instrument  # noqa: PLC0415

        reader = InMemoryMetricReader()
        instrument(analytics, meter_provider=MeterProvider(metric_readers=[reader]))
    start = time.perf_counter()
    for _ in range(events):
        await analytics.track(event="Item Purchased", user_id="019mr8mf4r", properties=PROPS)
    await analytics.flush(close=True)
    if reader is not None:
        reader.get_metrics_data()
    elapsed = time.perf_counter() - start
    assert analytics.stats().delivered == events
    return elapsed


async def measure(events: int, repeat: int) -> dict[str, float]:
    """Median microseconds per event for each variant, interleaved."""
    runs: dict[str, list[float]] = {
        "build+dumps floor": [],
        "track (disable=True)": [],
        "track + null HTTP": [],
    }
    if HAVE_OTEL_SDK:
        runs["... + otel metrics"] = []
    for _ in range(repeat):
        runs["build+dumps floor"].append(await floor(events) / events * 1e6)
        runs["track (disable=True)"].append(await library(events, disable=True) / events * 1e6)
        runs["track + null HTTP"].append(await library(events, disable=False) / events * 1e6)
        if HAVE_OTEL_SDK:
            runs["... + otel metrics"].append(await library(events, disable=False, otel=True) / events * 1e6)
    return {name: statistics.median(values) for name, values in runs.items()}


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(measure(args.events, args.repeat))
    base = result["build+dumps floor"]
    print(f"{'variant':<24} {'us/event':>9} {'x floor':>8}")
    for name, us in result.items():
        print(f"{name:<24} {us:9.2f} {us / base:8.2f}")


if __name__ == "__main__":
    main()
