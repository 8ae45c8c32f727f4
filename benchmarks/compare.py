"""Compare analytics-async with the official SDKs and a bare floor, end to end, in one session.

    python -m pip install -e '.[bench]' && python -m benchmarks.compare [--write]

Starts a counting sink in its own process, then runs each contender in a fresh process, interleaved
and repeated: analytics-async, segment-analytics-python, @segment/analytics-node (when Node.js and
npm are available; installed into benchmarks/.node on first use) and the bare floor (the same
messages built by hand, orjson, aiohttp, 4 requests in flight). Reports medians and ratios to the
floor measured in the same run, import times and a Lambda-style cold path, and writes
benchmarks/report.md and its chart (with --write: the committed docs/benchmarks.md and .png).

The sync workload (`--sync-only` runs just it): the drop-in `analytics_async.sync.Client` from 8
threads x 5,000 `track()` calls then `flush()`, against segment-analytics-python at its defaults and
with a 1M queue, each in a fresh process; its section and chart (benchmarks-sync.png) are written
in place, the rest of the report kept.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.report import marked_sections, write_section

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "benchmarks" / ".node"
NODE_PACKAGE = "@segment/analytics-node@3.1.0"
FLOOR = "floor"
"""The streaming floor: batches of 100 posted as they are built."""
BUILD_ALL = "floor (build all)"
OURS = "analytics-async"
"""flush_at=100, every other setting at its default."""
DEFAULTS = "analytics-async (defaults)"


def node_modules() -> Path | None:
    """Install @segment/analytics-node into benchmarks/.node once; None without Node.js/npm."""
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    modules = NODE_DIR / "node_modules"
    if not (modules / "@segment" / "analytics-node").is_dir():
        NODE_DIR.mkdir(exist_ok=True)
        result = subprocess.run(["npm", "install", "--silent", "--prefix", str(NODE_DIR), NODE_PACKAGE],
                                capture_output=True, text=True, check=False)  # fmt: skip
        if result.returncode != 0:
            print(f"skipping analytics-node: npm install failed: {result.stderr[-300:]}", file=sys.stderr)
            return None
    return modules


def contenders(with_node: bool, with_segment_python: bool) -> dict[str, list[str]]:
    python = [sys.executable, "-m"]
    found = {
        FLOOR: [*python, "benchmarks.clients.floor_client", "{events}", "{url}", "streaming"],
        BUILD_ALL: [*python, "benchmarks.clients.floor_client", "{events}", "{url}", "build-all"],
        OURS: [*python, "benchmarks.clients.analytics_async_client", "{events}", "{url}", "tuned"],
        DEFAULTS: [*python, "benchmarks.clients.analytics_async_client", "{events}", "{url}", "defaults"],
    }
    if with_segment_python:
        found["segment-analytics-python"] = [
            *python,
            "benchmarks.clients.segment_python_client",
            "{events}",
            "{url}",
        ]
    if with_node and (modules := node_modules()) is not None:
        found["analytics-node"] = [
            "node",
            str(ROOT / "benchmarks" / "clients" / "node_client.cjs"),
            "{events}",
            "{url}",
            str(modules),
        ]
    return found


class Sink:
    """The counting sink process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sink"], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]

    def call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def run_one(command: list[str], events: int, sink: Sink) -> dict[str, Any]:
    """Run one contender once; its own measurements plus what the sink counted."""
    sink.call("POST", "/reset")
    argv = [part.format(events=events, url=sink.url) for part in command]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=1800, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{argv} failed: {result.stderr[-2000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    counted = sink.call("GET", "/stats")
    measured.update(
        lost=events - counted["unique"], duplicates=counted["duplicates"], requests=counted["requests"]
    )
    return measured


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def compiled(module: str) -> None:
    """Write the bytecode of `module`'s top-level package, as installing a wheel does (pip compiles).

    An editable install has none, and with PYTHONDONTWRITEBYTECODE set (as on these machines) every
    import would compile the package's sources again: about 70 ms that no installed user pays, and
    that the other contenders, installed from wheels, do not pay either.
    """
    spec = importlib.util.find_spec(module.split(".", maxsplit=1)[0])
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", location], capture_output=True, check=False
            )


def import_time(module: str, repeat: int) -> float | None:
    """Median seconds to import `module` in a fresh interpreter (interpreter start excluded).

    Its package is compiled already (`measure` calls `compiled` once for every Python contender).
    """
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeat):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return None
        times.append(float(result.stdout))
    return statistics.median(times)


