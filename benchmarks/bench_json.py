"""Serialization cost of one ~430-byte event: orjson backend vs the stdlib fallback, same run.

Run: `python -m benchmarks.bench_json [--number N]`. Prints medians of 5 repetitions and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
import uuid
from typing import Any

from analytics_async._message.codec import BACKEND, dumps, stdlib_dumps


def sample_event() -> dict[str, Any]:
    """A typical track message as the library builds it."""
    return {
        "type": "track",
        "event": "Item Purchased",
        "properties": {
            "revenue": 39.95,
            "shipping": "2-day",
            "items": [{"sku": "a1", "qty": 2}, {"sku": "b7", "qty": 1}],
        },
        "userId": "019mr8mf4r",
        "context": {"ip": "1.2.3.4", "library": {"name": "analytics-async", "version": "0.1.0"}},
        "integrations": {},
        "timestamp": "2026-11-29T15:00:00.123Z",
        "messageId": str(uuid.uuid4()),
        "_metadata": {"pythonVersion": "3.11.7", "pythonImplementation": "CPython"},
    }


def measure(number: int) -> dict[str, float]:
    """Microseconds per event for each backend (median of 5 interleaved repetitions)."""
    event = sample_event()
    runs: dict[str, list[float]] = {"stdlib": [], BACKEND: []}
    for _ in range(5):
        runs["stdlib"].append(timeit.timeit(lambda: stdlib_dumps(event), number=number) / number * 1e6)
        runs[BACKEND].append(timeit.timeit(lambda: dumps(event), number=number) / number * 1e6)
    return {name: statistics.median(values) for name, values in runs.items()}


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    size = len(dumps(sample_event()))
    result = measure(args.number)
    print(f"event size: {size} bytes")
    for name, us in result.items():
        print(f"{name:>8}: {us:6.2f} us/event  ({result['stdlib'] / us:4.1f}x the stdlib speed)")


if __name__ == "__main__":
    main()
