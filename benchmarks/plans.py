"""What a tracking plan costs: one check, and a 100k-event burst with and without the plan.

    python -m benchmarks.plans [--events 100000] [--rounds 3] [--write]

1. The check alone, on fresh messages (a new dict per call), for the example plan's
   `Order Completed` v2, a typical rule of 10 properties (4 required, an enum, minimums, a closed
   object): the plan's check (jsonschema_rs over the parts the rule names), jsonschema_rs over the
   whole message, and fastjsonschema (if installed) over the whole message, the other candidate.
2. A burst of `--events` awaited `track()` calls at the default settings into the counting sink
   (its own process), with `plan.plugin(on_violation="warn")` registered and without, interleaved
   `--rounds` times; events counted at the sink. Reported as the ratio of throughputs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import random
import statistics
import time
import uuid
from typing import Any

import jsonschema_rs

from analytics_async.plans import TrackingPlan
from benchmarks.compare import Sink
from benchmarks.plugins import burst as plugin_burst

ROOT = pathlib.Path(__file__).parent.parent
PLAN = ROOT / "examples" / "plans" / "ecommerce-plan.json"
MARK = "plans"


def properties(i: int) -> dict[str, Any]:
    """A fresh `Order Completed` payload of 10 properties, valid for v2."""
    return {
        "order_id": f"o-{i}-{random.random()}", "affiliation": "web", "total": 30.0 + i % 7,
        "revenue": 25.0 + i % 5, "shipping": 3.0, "tax": 2.0, "discount": 0.0, "coupon": None,
        "currency": ("USD", "EUR", "GBP")[i % 3], "payment_method": "card",
    }  # fmt: skip


def message(i: int) -> dict[str, Any]:
    return {
        "type": "track", "event": "Order Completed", "userId": f"u{i}", "messageId": str(uuid.uuid4()),
        "timestamp": "2026-12-07T10:00:00.000Z", "properties": properties(i),
        "context": {"library": {"name": "analytics-async", "version": "0"}, "locale": "en-US"},
    }  # fmt: skip


def per_check(count: int) -> dict[str, float]:
    """Microseconds per check of a fresh message, for each way of checking."""
    plan = TrackingPlan.load(PLAN)
    plugin = plan.plugin(on_violation="warn")
    rule = next(r for r in plan.rules if r.key == "Order Completed" and r.version == 2)
    whole = jsonschema_rs.validator_for(dict(rule.json_schema))
    alone = TrackingPlan([r for r in plan.rules if r.type != "COMMON"], "without COMMON").plugin()
    ways: dict[str, Any] = {"none (the loop and the dict)": lambda m: None}
    ways["plan check (ours): the rule and COMMON"] = plugin.check_call
    ways["plan check (ours): the rule alone"] = alone.check_call
    ways["jsonschema_rs, whole message"] = whole.is_valid
    try:
        import fastjsonschema  # noqa: PLC0415 - the alternative measured, optional

        ways["fastjsonschema, whole message"] = fastjsonschema.compile(dict(rule.json_schema))
    except ImportError:
        pass
    results: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(7):
        for name, check in ways.items():
            messages = [message(i) for i in range(count)]
            started = time.perf_counter()
            for m in messages:
                check(m)
            results[name].append((time.perf_counter() - started) / count * 1e6)
    return {name: statistics.median(times) for name, times in results.items()}


async def burst(url: str, events: int, *, plan: TrackingPlan | None) -> float:
    """Events per second of a burst of awaited track() calls at the defaults, flush included."""
    plugins = [] if plan is None else [plan.plugin(on_violation="warn")]
    rate, stats = await plugin_burst(url, events, plugins, properties)
    assert stats.violations == 0
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--write", action="store_true", help="write the tables into docs/benchmarks.md")
    args = parser.parse_args()
    checks = per_check(args.checks)
    base = checks["none (the loop and the dict)"]
    ours = checks["plan check (ours): the rule and COMMON"] - base
    lines = [
        "| check of one fresh message (Order Completed v2, 10 properties) | us | x ours |",
        "|---|---:|---:|",
    ]
    for name, micro in checks.items():
        cost = micro - base if name != "none (the loop and the dict)" else micro
        lines.append(f"| {name} | {cost:.2f} | {cost / ours:.1f} |")
    plan = TrackingPlan.load(PLAN)
    sink = Sink()
    rates: dict[str, list[float]] = {"without a plan": [], "with the plan (warn)": []}
    try:
        asyncio.run(burst(sink.url, args.events // 10, plan=plan))  # warm up: imports, the first session
        for round_ in range(args.rounds):
            for name in sorted(rates, reverse=bool(round_ % 2)):  # alternate which goes first
                sink.call("POST", "/reset")
                rate = asyncio.run(burst(sink.url, args.events, plan=plan if "with" in name[:4] else None))
                counted = sink.call("GET", "/stats")
                assert counted["unique"] == args.events, counted
                rates[name].append(rate)
    finally:
        sink.stop()
    without = statistics.median(rates["without a plan"])
    with_plan = statistics.median(rates["with the plan (warn)"])
    lines += [
        "",
        f"| burst of {args.events:,} awaited track() calls, defaults, counted at the sink | events/s | x without |",
    ]
    lines += ["|---|---:|---:|"]
    lines.append(f"| without a plan | {without:,.0f} | 1.00 |")
    lines.append(f"| with the plan (warn) | {with_plan:,.0f} | {with_plan / without:.2f} |")
    lines.append(
        f"\n(medians of {args.rounds} interleaved rounds; checks: medians of 7 runs of {args.checks:,})"
    )
    table = "\n".join(lines)
    print(table)
    print(json.dumps({"check_us": round(ours, 2), "burst_ratio": round(with_plan / without, 3)}))
    if args.write:
        from benchmarks.report import write_section  # noqa: PLC0415

        intro = (
            "## Tracking plans\n\n`python -m benchmarks.plans --write` (this machine: 2 cores, shared). What a plan "
            "costs: one check of\na fresh message, and a burst at the default settings with the plan's plugin and "
            "without it.\n\n"
        )
        write_section(ROOT / "docs" / "benchmarks.md", MARK, intro + table)


if __name__ == "__main__":
    main()