COLD_OURS = """
import time; t = time.perf_counter()
import asyncio
from analytics_async import Analytics
async def main():
    async with Analytics(write_key="bench", host="{url}") as analytics:
        await analytics.track(event="Cold Start", user_id="u")
asyncio.run(main()); print(time.perf_counter() - t)
"""
COLD_SEGMENT = """
import time; t = time.perf_counter()
from segment.analytics import Client
client = Client("bench", host="{url}")
client.track(user_id="u", event="Cold Start"); client.flush(); client.join(); print(time.perf_counter() - t)
"""


def cold_path(code: str, sink: Sink, repeat: int) -> float | None:
    """Median seconds for import + construct + one track + close, in a fresh process (compiled first)."""
    times = []
    for _ in range(repeat):
        result = subprocess.run([sys.executable, "-c", code.format(url=sink.url)], capture_output=True, text=True,
                                cwd=ROOT, check=False)  # fmt: skip
        if result.returncode != 0:
            return None
        times.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def node_cold(sink: Sink, modules: Path, repeat: int) -> tuple[float, float] | None:
    """Median seconds for analytics-node's require, and for require + construct + one track + close."""
    runs = []
    script = str(ROOT / "benchmarks" / "clients" / "node_cold.cjs")
    for _ in range(repeat):
        result = subprocess.run(["node", script, sink.url, str(modules)], capture_output=True, text=True,
                                cwd=ROOT, check=False)  # fmt: skip
        if result.returncode != 0:
            return None
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return statistics.median(r["import_s"] for r in runs), statistics.median(r["cold_s"] for r in runs)


def measure(sizes: list[int], repeat: int, *, with_node: bool = True, extras: bool = True) -> dict[str, Any]:
    """Run everything; return the raw runs and the summaries."""
    try:
        import segment.analytics  # noqa: F401, PLC0415

        has_segment = True
    except ImportError:
        has_segment = False
        print("skipping segment-analytics-python: pip install -e '.[bench]'", file=sys.stderr)
    found = contenders(with_node, has_segment)
    for package in ("analytics_async", "segment"):  # once, before anything is timed (see `compiled`)
        compiled(package)
    sink = Sink()
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {size: {name: [] for name in found} for size in sizes}
    try:
        for size in sizes:
            for rep in range(repeat):
                names = list(found)
                names = names[rep % len(names) :] + names[: rep % len(names)]  # rotate the order each round
                for name in names:
                    runs[size][name].append(run_one(found[name], size, sink))
                    print(f"{size:>7} events  {name:<26} round {rep + 1}/{repeat}: "
                          f"{size / runs[size][name][-1]['total_s']:>9,.0f} events/s", file=sys.stderr)  # fmt: skip
        imports = {OURS: import_time("analytics_async", 7)}
        cold = {OURS: cold_path(COLD_OURS, sink, 5)} if extras else {}
        if has_segment:
            imports["segment-analytics-python"] = import_time("segment.analytics", 7)
            if extras:
                cold["segment-analytics-python"] = cold_path(COLD_SEGMENT, sink, 5)
        if extras and with_node and (modules := node_modules()) is not None:
            node = node_cold(sink, modules, 5)
            if node is not None:
                imports["analytics-node"], cold["analytics-node"] = node
    finally:
        sink.stop()
    return {"runs": runs, "imports": imports, "cold": cold}


