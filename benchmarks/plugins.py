"""What registering plugins costs: a tight loop of awaited track() calls with and without them.

    python -m benchmarks.plugins [--events 50000] [--rounds 5] [--write]

Each setting runs `--events` awaited `track()` calls (fresh properties per call, the fair workload of
benchmarks/clients/common.py) at the default settings into the counting sink (its own process), flush
included, in this one process, interleaved `--rounds` times (the order rotates each round); every
event is counted at the sink. Reported: the median of the per-round ratios to the run without plugins,
of throughput (events/s) and of this process's CPU time per event (user + system: what the plugins
cost the client, less sensitive than wall time to what else runs on a shared machine). With
`--instructions` (needs valgrind), also CPU instructions per event of each setting counted by callgrind
(benchmarks/callgrind_per_event.py: deterministic, where times on a shared machine wander by 10%).

The plugins are what users register: a no-op `before` (a `SimplePlugin` with no hook), an enrichment
that adds two context fields, a destination that counts events, and two of each of the before,
enrichment, destination and after stages together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from analytics_async import Analytics, Context, Plugin, SimplePlugin, Stats
from benchmarks.clients.common import properties
from benchmarks.compare import Sink

DOCS = pathlib.Path(__file__).parent.parent / "docs" / "benchmarks.md"
MARK = "plugins"


def _enrich(ctx: Context) -> None:
    ctx.update_event("context.tenant", "acme")
    ctx.update_event("context.consent", "granted")


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, ctx: Context) -> None:
        self.count += 1


def _noop(name: str) -> list[SimplePlugin]:
    return [SimplePlugin(name=name, type="before")]


def _enrichment(name: str) -> list[SimplePlugin]:
    return [SimplePlugin(name=name, type="enrichment", hook=_enrich)]


def _destination(name: str) -> list[SimplePlugin]:
    return [SimplePlugin(name=name, type="destination", hook=_Counter())]


def _two_of_each(name: str) -> list[SimplePlugin]:
    plugins: list[SimplePlugin] = []
    for i in range(2):
        plugins.append(SimplePlugin(name=f"{name}-b{i}", type="before", hook=lambda ctx: None))
        plugins.append(SimplePlugin(name=f"{name}-e{i}", type="enrichment", hook=_enrich))
        plugins.append(SimplePlugin(name=f"{name}-d{i}", type="destination", hook=_Counter()))
        plugins.append(SimplePlugin(name=f"{name}-a{i}", type="after", hook=_Counter()))
    return plugins


SETTINGS: dict[str, Callable[[str], list[SimplePlugin]] | None] = {
    "no plugin": None,
    "a no-op before plugin": _noop,
    "an enrichment adding two context fields": _enrichment,
    "a destination counting events": _destination,
    "two of each: before, enrichment, destination, after": _two_of_each,
}
TARGETS = {
    "a no-op before plugin": 0.9,
    "an enrichment adding two context fields": 0.8,
    "a destination counting events": 0.9,
    "two of each: before, enrichment, destination, after": 0.7,
}


async def burst(
    url: str,
    events: int,
    plugins: Sequence[Plugin] = (),
    properties_of: Callable[[int], dict[str, Any]] = properties,
) -> tuple[float, Stats]:
    """Events per second of `events` awaited track() calls at the defaults with `plugins`, flush included.

    `properties_of(i)`: call i's properties (made before the clock starts). Also the instance's final
    stats; every event must have been delivered.
    """
    analytics = Analytics(write_key="bench", host=url)
    if plugins:
        await analytics.register(*plugins)
    payloads = [properties_of(i) for i in range(events)]
    started = time.perf_counter()
    for i, props in enumerate(payloads):
        await analytics.track(event="Order Completed", user_id=f"u{i}", properties=props)
    await analytics.flush(close=True)
    elapsed = time.perf_counter() - started
    stats = analytics.stats()
    assert stats.delivered == events, stats
    return events / elapsed, stats


def _plugins(make: Callable[[str], list[SimplePlugin]] | None) -> list[SimplePlugin]:
    return [] if make is None else make("bench")


def measure(events: int, rounds: int) -> dict[str, dict[str, Any]]:
    """Per setting: the median rate and CPU per event, and the medians of per-round ratios to 'no plugin'."""
    sink = Sink()
    rates: dict[str, list[float]] = {name: [] for name in SETTINGS}
    ratios: dict[str, list[float]] = {name: [] for name in SETTINGS}
    cpus: dict[str, list[float]] = {name: [] for name in SETTINGS}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in SETTINGS}
    names = list(SETTINGS)
    try:
        asyncio.run(
            burst(sink.url, events // 4, _two_of_each("bench"))
        )  # warm up: imports, the first session
        for round_ in range(rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            this_round: dict[str, float] = {}
            cpu_round: dict[str, float] = {}
            for name in order:
                sink.call("POST", "/reset")
                cpu_started = time.process_time()
                this_round[name], _ = asyncio.run(burst(sink.url, events, _plugins(SETTINGS[name])))
                cpu_round[name] = (time.process_time() - cpu_started) / events
                counted = sink.call("GET", "/stats")
                assert counted["unique"] == events, (name, counted)
                assert counted["duplicates"] == 0, (name, counted)
            for name, rate in this_round.items():
                rates[name].append(rate)
                ratios[name].append(rate / this_round["no plugin"])
                cpus[name].append(cpu_round[name])
                cpu_ratios[name].append(cpu_round["no plugin"] / cpu_round[name])
    finally:
        sink.stop()
    return {
        name: {
            "rate": statistics.median(rates[name]),
            "ratio": statistics.median(ratios[name]),
            "cpu": statistics.median(cpus[name]),
            "cpu_ratio": statistics.median(cpu_ratios[name]),
        }
        for name in SETTINGS
    }


def count_instructions(results: dict[str, dict[str, Any]], events: int = 3_000) -> None:
    """Add each setting's callgrind instructions per event to `results` (two settings at a time)."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only with --instructions

    from benchmarks.callgrind_per_event import PLUGINS, per_event  # noqa: PLC0415 - imports this module

    short = dict(zip(SETTINGS, PLUGINS, strict=True))
    with ThreadPoolExecutor(2) as pool:  # each run is a valgrind process of its own
        counted = dict(
            zip(SETTINGS, pool.map(lambda name: per_event(events, short[name]), SETTINGS), strict=True)
        )
    for name, result in results.items():
        result["instructions"] = counted[name]
        result["instructions_ratio"] = counted["no plugin"] / counted[name]