def summarize(runs: dict[str, list[dict[str, Any]]], size: int) -> dict[str, dict[str, float]]:
    """Medians per contender, and ratios to the floor of the same run."""
    table: dict[str, dict[str, float]] = {}
    for name, results in runs.items():
        table[name] = {
            "events_per_s": size / median_of(results, "total_s"),
            "cpu_us": median_of(results, "cpu_s") / size * 1e6,
            "calls_s": median_of(results, "calls_s"),
            "peak_rss_mb": median_of(results, "peak_rss_mb"),
            "lost": max(r["lost"] for r in results),
            "duplicates": max(r["duplicates"] for r in results),
        }
    floor = table[FLOOR]
    for name, row in table.items():
        row["throughput_x_floor"] = row["events_per_s"] / floor["events_per_s"]
        row["cpu_x_floor"] = row["cpu_us"] / floor["cpu_us"]
        # Per repetition, against the floor of the same round (the machine's speed drifts between rounds).
        row["x_floor_per_rep"] = [  # type: ignore[assignment]
            round(floor_run["total_s"] / run["total_s"], 2)
            for run, floor_run in zip(runs[name], runs[FLOOR], strict=True)
        ]
    return table


def render(result: dict[str, Any], repeat: int, command: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/compare.py`; every number below comes from one run on one machine, with",
        "each contender in a fresh process, interleaved, and the median of the repetitions. Ratios compare",
        "with the bare floor measured in the same run (these machines are shared and noisy).",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d')}; {repeat} repetitions.",
        "- Events: one `track` of about 480 bytes of JSON, awaited one after another in a tight loop (a burst)."
        + (
            " Each call builds its own properties, as an app does (9 keys: an int, str, float, bool, None, a list"
            " of 3 strings and a nested dict of 4, values varying; `--workload same` passes one shared dict)."
            if result.get("workload", "fair") == "fair"
            else " Every call passes the same properties dict."
        )
        + " analytics-async: `flush_at=100`, and `(defaults)`: nothing but the write key and host; every other"
        ' setting at its default (`queue_full="drop"`: a drop would show as lost). segment-analytics-python'
        " gets a queue large enough not to drop.",
        "- Floors: the same messages built by hand, serialized with orjson, posted with aiohttp in batches of"
        " 100, 4 requests in flight, no client library; `floor` posts each batch as it is built (streaming),"
        " `floor (build all)` builds every message first (the least CPU per event).",
        "- events/s: end to end, from the first call until everything was delivered. CPU: user + system CPU"
        " of the client process per event. Peak: the client's peak RSS. Lost/duplicates: counted by the sink.",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    for size, table in result["summaries"].items():
        lines += [f"## {int(size):,} events", "",
                  "| contender | events/s | x floor | x floor per rep | CPU us/event | x floor | time in calls (s) | peak RSS (MB) | lost | duplicates |",
                  "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for name, row in table.items():
            per_rep = ", ".join(f"{r:.2f}" for r in row.get("x_floor_per_rep", []))
            lines.append(
                f"| {name} | {row['events_per_s']:,.0f} | {row['throughput_x_floor']:.2f} | {per_rep} | "
                f"{row['cpu_us']:.1f} | {row['cpu_x_floor']:.2f} | {row['calls_s']:.2f} | {row['peak_rss_mb']:.0f} | "
                f"{row['lost']:.0f} | {row['duplicates']:.0f} |"
            )
        lines.append("")
    lines += ["## Import and cold start", "", "| library | import (ms) | cold path: import, construct, one track, close (ms) |",
              "|---|---:|---:|"]  # fmt: skip
    for name, seconds in result["imports"].items():
        cold = result["cold"].get(name)
        lines.append(f"| {name} | {seconds * 1000:.0f} | {'-' if cold is None else f'{cold * 1000:.0f}'} |")
    lines += ["", TUNING_LOG, "## Targets", "", "| target | measured | met |", "|---|---|:-:|"]
    for target, measured, met in targets(result):
        lines.append(f"| {target} | {measured} | {'yes' if met else 'no'} |")
    lines += ["", "![events per second and CPU per event](benchmarks.png)", ""]
    return "\n".join(lines)


TUNING_LOG = """## What each change bought

Measured while tuning, each against its baseline in the same session (callgrind instruction counts are
deterministic; times and memory are medians):

| change | effect |
|---|---|
| orjson instead of the stdlib `json` (CPython; stdlib elsewhere) | 0.65 us vs 11.5 us to serialize a 427-byte event: 17.8x |
| no `OPT_NON_STR_KEYS` on orjson's fast path (odd keys take the slow path) | 1.64 us -> 0.65 us per event |
| inlined queueing and size check on the call path | plugins support costs +1.0% instructions per event instead of +3.2% |
| uuid4-format message ids from a private, fork-safe generator | 4.8 us -> 1.9 us per id; -14.7% instructions per event |
| settling a delivered batch in one pass (one ledger update per batch) | -6.4% instructions per event |
| a queued event keeps only its JSON, copied to its real size | 5.5 KB -> 0.7 KB per queued event; peak RSS of a 100,000-event burst 80 MB -> 45 MB; throughput 0.67x -> about 0.85x the floor |
| aiohttp imported on the first request, not with the package | `import analytics_async` 400 ms -> about 180 ms |
| batcher moves events into a batch in one loop (no three method calls per event) | with the memory change: 61,671 -> 54,764 instructions per event |
| exact-`str`/`dict` fast paths in validation, `put_nowait` returning the length, fewer calls per event | 55,472 -> 52,046 instructions per event (-6.2%) |
| one owner of an event's life (Runtime, a ledger entry per open event), fairness yield as a flag for the next call | 56,361 -> 57,197 instructions per event (+1.5%) for deadlines that hold and exactly-once settlement |
| batches linger while every send slot is busy, up to the API's limits | a 100,000-event burst at the defaults: 81% dropped -> none dropped, 0.59x the streaming floor |
| `flush_at` triggers, a leaving batch takes the backlog, a tight loop yields every 100 events (not every `flush_at`) | the same burst at the defaults: 3,900 -> about 455 requests, 0.59x -> about 1.0x the streaming floor |
| the environment's proxy worked out again only when a proxy variable changed (urllib scans the whole environment) | 63 us -> 12.7 us per request |
| the fair workload (each call builds its own properties) and a floor with the cheapest correct uuid | the streaming floor 1.07x -> 0.75x (`flush_at=100`) in the same kind of run: the earlier workload flattered the library |
| fewer Python calls per event (about 450 instructions each): a batch takes events in one `for` loop, the common id and properties cases inline, a delivered batch's Contexts settled in one loop | 72.8k -> 70.2k instructions per event (-3.6%) |
| urllib.request (proxies), email.utils (HTTP dates) and gzip imported where first used, not with the package | `import analytics_async` about 340 -> 280 ms on this machine (median of 15, same session, sources compiled at each import: an editable install under PYTHONDONTWRITEBYTECODE); the import row above is now measured with bytecode written, as a wheel install has it |
"""


def targets(result: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Issue 13's targets, the defaults' raised to 0.95x by issue 26.

    Ratios from the same run, at 100,000 events (or the largest size measured).
    """
    sizes = sorted(result["summaries"], key=int)
    size = 100_000 if 100_000 in map(int, sizes) else int(sizes[-1])
    table = next(t for s, t in result["summaries"].items() if int(s) == size)
    ours, defaults = table[OURS], table.get(DEFAULTS)
    rows = [("throughput with flush_at=100 >= 1.0x the streaming floor", f"{ours['throughput_x_floor']:.2f}x",
             ours["throughput_x_floor"] >= 1.0)]  # fmt: skip
    if defaults is not None:
        rows.append(("throughput at the defaults >= 0.95x the streaming floor, no loss",
                     f"{defaults['throughput_x_floor']:.2f}x, {defaults['lost']:.0f} lost",
                     defaults["throughput_x_floor"] >= 0.95 and defaults["lost"] == 0))  # fmt: skip
    if BUILD_ALL in table:
        cpu = min(ours["cpu_us"], defaults["cpu_us"] if defaults else ours["cpu_us"])
        floor_cpu = table[BUILD_ALL]["cpu_us"]
        rows.append(("CPU per event <= the build-all floor's", f"{cpu:.1f} us vs {floor_cpu:.1f} us",
                     cpu <= floor_cpu))  # fmt: skip
    small = next((t for s, t in result["summaries"].items() if int(s) == 20_000), None)
    for name, want in (("segment-analytics-python", 8), ("analytics-node", 10)):
        if small is not None and name in small:
            ratio = small[OURS]["events_per_s"] / small[name]["events_per_s"]
            rows.append((f"throughput >= {want}x {name} at 20,000 events", f"{ratio:.1f}x", ratio >= want))
    peak = max(ours["peak_rss_mb"], defaults["peak_rss_mb"] if defaults else 0)
    rows.append((f"peak memory of a {size:,}-event burst < 60 MB", f"{peak:.0f} MB", peak < 60))
    mine = [t[name] for t in result["summaries"].values() for name in (OURS, DEFAULTS) if name in t]
    lost, dups = max(r["lost"] for r in mine), max(r["duplicates"] for r in mine)
    rows.append(
        ("zero loss and zero duplicates", f"{lost:.0f} lost, {dups:.0f} duplicates", lost == 0 and dups == 0)
    )
    imports = result["imports"]
    if imports.get("segment-analytics-python") and imports.get(OURS):
        rows.append(("import time <= segment-analytics-python's",
                     f"{imports[OURS] * 1000:.0f} ms vs {imports['segment-analytics-python'] * 1000:.0f} ms",
                     imports[OURS] <= imports["segment-analytics-python"]))  # fmt: skip
    return rows


SYNC_THREADS, SYNC_CALLS = 8, 5_000
SYNC_OFFICIAL, SYNC_OFFICIAL_1M = "segment-analytics-python", "segment-analytics-python (1M queue)"
SYNC_CONTENDERS = {f"{OURS} (analytics_async.sync)": "ours", SYNC_OFFICIAL: "official",
                   SYNC_OFFICIAL_1M: "official-1m"}  # fmt: skip
"""The drop-in at its defaults; the official SDK at its defaults and with a queue that does not drop."""


def measure_sync(
    repeat: int, threads: int = SYNC_THREADS, calls: int = SYNC_CALLS
) -> dict[str, list[dict[str, Any]]]:
    """The sync workload: each contender in a fresh process, interleaved, `repeat` rounds."""
    names = list(SYNC_CONTENDERS)
    try:
        import segment.analytics  # noqa: F401, PLC0415
    except ImportError:
        print("sync: skipping segment-analytics-python: pip install -e '.[bench]'", file=sys.stderr)
        names = names[:1]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    sink = Sink()
    try:
        for rep in range(repeat):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                command = [sys.executable, "-m", "benchmarks.clients.sync_client", str(threads), str(calls),
                           "{url}", SYNC_CONTENDERS[name]]  # fmt: skip
                run = run_one(command, threads * calls, sink)
                run["events_per_s"] = (threads * calls - run["lost"]) / run["total_s"]
                runs[name].append(run)
                print(f"sync  {name:<38} round {rep + 1}/{repeat}: {run['events_per_s']:>9,.0f} events/s, "
                      f"{run['lost']} lost", file=sys.stderr)  # fmt: skip
    finally:
        sink.stop()
    return runs


def summarize_sync(runs: dict[str, list[dict[str, Any]]], events: int) -> dict[str, dict[str, float]]:
    """Medians per contender (lost: the most any round lost)."""
    return {
        name: {
            "events_per_s": median_of(results, "events_per_s"),
            "cpu_us": median_of(results, "cpu_s") / events * 1e6,
            "peak_rss_mb": median_of(results, "peak_rss_mb"),
            "p50_us": median_of(results, "p50_us"),
            "p99_us": median_of(results, "p99_us"),
            "lost": max(r["lost"] for r in results),
            "duplicates": max(r["duplicates"] for r in results),
        }
        for name, results in runs.items()
    }


def sync_targets(table: dict[str, dict[str, float]]) -> list[tuple[str, str, bool]]:
    """Issue 22's targets, against the better of the official SDK's two settings for each measure."""
    ours = table[next(iter(SYNC_CONTENDERS))]
    official = [table[name] for name in (SYNC_OFFICIAL, SYNC_OFFICIAL_1M) if name in table]
    if not official:
        return []
    rate = max(row["events_per_s"] for row in official)
    cpu = min(row["cpu_us"] for row in official)
    rss = min(row["peak_rss_mb"] for row in official)
    p99 = min(row["p99_us"] for row in official)
    return [
        ("events/s >= 3x the official SDK's", f"{ours['events_per_s'] / rate:.2f}x", ours["events_per_s"] >= 3 * rate),
        ("CPU per event <= 0.5x", f"{ours['cpu_us'] / cpu:.2f}x ({ours['cpu_us']:.1f} vs {cpu:.1f} us)",
         ours["cpu_us"] <= 0.5 * cpu),
        ("peak RSS <= the official SDK's", f"{ours['peak_rss_mb']:.0f} vs {rss:.0f} MB", ours["peak_rss_mb"] <= rss),
        ("p99 of one call <= the official SDK's", f"{ours['p99_us'] / 1000:.2f} vs {p99 / 1000:.2f} ms",
         ours["p99_us"] <= p99),
        ("no loss at the defaults", f"{ours['lost']:.0f} lost, {ours['duplicates']:.0f} duplicates",
         ours["lost"] == 0 and ours["duplicates"] == 0),
    ]  # fmt: skip


def render_sync(table: dict[str, dict[str, float]], repeat: int, chart_name: str) -> str:
    """The sync section of docs/benchmarks.md."""
    lines = [
        "## The sync drop-in from threads",
        "",
        f"`python -m benchmarks.compare --sync-only --write`: {SYNC_THREADS} threads x {SYNC_CALLS:,} `track()`"
        " calls (fresh properties each), then `flush()`, each contender in a fresh process against the"
        f" counting sink, {repeat} interleaved rounds, medians. events/s: events the sink received per second,"
        " from the first call until `flush()` returned. CPU: the whole client process's (interpreter start,"
        " imports and construction included: the drop-in imports aiohttp when constructed). Peak RSS: VmHWM. Call times: one `track()` in a"
        " calling thread. Lost: the most any round lost (counted at the sink).",
        "",
        "| contender | events/s | x official | CPU us/event | x official | peak RSS (MB) | p50 call (us) | p99 call (ms) | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    base = table.get(SYNC_OFFICIAL)
    for name, row in table.items():
        rate_x = f"{row['events_per_s'] / base['events_per_s']:.2f}" if base else "-"
        cpu_x = f"{row['cpu_us'] / base['cpu_us']:.2f}" if base else "-"
        lines.append(
            f"| {name} | {row['events_per_s']:,.0f} | {rate_x} | {row['cpu_us']:.1f} | {cpu_x} | "
            f"{row['peak_rss_mb']:.0f} | {row['p50_us']:.1f} | {row['p99_us'] / 1000:.2f} | {row['lost']:.0f} |"
        )
    if rows := sync_targets(table):
        lines += [
            "",
            "| target (against the better of the official SDK's two rows) | measured | met |",
            "|---|---|:-:|",
        ]
        lines += [f"| {target} | {measured} | {'yes' if met else 'no'} |" for target, measured, met in rows]
    lines += ["", f"![the sync drop-in: events per second and CPU per event]({chart_name})", "", SYNC_LOG]
    return "\n".join(lines)


SYNC_LOG = """What each change to the drop-in bought, measured on this workload while tuning:

| change | effect |
|---|---|
| the loop thread's loop read without a lock on every call | 69 -> 28 us CPU per event (8 threads queued on that lock) |
| callers run ahead of the loop by 500 calls at most, and a full queue holds them back (0.1 s at most) | up to 29,000 of 40,000 dropped by the full queue -> none; peak RSS 45 MB (a lead of 1,000: 53-58 MB) |
| stalled callers still keep pace with the loop | one 0.1 s hiccup no longer turns into dropping everything after it |
| aiohttp imported when the client is constructed, not by the loop thread in the first burst | the 200 ms import no longer stalls the first burst |
| the validation-error translation as a class, not `@contextmanager` | about 1.5 us less per call |
"""


def chart_sync(table: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(table)
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for axis, key, title in (
        (axes[0], "events_per_s", "events/s end to end (higher is better)"),
        (axes[1], "cpu_us", "CPU us per event (lower is better)"),
        (axes[2], "p99_us", "p99 of one call, us (lower is better)"),
    ):
        axis.bar(
            range(len(names)), [table[name][key] for name in names], color=["C0", "C1", "C2"][: len(names)]
        )
        short = [n.replace("segment-analytics-python", "official SDK").replace(" (", "\n(") for n in names]
        axis.set_xticks(range(len(names)), short, fontsize=8)
        axis.set_title(title, fontsize=10)
    figure.suptitle(f"sync drop-in: {SYNC_THREADS} threads x {SYNC_CALLS:,} track() calls, then flush()")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = list(result["summaries"])
    names = list(result["summaries"][sizes[0]])
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(sizes)
    for i, size in enumerate(sizes):
        table = result["summaries"][size]
        xs = [n + i * width for n in range(len(names))]
        left.bar(xs, [table[name]["events_per_s"] for name in names], width, label=f"{int(size):,} events")
        right.bar(xs, [table[name]["cpu_us"] for name in names], width, label=f"{int(size):,} events")
    for axis, title in (
        (left, "events/s end to end (higher is better)"),
        (right, "CPU us per event (lower is better)"),
    ):
        axis.set_xticks(
            [n + width * (len(sizes) - 1) / 2 for n in range(len(names))], names, rotation=30, ha="right"
        )
        axis.set_title(title)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-node", action="store_true", help="skip @segment/analytics-node")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "report.md",
        help="where the report goes (default: benchmarks/report.md; --write: docs/benchmarks.md)",
    )  # fmt: skip
    parser.add_argument(
        "--write", action="store_true", help="update the committed docs/benchmarks.md and its chart"
    )
    parser.add_argument(
        "--render-only", action="store_true", help="rebuild the report from benchmarks/last-run.json"
    )
    parser.add_argument("--sync-only", action="store_true", help="run only the sync drop-in workload")
    parser.add_argument("--no-sync", action="store_true", help="skip the sync drop-in workload")
    parser.add_argument(
        "--workload", choices=["fair", "same"], default="fair",
        help="fair (default): each call builds its own properties, as an app does; same: one shared dict",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ["BENCH_WORKLOAD"] = args.workload  # every contender's process reads it
    if args.write:
        args.out = ROOT / "docs" / "benchmarks.md"
    if not args.no_sync and not args.render_only:
        sync = summarize_sync(measure_sync(args.repeat), SYNC_THREADS * SYNC_CALLS)
        chart_name = args.out.stem + "-sync.png"
        if not args.out.exists():
            args.out.write_text("# Benchmarks\n")
        write_section(args.out, "sync", render_sync(sync, args.repeat, chart_name))
        chart_sync(sync, args.out.with_name(chart_name))
        if args.sync_only:
            print(args.out.read_text())
            return
    saved = ROOT / "benchmarks" / "last-run.json"
    if args.render_only:
        result = json.loads(saved.read_text())
        args.repeat = len(next(iter(next(iter(result["runs"].values())).values())))
    else:
        result = measure(args.sizes, args.repeat, with_node=not args.no_node)
        result["workload"] = args.workload
        result["summaries"] = {size: summarize(runs, size) for size, runs in result["runs"].items()}
        saved.write_text(json.dumps(result, indent=1))
    kept = marked_sections(args.out.read_text()) if args.out.exists() else ""  # other benchmarks' parts
    args.out.write_text(
        render(
            result, args.repeat, "python -m pip install -e '.[bench]' && python -m benchmarks.compare --write"
        )
        + ("\n" + kept if kept else "")
    )
    chart(result, args.out.with_suffix(".png"))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