def table(results: dict[str, dict[str, Any]], events: int, rounds: int) -> str:
    counted = all("instructions" in result for result in results.values())
    extra = " instructions/event | x no plugin (instructions) |" if counted else ""
    lines = [
        f"| {events:,} awaited track() calls, defaults, counted at the sink | events/s | x no plugin "
        f"| CPU us/event | x no plugin (CPU) |{extra} target |",
        "|---|---:|---:|---:|---:|" + ("---:|---:|" if counted else "") + "---:|",
    ]
    for name, result in results.items():
        target = f">= {TARGETS[name]:.1f}" if name in TARGETS else ""
        instructions = (
            f" {result['instructions']:,.0f} | {result['instructions_ratio']:.2f} |" if counted else ""
        )
        lines.append(
            f"| {name} | {result['rate']:,.0f} | {result['ratio']:.2f} | {1e6 * result['cpu']:.1f} "
            f"| {result['cpu_ratio']:.2f} |{instructions} {target} |"
        )
    lines.append(
        f"\n(medians of the per-round ratios of {rounds} interleaved rounds, one process; x no plugin (CPU):"
        " the CPU per event without plugins over that with them, so higher is better in both"
        + (
            "; instructions: callgrind, 3,000 calls into an in-memory HTTP client, deterministic)"
            if counted
            else ")"
        )
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    parser.add_argument("--instructions", action="store_true", help="also count instructions (valgrind)")
    args = parser.parse_args()
    results = measure(args.events, args.rounds)
    if args.instructions:
        count_instructions(results)
    text = table(results, args.events, args.rounds)
    print(text)
    print(json.dumps({name: [round(r["ratio"], 3), round(r["cpu_ratio"], 3)] for name, r in results.items()}))
    if args.write:
        from benchmarks.report import write_section  # noqa: PLC0415

        intro = (
            "## Plugins\n\n`python -m benchmarks.plugins --write` (this machine: 2 cores, shared). What "
            "registering plugins costs\na tight loop of awaited calls, against the same loop without them.\n\n"
        )
        write_section(DOCS, MARK, intro + text + "\n")


if __name__ == "__main__":
    main()
